package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// RunStore runs the contract of [store.Store] against stores made by
// newStore: Apply's atomicity and duplicates, its Moves, sync state, the history of
// every change of record, the timeline and its cursors, scans, leases and
// their fencing, and keys and Message-IDs of several kilobytes. It does not
// run [Run]; a store.Store passes both:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) correlate.Store { return memstore.New() })
//		storetest.RunStore(t, func(t *testing.T) store.Store { return memstore.New() })
//	}
//
// The lease cases wait for leases of 50 ms to expire; a store that keeps
// lease time by a database server's clock must run on a server whose clock
// advances with the test's.
func RunStore(t *testing.T, newStore func(t *testing.T) store.Store) {
	runCases(t, newStore, []testCase[store.Store]{
		{"ApplyPuts", testApplyPuts},
		{"ApplyRollsBack", testApplyRollsBack},
		{"ApplyRefusesBadPut", testApplyBadPut},
		{"ApplyCancelled", testApplyCancelled},
		{"ApplyRelinks", testApplyRelinks},
		{"ApplyMoves", testApplyMoves},
		{"ConcurrentApply", testConcurrentApply},
		{"States", testStates},
		{"StateNames", testStateNames},
		{"History", testHistory},
		{"Emails", testEmails},
		{"EmailsDefaultLimit", testEmailsDefaultLimit},
		{"EmailsStableWhileChanging", testEmailsStable},
		{"EmailsFollowRecordChanges", testEmailsFollow},
		{"EmailsBadCursor", testEmailsBadCursor},
		{"Scan", testScan},
		{"Lease", testLease},
		{"LeaseExclusive", testLeaseExclusive},
		{"LeaseExpiry", testLeaseExpiry},
		{"LeaseNames", testLeaseNames},
		{"LongKeys", testLongKeys},
	})
}

func entry(n int, msgID string, keys ...correlate.Key) store.Entry {
	return store.Entry{Tracked: email(n, msgID), Keys: keys}
}

func apply(t *testing.T, s store.Store, b store.Batch) store.Result {
	t.Helper()
	res, err := s.Apply(context.Background(), b)
	require.NoError(t, err)
	require.Len(t, res.Tracked, len(b.Puts))
	require.Len(t, res.Existing, len(b.Puts))
	return res
}

func states(t *testing.T, s store.Store, prefix string) map[string]string {
	t.Helper()
	st, err := s.States(context.Background(), prefix)
	require.NoError(t, err)
	out := map[string]string{}
	for _, x := range st {
		out[x.Name] = string(x.Value)
	}
	return out
}

func history(t *testing.T, s store.Store, id int64) []store.Change {
	t.Helper()
	h, err := s.History(context.Background(), id)
	require.NoError(t, err)
	return h
}

// within asserts that a time the store chose lies between two instants
// taken around the call, allowing for a store that keeps microseconds.
func within(t *testing.T, got, before, after time.Time, msg string) {
	t.Helper()
	assert.False(t, got.Before(before.Truncate(time.Microsecond)), "%s: %v is before the call (%v)", msg, got, before)
	assert.False(t, got.After(after.Add(time.Microsecond)), "%s: %v is after the call (%v)", msg, got, after)
}

// change is the part of a Change a test compares.
type change struct {
	Email    int64
	From, To correlate.Record
	Actor    string
	Cause    store.Cause
}

func changes(cs []store.Change) []change {
	out := make([]change, len(cs))
	for i, c := range cs {
		out[i] = change{c.Email, c.From, c.To, c.Actor, c.Cause}
	}
	return out
}

