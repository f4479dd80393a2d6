// Package storetest is the contract every [correlate.Store] implementation
// must pass, and [RunStore] the contract of a [store.Store]. A store's tests
// call [Run] (and RunStore) with a constructor:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) correlate.Store { return memstore.New() })
//	}
//
// The constructor is called once per subtest and must return an empty store
// (clean it up with t.Cleanup). Run it with -race: the concurrency cases are
// only meaningful under the race detector.
//
// [store.Store]: https://pkg.go.dev/github.com/mailcorrelate/mailcorrelate/store#Store
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// base is the time of the first email of every fixture; stores must keep
// times to the microsecond (PostgreSQL's precision).
var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Run runs the contract suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) correlate.Store) {
	runCases(t, newStore, []testCase[correlate.Store]{
		{"PutGet", testPutGet},
		{"PutAssignsIncreasingIDs", testPutIDs},
		{"PutRejectsPresetID", testPutPresetID},
		{"PutDuplicateMessageID", testPutDuplicate},
		{"PutIsolatesInput", testPutIsolation},
		{"PutDedupesKeys", testPutDedupesKeys},
		{"GetNotFound", testGetNotFound},
		{"LookupNewestFirst", testLookupOrder},
		{"LookupLimits", testLookupLimits},
		{"LookupWindow", testLookupWindow},
		{"LookupMissingKey", testLookupMissing},
		{"Count", testCount},
		{"Relink", testRelink},
		{"RelinkKey", testRelinkKey},
		{"Delete", testDelete},
		{"Stats", testStats},
		{"Sequences", testSequences},
		{"ConcurrentSequences", testConcurrentSequences},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentDuplicatePuts", testConcurrentDuplicates},
		{"CancelledContext", testCancelled},
	})
}

// A testCase is one case of a contract, run on a new store.
type testCase[S any] struct {
	name string
	fn   func(t *testing.T, s S)
}

// runCases runs each case as a subtest, on a store of its own.
func runCases[S any](t *testing.T, newStore func(t *testing.T) S, cases []testCase[S]) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, newStore(t))
		})
	}
}

func rec(id string) correlate.Record { return correlate.Record{Type: "incident", ID: id} }

func email(n int, msgID string) correlate.Tracked {
	return correlate.Tracked{
		MessageID:         msgID,
		Record:            rec(fmt.Sprintf("CAS-%03d", n)),
		Token:             fmt.Sprintf("CRM:0001%03d", n),
		ConversationIndex: []byte{1, 2, 3, byte(n)},
		Subject:           fmt.Sprintf("Case %d", n),
		Participants:      []string{"alice@example.com", fmt.Sprintf("c%d@customer.example", n)},
		Mailbox:           "support@example.com",
		FolderID:          "F1",
		FolderPath:        "Inbox/Cases",
		Direction:         correlate.Incoming,
		Time:              base.Add(time.Duration(n) * time.Minute),
		Method:            correlate.InReplyTo,
		CorrelatedWith:    0,
		Parent:            0,
	}
}

func key(kind, v string) correlate.Key { return correlate.Key{Kind: kind, Value: v} }

func put(t *testing.T, s correlate.Store, tr correlate.Tracked, keys ...correlate.Key) correlate.Tracked {
	t.Helper()
	got, err := s.Put(context.Background(), tr, keys)
	require.NoError(t, err)
	require.NotZero(t, got.ID, "Put must assign an ID")
	return got
}

// equalTracked compares what a store must round-trip: every field, times by
// instant, empty and nil slices alike.
func equalTracked(t *testing.T, want, got correlate.Tracked, msg string) {
	t.Helper()
	assert.True(t, want.Time.Equal(got.Time), "%s: Time = %v, want %v", msg, got.Time, want.Time)
	want.Time, got.Time = time.Time{}, time.Time{}
	if len(want.Participants) == 0 && len(got.Participants) == 0 {
		want.Participants, got.Participants = nil, nil
	}
	if len(want.ConversationIndex) == 0 && len(got.ConversationIndex) == 0 {
		want.ConversationIndex, got.ConversationIndex = nil, nil
	}
	assert.Equal(t, want, got, msg)
}

