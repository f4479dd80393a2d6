package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
	"github.com/mailcorrelate/mailcorrelate/submit"
)

// TestMain runs the command itself when the test binary is started as the
// relay process of TestKillBetweenTrackAndRelay.
func TestMain(m *testing.M) {
	if args := os.Getenv("SUBMIT_TEST_MAIN"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, strings.Split(args, "\n"), os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// upstream is an in-process go-smtp server standing in for the
// organization's submission server.
type upstream struct {
	addr string
	mu   sync.Mutex
	msgs [][]byte
	// hold, when set, is called once the first bytes of a message's
	// content arrived, and the server reads on when it returns.
	hold func()
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &upSession{u: u}, nil }))
	s.Domain = "upstream.test"
	s.ErrorLog = quiet{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { l.Close(); s.Close() })
	return u
}

func (u *upstream) delivered() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([][]byte(nil), u.msgs...)
}

type upSession struct{ u *upstream }

func (*upSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*upSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*upSession) Reset()                               {}
func (*upSession) Logout() error                        { return nil }
func (s *upSession) Data(r io.Reader) error {
	br := bufio.NewReader(r)
	s.u.mu.Lock()
	hold := s.u.hold
	s.u.mu.Unlock()
	if hold != nil {
		if _, err := br.Peek(1); err != nil {
			return err
		}
		hold()
	}
	b, err := io.ReadAll(br) // an error unless the message ended with its dot
	if err != nil {
		return err
	}
	s.u.mu.Lock()
	s.u.msgs = append(s.u.msgs, b)
	s.u.mu.Unlock()
	return nil
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}
func (quiet) Println(...any)        {}

// setup writes a users file (alice, token user 1, password "pw") and an
// id-key file into dir and returns the flags that name them.
func setup(t *testing.T, dir string) []string {
	t.Helper()
	h, err := submit.HashPassword("pw", 1000)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users.txt")
	keys := filepath.Join(dir, "keys.txt")
	if err := os.WriteFile(users, []byte("# test users\nalice 1 "+h+" alice@fabrikam.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, []byte(strings.Repeat("k", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"-users", users, "-id-keys", keys, "-domain", "relay.fabrikam.example", "-instance", "test",
		"-upstream-tls", "none", "-listen", "127.0.0.1:0"}
}

var listening = regexp.MustCompile(`submit: listening"? addr=(\S+)`)

// waitAddr reads the relay's log until it names the address it listens
// on, then keeps draining the log into buf.
func waitAddr(t *testing.T, log io.Reader, buf *syncBuf) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(log)
		for sc.Scan() {
			buf.write(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-found:
		return a
	case <-time.After(60 * time.Second):
		t.Fatalf("the relay did not start:\n%s", buf.String())
	}
	return ""
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) write(x string) { s.mu.Lock(); s.b.WriteString(x); s.mu.Unlock() }
func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func message(body string) string {
	return "From: alice@fabrikam.example\r\nTo: jane@contoso.example\r\nSubject: Your printer case\r\n" +
		"Message-ID: <crm-7@fabrikam.example>\r\nX-CRM-Regarding: incident:CAS-01042\r\n\r\n" + body
}

// sendMail logs in as alice and sends msg; it returns the first error.
func sendMail(addr, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice", "pw")); err != nil {
		return err
	}
	return c.SendMail("alice@fabrikam.example", []string{"jane@contoso.example"}, strings.NewReader(msg))
}

// TestRun runs the command in process: a message regarding a case reaches
// the upstream stamped and signed, and is tracked in the SQLite store.
func TestRun(t *testing.T) {
	up := startUpstream(t)
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "submit.db")
	args := append(setup(t, dir), "-upstream", up.addr, "-store", db)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, nil, io.Discard, pw); pw.Close() }()
	var log syncBuf
	addr := waitAddr(t, pr, &log)
	if err := sendMail(addr, message("hello\r\n")); err != nil {
		t.Fatalf("send: %v\n%s", err, log.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d\n%s", code, log.String())
	}
	got := up.delivered()
	if len(got) != 1 {
		t.Fatalf("upstream got %d messages", len(got))
	}
	m, _ := correlate.ParseMessage(bytes.NewReader(got[0]), nil)
	if m.Subject != "Your printer case CRM:0001001" {
		t.Errorf("subject %q", m.Subject)
	}
	if rec, err := header.VerifyMessageID(m.MessageID, [][]byte{[]byte(strings.Repeat("k", 32))}); err != nil || rec.String() != "incident:CAS-01042" {
		t.Errorf("Message-ID %q: %v %v", m.MessageID, rec, err)
	}
	st, err := sqlstore.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts, err := st.Scan(context.Background(), 0, 0)
	if err != nil || len(ts) != 1 || ts[0].MessageID != m.MessageID {
		t.Fatalf("store holds %+v, %v: want the relayed email", ts, err)
	}
}

