package token_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

var (
	sinkFound []token.Found
	sinkStr   string
	sinkMatch correlate.Match
	sinkBool  bool
)

// BenchmarkFind measures Find on typical subjects. The target is 200 ns/op
// and no allocation for a subject without a token.
func BenchmarkFind(b *testing.B) {
	hist := token.Format{Prefix: "NEW:", History: []string{"CRM:", "Tracking#"}}
	cases := []struct {
		name    string
		f       token.Format
		subject string
	}{
		{"none", token.Format{}, "RE: [Contoso] Printer on the 3rd floor is offline again - please help"},
		{"none/history", hist, "RE: [Contoso] Printer on the 3rd floor is offline again - please help"},
		{"none/cjk", token.Format{}, "回复: 答复: 关于第三季度 Contoso 打印机维修合同的问题"},
		{"token", token.Format{}, "RE: [Contoso] Printer on the 3rd floor is offline again CRM:0001001"},
		{"token/signed", token.Format{Keys: [][]byte{testKey}}, "RE: [Contoso] Printer on the 3rd floor is offline CRM:0001001-A3JC49JV"},
		{"none/255", token.Format{}, strings.Repeat("Contoso printer ", 16)[:255]},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.subject)))
			for b.Loop() {
				sinkFound = tc.f.Find(tc.subject)
			}
		})
	}
	// A yardstick for a noisy machine: a case-sensitive search of the same
	// subject, which Find (case-insensitive, boundaries, history) cannot
	// beat.
	b.Run("baseline/strings.Contains", func(b *testing.B) {
		b.ReportAllocs()
		s := cases[0].subject
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			sinkBool = strings.Contains(s, "CRM:")
		}
	})
}

// BenchmarkFind_corpus runs Find over every real subject of the corpora and
// reports the cost per subject.
func BenchmarkFind_corpus(b *testing.B) {
	subjects := corpusSubjects(b)
	if len(subjects) == 0 {
		correlatetest.Dir(b) // skips: the corpora are absent
	}
	var f token.Format
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range subjects {
			sinkFound = f.Find(s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(subjects)), "ns/subject")
}

// BenchmarkGenerator issues tokens from 8 goroutines sharing one memstore,
// on one user's counter (every call contends) and on a counter per
// goroutine, and reports tokens per second.
func BenchmarkGenerator(b *testing.B) {
	for _, tc := range []struct {
		name string
		f    token.Format
	}{{"plain", token.Format{Widen: true}}, {"signed", token.Format{Widen: true, Keys: [][]byte{testKey}}}} {
		for _, perUser := range []bool{false, true} {
			name := tc.name + "/one-user"
			if perUser {
				name = tc.name + "/user-per-goroutine"
			}
			b.Run(name, func(b *testing.B) {
				g, err := token.NewGenerator(memstore.New(), tc.f)
				if err != nil {
					b.Fatal(err)
				}
				const goroutines = 8
				b.SetParallelism((goroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				var next sync.Mutex
				user := int64(0)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					next.Lock()
					user++
					u := user
					next.Unlock()
					if !perUser {
						u = 1
					}
					ctx := context.Background()
					for pb.Next() {
						t, err := g.Next(ctx, u)
						if err != nil {
							b.Error(err)
							return
						}
						_ = t
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}

func BenchmarkStamp(b *testing.B) {
	for _, tc := range []struct{ name, subject string }{
		{"short", "RE: Printer on the 3rd floor is offline again"},
		{"truncate", strings.Repeat("Принтер не работает ", 20)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkStr, _ = token.Stamp(tc.subject, "CRM:0001001", 0)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	f := token.Format{Keys: [][]byte{[]byte("the-new-signing-key-of-2026"), testKey}}
	tok, _ := token.Format{Keys: [][]byte{testKey}}.Make(1, 1)
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

const bigStoreSize = 1_000_000

var (
	bigOnce  sync.Once
	bigStore *memstore.Store
	bigErr   error
)

// bigFormat numbers the tokens of the big store: 999 users, a widened
// counter, so all one million tokens are distinct.
var bigFormat = token.Format{Widen: true}

func bigToken(i int) token.Token {
	t, _ := bigFormat.Make(int64(i%999+1), int64(i/999+1))
	return t
}

// bigIndex returns a memstore holding one million tracked emails, each with
// its token key, built once per test binary.
func bigIndex(b *testing.B) *memstore.Store {
	bigOnce.Do(func() {
		ctx := context.Background()
		st := memstore.New()
		for i := range bigStoreSize {
			t := bigToken(i)
			tr := correlate.Tracked{
				MessageID:    fmt.Sprintf("m%d@crm.example", i),
				Record:       correlate.Record{Type: "incident", ID: fmt.Sprint(i / 4)},
				Token:        t.String(),
				Subject:      "Case " + fmt.Sprint(i/4) + " " + t.String(),
				Participants: []string{"support@crm.example", fmt.Sprintf("c%d@customer.example", i/4)},
				Time:         t0.Add(time.Duration(i) * time.Second),
			}
			if _, err := st.Put(ctx, tr, []correlate.Key{correlate.MessageIDKey(tr.MessageID), t.Key()}); err != nil {
				bigErr = err
				return
			}
		}
		bigStore = st
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigStore
}

// BenchmarkCorrelate correlates replies against one million tracked emails
// in memstore: a token that names one, a token that names none, and a
// subject without a token.
func BenchmarkCorrelate(b *testing.B) {
	st := bigIndex(b)
	c := token.New(st, &token.Options{Format: bigFormat, Policy: guard.ParticipantPolicy})
	ctx := context.Background()
	const n = 1024
	hits := make([]*correlate.Message, n)
	for i := range hits {
		k := (i * 7919) % bigStoreSize
		hits[i] = &correlate.Message{
			MessageID: fmt.Sprintf("r%d@customer.example", i),
			Subject:   "RE: Case " + fmt.Sprint(k/4) + " " + bigToken(k).String(),
			From:      []correlate.Address{{Address: fmt.Sprintf("c%d@customer.example", k/4)}},
		}
	}
	miss := &correlate.Message{Subject: "RE: Case CRM:0999999999", From: []correlate.Address{{Address: "x@y.example"}}}
	none := &correlate.Message{Subject: "RE: Printer on the 3rd floor is offline again", From: []correlate.Address{{Address: "x@y.example"}}}

	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i, found := 0, 0
		for b.Loop() {
			m, err := c.Correlate(ctx, hits[i%n])
			if err != nil {
				b.Fatal(err)
			}
			if m.Found() {
				found++
			}
			sinkMatch = m
			i++
		}
		b.ReportMetric(float64(found)/float64(i), "found/op")
	})
	b.Run("unknown-token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkMatch, _ = c.Correlate(ctx, miss)
		}
	})
	b.Run("no-token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkMatch, _ = c.Correlate(ctx, none)
		}
	})
}
