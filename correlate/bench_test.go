package correlate_test

import (
	"bytes"
	"net/mail"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
)

// benchMessages returns the messages the parse benchmarks read: a sample of
// the real corpora when present, else the fixtures in testdata. A leading
// mbox "From " line is removed so net/mail can read the same bytes.
func benchMessages(b *testing.B) (msgs [][]byte, source string) {
	if _, ok := correlatetest.Find(); ok {
		files := correlatetest.Files(b, correlatetest.Ham, correlatetest.USRP, correlatetest.Notmuch+"/lkml")
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
// Each message is also read by bare net/mail.ReadMessage
// (benchutil.OpTimer.Floor), before or after ParseMessage in turn:
// stdlib-ns/op is its mean, x-stdlib the mean of ParseMessage over it,
// measured message by message (the two benchmarks, run one after the
// other, meet a machine whose speed drifts). timed-ns/op and p50-ns/op are
// ParseMessage alone; ns/op, B/op and allocs/op include the stdlib runs,
// and parse-B/op and parse-allocs/op leave out their mean, measured on
// the same messages before the loop.
func BenchmarkParseMessage(b *testing.B) {
	msgs, src := benchMessages(b)
	b.Run(src, func(b *testing.B) {
		var ot, base benchutil.OpTimer
		r := bytes.NewReader(nil)
		fo0, fb0 := benchutil.Allocs()
		for _, raw := range msgs {
			r.Reset(raw)
			sinkStd, _ = mail.ReadMessage(r)
		}
		fo1, fb1 := benchutil.Allocs()
		floorObjs, floorBytes := float64(fo1-fo0)/float64(len(msgs)), float64(fb1-fb0)/float64(len(msgs))
		b.ReportAllocs()
		i := 0
		o0, b0 := benchutil.Allocs()
		ot.Start()
		base.Start()
		for b.Loop() {
			raw := msgs[i%len(msgs)]
			floor := func() {
				r.Reset(raw)
				m, _ := mail.ReadMessage(r)
				sinkStd = m
			}
			if i%2 == 0 {
				ot.Floor(&base, floor)
			}
			r.Reset(raw)
			ot.Begin()
			m, _ := correlate.ParseMessage(r, nil)
			ot.Tick()
			if i%2 == 1 {
				ot.Floor(&base, floor)
			}
			sinkMsg = m
			i++
		}
		o1, b1 := benchutil.Allocs()
		ot.Report(b)
		b.ReportMetric(float64(o1-o0)/float64(b.N)-floorObjs, "parse-allocs/op")
		b.ReportMetric(float64(b1-b0)/float64(b.N)-floorBytes, "parse-B/op")
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
