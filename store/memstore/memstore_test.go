package memstore_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/probe"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) correlate.Store { return memstore.New() })
	storetest.RunStore(t, func(t *testing.T) store.Store { return memstore.New() })
}

func TestZeroValue(t *testing.T) {
	storetest.Run(t, func(t *testing.T) correlate.Store { return new(memstore.Store) })
	storetest.RunStore(t, func(t *testing.T) store.Store { return new(memstore.Store) })
}

func TestProbeAgreesWithLookup(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	shared := correlate.Key{Kind: "thread", Value: "T"}
	for i := range 5 {
		id := fmt.Sprintf("m%d@x", i)
		_, err := s.Put(ctx, correlate.Tracked{MessageID: id, Record: correlate.Record{Type: "case", ID: fmt.Sprint(i % 2)}, Time: t0.Add(time.Duration(i) * time.Hour)},
			[]correlate.Key{correlate.MessageIDKey(id), shared})
		require.NoError(t, err)
	}
	keys := []correlate.Key{correlate.MessageIDKey("m3@x"), {Kind: "thread", Value: "none"}, shared, correlate.MessageIDKey("m3@x")}
	tests := []struct {
		name   string
		limit  int
		reason string
	}{
		{"limit2", 2, "at most two emails per key, the newest"},
		{"limit1", 1, "the newest email of each key only"},
		{"default", 0, "0 means DefaultLimit, more than the five emails"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Probe(ctx, keys, tt.limit, nil)
			require.NoError(t, err)
			var want []probe.Hit
			for i, k := range keys {
				ts, err := s.Lookup(ctx, k, correlate.Query{Limit: tt.limit})
				require.NoError(t, err)
				for _, x := range ts {
					want = append(want, probe.Hit{Key: i, ID: x.ID, Record: x.Record})
				}
			}
			assert.Equal(t, want, got, tt.reason)
		})
	}
}

func TestDuplicateWithoutMessageIDKey(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		first  []correlate.Key
		second []correlate.Key
		dup    bool
		reason string
	}{
		{"no-keys", nil, nil, true, "Put finds a duplicate Message-ID even when no key names it"},
		{"own-key-then-none", []correlate.Key{correlate.MessageIDKey("a@x")}, nil, true, "the first email's own Message-ID key serves the check"},
		{"none-then-own-key", nil, []correlate.Key{correlate.MessageIDKey("a@x")}, true, "the private index serves the check"},
		{"alias", []correlate.Key{correlate.MessageIDKey("b@x"), correlate.MessageIDKey("a@x")}, nil, true, "own id a@x, alias b@x: a second a@x is a duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memstore.New()
			first, err := s.Put(ctx, correlate.Tracked{MessageID: "a@x"}, tt.first)
			require.NoError(t, err)
			_, err = s.Put(ctx, correlate.Tracked{MessageID: "a@x"}, tt.second)
			if tt.dup {
				assert.ErrorIs(t, err, correlate.ErrExists, tt.reason)
			}
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(len(tt.first)), st.Keys, "the private index is not counted")
			require.NoError(t, s.Delete(ctx, first.ID))
			_, err = s.Put(ctx, correlate.Tracked{MessageID: "a@x"}, tt.second)
			assert.NoError(t, err, "after Delete the Message-ID is free again")
		})
	}
	s := memstore.New()
	_, err := s.Put(ctx, correlate.Tracked{MessageID: "a@x"}, []correlate.Key{correlate.MessageIDKey("b@x")})
	require.NoError(t, err)
	_, err = s.Put(ctx, correlate.Tracked{MessageID: "b@x"}, []correlate.Key{correlate.MessageIDKey("b@x")})
	assert.NoError(t, err, "an email only indexed under b@x (an alias) does not make b@x a duplicate")
}

func TestTimesOutOfRange(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	early := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	k := correlate.Key{Kind: "k", Value: "v"}
	a, err := s.Put(ctx, correlate.Tracked{MessageID: "far@x", Time: far}, []correlate.Key{k})
	require.NoError(t, err)
	b, err := s.Put(ctx, correlate.Tracked{MessageID: "early@x", Time: early}, []correlate.Key{k})
	require.NoError(t, err)
	ts, err := s.Lookup(ctx, k, correlate.Query{})
	require.NoError(t, err)
	require.Len(t, ts, 2)
	assert.Equal(t, []int64{a.ID, b.ID}, []int64{ts[0].ID, ts[1].ID}, "a year-9999 date sorts newest, a year-1 date oldest, not wrapped around")
	assert.Equal(t, 2262, ts[0].Time.Year(), "kept at the latest time UnixNano represents")
}

