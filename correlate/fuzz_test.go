package correlate_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
)

// FuzzParseMessage checks the parser's promises on hostile input: it never
// panics, a nil Message comes only with a fatal error, the References bound
// holds, ids are normalized and decoded text is valid UTF-8. It is seeded
// from real mail when the shared corpora are present.
func FuzzParseMessage(f *testing.F) {
	seeds := []string{
		"From: a@x\nSubject: hi\n\nbody",
		"From alice@x Thu Aug 22 14:44:07 2002\nFrom: \"A, B\" <a@x>\nCc: <<bad, c@y\nMessage-ID: <a><b>\nReferences: <1@x>\n <2@x> junk <1@x>\n\n",
		"Subject: =?ISO-2022-JP?B?GyRCSlY/LhsoQg==?= =?x-unknown?Q?=E9?=\r\nThread-Index: AQHZyJ4A==\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Transfer-Encoding: base64\n\n!!!\n--b--",
		"From: a@x\nDate: Thu, 22 Aug 2002 09:44:04 -0400 (EDT)\nIn-Reply-To: <yes>\n\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	if _, ok := correlatetest.Find(); ok {
		files := correlatetest.Files(f, correlatetest.Ham, correlatetest.Notmuch)
		for i, p := range files {
			if i%25 != 0 { // a sample keeps the seed corpus fast
				continue
			}
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := correlate.ParseMessage(bytes.NewReader(raw), &correlate.ParseOptions{Text: true, MaxHeaderBytes: 64 << 10})
		var pe *correlate.ParseError
		if err != nil && !errors.As(err, &pe) {
			if m != nil {
				t.Fatalf("fatal error %v with a non-nil Message", err)
			}
			if !errors.Is(err, correlate.ErrNoHeader) && !errors.Is(err, correlate.ErrHeaderTooLarge) {
				t.Fatalf("unexpected fatal error: %v", err)
			}
			return
		}
		if m == nil {
			t.Fatal("nil Message without a fatal error")
		}
		if len(m.References) > correlate.DefaultMaxReferences {
			t.Fatalf("%d References kept", len(m.References))
		}
		for _, id := range append(append([]string{m.MessageID}, m.InReplyTo...), m.References...) {
			if correlate.NormalizeMessageID(id) != id {
				t.Fatalf("id %q is not normalized", id)
			}
		}
		for _, s := range []string{m.Subject, m.ThreadTopic, m.Text} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		if pe != nil && pe.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}

// FuzzParseMessageIDs checks the id-list reader: no panic, no duplicates,
// the bound holds, every id is normalized and non-empty.
func FuzzParseMessageIDs(f *testing.F) {
	for _, s := range []string{"<a@x>", "<a@x><b@y>", "<a@x>\r\n <b@y> <a@x>", "junk <a <b@x>", "a@x b@y", "<yes>", "<>", "<a@x", strings.Repeat("<x@y>", 100)} {
		f.Add(s, 32)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		ids, _ := correlate.ParseMessageIDs(s, max)
		if max > 0 && len(ids) > max {
			t.Fatalf("%d ids kept with max %d", len(ids), max)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if id == "" || seen[id] || correlate.NormalizeMessageID(id) != id {
				t.Fatalf("bad id %q in %q", id, ids)
			}
			seen[id] = true
		}
	})
}
