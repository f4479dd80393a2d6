package thread_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/header/thread"
)

// fuzzSeparator splits a fuzz input into messages.
const fuzzSeparator = "\n\x00\n"

// seedMailbox is a small mailbox of this package's own making: a thread
// with a missing root, a loop, a duplicate, junk and phrase In-Reply-To.
var seedMailbox = strings.Join([]string{
	"Message-ID: <a@x.example>\r\nDate: Mon, 1 Apr 2024 10:00:00 +0000\r\nSubject: Plan\r\n\r\nbody",
	"Message-ID: <b@x.example>\r\nIn-Reply-To: <a@x.example>\r\nReferences: <a@x.example>\r\nDate: Mon, 1 Apr 2024 11:00:00 +0000\r\nSubject: Re: Plan\r\n\r\n",
	"Message-ID: <c@x.example>\r\nIn-Reply-To: <gone@x.example>\r\nReferences: <a@x.example> <b@x.example> <gone@x.example>\r\nDate: Mon, 1 Apr 2024 12:00:00 +0000\r\nSubject: AW: Plan\r\n\r\n",
	"Message-ID: <l1@x.example>\r\nIn-Reply-To: <l2@x.example>\r\nSubject: loop\r\n\r\n",
	"Message-ID: <l2@x.example>\r\nIn-Reply-To: <l1@x.example>\r\nReferences: <l1@x.example><l2@x.example>\r\nSubject: loop\r\n\r\n",
	"Message-ID: <b@x.example>\r\nReferences: <yes>\r\nIn-Reply-To: <yes>\r\nSubject: [PATCH] dup\r\n\r\n",
	"From: Ann <ann@x.example>\r\nIn-Reply-To: Message from Ann <ann@x.example> of \"Mon, 1 Apr 2024\" <a@x.example>\r\nSubject: Re: Plan\r\n\r\n",
	"Message-ID: <g@x.example>\r\nIn-Reply-To: ann@x.example's message of \"Mon, 1 Apr 2024\"\r\nSubject: =?utf-8?q?Re=3A_Pl=C3=A4n?=\r\n\r\n",
}, fuzzSeparator)

// parseMailbox reads the messages of a fuzz input; unreadable ones are
// skipped, as a sync files what it can.
func parseMailbox(data []byte) []*correlate.Message {
	var out []*correlate.Message
	for _, raw := range bytes.Split(data, []byte(fuzzSeparator)) {
		m, err := correlate.ParseMessage(bytes.NewReader(raw), nil)
		if m == nil {
			if !errors.Is(err, correlate.ErrNoHeader) && !errors.Is(err, correlate.ErrHeaderTooLarge) {
				panic(fmt.Sprintf("ParseMessage returned no message and %v", err))
			}
			continue
		}
		out = append(out, m)
	}
	return out
}

// FuzzThread threads hostile mailboxes (real headers through
// correlate.ParseMessage) in every mode and checks the properties: no
// panic, every message exactly once, no cycle, RealMail independent of the
// input order, the Threader equal to Thread, the renderers total.
func FuzzThread(f *testing.F) {
	f.Add([]byte(seedMailbox))
	f.Add([]byte("References: <a@b>\r\n\r\n" + fuzzSeparator + "References: <a@b>\r\n\r\n"))
	f.Add([]byte("Message-ID: <a@b>\r\n\r\n" + fuzzSeparator + "Message-ID: <a@b>\r\nSubject: Re: x\r\n\r\n"))
	// The threading fields of real mail, read at test time when the shared
	// corpora are present (never stored in the repository), kept short so
	// that the fuzzer's minimization stays quick.
	corpusDir, _ := correlatetest.Find()
	for _, dir := range []string{"notmuch/test/corpora/threading", "notmuch/test/corpora/broken"} {
		files, _ := filepath.Glob(filepath.Join(corpusDir, dir, "*", "*"))
		more, _ := filepath.Glob(filepath.Join(corpusDir, dir, "*"))
		var box []string
		for _, name := range append(files, more...) {
			b, err := os.ReadFile(name)
			if err != nil {
				continue
			}
			var keep []string
			for _, line := range strings.Split(string(b), "\n") {
				if line == "" || line == "\r" {
					break
				}
				switch k, _, _ := strings.Cut(strings.ToLower(line), ":"); k {
				case "message-id", "in-reply-to", "references", "subject", "date":
					keep = append(keep, strings.TrimRight(line, "\r"))
				}
			}
			box = append(box, strings.Join(keep, "\r\n")+"\r\n\r\n")
		}
		if len(box) > 0 {
			f.Add([]byte(strings.Join(box, fuzzSeparator)))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return
		}
		msgs := parseMailbox(data)
		checkAllModes(t, msgs)
	})
}

// FuzzThreadGraph explores reference graphs directly: each byte pair
// describes a message (its id, parent, References, date and subject drawn
// from small pools), so loops, duplicates, missing messages, junk ids and
// date ties are frequent.
func FuzzThreadGraph(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0x10, 2, 0x21, 3, 0x32})
	f.Add([]byte{1, 0x22, 2, 0x13, 3, 0x31, 1, 0x21, 0, 0})
	f.Add([]byte{5, 0xff, 5, 0xee, 6, 0x55, 7, 0x66, 8, 0x77, 9, 0x88})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 400 {
			return
		}
		ids := []string{"", "yes", "a@x", "b@x", "c@x", "d@x", "e@x", "f@x"}
		subjects := []string{"", "Plan", "Re: Plan", "AW: plan", "Other", "Fwd: Other", "Re:", "[l] Plan"}
		var msgs []*correlate.Message
		for i := 0; i+1 < len(data); i += 2 {
			a, b := data[i], data[i+1]
			m := &correlate.Message{
				MessageID: ids[a&7],
				Date:      t0.Add(time.Duration(a>>5) * time.Minute),
				Subject:   subjects[b&7],
			}
			if p := ids[(b>>3)&7]; p != "" {
				m.InReplyTo = []string{p}
			}
			for k := uint(0); k < 3; k++ {
				if r := ids[(int(a>>3)+int(b>>6)*int(k+1))&7]; r != "" && (b>>(5+k%3))&1 == 1 && !slices.Contains(m.References, r) {
					m.References = append(m.References, r)
				}
			}
			msgs = append(msgs, m)
		}
		checkAllModes(t, msgs)
	})
}

// checkAllModes runs the properties of FuzzThread on msgs.
func checkAllModes(t *testing.T, msgs []*correlate.Message) {
	t.Helper()
	for _, opts := range []*thread.Options{nil, {GroupBySubject: true}, {Mode: thread.References}, {Mode: thread.OrderedSubject}} {
		roots := thread.Thread(msgs, opts)
		checkForest(t, msgs, roots, plainDate)
		_ = thread.Format(roots, nil)
		_ = thread.FormatTree(roots, nil)
		want := canonical(roots)
		realMail := opts == nil || opts.Mode == thread.RealMail
		th := thread.NewThreader(opts)
		if realMail {
			rev := slices.Clone(msgs)
			slices.Reverse(rev)
			if got := canonical(thread.Thread(rev, opts)); got != want {
				t.Fatalf("RealMail depends on input order:\n%s\nreversed:\n%s", want, got)
			}
			for _, m := range rev {
				th.Add(m)
			}
		} else {
			for _, m := range msgs {
				th.Add(m)
			}
		}
		if got := canonical(th.Roots()); got != want {
			t.Fatalf("Threader differs from Thread (mode %v):\n%s\nThreader:\n%s", opts, want, got)
		}
	}
}
