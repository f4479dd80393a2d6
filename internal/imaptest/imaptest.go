// Package imaptest reads the test material of Dovecot's imaptest (an mbox
// and a script per test) for the tests of the subject and header/thread
// packages, which replay its RFC 5256 SORT and THREAD cases.
package imaptest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// A Message is one message of an imaptest mbox.
type Message struct {
	// Internal is the INTERNALDATE imaptest gives the message when it
	// appends it: the date of its mbox "From " line.
	Internal time.Time
	// Text is the message with CRLF line ends; its length is the
	// RFC822.SIZE SORT compares.
	Text string
}

// ReadMbox reads an imaptest mbox: a "From " line at the start or after a
// blank line begins a message.
func ReadMbox(r io.Reader) ([]Message, error) {
	type raw struct {
		internal time.Time
		lines    []string
	}
	var msgs []raw
	sc := bufio.NewScanner(r)
	prevBlank := true
	for sc.Scan() {
		line := sc.Text()
		if prevBlank && strings.HasPrefix(line, "From ") {
			d, err := fromLineDate(line)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, raw{internal: d})
		} else if len(msgs) > 0 {
			msgs[len(msgs)-1].lines = append(msgs[len(msgs)-1].lines, line)
		}
		prevBlank = line == ""
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("imaptest: mbox: %w", err)
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		lines := m.lines
		if n := len(lines); n > 0 && lines[n-1] == "" {
			lines = lines[:n-1] // the blank line before the next "From "
		}
		out[i] = Message{Internal: m.internal, Text: strings.Join(lines, "\r\n") + "\r\n"}
	}
	return out, nil
}

// fromLineDate parses "From user@domain  Fri Feb 22 23:00:00 2008 +0200".
func fromLineDate(line string) (time.Time, error) {
	f := strings.Fields(line)
	if len(f) >= 7 {
		date := strings.Join(f[2:], " ")
		for _, layout := range []string{"Mon Jan _2 15:04:05 2006 -0700", "Mon Jan _2 15:04:05 2006"} {
			if d, err := time.Parse(layout, date); err == nil {
				return d, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("imaptest: bad mbox separator %q", line)
}

// A Step is one command of a script and the untagged reply it expects.
type Step struct {
	Command string // without "ok "
	Reply   string // without "* "; "" for none
}

// A Script is a parsed imaptest script.
type Script struct {
	// AppendAll reports "messages: all": every message of the mbox is
	// appended before the first command. Otherwise ("state: created") the
	// script appends them itself.
	AppendAll bool
	Steps     []Step
}

// ReadScript reads an imaptest script: a header block ("messages: all" or
// "state: created"), a blank line, then "ok <command>" lines each
// optionally followed by its expected "* <reply>".
func ReadScript(r io.Reader) (Script, error) {
	var s Script
	sc := bufio.NewScanner(r)
	header := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case header:
			if line == "" {
				header = false
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); {
			case k == "messages" && v == "all":
				s.AppendAll = true
			case k == "messages" || k == "state" && v != "created":
				return s, fmt.Errorf("imaptest: unsupported script header %q", line)
			}
		case strings.HasPrefix(line, "ok "):
			s.Steps = append(s.Steps, Step{Command: strings.TrimPrefix(line, "ok ")})
		case strings.HasPrefix(line, "* "):
			if len(s.Steps) == 0 {
				return s, errors.New("imaptest: a reply before any command")
			}
			s.Steps[len(s.Steps)-1].Reply = strings.TrimPrefix(line, "* ")
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("imaptest: script: %w", err)
	}
	return s, nil
}
