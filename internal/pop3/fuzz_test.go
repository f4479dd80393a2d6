package pop3

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
)

// FuzzSession feeds arbitrary server bytes to a session that runs what a
// sync runs — greeting, CAPA, login, UIDL, LIST, TOP pipelined, RETR,
// DELE, QUIT —: it must never panic nor keep more than it was asked to,
// and every error is a refusal (*Error), a protocol error or the end of
// the input.
func FuzzSession(f *testing.F) {
	f.Add([]byte("+OK ready\r\n+OK\r\nTOP\r\nUIDL\r\nPIPELINING\r\n.\r\n+OK\r\n+OK\r\n+OK\r\n1 a\r\n.\r\n+OK\r\n1 30\r\n.\r\n" +
		"+OK\r\nFrom: a@b\r\n\r\n.\r\n+OK\r\nFrom: a@b\r\n\r\nbody\r\n..dot\r\n.\r\n+OK\r\n+OK bye\r\n"))
	f.Add([]byte("+OK\r\n-ERR\r\n-ERR [IN-USE] locked\r\n"))
	f.Add([]byte("+OK\r\n+OK\r\n.\r\n+OK\r\n+OK\r\n+OK\r\n0 x\r\n.\r\n"))
	f.Add([]byte("+OK\r\n+OK\r\n.\r\n+ \r\n+ eyJ9\r\n-ERR [AUTH]\r\n"))
	f.Add([]byte("+OK\n+OK\n.\n+OK\n+OK\n+OK\n1 a\n2 b\n.\n+OK\n1 5\n2 x\n.\n"))
	f.Fuzz(func(t *testing.T, server []byte) {
		const keep = 64
		c, err := NewClient(&canned{r: bytes.NewReader(server)}, time.Second)
		if err != nil {
			check(t, err)
			return
		}
		c.MaxResponseBytes = 4096
		caps, err := c.Capa()
		check(t, err)
		if caps.SASL("PLAIN") {
			check(t, c.Auth(sasl.NewPlainClient("", "u", "p")))
		} else {
			check(t, c.Login("u", "p"))
		}
		u, err := c.UIDL()
		check(t, err)
		for _, e := range u {
			if e.Num <= 0 || e.UIDL == "" {
				t.Fatalf("bad entry %+v", e)
			}
		}
		l, err := c.List()
		check(t, err)
		for _, e := range l {
			if e.Num <= 0 || e.Size < 0 {
				t.Fatalf("bad entry %+v", e)
			}
		}
		res, err := c.TopMany([]int{1, 2}, 0, keep, caps.Has("PIPELINING"))
		check(t, err)
		for _, r := range res {
			if len(r.Data) > keep {
				t.Fatalf("kept %d bytes, asked for %d", len(r.Data), keep)
			}
			check(t, r.Err)
		}
		b, err := c.Retr(1, keep)
		check(t, err)
		if len(b) > keep {
			t.Fatalf("kept %d bytes", len(b))
		}
		check(t, c.Dele([]int{1}, true))
		check(t, c.Quit())
	})
}

func check(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *Error
	switch {
	case errors.As(err, &pe):
		if !utf8.ValidString(pe.Text) || strings.ContainsAny(pe.Text, "\r\n\x00") || len(pe.Text) > 300+len("…") {
			t.Fatalf("unsafe text %q", pe.Text)
		}
	case errors.Is(err, ErrProtocol), strings.Contains(err.Error(), "unexpected EOF"):
	default:
		t.Fatalf("unexpected error: %v", err)
	}
}

// FuzzParse: the line parsers never panic and keep their texts printable.
func FuzzParse(f *testing.F) {
	f.Add([]byte("-ERR [IN-USE] locked"))
	f.Add([]byte("1 000000016b14bb9d"))
	f.Add([]byte("+OK 12 3456"))
	f.Fuzz(func(t *testing.T, line []byte) {
		ok, code, text, err := ParseStatus(line)
		if err == nil {
			if ok && code != "" {
				t.Fatalf("a code on +OK: %q", code)
			}
			if !utf8.ValidString(text) || strings.ContainsAny(text+code, "\r\n\x00") {
				t.Fatalf("unsafe text %q %q", code, text)
			}
		}
		for _, u := range []bool{true, false} {
			e, err := ParseListing(line, u)
			if err == nil && (e.Num <= 0 || (u && e.UIDL == "") || e.Size < 0) {
				t.Fatalf("bad entry %+v from %q", e, line)
			}
		}
	})
}
