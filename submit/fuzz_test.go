package submit

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
)

// fuzzToken is the token the fuzz and corpus tests stamp.
const fuzzToken = "CRM:0001042"

// checkRewrite checks the rewriter's promises for one message: the relayed
// header reads back the stamped subject (which ends with the token and fits
// the limit) and the new Message-ID, has no X-CRM-Regarding, keeps every
// other field byte for byte and in order, and the body is unchanged.
func checkRewrite(t testing.TB, raw []byte, got rewritten, maxLen int) {
	t.Helper()
	m, _ := correlate.ParseMessage(bytes.NewReader(got.out), &correlate.ParseOptions{MaxHeaderBytes: -1})
	if m == nil {
		t.Fatalf("the relayed message has no header: %q", got.out)
	}
	if m.Subject != got.want {
		t.Fatalf("subject reads back %q, want %q\nheader %q", m.Subject, got.want, got.out)
	}
	if got.tok == "" || (got.want != got.tok && !strings.HasSuffix(got.want, " "+got.tok)) {
		t.Fatalf("subject %q does not end with the token %q", got.want, got.tok)
	}
	if n := len(utf16.Encode([]rune(got.want))); n > maxLen {
		t.Fatalf("subject of %d UTF-16 units, limit %d", n, maxLen)
	}
	if m.MessageID != "n@relay" {
		t.Fatalf("Message-ID %q, want n@relay", m.MessageID)
	}
	if _, ok := m.Header[regardingKey]; ok {
		t.Fatal("X-CRM-Regarding survived")
	}
	oblock, _, obody := splitMessage(t, raw)
	nblock, _, nbody := splitMessage(t, got.out)
	if !bytes.Equal(obody, nbody) {
		t.Fatalf("body changed:\n%q\n%q", obody, nbody)
	}
	keep := func(fs []field) []field {
		var out []field
		for _, f := range fs {
			if !f.is("Subject") && !f.is("Message-ID") && !f.is(RegardingField) {
				out = append(out, f)
			}
		}
		return out
	}
	of, nf := keep(splitFields(oblock)), keep(splitFields(nblock))
	if len(of) != len(nf) {
		t.Fatalf("%d untouched fields became %d\n%q\n%q", len(of), len(nf), oblock, nblock)
	}
	for i := range of {
		o, n := of[i].raw, nf[i].raw
		if !bytes.HasSuffix(o, []byte("\n")) && bytes.HasPrefix(n, o) && len(bytes.Trim(n[len(o):], "\r\n")) == 0 {
			n = o // the last line gained a line ending
		}
		if !bytes.Equal(o, n) {
			t.Fatalf("field %d changed: %q became %q", i, o, n)
		}
	}
	for _, f := range splitFields(nblock) {
		if f.is("Subject") {
			for _, line := range strings.Split(string(f.raw), "\n") {
				if len(strings.TrimRight(line, "\r")) > 998 {
					t.Fatalf("Subject line of %d characters", len(line))
				}
			}
		}
	}
}

func splitMessage(t testing.TB, b []byte) (block, sep, body []byte) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(b))
	block, sep, err := readHeaderBlock(br, len(b)+1)
	if err != nil {
		t.Fatalf("readHeaderBlock: %v", err)
	}
	body, _ = io.ReadAll(br)
	return block, sep, body
}

// FuzzRewrite feeds hostile header blocks to the rewriter: it never fails
// to write a subject that reads back as stamped, and it changes nothing but
// Subject, Message-ID and X-CRM-Regarding. Seeded from real mail when the
// shared corpora are present.
func FuzzRewrite(f *testing.F) {
	seeds := []string{
		"From: a@x\r\nSubject: Printer offline\r\n\r\nbody\r\n",
		"Subject: =?UTF-8?B?RHJ1Y2tlciBkZWZla3Q=?=\r\n =?ISO-8859-1?Q?=E9t=E9?=\r\nMessage-ID: <a@b>\r\n\r\nx",
		"Subject: =?GB2312?B?u9i4tDogsunRr7Hoxvc=?= CRM:0001001\nX-CRM-Regarding: incident:1\n\n.\n",
		"Subject: RE: " + strings.Repeat("long words ", 40) + "\r\n\r\n",
		"Subject: =?UTF-8?Q?a_?=\r\nSubject: second\r\n",
		" leading\r\nSubject\t: x\r\nno colon\r\nmessage-id: <1@x>\r\nMessage-ID: <2@x>\r\n\r\n",
		"Subject: =?UTF-8?B?" + b64("\x00\r\n=?x?q?y?=") + "?=\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint16(0))
	}
	if _, ok := correlatetest.Find(); ok {
		for i, p := range corpusFiles(f) {
			if i%40 != 0 { // a sample keeps the seed corpus fast
				continue
			}
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, uint16(i))
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, limit uint16) {
		maxLen := len(fuzzToken) + int(limit%300)
		br := bufio.NewReader(bytes.NewReader(raw))
		if _, _, err := readHeaderBlock(br, DefaultMaxHeaderBytes); err != nil {
			return
		}
		got, ok := rewrite(t, raw, fuzzToken, "<n@relay>", maxLen)
		if !ok {
			return
		}
		checkRewrite(t, raw, got, maxLen)
	})
}

// TestRewriteCorpora stamps every real message of the corpora (many mail
// programs, charsets, folded and encoded subjects): each keeps its fields
// and body and reads back the stamped subject.
func TestRewriteCorpora(t *testing.T) {
	files := corpusFiles(t)
	n := 0
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := rewrite(t, raw, fuzzToken, "<n@relay>", 0)
		if !ok {
			continue
		}
		checkRewrite(t, raw, got, 255)
		n++
	}
	if n < 1000 {
		t.Fatalf("only %d messages rewritten; the corpora hold more than 1,500", n)
	}
	t.Logf("%d real messages stamped and checked", n)
}

// corpusFiles returns the message files of the corpora; it skips tb when
// they are absent.
func corpusFiles(tb testing.TB) []string {
	tb.Helper()
	return correlatetest.Files(tb, correlatetest.Ham, correlatetest.USRP, correlatetest.Notmuch)
}
