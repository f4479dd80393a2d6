package bench_test

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
)

// The store sizes measured; 10,000,000 only with -bench.huge.
func sizes() []int {
	s := []int{100_000, 1_000_000}
	if hugeOn() {
		s = append(s, 10_000_000)
	}
	return s
}

var chains = []chain{chainDefault, chainSmart}

// forEach runs fn for every store size and chain: "store=1M/chain=default".
func forEach(b *testing.B, fn func(b *testing.B, w *world)) {
	for _, n := range sizes() {
		for _, c := range chains {
			if n > 1_000_000 && c != chainDefault {
				continue // the 10M store is built for the default chain only
			}
			b.Run("store="+sizeName(n)+"/chain="+string(c), func(b *testing.B) {
				fn(b, getWorld(b, n, c))
			})
		}
	}
}

// BenchmarkCorrelate runs Engine.Correlate, the whole chain with its
// guardrails, on the held-out messages: "all" is the realistic mix (every
// held-out message, whatever decides it), "header" and "token" the ones the
// InReplyTo and TrackingToken methods decide, "none" the ones no strategy
// decides (new conversations: every strategy runs and abstains).
//
// Before each Correlate the floor of BenchmarkBaselineMapLookup is measured
// once (benchutil.OpTimer.Floor, left out of the timed figures): one lookup in a plain map of
// every tracked Message-ID (map-p50-ns), so that x-map-p50, the p50 of
// Correlate over the p50 of that lookup, compares two figures taken at the
// same moments, in the same state of the caches, on a machine whose speed
// drifts. (BenchmarkBaselineMapLookup loops over a few thousand ids whose
// entries stay in the caches: its p50 is a warm lookup, this one a cold
// one.) Then the message is read once (warm), as parsing leaves it in the
// CPU caches; timed-ns/op, p50-ns/op and p99-ns/op time Correlate alone,
// ns/op and cpu-ns/op include that read and the map lookup.
func BenchmarkCorrelate(b *testing.B) {
	forEach(b, func(b *testing.B, w *world) {
		for _, mix := range []struct {
			name   string
			method correlate.Method
		}{{"all", -1}, {"header", correlate.InReplyTo}, {"token", correlate.TrackingToken}, {"none", correlate.None}} {
			var msgs []held
			for _, h := range w.held {
				if mix.method < 0 || h.method == mix.method {
					msgs = append(msgs, h)
				}
			}
			if len(msgs) == 0 {
				continue
			}
			b.Run("mix="+mix.name, func(b *testing.B) {
				benchCorrelate(b, w, msgs)
			})
		}
	})
}

func benchCorrelate(b *testing.B, w *world, msgs []held) {
	ctx := context.Background()
	found, right := 0, 0
	floor, keys := w.mapFloor()
	var ot, base benchutil.OpTimer
	b.ReportAllocs()
	i := 0
	ot.Start()
	base.Start()
	for b.Loop() {
		h := &msgs[i%len(msgs)]
		ot.Floor(&base, func() { sinkID += floor[keys[i%len(keys)]] })
		warm(h.msg)
		ot.Begin()
		d, err := w.eng.Correlate(ctx, h.msg)
		ot.Tick()
		if err != nil {
			b.Fatal(err)
		}
		if d.Found() {
			found++
		}
		if d.Match.Record == h.label {
			right++
		}
		i++
	}
	ot.Report(b)
	reportMapFloor(b, &ot, &base)
	b.ReportMetric(float64(found)/float64(i), "found/op")
	b.ReportMetric(float64(right)/float64(i), "label-agrees/op")
	b.ReportMetric(float64(len(msgs)), "messages")
}

// reportMapFloor reports the p50 of the interleaved map lookups and the
// ratio of the operation's p50 to it.
func reportMapFloor(b *testing.B, ot, base *benchutil.OpTimer) {
	b.ReportMetric(float64(base.Quantile(0.5).Nanoseconds()), "map-p50-ns")
	benchutil.ReportRatio(b, ot.Quantile(0.5), base.Quantile(0.5), "x-map-p50")
}

