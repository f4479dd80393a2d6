package memstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

const benchEmails = 1_000_000

var (
	benchOnce  sync.Once
	benchStore *memstore.Store
	benchBytes float64

	floorOnce sync.Once
	floor     map[string]int64
)

// floorMap returns a bare map from the Message-ID of every email of the
// filled store to its number, built once per benchmark binary.
func floorMap() map[string]int64 {
	floorOnce.Do(func() {
		floor = make(map[string]int64, benchEmails)
		for i := 0; i < benchEmails; i++ {
			floor[fmt.Sprintf("m%07d@mail.example.com", i)] = int64(i)
		}
	})
	return floor
}

// filled returns a store holding 1,000,000 tracked emails, each with a
// Message-ID key and a conversation key shared by ten emails, built once per
// benchmark binary.
func filled(b *testing.B) *memstore.Store {
	benchOnce.Do(func() {
		ctx := context.Background()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := memstore.New()
		t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < benchEmails; i++ {
			id := fmt.Sprintf("m%07d@mail.example.com", i)
			tr := correlate.Tracked{
				MessageID:    id,
				Record:       correlate.Record{Type: "incident", ID: fmt.Sprintf("CAS-%06d", i/10)},
				Subject:      "Case",
				Participants: []string{"support@fabrikam.example"},
				Time:         t0.Add(time.Duration(i) * time.Second),
			}
			if _, err := s.Put(ctx, tr, []correlate.Key{
				{Kind: correlate.KindMessageID, Value: id},
				{Kind: "convroot", Value: fmt.Sprintf("R%06d", i/10)},
			}); err != nil {
				panic(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		benchStore = s
		benchBytes = float64(after.HeapAlloc-before.HeapAlloc) / benchEmails
	})
	return benchStore
}

// BenchmarkMemstoreLookup looks up one Message-ID among 1,000,000 tracked
// emails, as the InReplyTo strategy does for every incoming reply:
// "hit-uniform" picks the email uniformly over the whole store (every lookup
// misses every cache: the worst case), "hit-recent" among the newest 10,000
// (replies mostly answer recent mail).
//
// Each hit is preceded by one lookup of the same id in a bare
// map[string]int64 of the same 1,000,000 ids (BenchmarkMapFloor's map),
// (benchutil.OpTimer.Floor): map-ns/op and map-p50-ns are its mean and
// median, x-map and x-map-p50 the Lookup's over them, figures measured at
// the same moments, in the same state of the caches (BenchmarkMapFloor
// loops over 4,096 ids whose entries stay in the caches). timed-ns/op and
// p50-ns/op are the Lookup alone; ns/op includes the map lookup.
func BenchmarkMemstoreLookup(b *testing.B) {
	s := filled(b)
	floor := floorMap()
	ctx := context.Background()
	keyset := func(span int) []correlate.Key {
		keys := make([]correlate.Key, 4096)
		for i := range keys {
			n := benchEmails - span + (i*7919)%span
			keys[i] = correlate.Key{Kind: correlate.KindMessageID, Value: fmt.Sprintf("m%07d@mail.example.com", n)}
		}
		return keys
	}
	hit := func(keys []correlate.Key) func(b *testing.B) {
		return func(b *testing.B) {
			var ot, base benchutil.OpTimer
			var sink int64
			b.ReportAllocs()
			i := 0
			ot.Start()
			base.Start()
			for b.Loop() {
				k := keys[i%len(keys)]
				ot.Floor(&base, func() { sink += floor[k.Value] })
				ot.Begin()
				ts, err := s.Lookup(ctx, k, correlate.Query{Limit: 1})
				ot.Tick()
				if err != nil || len(ts) != 1 {
					b.Fatal("miss", err)
				}
				i++
			}
			ot.Report(b)
			b.ReportMetric(float64(base.Mean().Nanoseconds()), "map-ns/op")
			b.ReportMetric(float64(base.Quantile(0.5).Nanoseconds()), "map-p50-ns")
			benchutil.ReportRatio(b, ot.Mean(), base.Mean(), "x-map")
			benchutil.ReportRatio(b, ot.Quantile(0.5), base.Quantile(0.5), "x-map-p50")
			b.ReportMetric(benchBytes, "heap-bytes/email")
			_ = sink
		}
	}
	keys := keyset(benchEmails)
	b.Run("hit-uniform", hit(keys))
	b.Run("hit-recent", hit(keyset(10_000)))
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		miss := correlate.Key{Kind: correlate.KindMessageID, Value: "unknown@mail.example.com"}
		for b.Loop() {
			if ts, _ := s.Lookup(ctx, miss, correlate.Query{Limit: 1}); len(ts) != 0 {
				b.Fatal("hit")
			}
		}
	})
	b.Run("conversation-newest-of-10", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := correlate.Key{Kind: "convroot", Value: fmt.Sprintf("R%06d", (i*7919)%benchEmails/10)}
			if ts, _ := s.Lookup(ctx, k, correlate.Query{Limit: 1}); len(ts) != 1 {
				b.Fatal("miss")
			}
			i++
		}
	})
}

// BenchmarkMapFloor is the floor for a store lookup: a plain Go map from
// string to ID over the same 1,000,000 Message-IDs, keys picked uniformly
// (compare with hit-uniform: one random memory access against the store's two,
// the index and the email's row).
func BenchmarkMapFloor(b *testing.B) {
	m := floorMap()
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("m%07d@mail.example.com", (i*7919)%benchEmails)
	}
	b.ReportAllocs()
	i := 0
	var sink int64
	for b.Loop() {
		sink += m[keys[i%len(keys)]]
		i++
	}
	_ = sink
}
