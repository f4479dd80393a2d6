package guard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

var sinkClass correlate.Classification

// BenchmarkClassify measures the classifier per message shape: the Normal
// case is the hot path (no allocation), a bounce with its body is the
// expensive one (a MIME walk and a second header parse).
func BenchmarkClassify(b *testing.B) {
	c := guard.New(nil)
	for _, tc := range []struct{ name, file string }{
		{"normal", "sent.eml"},
		{"autoreply", "autoreply-rfc3834.eml"},
		{"bulk", "bulk-list.eml"},
		{"bounce-postfix", "dsn-postfix.eml"},
		{"bounce-gmail", "dsn-gmail.eml"},
		{"bounce-qmail-text", "bounce-qmail.eml"},
	} {
		m := load(b, tc.file, true)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkClass = c.Classify(m)
			}
		})
	}
}

var sinkDecision correlate.Decision

// BenchmarkEngineGuards measures what the default guardrails add to
// Engine.Correlate for an ordinary reply found by In-Reply-To among 10,000
// tracked emails: classification, the sender-policy check (not applied to
// header matches) and the rate window, against Options.Unguarded.
func BenchmarkEngineGuards(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts *mailcorrelate.Options
	}{
		{"unguarded", &mailcorrelate.Options{Unguarded: true}},
		{"guarded", nil},
	} {
		store := memstore.New()
		eng, err := mailcorrelate.New(store, tc.opts)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 10_000 {
			m := &correlate.Message{MessageID: fmt.Sprintf("c%d@crm.fabrikam.example", i), Subject: "Case " + fmt.Sprint(i),
				From: []correlate.Address{{Address: "support@fabrikam.example"}}, To: []correlate.Address{{Address: fmt.Sprintf("c%d@contoso.example", i)}}}
			if _, err := eng.Track(ctx, m, correlate.Match{Record: correlate.Record{Type: "incident", ID: fmt.Sprint(i)}}); err != nil {
				b.Fatal(err)
			}
		}
		reply := mustParse("Message-ID: <r1@contoso.example>\r\nFrom: c4242@contoso.example\r\nTo: support@fabrikam.example\r\n" +
			"Subject: Re: Case 4242\r\nDate: Tue, 4 Mar 2025 10:00:00 +0000\r\nIn-Reply-To: <c4242@crm.fabrikam.example>\r\n\r\nthanks\r\n")
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			found := 0
			for b.Loop() {
				d, err := eng.Correlate(ctx, reply)
				if err != nil {
					b.Fatal(err)
				}
				if d.Found() {
					found++
				}
				sinkDecision = d
			}
			b.ReportMetric(float64(found)/float64(b.N), "found/op")
		})
	}
}

// BenchmarkRateWindow measures Observe with many senders, in parallel.
func BenchmarkRateWindow(b *testing.B) {
	w := guard.NewRateWindow(nil)
	rec := correlate.Record{Type: "incident", ID: "1"}
	msgs := make([]*correlate.Message, 1024)
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	for i := range msgs {
		msgs[i] = &correlate.Message{MessageID: fmt.Sprint(i, "@x"), Date: t0.Add(time.Duration(i) * time.Second),
			From: []correlate.Address{{Address: fmt.Sprintf("s%d@contoso.example", i%256)}}}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = w.Observe(msgs[i%len(msgs)], rec)
			i++
		}
	})
}