// TestKillBetweenTrackAndRelay kills the relay process (SIGKILL) after it
// tracked a message and while it was sending it: the tracked email stays in
// the store with its pending row, nothing is delivered, and the relay's next
// start rolls the email back. The client, which never got its 250, sends
// the message again: it is delivered and tracked once.
func TestKillBetweenTrackAndRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the relay as a process of its own")
	}
	up := startUpstream(t)
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "submit.db")
	args := append(setup(t, dir), "-upstream", up.addr, "-store", db, "-lease-ttl", "2s")

	start := func() (*exec.Cmd, string, *syncBuf) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SUBMIT_TEST_MAIN="+strings.Join(args, "\n"))
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		var log syncBuf
		return cmd, waitAddr(t, stderr, &log), &log
	}
	ctx := context.Background()
	storeState := func() (emails []correlate.Tracked, pending int) {
		st, err := sqlstore.Open(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		emails, err = st.Scan(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := st.States(ctx, "submit/pending/")
		if err != nil {
			t.Fatal(err)
		}
		return emails, len(ss)
	}

	// A message too large for the sockets between the relay and the
	// upstream to hold: the relay is still writing it when it is killed.
	msg := message(strings.Repeat(strings.Repeat("x", 998)+"\r\n", 20<<10))
	cmd, addr, log := start()
	arrived, release := make(chan struct{}), make(chan struct{})
	up.mu.Lock()
	up.hold = func() { close(arrived); <-release }
	up.mu.Unlock()
	sent := make(chan error, 1)
	go func() { sent <- sendMail(addr, msg) }()
	select {
	case <-arrived: // the content is under way: the relay tracked the email first
	case err := <-sent:
		t.Fatalf("send ended before the content reached the upstream: %v\n%s", err, log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the content never reached the upstream\n%s", log.String())
	}
	if emails, pending := storeState(); len(emails) != 1 || pending != 1 {
		t.Fatalf("while sending: %d tracked, %d pending rows; want 1 and 1", len(emails), pending)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	up.mu.Lock()
	up.hold = nil
	up.mu.Unlock()
	close(release)
	if err := <-sent; err == nil {
		t.Fatal("the client got 250 from a relay that was killed")
	}
	if emails, pending := storeState(); len(emails) != 1 || pending != 1 {
		t.Fatalf("after the kill: %d tracked, %d pending rows; the killed run's state should be there until the next start", len(emails), pending)
	}
	// The upstream read on: it never got the end of the message.
	time.Sleep(200 * time.Millisecond)
	if n := len(up.delivered()); n != 0 {
		t.Fatalf("the upstream delivered %d messages from the killed relay", n)
	}

	// The next start waits for the killed run's lease to expire, and rolls
	// back before it greets anyone.
	_, addr, log = start()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("the restarted relay: %v\n%s", err, log.String())
	}
	c.Close()
	if emails, pending := storeState(); len(emails) != 0 || pending != 0 {
		t.Fatalf("after the restart: %d tracked, %d pending rows; want none: the email was never sent\n%s", len(emails), pending, log.String())
	}
	if !strings.Contains(log.String(), "rolled back") {
		t.Errorf("the restart does not say it rolled back:\n%s", log.String())
	}

	// The client retries: delivered once, tracked once.
	if err := sendMail(addr, msg); err != nil {
		t.Fatalf("retry: %v\n%s", err, log.String())
	}
	emails, pending := storeState()
	if len(emails) != 1 || pending != 0 || len(up.delivered()) != 1 {
		t.Fatalf("after the retry: %d tracked, %d pending, %d delivered; want 1, 0, 1", len(emails), pending, len(up.delivered()))
	}
	m, _ := correlate.ParseMessage(bytes.NewReader(up.delivered()[0]), nil)
	if m.MessageID != emails[0].MessageID {
		t.Errorf("delivered %q, tracked %q", m.MessageID, emails[0].MessageID)
	}
}

func TestHashPassword(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-hash-password"}, strings.NewReader("s3cret\n"), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	line := strings.TrimSpace(out.String())
	u, err := submit.ParseUsers(strings.NewReader("alice 1 " + line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(context.Background(), "alice", "s3cret"); err != nil {
		t.Fatalf("the printed hash does not verify its password: %v", err)
	}
	if !strings.HasPrefix(line, fmt.Sprintf("pbkdf2-sha256$%d$", submit.DefaultIterations)) {
		t.Errorf("hash %q: want the default iterations", line)
	}
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	base := setup(t, dir)
	cases := []struct {
		args []string
		code int
		want string
		why  string
	}{
		{[]string{"-users", "x"}, 2, "-upstream and -users are required", "no upstream"},
		{[]string{"-upstream", "h:25", "-users", "u", "extra"}, 2, "unexpected argument", "a stray argument"},
		{[]string{"-upstream", "h:25", "-users", "u", "-tls-cert", "c"}, 2, "go together", "a certificate without its key"},
		{append(base, "-upstream", "h:25", "-store", "mysql://x"), 1, "want memory, sqlite:PATH or postgres", "an unknown store"},
		{append(base, "-upstream", "h:25", "-store", "memory", "-upstream-tls", "ssl"), 1, "want starttls, tls or none", "an unknown TLS mode"},
		{[]string{"-upstream", "h:25", "-users", filepath.Join(dir, "none.txt"), "-store", "memory"}, 1, "no such file", "a missing users file"},
	}
	for _, c := range cases {
		var errs bytes.Buffer
		code := run(context.Background(), c.args, nil, io.Discard, &errs)
		if code != c.code || !strings.Contains(errs.String(), c.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.why, code, errs.String(), c.code, c.want)
		}
	}
}