// TestPostingsModel puts and deletes emails under a few shared keys, in
// random time order, and checks every lookup against a plain model: the
// posting lists move between regions of the pool as they grow and shrink.
// newestFirst sorts ids as Lookup returns them: newest first, then the
// higher ID.
func newestFirst(ids []int64, at func(id int64) time.Time) {
	slices.SortFunc(ids, func(a, b int64) int {
		if c := at(b).Compare(at(a)); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
}

// lookupIDs returns the IDs Lookup gives for k, all of them.
func lookupIDs(t *testing.T, s *memstore.Store, k correlate.Key, q correlate.Query) []int64 {
	t.Helper()
	q.Limit = -1
	ts, err := s.Lookup(context.Background(), k, q)
	require.NoError(t, err)
	got := make([]int64, 0, len(ts))
	for _, x := range ts {
		got = append(got, x.ID)
	}
	return got
}

func TestPostingsModel(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 11))
	s := memstore.New()
	keys := []correlate.Key{{Kind: "k", Value: "a"}, {Kind: "k", Value: "b"}, {Kind: "k", Value: "c"}, {Kind: "k", Value: "d"}}
	type email struct {
		id   int64
		at   time.Time
		keys []int
	}
	live := map[int64]email{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for step := range 3000 {
		if len(live) > 0 && r.IntN(3) == 0 {
			for id := range live { // a random live email
				require.NoError(t, s.Delete(ctx, id))
				delete(live, id)
				break
			}
		} else {
			e := email{at: t0.Add(time.Duration(r.IntN(500)) * time.Minute)}
			var ks []correlate.Key
			for i := range keys {
				if r.IntN(2) == 0 {
					e.keys = append(e.keys, i)
					ks = append(ks, keys[i])
				}
			}
			tr, err := s.Put(ctx, correlate.Tracked{MessageID: fmt.Sprintf("m%d@x", step), Time: e.at}, ks)
			require.NoError(t, err)
			e.id = tr.ID
			live[e.id] = e
		}
		if step%97 != 0 {
			continue
		}
		for i, k := range keys {
			want := []int64{}
			for _, e := range live {
				if slices.Contains(e.keys, i) {
					want = append(want, e.id)
				}
			}
			newestFirst(want, func(id int64) time.Time { return live[id].at })
			require.Equal(t, want, lookupIDs(t, s, k, correlate.Query{}), "step %d, key %s", step, k.Value)
			// Windows: Since inclusive, Until exclusive, either may be
			// unset, and either may fall before, inside or after the list.
			for range 20 {
				var q correlate.Query
				if r.IntN(4) != 0 {
					q.Since = t0.Add(time.Duration(r.IntN(520)-10) * time.Minute)
				}
				if r.IntN(4) != 0 {
					q.Until = t0.Add(time.Duration(r.IntN(520)-10) * time.Minute)
				}
				in := []int64{}
				for _, id := range want {
					at := live[id].at
					if (q.Since.IsZero() || !at.Before(q.Since)) && (q.Until.IsZero() || at.Before(q.Until)) {
						in = append(in, id)
					}
				}
				require.Equal(t, in, lookupIDs(t, s, k, q), "step %d, key %s, since %v, until %v", step, k.Value, q.Since, q.Until)
			}
		}
	}
}

func TestMethodRange(t *testing.T) {
	s := memstore.New()
	_, err := s.Put(context.Background(), correlate.Tracked{MessageID: "a@x", Method: 1 << 20}, nil)
	assert.ErrorContains(t, err, "memstore: put: method 1048576 out of the range", "a Method beyond 16 bits is refused, not cut short")
	tr, err := s.Put(context.Background(), correlate.Tracked{MessageID: "b@x", Method: correlate.FolderTracking}, nil)
	require.NoError(t, err)
	assert.Equal(t, correlate.FolderTracking, tr.Method)
}

// TestTimelineModel puts, deletes and relinks emails at random, by every
// call that changes a record, and checks every record's timeline and
// history against a plain model: the timelines live in the pool beside the
// keys' posting lists and move between regions as they grow and shrink.
func TestTimelineModel(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 5))
	s := memstore.New()
	records := []correlate.Record{{}, {Type: "case", ID: "1"}, {Type: "case", ID: "2"}, {Type: "lead", ID: "1"}}
	folders := []correlate.Key{{Kind: "folder", Value: "a"}, {Kind: "folder", Value: "b"}}
	type email struct {
		at      time.Time
		rec     int
		folder  int
		changes int
	}
	live := map[int64]*email{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for step := range 2000 {
		switch op := r.IntN(10); {
		case op < 5 || len(live) == 0:
			e := &email{at: t0.Add(time.Duration(r.IntN(300)) * time.Minute), rec: r.IntN(len(records)), folder: r.IntN(len(folders))}
			tr, err := s.Put(ctx, correlate.Tracked{Time: e.at, Record: records[e.rec]}, []correlate.Key{folders[e.folder]})
			require.NoError(t, err)
			live[tr.ID] = e
		case op < 7:
			for id := range live {
				require.NoError(t, s.Delete(ctx, id))
				delete(live, id)
				break
			}
		case op < 9:
			for id, e := range live {
				to := r.IntN(len(records))
				if op == 7 {
					require.NoError(t, s.Relink(ctx, id, records[to]))
				} else {
					_, err := s.Apply(ctx, store.Batch{Relinks: []store.Relink{{ID: id, Record: records[to]}}})
					require.NoError(t, err)
				}
				if to != e.rec {
					e.rec = to
					e.changes++
				}
				break
			}
		default:
			f, to := r.IntN(len(folders)), r.IntN(len(records))
			want := 0
			for _, e := range live {
				if e.folder == f && e.rec != to {
					e.rec = to
					e.changes++
					want++
				}
			}
			n, err := s.RelinkKey(ctx, folders[f], records[to])
			require.NoError(t, err)
			require.Equal(t, want, n, "step %d", step)
		}
		if step%50 != 0 {
			continue
		}
		for ri, rc := range records {
			want := []int64{}
			for id, e := range live {
				if e.rec == ri {
					want = append(want, id)
				}
			}
			slices.SortFunc(want, func(a, b int64) int {
				if c := live[b].at.Compare(live[a].at); c != 0 {
					return c
				}
				return cmp.Compare(b, a)
			})
			var got []int64
			cur := ""
			for {
				ts, next, err := s.Emails(ctx, rc, 1+r.IntN(20), cur)
				require.NoError(t, err)
				for _, x := range ts {
					got = append(got, x.ID)
					require.Equal(t, rc, x.Record)
				}
				if next == "" {
					break
				}
				cur = next
			}
			if got == nil {
				got = []int64{}
			}
			require.Equal(t, want, got, "step %d, record %v", step, rc)
		}
		for id, e := range live {
			h, err := s.History(ctx, id)
			require.NoError(t, err)
			require.Len(t, h, e.changes, "step %d, email %d", step, id)
			if len(h) > 0 {
				require.Equal(t, records[e.rec], h[len(h)-1].To)
			}
		}
	}
}