var sinkByte byte

// warm reads every byte a correlator may read of m, as parsing it just did:
// a message is correlated right after it is parsed, hot in the CPU caches,
// while the store's rows are not. Without it every field would be a cache
// miss too, since the benchmark cycles through thousands of messages.
func warm(m *correlate.Message) {
	var x byte
	str := func(s string) {
		for i := 0; i < len(s); i += 32 {
			x ^= s[i]
		}
	}
	bytes := func(b []byte) { // not str(string(b)): that would allocate
		for i := 0; i < len(b); i += 32 {
			x ^= b[i]
		}
	}
	addrs := func(as []correlate.Address) {
		for _, a := range as {
			str(a.Name)
			str(a.Address)
		}
	}
	str(m.MessageID)
	for _, id := range m.InReplyTo {
		str(id)
	}
	for _, id := range m.References {
		str(id)
	}
	str(m.Subject)
	str(m.ThreadTopic)
	bytes(m.ThreadIndex)
	addrs(m.From)
	addrs(m.To)
	addrs(m.Cc)
	addrs(m.Bcc)
	addrs(m.ReplyTo)
	str(m.Sender.Address)
	for k, vs := range m.Header {
		str(k)
		for _, v := range vs {
			str(v)
		}
	}
	bytes(m.Body)
	sinkByte ^= x
}

// BenchmarkTrack files fresh messages (the tail of the generated mail,
// after the store was full) as the replay pass filed them: Engine.Track
// with the same Match, every Indexer of the chain, Store.Put. When the tail
// runs out, the emails it added are untracked (untimed) and it starts over.
// Before each Track the map floor is measured as in BenchmarkCorrelate
// (map-p50-ns, x-map-p50); ns/op and cpu-ns/op include it.
func BenchmarkTrack(b *testing.B) {
	forEach(b, func(b *testing.B, w *world) {
		ctx := context.Background()
		ids := make([]int64, 0, len(w.tailHow))
		floor, keys := w.mapFloor()
		var ot, base benchutil.OpTimer
		b.ReportAllocs()
		i := 0
		ot.Start()
		base.Start()
		for b.Loop() {
			if i == len(w.tailHow) {
				ids, i = rewind(ctx, b, &ot, w.eng, ids), 0
			}
			ot.Floor(&base, func() { sinkID += floor[keys[i%len(keys)]] })
			tr := &w.tailHow[i]
			t, err := w.eng.Track(ctx, w.tailMsgs[tr.i], tr.how)
			ot.Tick()
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, t.ID)
			i++
		}
		ot.Report(b)
		reportMapFloor(b, &ot, &base)
		b.StopTimer()
		untrack(ctx, w.eng, ids)
	})
}

// rewind untracks the emails a benchmark tracked, untimed, so that it can
// file its messages again; it returns ids emptied.
func rewind(ctx context.Context, b *testing.B, ot *benchutil.OpTimer, eng *correlate.Engine, ids []int64) []int64 {
	b.StopTimer()
	ot.Pause()
	untrack(ctx, eng, ids)
	b.StartTimer() // its ReadMemStats before the op timer resumes
	ot.Resume()
	return ids[:0]
}

