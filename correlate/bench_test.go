package correlate_test

import (
	"bytes"
	"net/mail"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
)

// benchMessages returns the messages the parse benchmarks read: a sample of
// the real corpora when present, else the fixtures in testdata. A leading
// mbox "From " line is removed so net/mail can read the same bytes.
func benchMessages(b *testing.B) (msgs [][]byte, source string) {
	if _, err := os.Stat(corpusDir); err == nil {
		files := corpusFiles(b, "spamassassin-ham/test/testdata/ham", "usrp-users/messages", "notmuch/test/corpora/lkml")
		for i, f := range files {
			if i%4 != 0 {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			msgs = append(msgs, stripMboxLine(raw))
		}
		return msgs, "corpora"
	}
	files, _ := filepath.Glob("testdata/*.eml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
	}
	return msgs, "testdata"
}

func stripMboxLine(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			return raw[i+1:]
		}
	}
	return raw
}

var sinkMsg *correlate.Message

// BenchmarkParseMessage parses real messages (header only, as ParseMessage
// does by default) with all its decoding: addresses, encoded words,
// Message-ID lists, dates, Thread-Index, and the message's facts (ids
// cleaned, participants). Compare with BenchmarkStdlibReadMessage on the
// same bytes.
//
// Every 256 messages the timer stops and bare net/mail.ReadMessage reads
// the next 64: stdlib-ns/op is its mean, x-stdlib the mean of ParseMessage
// over it, measured in the same seconds (the two benchmarks, run one after
// the other, meet a machine whose speed drifts). The stdlib runs are left
// out of ns/op, B/op and allocs/op.
func BenchmarkParseMessage(b *testing.B) {
	msgs, src := benchMessages(b)
	b.Run(src, func(b *testing.B) {
		var ot, base benchutil.OpTimer
		b.ReportAllocs()
		r := bytes.NewReader(nil)
		i := 0
		ot.Start()
		base.Start()
		for b.Loop() {
			if i%256 == 0 {
				b.StopTimer()
				ot.Pause()
				for j := range 64 {
					r.Reset(msgs[(i+j)%len(msgs)])
					base.Begin()
					m, _ := mail.ReadMessage(r)
					base.Tick()
					sinkStd = m
				}
				b.StartTimer() // its ReadMemStats before the op timer resumes
				ot.Resume()
			}
			r.Reset(msgs[i%len(msgs)])
			m, _ := correlate.ParseMessage(r, nil)
			ot.Tick()
			sinkMsg = m
			i++
		}
		ot.Report(b)
		b.ReportMetric(float64(base.Mean().Nanoseconds()), "stdlib-ns/op")
		benchutil.ReportRatio(b, ot.Mean(), base.Mean(), "x-stdlib")
	})
}

var sinkStd *mail.Message

// BenchmarkStdlibReadMessage is the baseline: bare net/mail.ReadMessage
// (header split only, no field decoding) on the same messages.
func BenchmarkStdlibReadMessage(b *testing.B) {
	msgs, src := benchMessages(b)
	b.Run(src, func(b *testing.B) {
		b.ReportAllocs()
		r := bytes.NewReader(nil)
		i := 0
		for b.Loop() {
			r.Reset(msgs[i%len(msgs)])
			m, _ := mail.ReadMessage(r)
			sinkStd = m
			i++
		}
	})
}