// TestMoveThenDelete: a Move writes the email's list of keys anew; Delete
// must then remove the keys the Move added, keep no trace of those it
// dropped, and free the hidden Message-ID key of an email whose keys did
// not include its Message-ID.
func TestMoveThenDelete(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	a, b, x := correlate.Key{Kind: "folder", Value: "A"}, correlate.Key{Kind: "folder", Value: "B"}, correlate.Key{Kind: "token", Value: "T"}
	e, err := s.Put(ctx, correlate.Tracked{MessageID: "m@x", FolderID: "A"}, []correlate.Key{a, x})
	require.NoError(t, err)
	other, err := s.Put(ctx, correlate.Tracked{MessageID: "o@x", FolderID: "A"}, []correlate.Key{a})
	require.NoError(t, err)
	before, err := s.Stats(ctx)
	require.NoError(t, err)
	_, err = s.Apply(ctx, store.Batch{Moves: []store.Move{{ID: e.ID, FolderID: "B", Drop: []correlate.Key{a}, Add: []correlate.Key{b}}}})
	require.NoError(t, err)
	after, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, before.Keys, after.Keys, "one key dropped, one added")
	_, err = s.Put(ctx, correlate.Tracked{MessageID: "m@x"}, nil)
	require.ErrorIs(t, err, correlate.ErrExists, "the hidden Message-ID key survives the Move")

	require.NoError(t, s.Delete(ctx, e.ID))
	for _, k := range []correlate.Key{b, x} {
		n, err := s.Count(ctx, k)
		require.NoError(t, err)
		assert.Zero(t, n, "Delete removes the keys the Move left and added (%s)", k.Value)
	}
	ts, err := s.Lookup(ctx, a, correlate.Query{})
	require.NoError(t, err)
	require.Len(t, ts, 1)
	assert.Equal(t, other.ID, ts[0].ID, "the other email keeps the old folder's key")
	again, err := s.Put(ctx, correlate.Tracked{MessageID: "m@x"}, nil)
	require.NoError(t, err, "after Delete the Message-ID is free")
	assert.Greater(t, again.ID, e.ID)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, before.Keys-2, st.Keys, "the deleted email's two keys are gone")
}