func ids(ts []correlate.Tracked) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func testPutGet(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	in := email(1, "a1@example.com")
	in.CorrelatedWith, in.Parent = 7, 8
	in.Direction = correlate.Outgoing
	got := put(t, s, in, key("msgid", "a1@example.com"), key("token", "CRM:0001001"))
	want := in
	want.ID = got.ID
	equalTracked(t, want, got, "Put must return the stored email")
	back, err := s.Get(ctx, got.ID)
	require.NoError(t, err)
	equalTracked(t, want, back, "Get must return every field as put")

	// An email without Message-ID, record or participants is legal: a
	// track-only folder email from a client that sent no id.
	bare := correlate.Tracked{Time: base}
	got2 := put(t, s, bare)
	back2, err := s.Get(ctx, got2.ID)
	require.NoError(t, err)
	bare.ID = got2.ID
	equalTracked(t, bare, back2, "an email with empty fields round-trips")
}

func testPutIDs(t *testing.T, s correlate.Store) {
	var last int64
	for i := 0; i < 5; i++ {
		got := put(t, s, email(i, fmt.Sprintf("id%d@x", i)))
		assert.Greater(t, got.ID, last, "IDs increase so they order ties by insertion")
		last = got.ID
	}
}

func testPutPresetID(t *testing.T, s correlate.Store) {
	tr := email(1, "a@x")
	tr.ID = 42
	_, err := s.Put(context.Background(), tr, nil)
	assert.Error(t, err, "the store assigns IDs; a preset one is a caller bug")
}

func testPutDuplicate(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	first := put(t, s, email(1, "dup@x"), key("msgid", "dup@x"))
	second := email(2, "dup@x")
	got, err := s.Put(ctx, second, []correlate.Key{key("msgid", "dup@x"), key("token", "only-on-second")})
	require.ErrorIs(t, err, correlate.ErrExists, "the same Message-ID is tracked once (Dynamics' duplicate check)")
	assert.Equal(t, first.ID, got.ID, "Put returns the email already stored")
	assert.Equal(t, first.Record, got.Record)
	res, err := s.Lookup(ctx, key("token", "only-on-second"), correlate.Query{})
	require.NoError(t, err)
	assert.Empty(t, res, "a refused Put stores none of its keys (all or nothing)")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Emails)

	// Emails without a Message-ID never collide.
	put(t, s, email(3, ""))
	put(t, s, email(4, ""))
}

func testPutIsolation(t *testing.T, s correlate.Store) {
	in := email(1, "iso@x")
	parts := in.Participants
	ci := in.ConversationIndex
	got := put(t, s, in)
	parts[0] = "mallory@evil.example"
	ci[0] = 99
	back, err := s.Get(context.Background(), got.ID)
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", back.Participants[0], "the store must not alias the caller's slices")
	assert.Equal(t, byte(1), back.ConversationIndex[0])
}