// testLongKeys stores an email whose From address and Message-ID are over
// 3 KB each (mail from strangers has them; PostgreSQL refuses a B-tree
// entry of more than 2,704 bytes), a key kind and a record of that length,
// and finds them again by every read.
func testLongKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	from := strings.Repeat("f", 3100) + "@example.com"
	msgID := strings.Repeat("m", 3200) + "@example.com"
	sibling := msgID[:len(msgID)-1] + "n" // differs in its last byte only
	longKind := strings.Repeat("k", 3000)
	longRec := correlate.Record{Type: "incident", ID: strings.Repeat("R", 3000)}

	tr := email(1, msgID)
	tr.Participants = []string{from, "support@example.com"}
	tr.Record = longRec
	keys := []correlate.Key{key("msgid", msgID), key("sm.addr", from), key(longKind, from)}
	got := put(t, s, tr, keys...)
	tr.ID = got.ID
	equalTracked(t, tr, got, "Put returns the long email")
	back, err := s.Get(ctx, got.ID)
	require.NoError(t, err)
	equalTracked(t, tr, back, "Get returns it whole")
	for _, k := range keys {
		res, err := s.Lookup(ctx, k, correlate.Query{})
		require.NoError(t, err)
		assert.Equal(t, []int64{got.ID}, ids(res), "Lookup by a long key (kind of %d bytes, value of %d)", len(k.Kind), len(k.Value))
		n, err := s.Count(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	}
	dup, err := s.Put(ctx, email(2, msgID), nil)
	require.ErrorIs(t, err, correlate.ErrExists, "a long Message-ID is tracked once")
	assert.Equal(t, got.ID, dup.ID)
	sib := put(t, s, email(3, sibling), key("msgid", sibling))
	assert.NotEqual(t, got.ID, sib.ID, "a long Message-ID differing in its last byte is another email")
	res, err := s.Lookup(ctx, key("msgid", sibling), correlate.Query{})
	require.NoError(t, err)
	assert.Equal(t, []int64{sib.ID}, ids(res), "and is found apart")

	timeline, _, err := s.Emails(ctx, longRec, 0, "")
	require.NoError(t, err)
	assert.Equal(t, []int64{got.ID}, ids(timeline), "the timeline of a record with a long ID")

	other := strings.Repeat("o", 3300) + "@example.com"
	r := apply(t, s, store.Batch{
		Puts: []store.Entry{
			{Tracked: email(4, other), Keys: []correlate.Key{key("msgid", other), key("sm.addr", from)}},
			{Tracked: email(5, msgID), Keys: []correlate.Key{key("msgid", msgID)}},
			{Tracked: email(6, other), Keys: nil},
		},
		Relinks: []store.Relink{{MessageID: msgID, Record: rec("MOVED")}, {MessageID: other, Record: longRec}},
	})
	assert.Equal(t, []bool{false, true, true}, r.Existing, "duplicates by long Message-ID, stored and within the batch")
	assert.Equal(t, got.ID, r.Tracked[1].ID)
	require.Len(t, r.Changes, 2, "Relinks by long Message-ID")
	assert.Equal(t, msgID, r.Changes[0].MessageID)
	h := history(t, s, got.ID)
	require.Len(t, h, 1)
	assert.Equal(t, longRec, h[0].From, "history keeps a long record")
	timeline, _, err = s.Emails(ctx, longRec, 0, "")
	require.NoError(t, err)
	assert.Equal(t, []int64{r.Tracked[0].ID}, ids(timeline), "the timeline follows Relinks from and to a long record")

	n, err := s.RelinkKey(ctx, key("sm.addr", from), rec("ADDR"))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "RelinkKey by a long key")
	for i := int64(1); i <= 2; i++ {
		v, err := s.NextSequence(ctx, from)
		require.NoError(t, err)
		assert.Equal(t, i, v, "a sequence with a long name")
	}
	require.NoError(t, s.Delete(ctx, got.ID))
	for _, k := range keys {
		res, err := s.Lookup(ctx, k, correlate.Query{})
		require.NoError(t, err)
		assert.NotContains(t, ids(res), got.ID, "Delete removes the long keys")
	}
	again := put(t, s, email(7, msgID), key("msgid", msgID))
	assert.Greater(t, again.ID, got.ID, "after Delete the long Message-ID can be tracked again")
	assert.True(t, bytes.Equal([]byte(msgID), []byte(again.MessageID)))
}