// TestMovesModel runs random Puts, Deletes and Moves against a model of
// which keys name which emails: Lookup, Count and Stats must agree with it
// after every few steps, and Delete must leave no key of a moved email.
func TestMovesModel(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 5))
	s := memstore.New()
	keys := []correlate.Key{{Kind: "folder", Value: "A"}, {Kind: "folder", Value: "B"}, {Kind: "folder", Value: "C"},
		{Kind: "token", Value: "T1"}, {Kind: "token", Value: "T2"}, {Kind: "folder", Value: strings.Repeat("L", 600)}}
	type email struct {
		at   time.Time
		keys map[int]bool
	}
	live := map[int64]*email{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	subset := func() (ks []correlate.Key, idx []int) {
		for i := range keys {
			if r.IntN(3) == 0 {
				ks, idx = append(ks, keys[i]), append(idx, i)
			}
		}
		return ks, idx
	}
	anyLive := func() int64 {
		for id := range live {
			return id
		}
		return 0
	}
	for step := range 2000 {
		switch op := r.IntN(5); {
		case op == 0 && len(live) > 0:
			id := anyLive()
			require.NoError(t, s.Delete(ctx, id))
			delete(live, id)
		case op <= 2 && len(live) > 0:
			id := anyLive()
			drop, di := subset()
			add, ai := subset()
			_, err := s.Apply(ctx, store.Batch{Moves: []store.Move{{ID: id, FolderID: fmt.Sprint(step), Drop: drop, Add: add}}})
			require.NoError(t, err)
			for _, i := range di {
				delete(live[id].keys, i)
			}
			for _, i := range ai {
				live[id].keys[i] = true
			}
		default:
			ks, idx := subset()
			e := &email{at: t0.Add(time.Duration(r.IntN(300)) * time.Minute), keys: map[int]bool{}}
			for _, i := range idx {
				e.keys[i] = true
			}
			tr, err := s.Put(ctx, correlate.Tracked{MessageID: fmt.Sprintf("m%d@x", step), Time: e.at}, ks)
			require.NoError(t, err)
			live[tr.ID] = e
		}
		if step%50 != 0 {
			continue
		}
		total := 0
		for i, k := range keys {
			want := []int64{}
			for id, e := range live {
				if e.keys[i] {
					want = append(want, id)
				}
			}
			total += len(want)
			newestFirst(want, func(id int64) time.Time { return live[id].at })
			require.Equal(t, want, lookupIDs(t, s, k, correlate.Query{}), "step %d, key %d", step, i)
			n, err := s.Count(ctx, k)
			require.NoError(t, err)
			require.Equal(t, len(want), n, "step %d, key %d", step, i)
		}
		st, err := s.Stats(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(total), st.Keys, "step %d: the keys counted", step)
		require.Equal(t, int64(len(live)), st.Emails, "step %d", step)
	}
	for id := range live {
		require.NoError(t, s.Delete(ctx, id))
	}
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Keys, "Delete leaves no key of an email however it was moved")
}