// BenchmarkParseCorrelateTrack is the whole job per message, from raw
// bytes: ParseMessage (with the body kept, for bounces), Engine.Correlate,
// and Engine.Track when the message is seeded or the Decision says to track
// it, on the tail of the generated mail in date order (replies follow the
// mail they answer). msgs/s is per core: one goroutine, from the mean of
// the timed jobs.
//
// Each message is also read by bare net/mail.ReadMessage, the floor of
// BenchmarkBaselineReadMessage (benchutil.OpTimer.Floor), before or after
// the job in turn (whichever goes second finds the bytes in the cache):
// readmessage-ns/op is its mean, x-readmessage the mean of the job over it
// (the time per message against the floor's, measured message by
// message), x-readmessage-p50 the same for the medians. timed-ns/op,
// p50-ns/op, p99-ns/op and msgs/s are the job alone; ns/op, cpu-ns/op,
// B/op and allocs/op include the floor, and job-B/op and job-allocs/op
// leave out its mean, measured on the same messages before the loop.
func BenchmarkParseCorrelateTrack(b *testing.B) {
	forEach(b, func(b *testing.B, w *world) {
		ctx := context.Background()
		ids := make([]int64, 0, len(w.tail))
		var ot, base benchutil.OpTimer
		rd := bytes.NewReader(nil)
		// The floor's allocations per message, to leave them out.
		fo0, fb0 := benchutil.Allocs()
		nf := min(len(w.tail), 4096)
		for j := range nf {
			r := &w.tail[j]
			rd.Reset(w.blob[r.off : r.off+r.n])
			sinkStd, _ = mail.ReadMessage(rd)
		}
		fo1, fb1 := benchutil.Allocs()
		floorObjs, floorBytes := float64(fo1-fo0)/float64(nf), float64(fb1-fb0)/float64(nf)
		bytesIn := 0
		b.ReportAllocs()
		i := 0
		o0, b0 := benchutil.Allocs()
		ot.Start()
		base.Start()
		for b.Loop() {
			if i == len(w.tail) {
				ids, i = rewind(ctx, b, &ot, w.eng, ids), 0
			}
			r := &w.tail[i]
			raw := w.blob[r.off : r.off+r.n]
			floor := func() {
				rd.Reset(raw)
				m, err := mail.ReadMessage(rd)
				if err != nil {
					panic(err)
				}
				sinkStd = m
			}
			if i%2 == 0 {
				ot.Floor(&base, floor)
			}
			ot.Begin()
			m := parse(raw, r.folder)
			_, _, t, ok := replayOne(ctx, w.eng, m, r)
			ot.Tick()
			if i%2 == 1 {
				ot.Floor(&base, floor)
			}
			if ok {
				ids = append(ids, t.ID)
			}
			bytesIn += len(raw)
			i++
		}
		o1, b1 := benchutil.Allocs()
		ot.Report(b)
		b.ReportMetric(float64(o1-o0)/float64(b.N)-floorObjs, "job-allocs/op")
		b.ReportMetric(float64(b1-b0)/float64(b.N)-floorBytes, "job-B/op")
		if mean := ot.Mean(); mean > 0 {
			b.ReportMetric(float64(time.Second)/float64(mean), "msgs/s")
		}
		b.ReportMetric(float64(base.Mean().Nanoseconds()), "readmessage-ns/op")
		benchutil.ReportRatio(b, ot.Mean(), base.Mean(), "x-readmessage")
		benchutil.ReportRatio(b, ot.Quantile(0.5), base.Quantile(0.5), "x-readmessage-p50")
		b.ReportMetric(float64(bytesIn)/float64(b.N), "bytes/msg")
		b.StopTimer()
		untrack(ctx, w.eng, ids)
	})
}

