package smartmatch_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// The synthetic CRM of the benchmarks: benchEmails tracked emails in
// conversations of 1 to 5 emails between benchCustomers customers and
// benchReps representatives of one support domain, over one year; subjects
// are 3 to 6 words drawn from a Zipf-distributed vocabulary plus a number,
// and 3% are generic ("Hello", "Question", "Service Details").
const (
	benchEmails    = 1_000_000
	benchCustomers = 100_000
	benchReps      = 200
	benchVocab     = 5000
	benchOwn       = "@support.example"
)

var (
	benchOnce  sync.Once
	benchStore *memstore.Store
	benchConvs []benchConv
	benchEnd   time.Time
)

// benchConv is one conversation of the synthetic CRM.
type benchConv struct {
	subject  string
	customer string
	rep      string
	last     time.Time
	record   correlate.Record
}

var genericSubjects = []string{"Hello", "Question", "Service Details", "Quick question", "Follow up"}

func benchOptions(mode smartmatch.Mode) *smartmatch.Options {
	return &smartmatch.Options{Mode: mode, OwnAddresses: []string{benchOwn}}
}

// benchGen generates n emails of the synthetic CRM in time order, calls
// track for each, and returns the conversations and the end of the year.
func benchGen(n int, track func(*correlate.Message, correlate.Record)) ([]benchConv, time.Time) {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, benchVocab-1)
	year := 365 * 24 * time.Hour
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	step := year / time.Duration(n/3)
	var convs []benchConv
	done := 0
	for i := 0; done < n; i++ {
		cv := benchConv{
			customer: fmt.Sprintf("c%d@cust%d.example", rng.IntN(benchCustomers), rng.IntN(benchCustomers/10)),
			rep:      fmt.Sprintf("rep%d%s", rng.IntN(benchReps), benchOwn),
			record:   correlate.Record{Type: "incident", ID: fmt.Sprintf("CAS-%d", i)},
		}
		if rng.IntN(100) < 3 {
			cv.subject = genericSubjects[rng.IntN(len(genericSubjects))]
		} else {
			var b strings.Builder
			for range 3 + rng.IntN(4) {
				b.WriteString(benchWord(zipf.Uint64()))
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%d", rng.IntN(100000))
			cv.subject = b.String()
		}
		k := 1 + rng.IntN(5)
		at := t0.Add(time.Duration(i) * step)
		for j := 0; j < k && done < n; j++ {
			m := &correlate.Message{
				MessageID: fmt.Sprintf("%d.%d@bench.example", i, j),
				Subject:   cv.subject,
				Date:      at.Add(time.Duration(j) * step / time.Duration(k+1)),
			}
			if j > 0 {
				m.Subject = "RE: " + cv.subject
			}
			if j%2 == 0 {
				m.From = []correlate.Address{{Address: cv.customer}}
				m.To = []correlate.Address{{Address: "help" + benchOwn}, {Address: cv.rep}}
				m.Mailbox = "help" + benchOwn
			} else {
				m.From = []correlate.Address{{Address: cv.rep}}
				m.To = []correlate.Address{{Address: cv.customer}}
				m.Cc = []correlate.Address{{Address: "help" + benchOwn}}
				m.Mailbox = cv.rep
				m.Direction = correlate.Outgoing
			}
			track(m, cv.record)
			cv.last = m.Date
			done++
		}
		convs = append(convs, cv)
	}
	return convs, t0.Add(year)
}

// benchMatch is how a sync files m under r: the first email of a
// conversation by hand, the replies ("RE: ") as correlated with an earlier
// tracked email, which Improved mode does not count the words of again.
func benchMatch(m *correlate.Message, r correlate.Record) correlate.Match {
	mt := correlate.Match{Record: r}
	if strings.HasPrefix(m.Subject, "RE: ") {
		mt.CorrelatedWith = &correlate.Tracked{ID: 1}
	}
	return mt
}

// benchWord returns the word of a vocabulary rank: letters only, 2 to 5 of
// them, shorter for frequent words.
func benchWord(rank uint64) string {
	b := []byte{'a' + byte(rank%26)}
	for rank /= 26; rank > 0 || len(b) < 2; rank /= 26 {
		b = append(b, 'a'+byte(rank%26))
	}
	return string(b)
}

// benchData builds the 1,000,000-email store once per test binary, indexed
// for both modes.
func benchData(b *testing.B) (*memstore.Store, []benchConv) {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		ctx := context.Background()
		st := memstore.New()
		dyn := smartmatch.New(st, benchOptions(smartmatch.Dynamics))
		imp := smartmatch.New(st, benchOptions(smartmatch.Improved))
		eng := correlate.NewEngine(st, nil, &correlate.EngineOptions{Indexers: []correlate.Indexer{dyn, imp}})
		convs, end := benchGen(benchEmails, func(m *correlate.Message, r correlate.Record) {
			if _, err := eng.Track(ctx, m, benchMatch(m, r)); err != nil {
				panic(err)
			}
		})
		benchStore, benchConvs, benchEnd = st, convs, end
		runtime.GC()
		stats, _ := st.Stats(ctx)
		b.Logf("built %d tracked emails, %d keys (%.1f keys/email), %d conversations in %v",
			stats.Emails, stats.Keys, float64(stats.Keys)/float64(stats.Emails), len(convs), time.Since(start).Round(time.Millisecond))
	})
	if benchStore == nil {
		b.Fatal("benchmark data failed to build")
	}
	return benchStore, benchConvs
}

