package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/internal/syncbuf"

	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

// syncBuffer is the log of the code under test, written concurrently.
type syncBuffer = syncbuf.Buffer

// server is one run of the command.
type server struct {
	base           string
	stdout, stderr *syncBuffer
	stop           func() int
}

// start runs the command with args plus -addr 127.0.0.1:0 until the test
// ends (or stop is called) and returns once it listens.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ready := make(chan string, 1)
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), s.stdout, s.stderr, ready) }()
	select {
	case addr := <-ready:
		s.base = "http://" + addr
	case code := <-done:
		cancel()
		t.Fatalf("the server exited with %d before listening:\n%s", code, s.stderr)
	case <-time.After(2 * time.Minute):
		cancel()
		t.Fatal("the server did not start")
	}
	var once sync.Once
	code := 0
	s.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// token returns the bearer token the server printed.
func (s *server) token(t *testing.T) string {
	m := regexp.MustCompile(`bearer token: (\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no token printed:\n%s", s.stdout)
	}
	return m[1]
}

func (s *server) call(t *testing.T, method, path, token, ctype, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var v map[string]any
	json.Unmarshal(b, &v)
	return res.StatusCode, v
}

// sampleReply returns a reply to the first email of the sample the CRM
// filed under a case, and that case.
func sampleReply(t *testing.T) (raw, regarding string) {
	for _, m := range samplegen.Generate(nil).Mails {
		if m.Seed && strings.HasPrefix(m.Regarding, "incident:") {
			return "From: Someone New <new.person@contoso.example>\r\nTo: " + samplegen.Mailbox + "\r\n" +
				"Subject: RE: about your mail\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\nMessage-ID: <test-reply@contoso.example>\r\n" +
				"In-Reply-To: <" + m.MessageID + ">\r\n\r\nThanks.\r\n", m.Regarding
		}
	}
	t.Fatal("the sample has no seeded case mail")
	return "", ""
}

// TestServeSample runs the command as a person would: the embedded sample,
// a random token printed on standard output, the API and the pane served.
func TestServeSample(t *testing.T) {
	s := start(t)
	tok := s.token(t)
	if !strings.Contains(s.stdout.String(), "#token="+tok) {
		t.Errorf("no task pane address with the token:\n%s", s.stdout)
	}
	if code, v := s.call(t, "GET", "/healthz", "", "", ""); code != 200 || v["status"] != "ok" {
		t.Errorf("/healthz: %d %v", code, v)
	}
	raw, want := sampleReply(t)
	if code, _ := s.call(t, "POST", "/v1/correlate", "", "message/rfc822", raw); code != 401 {
		t.Errorf("correlate without the token: %d, want 401", code)
	}
	code, v := s.call(t, "POST", "/v1/correlate", tok, "message/rfc822", raw)
	if code != 200 || v["regarding"] != want || v["method"] != "InReplyTo" {
		t.Fatalf("correlate a reply to the sample: %d %v, want %s by InReplyTo", code, v, want)
	}
	// The sender is unknown to the (empty) directory: a contact candidate.
	if cs, _ := v["contacts"].([]any); len(cs) != 1 || cs[0].(map[string]any)["address"] != "new.person@contoso.example" {
		t.Errorf("contacts = %v", v["contacts"])
	}
	// Track it, create the contact, convert it: the stand-in CRM answers.
	if code, v := s.call(t, "POST", "/v1/emails", tok, "message/rfc822", raw); code != 201 {
		t.Fatalf("track: %d %v", code, v)
	}
	id := "/v1/emails/" + url.PathEscape("test-reply@contoso.example")
	code, v = s.call(t, "POST", id+"/contacts", tok, "application/json", `{"contacts":[{"address":"new.person@contoso.example","name":"Someone New"}]}`)
	if cs, _ := v["contacts"].([]any); code != 200 || len(cs) != 1 || cs[0].(map[string]any)["record"] != "contact:c-1" {
		t.Errorf("create contact: %d %v", code, v)
	}
	if code, v := s.call(t, "GET", id+"/contacts", tok, "", ""); code != 200 || len(v["contacts"].([]any)) != 0 {
		t.Errorf("contacts after creating: %d %v (the new contact should resolve now)", code, v)
	}
	code, v = s.call(t, "POST", id+"/convert", tok, "application/json", `{"type":"opportunity"}`)
	if code != 201 || v["record"] != "opportunity:OPP-05001" {
		t.Errorf("convert: %d %v", code, v)
	}
	for _, p := range []string{"/", "/pane/pane.js"} {
		if code, _ := s.call(t, "GET", p, "", "", ""); code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit code %d after a clean stop:\n%s", code, s.stderr)
	}
	logs := s.stderr.String()
	if strings.Contains(logs, tok) {
		t.Errorf("the token reached the log:\n%s", logs)
	}
	for _, want := range []string{`"msg":"server: listening"`, `"msg":"http request"`, `"msg":"crm: created contact"`, `"msg":"server: stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
}

// TestSampleFiledAsReplay: the service builds the replay's chain (smart
// matching improved), so it files the sample as the replay does. The
// Proseware email with neither headers nor token only smart matching can
// file; the service used to build its chain without it, and left the email
// out.
func TestSampleFiledAsReplay(t *testing.T) {
	s := start(t)
	tok := s.token(t)
	for _, m := range samplegen.Generate(nil).Mails {
		if m.Scenario != "no-headers-no-token:pop3" {
			continue
		}
		code, v := s.call(t, "GET", "/v1/emails/"+url.PathEscape(m.MessageID), tok, "", "")
		if code != 200 || v["regarding"] != m.Regarding || v["method"] != "SmartMatching" {
			t.Errorf("%s: %d %v, want %s by SmartMatching", m.MessageID, code, v, m.Regarding)
		}
		return
	}
	t.Fatal("the sample has no email without headers and token")
}

// TestTokenFile serves with the token of a file: it is not printed, and it
// is the one that works.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	tok := "file-token-0123456789abcdef"
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "-token-file", file, "-seed", "none")
	if strings.Contains(s.stdout.String(), tok) {
		t.Errorf("the file's token was printed:\n%s", s.stdout)
	}
	if code, _ := s.call(t, "GET", "/v1/records/incident/x/emails", tok, "", ""); code != 200 {
		t.Errorf("with the file's token: %d", code)
	}
	if code, _ := s.call(t, "GET", "/v1/records/incident/x/emails", "some-other-token-0123456789", "", ""); code != 401 {
		t.Errorf("with another token: %d", code)
	}
}