func testPutDedupesKeys(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	k := key("subj", "hello")
	got := put(t, s, email(1, "k@x"), k, k, k)
	res, err := s.Lookup(ctx, k, correlate.Query{})
	require.NoError(t, err)
	assert.Equal(t, []int64{got.ID}, ids(res), "a key repeated in one Put indexes the email once")
	n, err := s.Count(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func testGetNotFound(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	_, err := s.Get(ctx, 12345)
	assert.ErrorIs(t, err, correlate.ErrNotFound)
	_, err = s.Get(ctx, 0)
	assert.ErrorIs(t, err, correlate.ErrNotFound, "ID 0 is never assigned")
}

func testLookupOrder(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	k := key("convroot", "R1")
	// Inserted out of time order, as a sync that backfills old mail does.
	e3 := put(t, s, email(3, "m3@x"), k)
	e1 := put(t, s, email(1, "m1@x"), k)
	e5 := put(t, s, email(5, "m5@x"), k)
	same := email(5, "m5b@x") // same time as e5: the later ID is newer
	e5b := put(t, s, same, k)
	put(t, s, email(4, "other@x"), key("convroot", "R2"))
	res, err := s.Lookup(ctx, k, correlate.Query{})
	require.NoError(t, err)
	assert.Equal(t, []int64{e5b.ID, e5.ID, e3.ID, e1.ID}, ids(res), "newest first by Time, then by ID")
}

func testLookupLimits(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	k := key("subj", "common")
	var all []int64
	for i := 0; i < correlate.DefaultLimit+5; i++ {
		all = append(all, put(t, s, email(i, ""), k).ID)
	}
	slices.Reverse(all)
	res, err := s.Lookup(ctx, k, correlate.Query{})
	require.NoError(t, err)
	assert.Len(t, res, correlate.DefaultLimit, "Limit 0 means DefaultLimit")
	res, err = s.Lookup(ctx, k, correlate.Query{Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, all[:3], ids(res), "a limit keeps the newest")
	res, err = s.Lookup(ctx, k, correlate.Query{Limit: -1})
	require.NoError(t, err)
	assert.Equal(t, all, ids(res), "Limit -1 returns everything")
}

func testLookupWindow(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	k := key("token", "T")
	var got []int64
	for i := 0; i < 10; i++ {
		got = append(got, put(t, s, email(i, ""), k).ID)
	}
	q := correlate.Query{Since: base.Add(3 * time.Minute), Until: base.Add(7 * time.Minute)}
	res, err := s.Lookup(ctx, k, q)
	require.NoError(t, err)
	assert.Equal(t, []int64{got[6], got[5], got[4], got[3]}, ids(res), "Since is inclusive, Until exclusive")
	res, err = s.Lookup(ctx, k, correlate.Query{Since: base.Add(8 * time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, []int64{got[9], got[8]}, ids(res), "open-ended window")
	res, err = s.Lookup(ctx, k, correlate.Query{Until: base.Add(2 * time.Minute), Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, []int64{got[1]}, ids(res), "a limit applies after the window")
}

func testLookupMissing(t *testing.T, s correlate.Store) {
	res, err := s.Lookup(context.Background(), key("msgid", "nobody@x"), correlate.Query{})
	require.NoError(t, err, "no match is not an error")
	assert.Empty(t, res)
}

func testCount(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	k := key("addr", "a@x")
	for i := 0; i < 3; i++ {
		put(t, s, email(i, ""), k)
	}
	n, err := s.Count(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	n, err = s.Count(ctx, key("addr", "none@x"))
	require.NoError(t, err)
	assert.Zero(t, n)
}

func testRelink(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	k := key("msgid", "r@x")
	e := put(t, s, email(1, "r@x"), k)
	require.NoError(t, s.Relink(ctx, e.ID, rec("NEW")))
	got, err := s.Get(ctx, e.ID)
	require.NoError(t, err)
	assert.Equal(t, rec("NEW"), got.Record, "Get sees the new record")
	res, err := s.Lookup(ctx, k, correlate.Query{})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, rec("NEW"), res[0].Record, "Lookup sees the new record: later replies follow it")
	require.NoError(t, s.Relink(ctx, e.ID, correlate.Record{}), "relinking to no record is allowed")
	assert.ErrorIs(t, s.Relink(ctx, 999, rec("X")), correlate.ErrNotFound)
}

func testRelinkKey(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	folder := key("folder", "mbx\x00F1")
	var in []int64
	for i := 0; i < 4; i++ {
		in = append(in, put(t, s, email(i, ""), folder).ID)
	}
	out := put(t, s, email(9, ""), key("folder", "mbx\x00F2"))
	require.NoError(t, s.Relink(ctx, in[0], rec("TARGET")))
	n, err := s.RelinkKey(ctx, folder, rec("TARGET"))
	require.NoError(t, err)
	assert.Equal(t, 3, n, "emails already on the record are not counted as changed")
	for _, id := range in {
		got, err := s.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, rec("TARGET"), got.Record)
	}
	got, err := s.Get(ctx, out.ID)
	require.NoError(t, err)
	assert.Equal(t, rec("CAS-009"), got.Record, "emails under other keys keep their record")
	n, err = s.RelinkKey(ctx, key("folder", "none"), rec("X"))
	require.NoError(t, err)
	assert.Zero(t, n)
}

func testDelete(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	k := key("token", "T1")
	e := put(t, s, email(1, "del@x"), key("msgid", "del@x"), k)
	keep := put(t, s, email(2, "keep@x"), k)
	require.NoError(t, s.Delete(ctx, e.ID))
	_, err := s.Get(ctx, e.ID)
	assert.ErrorIs(t, err, correlate.ErrNotFound)
	res, err := s.Lookup(ctx, k, correlate.Query{})
	require.NoError(t, err)
	assert.Equal(t, []int64{keep.ID}, ids(res), "a deleted email leaves every key")
	n, err := s.Count(ctx, key("msgid", "del@x"))
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.ErrorIs(t, s.Delete(ctx, e.ID), correlate.ErrNotFound, "deleting twice")
	again := put(t, s, email(3, "del@x"), key("msgid", "del@x"))
	assert.NotEqual(t, e.ID, again.ID, "IDs are not reused")
}

func testStats(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, correlate.Stats{}, st, "a new store is empty")
	e := put(t, s, email(1, "s1@x"), key("a", "1"), key("b", "1"))
	put(t, s, email(2, "s2@x"), key("a", "1"))
	st, err = s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, correlate.Stats{Emails: 2, Keys: 3}, st)
	require.NoError(t, s.Delete(ctx, e.ID))
	st, err = s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, correlate.Stats{Emails: 1, Keys: 1}, st)
}

func testSequences(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		got, err := s.NextSequence(ctx, "token:user1")
		require.NoError(t, err)
		assert.Equal(t, want, got, "sequences start at 1 and count up")
	}
	got, err := s.NextSequence(ctx, "token:user2")
	require.NoError(t, err)
	assert.EqualValues(t, 1, got, "each name is its own counter")
}

func testConcurrentSequences(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	const workers, each = 8, 50
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n, err := s.NextSequence(ctx, "shared")
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				seen[n]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, workers*each, "no value is ever returned twice")
	for n := int64(1); n <= workers*each; n++ {
		assert.Equal(t, 1, seen[n], "value %d", n)
	}
}