// BenchmarkMemory builds a memstore of 200,000 tracked emails of the
// synthetic CRM indexed for one mode (or for none: the Message-ID key only)
// and reports its heap bytes and index keys per tracked email. The
// library's budget is 400 bytes per tracked email with all keys.
func BenchmarkMemory(b *testing.B) {
	const n = 200_000
	for _, mode := range []string{"none", "Dynamics", "Improved"} {
		b.Run(mode, func(b *testing.B) {
			var bytes, keys float64
			for b.Loop() {
				var idx []correlate.Indexer
				st := memstore.New()
				switch mode {
				case "Dynamics":
					idx = append(idx, smartmatch.New(st, benchOptions(smartmatch.Dynamics)))
				case "Improved":
					idx = append(idx, smartmatch.New(st, benchOptions(smartmatch.Improved)))
				}
				eng := correlate.NewEngine(st, nil, &correlate.EngineOptions{Indexers: idx})
				ctx := context.Background()
				msgs := make([]*correlate.Message, 0, n)
				recs := make([]correlate.Record, 0, n)
				benchGen(n, func(m *correlate.Message, r correlate.Record) { msgs = append(msgs, m); recs = append(recs, r) })
				before := heapInUse()
				for i, m := range msgs {
					if _, err := eng.Track(ctx, m, benchMatch(m, recs[i])); err != nil {
						b.Fatal(err)
					}
				}
				after := heapInUse()
				stats, _ := st.Stats(ctx)
				bytes = float64(after-before) / n
				keys = float64(stats.Keys) / n
				runtime.KeepAlive(msgs)
				runtime.KeepAlive(st)
			}
			b.ReportMetric(bytes, "bytes/email")
			b.ReportMetric(keys, "keys/email")
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// countingIndex counts the tracked emails its Lookups return (the
// candidates a Correlator examines) and the store calls made.
type countingIndex struct {
	smartmatch.Index
	n, calls atomic.Int64
}

func (ci *countingIndex) Lookup(ctx context.Context, k correlate.Key, q correlate.Query) ([]correlate.Tracked, error) {
	ts, err := ci.Index.Lookup(ctx, k, q)
	ci.n.Add(int64(len(ts)))
	ci.calls.Add(1)
	return ts, err
}

func (ci *countingIndex) Count(ctx context.Context, k correlate.Key) (int, error) {
	ci.calls.Add(1)
	return ci.Index.Count(ctx, k)
}

// benchQueries returns n messages of a kind:
//
//   - "reply": a customer's reply, without headers, to a conversation of the
//     last 60 days (the common case: the base subject finds it);
//   - "new": a reply-looking message from a known customer whose subject
//     names no tracked conversation (every candidate of the customer is
//     examined for an edited subject, and none matches);
//   - "generic": a reply with a generic subject ("RE: Hello") from a
//     customer whose conversation had it;
//   - "colleague": a reply from a colleague of the customer (another
//     address at the same domain, never a participant): only the
//     organization is shared, so Improved mode weighs the subject's words
//     (their counts are read).
func benchQueries(convs []benchConv, kind string, n int) []*correlate.Message {
	rng := rand.New(rand.NewPCG(5, 6))
	recent := benchEnd.Add(-60 * 24 * time.Hour)
	var out []*correlate.Message
	for len(out) < n {
		cv := convs[len(convs)-1-rng.IntN(len(convs)/6)]
		if cv.last.Before(recent) {
			continue
		}
		isGeneric := false
		for _, g := range genericSubjects {
			isGeneric = isGeneric || cv.subject == g
		}
		if kind == "generic" != isGeneric {
			continue
		}
		m := &correlate.Message{
			MessageID: fmt.Sprintf("q%d@bench.example", len(out)),
			Subject:   "RE: " + cv.subject,
			From:      []correlate.Address{{Address: cv.customer}},
			To:        []correlate.Address{{Address: "help" + benchOwn}, {Address: cv.rep}},
			Mailbox:   "help" + benchOwn,
			Date:      benchEnd,
		}
		switch kind {
		case "new":
			m.Subject = fmt.Sprintf("RE: completely different matter %d", rng.IntN(1000000))
		case "colleague":
			m.From = []correlate.Address{{Address: "colleague." + cv.customer}}
		}
		out = append(out, m)
	}
	return out
}

// BenchmarkCorrelate correlates one message against 1,000,000 tracked
// emails in memstore, in both modes. Targets: ≤ 10 µs/op, bounded
// allocations; it reports the candidates (tracked emails) examined per op,
// the store calls (Count and Lookup) per op and the share of messages that
// found a record.
func BenchmarkCorrelate(b *testing.B) {
	st, convs := benchData(b)
	ctx := context.Background()
	for _, mode := range []smartmatch.Mode{smartmatch.Dynamics, smartmatch.Improved} {
		for _, kind := range []string{"reply", "new", "generic", "colleague"} {
			b.Run(fmt.Sprintf("%v/%s", mode, kind), func(b *testing.B) {
				ci := &countingIndex{Index: st}
				c := smartmatch.New(ci, benchOptions(mode))
				qs := benchQueries(convs, kind, 1024)
				var found int
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					mt, err := c.Correlate(ctx, qs[i%len(qs)])
					if err != nil {
						b.Fatal(err)
					}
					if mt.Found() {
						found++
					}
					i++
				}
				b.ReportMetric(float64(ci.n.Load())/float64(i), "candidates/op")
				b.ReportMetric(float64(ci.calls.Load())/float64(i), "storecalls/op")
				b.ReportMetric(float64(found)/float64(i), "found/op")
			})
		}
	}
}