// TestSeed files a folder of .eml files with records given by hand, then
// correlates a reply against it.
func TestSeed(t *testing.T) {
	dir := t.TempDir()
	mail := filepath.Join(dir, "mail")
	os.MkdirAll(mail, 0o755)
	sent := "From: support@fabrikam.example\r\nTo: jane@contoso.example\r\nSubject: Your order\r\n" +
		"Date: Mon, 2 Mar 2026 09:00:00 +0000\r\nMessage-ID: <order-1@crm.fabrikam.example>\r\n\r\nShipped.\r\n"
	reply := "From: jane@contoso.example\r\nTo: support@fabrikam.example\r\nSubject: RE: Your order\r\n" +
		"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <order-2@contoso.example>\r\nIn-Reply-To: <order-1@crm.fabrikam.example>\r\n\r\nThanks.\r\n"
	os.WriteFile(filepath.Join(mail, "2.eml"), []byte(reply), 0o644) // in date order, whatever the names
	os.WriteFile(filepath.Join(mail, "1.eml"), []byte(sent), 0o644)
	seed := filepath.Join(dir, "seed.jsonl")
	os.WriteFile(seed, []byte(`{"message_id":"<order-1@crm.fabrikam.example>","regarding":"salesorder:SO-7"}`+"\n"), 0o644)
	s := start(t, "-seed", mail, "-regarding", seed, "-mailbox", "support@fabrikam.example")
	tok := s.token(t)
	for id, want := range map[string]string{"order-1@crm.fabrikam.example": "None", "order-2@contoso.example": "InReplyTo"} {
		code, v := s.call(t, "GET", "/v1/emails/"+id, tok, "", "")
		if code != 200 || v["regarding"] != "salesorder:SO-7" || v["method"] != want {
			t.Errorf("%s: %d %v, want salesorder:SO-7 by %s", id, code, v, want)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-h"}, 0, "usage: server"},
		{[]string{"-nosuchflag"}, 2, "flag provided but not defined"},
		{[]string{"-regarding", "x.jsonl"}, 2, "-regarding needs -seed"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"-store", "mysql://x"}, 1, "want memory, sqlite:PATH or postgres://"},
		{[]string{"-token-file", "/nonexistent/token"}, 1, "-token-file"},
		{[]string{"-seed", "/nonexistent/mail"}, 1, "-seed"},
	} {
		var out, errb syncBuffer
		code := run(context.Background(), tt.args, &out, &errb, nil)
		if code != tt.code || !strings.Contains(errb.String(), tt.says) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", tt.args, code, errb.String(), tt.code, tt.says)
		}
	}
	short := filepath.Join(t.TempDir(), "token")
	os.WriteFile(short, []byte("short"), 0o600)
	var out, errb syncBuffer
	if code := run(context.Background(), []string{"-token-file", short}, &out, &errb, nil); code != 1 || !strings.Contains(errb.String(), "at least 16 bytes") {
		t.Errorf("a short token: exit %d, %s", code, errb.String())
	}
}

// TestSQLiteStore serves from a SQLite file: a relink made through the API
// is still there after a restart, and filing the sample again at the second
// start adds nothing.
func TestSQLiteStore(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "crm.db")
	raw, _ := sampleReply(t)
	s := start(t, "-store", db)
	tok := s.token(t)
	if code, v := s.call(t, "POST", "/v1/emails?regarding=incident:CAS-09999", tok, "message/rfc822", raw); code != 201 {
		t.Fatalf("link: %d %v", code, v)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.stderr)
	}
	tracked := regexp.MustCompile(`"tracked":(\d+)`)
	first := tracked.FindStringSubmatch(s.stderr.String())

	s = start(t, "-store", db)
	tok = s.token(t)
	code, v := s.call(t, "GET", "/v1/emails/test-reply@contoso.example/history", tok, "", "")
	if cs, _ := v["changes"].([]any); code != 200 || len(cs) != 1 || cs[0].(map[string]any)["to"] != "incident:CAS-09999" {
		t.Errorf("history after a restart: %d %v", code, v)
	}
	second := tracked.FindStringSubmatch(s.stderr.String())
	if first == nil || second == nil || first[1] == "0" || second[1] != fmt.Sprint(mustAtoi(t, first[1])+1) {
		t.Errorf("tracked at the first start %v, at the second %v: want the sample once, plus the linked reply", first, second)
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
