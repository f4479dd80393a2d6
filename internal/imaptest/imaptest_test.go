package imaptest

import (
	"strings"
	"testing"
	"time"
)

func TestReadMbox(t *testing.T) {
	const mbox = "From a@b  Fri Feb 22 23:00:00 2008 +0200\nSubject: one\n\nbody\nFrom here is body text\n\n" +
		"From a@b  Sat Feb 23 01:02:03 2008\nSubject: two\n\n"
	msgs, err := ReadMbox(strings.NewReader(mbox))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2: a \"From \" line not after a blank line is body text", len(msgs))
	}
	if want := "Subject: one\r\n\r\nbody\r\nFrom here is body text\r\n"; msgs[0].Text != want {
		t.Errorf("message 1 = %q, want %q (CRLF, without the blank line before the next separator)", msgs[0].Text, want)
	}
	if want := time.Date(2008, 2, 22, 21, 0, 0, 0, time.UTC); !msgs[0].Internal.Equal(want) {
		t.Errorf("INTERNALDATE %v, want %v", msgs[0].Internal, want)
	}
	if msgs[1].Internal.Hour() != 1 {
		t.Errorf("a separator without a zone: %v", msgs[1].Internal)
	}
	if _, err := ReadMbox(strings.NewReader("From a@b yesterday\n")); err == nil {
		t.Error("a bad separator date is an error")
	}
}

func TestReadScript(t *testing.T) {
	s, err := ReadScript(strings.NewReader("messages: all\n\nok sort (subject) us-ascii all\n* sort 2 1\nok expunge\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{{"sort (subject) us-ascii all", "sort 2 1"}, {"expunge", ""}}
	if !s.AppendAll || len(s.Steps) != 2 || s.Steps[0] != want[0] || s.Steps[1] != want[1] {
		t.Errorf("ReadScript = %+v, want AppendAll and %+v", s, want)
	}
	s, err = ReadScript(strings.NewReader("state: created\n\nok append\n"))
	if err != nil || s.AppendAll {
		t.Errorf("state: created = %+v, %v; want the script to append", s, err)
	}
	for _, bad := range []string{"messages: 3\n\n", "state: selected\n\n", "\n* reply first\n"} {
		if _, err := ReadScript(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadScript(%q) succeeded, want an error", bad)
		}
	}
}