func testConcurrentPuts(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	const workers, each = 8, 25
	k := key("subj", "shared")
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int64]bool{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				tr := email(w*each+i, fmt.Sprintf("w%d-%d@x", w, i))
				res, err := s.Put(ctx, tr, []correlate.Key{k, key("msgid", tr.MessageID)})
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				got[res.ID] = true
				mu.Unlock()
				// Readers run alongside writers.
				_, err = s.Lookup(ctx, k, correlate.Query{Limit: 5})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Len(t, got, workers*each, "every Put gets its own ID")
	n, err := s.Count(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, workers*each, n)
}

func testConcurrentDuplicates(t *testing.T, s correlate.Store) {
	ctx := context.Background()
	const workers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, exists int
	ids := map[int64]bool{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Put(ctx, email(w, "same@x"), []correlate.Key{key("msgid", "same@x")})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, correlate.ErrExists):
				exists++
			default:
				t.Errorf("Put: %v", err)
			}
			ids[res.ID] = true
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, ok, "exactly one worker tracks the email")
	assert.Equal(t, workers-1, exists)
	assert.Len(t, ids, 1, "every worker sees the same tracked email")
}

func testCancelled(t *testing.T, s correlate.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Put(ctx, email(1, "c@x"), []correlate.Key{key("msgid", "c@x")})
	assert.ErrorIs(t, err, context.Canceled, "a cancelled Put fails")
	st, err := s.Stats(context.Background())
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "and stores nothing")
	_, err = s.Lookup(ctx, key("msgid", "c@x"), correlate.Query{})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.NextSequence(ctx, "x")
	assert.ErrorIs(t, err, context.Canceled)
}