// BenchmarkMemory reports the heap the store holds per tracked email:
// runtime.MemStats.HeapAlloc after two collections once the store is built,
// minus the same before, minus the bytes of the messages kept for the other
// benchmarks. The loop reads Store.Stats (a few ns); the metrics are what
// counts.
func BenchmarkMemory(b *testing.B) {
	forEach(b, func(b *testing.B, w *world) {
		ctx := context.Background()
		for b.Loop() {
			if _, err := w.store.Stats(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(w.bytesPerEmail, "bytes/email")
		b.ReportMetric(float64(w.keys)/float64(w.emails), "keys/email")
		b.ReportMetric(float64(w.emails), "emails")
		b.ReportMetric(w.build.Seconds(), "build-s")
	})
}

var sinkStd *mail.Message

// BenchmarkBaselineReadMessage is the parsing floor: bare
// net/mail.ReadMessage (the header split into fields, nothing decoded) on
// the tail messages that BenchmarkParseCorrelateTrack parses.
func BenchmarkBaselineReadMessage(b *testing.B) {
	w := getWorld(b, sizes()[0], chainDefault)
	b.ReportAllocs()
	r := bytes.NewReader(nil)
	i := 0
	for b.Loop() {
		t := &w.tail[i%len(w.tail)]
		r.Reset(w.blob[t.off : t.off+t.n])
		m, err := mail.ReadMessage(r)
		if err != nil {
			b.Fatal(err)
		}
		sinkStd = m
		i++
	}
}

var sinkID int64

// BenchmarkBaselineMapLookup is the store's floor: a plain Go map from
// Message-ID to email ID holding as many ids as the store, looked up with
// the In-Reply-To ids of the held-out header hits (the lookup the InReplyTo
// strategy makes), so the keys and the picks are the ones of
// BenchmarkCorrelate/mix=header.
func BenchmarkBaselineMapLookup(b *testing.B) {
	for _, n := range sizes() {
		b.Run("store="+sizeName(n), func(b *testing.B) {
			w := getWorld(b, n, chainDefault)
			m, keys := w.mapFloor()
			var ot benchutil.OpTimer
			b.ReportAllocs()
			i := 0
			ot.Start()
			for b.Loop() {
				sinkID += m[keys[i%len(keys)]]
				ot.Tick()
				i++
			}
			ot.Report(b)
		})
	}
}

// BenchmarkBaselineMapLookupCold is BenchmarkBaselineMapLookup over every
// tracked Message-ID in a shuffled order, instead of the few thousand ids
// of the header hits; "dependent" also takes each key only once the
// previous lookup has answered, so that consecutive lookups cannot overlap.
// Set beside BenchmarkBaselineMapLookup and the map-p50-ns of
// BenchmarkCorrelate (the same lookup, made between other work), it tells
// whether the key set, the overlap of consecutive lookups or the work
// between lookups makes a lookup cheap or dear (BENCHMARKS.md, "The hot
// path").
func BenchmarkBaselineMapLookupCold(b *testing.B) {
	for _, n := range sizes() {
		w := getWorld(b, n, chainDefault)
		m, _ := w.mapFloor()
		keys := make([]string, 0, len(m))
		for k := range m { // map order: already shuffled
			keys = append(keys, k)
		}
		for _, dep := range []bool{false, true} {
			name := "store=" + sizeName(n) + "/independent"
			if dep {
				name = "store=" + sizeName(n) + "/dependent"
			}
			b.Run(name, func(b *testing.B) {
				var ot benchutil.OpTimer
				b.ReportAllocs()
				i := 0
				ot.Start()
				for b.Loop() {
					v := m[keys[i]]
					sinkID += v
					ot.Tick()
					i++
					if dep {
						i += int(uint64(v) >> 63) // 0, but only once v is known
					}
					if i >= len(keys) {
						i = 0
					}
				}
				ot.Report(b)
			})
		}
	}
}

// mapFloor returns a map from the Message-ID of every tracked email of w to
// its ID, and the In-Reply-To ids of the held-out header hits that it
// holds, built once per world.
func (w *world) mapFloor() (map[string]int64, []string) {
	w.floorOnce.Do(func() { w.floor, w.floorKeys = buildMapFloor(w) })
	return w.floor, w.floorKeys
}

func buildMapFloor(w *world) (map[string]int64, []string) {
	ctx := context.Background()
	m := make(map[string]int64, w.emails)
	for id := int64(1); ; id++ {
		t, err := w.store.Get(ctx, id)
		if err != nil {
			if errors.Is(err, correlate.ErrNotFound) && int64(len(m)) < w.emails {
				continue // untracked
			}
			break
		}
		if t.MessageID != "" {
			m[strings.Clone(t.MessageID)] = t.ID
		}
		if id > 4*w.emails {
			break
		}
	}
	var keys []string
	for _, h := range w.held {
		if h.method == correlate.InReplyTo && len(h.msg.InReplyTo) > 0 {
			if _, ok := m[h.msg.InReplyTo[0]]; ok {
				keys = append(keys, h.msg.InReplyTo[0])
			}
		}
	}
	return m, keys
}
