package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// RunStore runs the contract of [store.Store] against stores made by
// newStore: Apply's atomicity and duplicates, sync state, the history of
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

func testApplyPuts(t *testing.T, s store.Store) {
	ctx := context.Background()
	stored := put(t, s, email(1, "a@x"), key("msgid", "a@x"))
	res := apply(t, s, store.Batch{Puts: []store.Entry{
		entry(2, "b@x", key("msgid", "b@x"), key("token", "T2")),
		entry(3, "a@x", key("msgid", "a@x"), key("token", "only-on-dup")),
		entry(4, "b@x", key("msgid", "b@x"), key("token", "only-on-second-b")),
		entry(5, ""),
		entry(6, ""),
	}})
	assert.Equal(t, []bool{false, true, true, false, false}, res.Existing,
		"a Message-ID stored before, or earlier in the batch, is not stored again; emails without one never collide")
	assert.Equal(t, stored.ID, res.Tracked[1].ID, "an existing email is reported as stored")
	assert.Equal(t, stored.Record, res.Tracked[1].Record)
	assert.Equal(t, res.Tracked[0].ID, res.Tracked[2].ID, "a repeat within the batch is the email stored by its first Put")
	assert.Greater(t, res.Tracked[0].ID, stored.ID)
	assert.Greater(t, res.Tracked[3].ID, res.Tracked[0].ID, "IDs are assigned in batch order")
	assert.Greater(t, res.Tracked[4].ID, res.Tracked[3].ID)
	assert.Empty(t, res.Changes)
	for _, i := range []int{0, 3, 4} {
		want := email([]int{2, 0, 0, 5, 6}[i], res.Tracked[i].MessageID)
		want.ID = res.Tracked[i].ID
		equalTracked(t, want, res.Tracked[i], "Apply returns the stored email")
		back, err := s.Get(ctx, want.ID)
		require.NoError(t, err)
		equalTracked(t, want, back, "Get returns what Apply stored")
	}
	for _, k := range []correlate.Key{key("token", "only-on-dup"), key("token", "only-on-second-b")} {
		got, err := s.Lookup(ctx, k, correlate.Query{})
		require.NoError(t, err)
		assert.Empty(t, got, "nothing of an existing email's entry is written (%s)", k.Value)
	}
	got, err := s.Lookup(ctx, key("token", "T2"), correlate.Query{})
	require.NoError(t, err)
	assert.Equal(t, []int64{res.Tracked[0].ID}, ids(got), "a new email's keys are indexed")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 4, st.Emails)

	empty := apply(t, s, store.Batch{})
	assert.Empty(t, empty.Tracked, "an empty batch is legal and writes nothing")
}

func testApplyRollsBack(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := put(t, s, email(1, "e@x"), key("msgid", "e@x"))
	apply(t, s, store.Batch{States: []store.State{{Name: "sync/1", Value: []byte("v1")}}})
	before, err := s.Stats(ctx)
	require.NoError(t, err)
	failing := []struct {
		name   string
		relink store.Relink
	}{
		{"UnknownID", store.Relink{ID: 987654, Record: rec("R3")}},
		{"UnknownMessageID", store.Relink{MessageID: "nobody@x", Record: rec("R3")}},
	}
	for _, f := range failing {
		t.Run(f.name, func(t *testing.T) {
			_, err := s.Apply(ctx, store.Batch{
				Puts: []store.Entry{entry(2, "new@x", key("msgid", "new@x"), key("token", "NEW"))},
				Relinks: []store.Relink{
					{ID: e.ID, Record: rec("R2")},
					{MessageID: "new@x", Record: rec("R2")},
					f.relink, // fails: the whole batch is undone
				},
				States: []store.State{{Name: "sync/1", Value: []byte("v2")}, {Name: "sync/2", Value: []byte("x")}},
			})
			require.ErrorIs(t, err, correlate.ErrNotFound, "a Relink of an email that does not exist fails the batch")
			for _, k := range []correlate.Key{key("msgid", "new@x"), key("token", "NEW")} {
				got, err := s.Lookup(ctx, k, correlate.Query{})
				require.NoError(t, err)
				assert.Empty(t, got, "the batch's Put is undone (%s)", k.Kind)
			}
			after, err := s.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, before, after, "no email or key of the batch remains")
			back, err := s.Get(ctx, e.ID)
			require.NoError(t, err)
			assert.Equal(t, rec("CAS-001"), back.Record, "the batch's first Relink is undone")
			assert.Empty(t, history(t, s, e.ID), "and keeps no history")
			assert.Equal(t, map[string]string{"sync/1": "v1"}, states(t, s, "sync/"), "the batch's States are undone")
			emails, _, err := s.Emails(ctx, rec("R2"), 0, "")
			require.NoError(t, err)
			assert.Empty(t, emails, "no email reached the record of the undone Relinks")
		})
	}
	_, err = s.Apply(ctx, store.Batch{Relinks: []store.Relink{{Record: rec("R2")}}})
	assert.Error(t, err, "a Relink naming no email (no ID, no Message-ID) is refused")
}

func testApplyBadPut(t *testing.T, s store.Store) {
	ctx := context.Background()
	bad := entry(2, "bad@x")
	bad.Tracked.ID = 42
	_, err := s.Apply(ctx, store.Batch{
		Puts:   []store.Entry{entry(1, "ok@x", key("msgid", "ok@x")), bad},
		States: []store.State{{Name: "s", Value: []byte("v")}},
	})
	require.Error(t, err, "a Put with an ID already set is a caller bug")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "the batch's good Put is not stored either")
	assert.Empty(t, states(t, s, ""), "nor its States")
	_, err = s.Apply(ctx, store.Batch{
		Puts:   []store.Entry{entry(1, "ok@x")},
		States: []store.State{{Name: "", Value: []byte("v")}},
	})
	require.Error(t, err, "a State without a name is refused")
	st, err = s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "and the batch's Puts with it")
}

func testApplyCancelled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Apply(ctx, store.Batch{
		Puts:   []store.Entry{entry(1, "c@x", key("msgid", "c@x"))},
		States: []store.State{{Name: "s", Value: []byte("v")}},
	})
	require.ErrorIs(t, err, context.Canceled)
	st, err := s.Stats(context.Background())
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "a cancelled Apply writes nothing")
	assert.Empty(t, states(t, s, ""))
	for name, call := range map[string]func() error{
		"States":  func() error { _, err := s.States(ctx, ""); return err },
		"History": func() error { _, err := s.History(ctx, 1); return err },
		"Emails":  func() error { _, _, err := s.Emails(ctx, rec("R"), 0, ""); return err },
		"Scan":    func() error { _, err := s.Scan(ctx, 0, 0); return err },
		"Acquire": func() error { _, err := s.Acquire(ctx, "l", "w", time.Minute); return err },
		"Release": func() error { return s.Release(ctx, store.Lease{Name: "l", Holder: "w", Token: 1}) },
	} {
		assert.ErrorIs(t, call(), context.Canceled, name)
	}
}

func testApplyRelinks(t *testing.T, s store.Store) {
	ctx := context.Background()
	e1 := put(t, s, email(1, "e1@x"), key("msgid", "e1@x"))
	e2 := put(t, s, email(2, "e2@x"), key("msgid", "e2@x"))
	t1 := base.Add(time.Hour)
	t2 := base.Add(2 * time.Hour)
	before := time.Now()
	res := apply(t, s, store.Batch{
		Puts: []store.Entry{entry(3, "n@x", key("msgid", "n@x"))},
		Relinks: []store.Relink{
			{ID: e1.ID, Record: rec("R2"), Change: store.Change{Actor: "alice@example.com", Cause: store.CauseManual, Time: t1}},
			{MessageID: "n@x", Record: rec("R3"), Change: store.Change{Actor: "imapsync", Cause: store.CauseFolder}},
			{ID: e2.ID, Record: e2.Record, Change: store.Change{Actor: "bob"}},
			{MessageID: "e1@x", Record: rec("R3"), Change: store.Change{Cause: store.CauseMerge, Time: t2}},
		},
	})
	after := time.Now()
	n := res.Tracked[0]
	assert.Equal(t, rec("CAS-003"), n.Record, "Result.Tracked is the email as put, before the batch's Relinks")
	want := []change{
		{e1.ID, rec("CAS-001"), rec("R2"), "alice@example.com", store.CauseManual},
		{n.ID, rec("CAS-003"), rec("R3"), "imapsync", store.CauseFolder},
		{e1.ID, rec("R2"), rec("R3"), "", store.CauseMerge},
	}
	assert.Equal(t, want, changes(res.Changes), "one Change per Relink that changed a record, in order; the second Relink of e1 starts from the first's record")
	require.Len(t, res.Changes, 3)
	assert.Equal(t, []string{"e1@x", "n@x", "e1@x"}, []string{res.Changes[0].MessageID, res.Changes[1].MessageID, res.Changes[2].MessageID},
		"the store fills in the Message-ID")
	assert.True(t, t1.Equal(res.Changes[0].Time), "a Time given is kept")
	within(t, res.Changes[1].Time, before, after, "a zero Time is the time of Apply")

	h1 := history(t, s, e1.ID)
	assert.Equal(t, []change{want[0], want[2]}, changes(h1), "History lists an email's changes, oldest first")
	require.Len(t, h1, 2)
	assert.True(t, t2.Equal(h1[1].Time))
	assert.Equal(t, "e1@x", h1[0].MessageID)
	assert.Equal(t, []change{want[1]}, changes(history(t, s, n.ID)), "a Relink by Message-ID reaches a Put of the same batch")
	assert.Empty(t, history(t, s, e2.ID), "a Relink to the record the email has keeps nothing")
	for id, r := range map[int64]correlate.Record{e1.ID: rec("R3"), n.ID: rec("R3"), e2.ID: rec("CAS-002")} {
		got, err := s.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, r, got.Record)
	}
	res = apply(t, s, store.Batch{Relinks: []store.Relink{{ID: e2.ID, Record: correlate.Record{}}}})
	assert.Equal(t, []change{{e2.ID, rec("CAS-002"), correlate.Record{}, "", ""}}, changes(res.Changes),
		"a Relink to the zero Record (no record) is a change")
}

func testConcurrentApply(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers, each = 6, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	byMsg := map[string]map[int64]bool{}
	for w := range workers {
		wg.Go(func() {
			// Every worker applies the same Message-IDs, in its own order,
			// with one of its own: a sync of the same mailbox by several
			// workers at once.
			b := store.Batch{States: []store.State{{Name: fmt.Sprintf("w/%d", w), Value: []byte("done")}}}
			for i := range each {
				m := fmt.Sprintf("shared%d@x", (i+w)%each)
				b.Puts = append(b.Puts, entry(i, m, key("msgid", m), key("subj", "shared")))
			}
			own := fmt.Sprintf("own%d@x", w)
			b.Puts = append(b.Puts, entry(w, own, key("msgid", own), key("subj", "shared")))
			res, err := s.Apply(ctx, b)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for i, tr := range res.Tracked {
				m := b.Puts[i].Tracked.MessageID
				if byMsg[m] == nil {
					byMsg[m] = map[int64]bool{}
				}
				byMsg[m][tr.ID] = true
			}
		})
	}
	wg.Wait()
	require.Len(t, byMsg, each+workers)
	for m, got := range byMsg {
		assert.Len(t, got, 1, "every worker sees the one email stored for %s", m)
	}
	n, err := s.Count(ctx, key("subj", "shared"))
	require.NoError(t, err)
	assert.Equal(t, each+workers, n, "each Message-ID is stored once")
	assert.Len(t, states(t, s, "w/"), workers)
}

func testStates(t *testing.T, s store.Store) {
	ctx := context.Background()
	v := []byte("cursor\x00\xff")
	apply(t, s, store.Batch{States: []store.State{
		{Name: "imap/b/2", Value: []byte("2")},
		{Name: "imap/a/1", Value: v},
		{Name: "imap/b/1", Value: []byte("1")},
		{Name: "imap/b/\xff", Value: []byte("high")},
		{Name: "imap/empty", Value: []byte{}},
		{Name: "pop/x", Value: []byte("p")},
		{Name: "a_1", Value: []byte("underscore")},
		{Name: "ab1", Value: []byte("b")},
		{Name: "a%", Value: []byte("percent")},
	}})
	v[0] = 'X' // the store keeps its own copy
	all, err := s.States(ctx, "imap/")
	require.NoError(t, err)
	var names []string
	for _, st := range all {
		names = append(names, st.Name)
	}
	assert.Equal(t, []string{"imap/a/1", "imap/b/1", "imap/b/2", "imap/b/\xff", "imap/empty"}, names, "a prefix's states, in byte order of names")
	assert.Equal(t, []byte("cursor\x00\xff"), all[0].Value, "values are bytes, NUL and invalid UTF-8 included")
	assert.NotNil(t, all[4].Value, "an empty value is a state, not a deletion")
	assert.Empty(t, all[4].Value)
	all[0].Value[0] = 'Y'
	assert.Equal(t, "cursor\x00\xff", states(t, s, "imap/a/")["imap/a/1"], "a caller may change what States returned")
	assert.Equal(t, map[string]string{"a_1": "underscore"}, states(t, s, "a_"), "_ in a prefix is a character, not a wildcard")
	assert.Equal(t, map[string]string{"a%": "percent"}, states(t, s, "a%"), "% in a prefix is a character, not a wildcard")
	assert.Equal(t, map[string]string{"imap/b/\xff": "high"}, states(t, s, "imap/b/\xff"), "a prefix ending in 0xff")
	assert.Len(t, states(t, s, ""), 9, "the empty prefix lists every state")
	assert.Empty(t, states(t, s, "nothing/"))

	apply(t, s, store.Batch{States: []store.State{
		{Name: "imap/b/1", Value: []byte("one")}, // replaced
		{Name: "imap/b/2"},                       // deleted
		{Name: "never/was"},                      // deleting nothing is no error
		{Name: "imap/c", Value: []byte("c1")},
		{Name: "imap/c", Value: []byte("c2")}, // the later write of a batch wins
	}})
	assert.Equal(t, map[string]string{"imap/b/1": "one", "imap/b/\xff": "high"}, states(t, s, "imap/b/"))
	assert.Equal(t, "c2", states(t, s, "imap/c")["imap/c"])
}

func testStateNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	longest := strings.Repeat("n", store.MaxNameLen)
	apply(t, s, store.Batch{States: []store.State{{Name: longest, Value: []byte("v")}}})
	assert.Equal(t, map[string]string{longest: "v"}, states(t, s, "nnn"), "a name of MaxNameLen bytes is stored")
	for _, name := range []string{"", longest + "n"} {
		_, err := s.Apply(ctx, store.Batch{States: []store.State{{Name: name, Value: []byte("v")}}})
		assert.Error(t, err, "a name of %d bytes is refused", len(name))
	}
}

func testHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	folder := key("folder", "mbx\x00F1")
	e := put(t, s, email(1, "h@x"), key("msgid", "h@x"), folder)
	other := put(t, s, email(2, "o@x"), folder)
	assert.Empty(t, history(t, s, e.ID), "an email that never changed record has no history")

	before := time.Now()
	require.NoError(t, s.Relink(ctx, e.ID, rec("MANUAL")))
	require.NoError(t, s.Relink(ctx, e.ID, rec("MANUAL")), "a Relink to the same record keeps nothing")
	n, err := s.RelinkKey(ctx, folder, rec("FOLDER"))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = s.RelinkKey(ctx, folder, rec("FOLDER"))
	require.NoError(t, err)
	require.Zero(t, n, "a RelinkKey that changes nothing keeps nothing")
	apply(t, s, store.Batch{Relinks: []store.Relink{{ID: e.ID, Record: rec("NEW"), Change: store.Change{Actor: "carol", Cause: store.CauseConvert}}}})
	after := time.Now()

	h := history(t, s, e.ID)
	assert.Equal(t, []change{
		{e.ID, rec("CAS-001"), rec("MANUAL"), "", store.CauseManual},
		{e.ID, rec("MANUAL"), rec("FOLDER"), "", store.CauseFolder},
		{e.ID, rec("FOLDER"), rec("NEW"), "carol", store.CauseConvert},
	}, changes(h), "Relink is cause manual, RelinkKey cause folder, Apply the cause given; oldest first")
	for i, c := range h {
		within(t, c.Time, before, after, fmt.Sprintf("change %d", i))
		assert.Equal(t, "h@x", c.MessageID)
	}
	for i := 1; i < len(h); i++ {
		assert.False(t, h[i].Time.Before(h[i-1].Time), "oldest first")
	}
	assert.Equal(t, []change{{other.ID, rec("CAS-002"), rec("FOLDER"), "", store.CauseFolder}}, changes(history(t, s, other.ID)),
		"RelinkKey keeps a change for every email it moved")

	_, err = s.History(ctx, 987654)
	assert.ErrorIs(t, err, correlate.ErrNotFound, "an unknown email")
	require.NoError(t, s.Delete(ctx, e.ID))
	_, err = s.History(ctx, e.ID)
	assert.ErrorIs(t, err, correlate.ErrNotFound, "a deleted email's history goes with it")
	assert.Len(t, history(t, s, other.ID), 1, "and only its own")
}

// page reads the whole timeline of r, limit emails a page.
func page(t *testing.T, s store.Store, r correlate.Record, limit int) (all []correlate.Tracked, pages int) {
	t.Helper()
	cur := ""
	for {
		got, next, err := s.Emails(context.Background(), r, limit, cur)
		require.NoError(t, err)
		all = append(all, got...)
		pages++
		if next == "" {
			return all, pages
		}
		require.NotEmpty(t, got, "a page with a next cursor has emails")
		require.Less(t, pages, 1000, "paging ends")
		cur = next
	}
}

// newestFirst sorts ids as Emails must: newest first by Time, then ID.
func newestFirst(ts map[int64]time.Time) []int64 {
	out := make([]int64, 0, len(ts))
	for id := range ts {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b int64) int {
		if c := ts[b].Compare(ts[a]); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	return out
}

func testEmails(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := rec("TIMELINE")
	want := map[int64]time.Time{}
	// Out of time order, as a sync that backfills old mail does, with two
	// emails at the same instant (the later ID is newer).
	for _, n := range []int{5, 1, 9, 3, 7, 7, 2} {
		tr := email(n, "")
		tr.Record = r
		got := put(t, s, tr, key("k", "v"))
		want[got.ID] = got.Time
	}
	put(t, s, email(4, "")) // another record
	bare := email(6, "")    // no record
	bare.Record = correlate.Record{}
	noRec := put(t, s, bare)
	order := newestFirst(want)

	got, next, err := s.Emails(ctx, r, 0, "")
	require.NoError(t, err)
	assert.Equal(t, order, ids(got), "newest first by Time, then ID")
	assert.Empty(t, next, "everything fits one page: no next cursor")
	equalTracked(t, func() correlate.Tracked { x := email(9, ""); x.Record = r; x.ID = got[0].ID; return x }(), got[0],
		"the timeline carries whole tracked emails")

	for _, limit := range []int{1, 2, 3, 7} {
		all, pages := page(t, s, r, limit)
		assert.Equal(t, order, ids(all), "pages of %d concatenate to the timeline", limit)
		assert.Equal(t, (len(order)+limit-1)/limit, pages, "the last full page has no next cursor (limit %d)", limit)
	}
	got, _, err = s.Emails(ctx, correlate.Record{}, 0, "")
	require.NoError(t, err)
	assert.Equal(t, []int64{noRec.ID}, ids(got), "the zero Record lists the emails tracked without a record")
	got, next, err = s.Emails(ctx, rec("NOBODY"), 10, "")
	require.NoError(t, err)
	assert.Empty(t, got, "a record without emails has an empty timeline, not an error")
	assert.Empty(t, next)
	got, _, err = s.Emails(ctx, correlate.Record{Type: "incident"}, 0, "")
	require.NoError(t, err)
	assert.Empty(t, got, "a record's type alone names no record")
}

func testEmailsDefaultLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := rec("BIG")
	var b store.Batch
	for i := range correlate.DefaultLimit + 5 {
		e := entry(i, "")
		e.Tracked.Record = r
		b.Puts = append(b.Puts, e)
	}
	apply(t, s, b)
	for _, limit := range []int{0, -1} {
		got, next, err := s.Emails(ctx, r, limit, "")
		require.NoError(t, err)
		assert.Len(t, got, correlate.DefaultLimit, "limit %d means DefaultLimit", limit)
		require.NotEmpty(t, next)
		rest, next, err := s.Emails(ctx, r, limit, next)
		require.NoError(t, err)
		assert.Len(t, rest, 5)
		assert.Empty(t, next)
	}
}

func testEmailsStable(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := rec("LIVE")
	at := map[int64]time.Time{}
	add := func(n int) int64 {
		tr := email(n, "")
		tr.Record = r
		id := put(t, s, tr).ID
		at[id] = tr.Time
		return id
	}
	for n := 0; n < 60; n += 2 {
		add(n)
	}
	var seen []int64
	expect := map[int64]bool{} // emails that must be seen: those below every cursor
	for id := range at {
		expect[id] = true
	}
	above := map[int64]bool{}
	cur := ""
	for round := 0; ; round++ {
		got, next, err := s.Emails(ctx, r, 7, cur)
		require.NoError(t, err)
		seen = append(seen, ids(got)...)
		if next == "" {
			break
		}
		cur = next
		last := got[len(got)-1]
		// Between pages the timeline changes: a newer email arrives (above
		// the cursor: this paging never sees it), an older one is
		// backfilled (below: it must be seen), an email not yet seen is
		// deleted (it must not be), and so is the email the cursor points
		// after (the cursor stays good).
		above[add(100+round)] = true
		lastMin := int(last.Time.Sub(base) / time.Minute)
		if lastMin > 1 {
			expect[add(lastMin-1-round%2)] = true // odd minutes are free
		}
		for id, tm := range at {
			if tm.Before(last.Time) && expect[id] && !slices.Contains(seen, id) {
				require.NoError(t, s.Delete(ctx, id))
				delete(expect, id)
				break
			}
		}
		require.NoError(t, s.Delete(ctx, last.ID))
	}
	seenSet := map[int64]bool{}
	for _, id := range seen {
		assert.False(t, seenSet[id], "email %d is listed twice", id)
		seenSet[id] = true
		assert.False(t, above[id], "email %d arrived above the cursor and is not listed", id)
	}
	for id := range expect {
		assert.True(t, seenSet[id], "email %d, present below the cursor all along, is listed", id)
	}
	for i := 1; i < len(seen); i++ {
		a, b := at[seen[i-1]], at[seen[i]]
		assert.True(t, a.After(b) || a.Equal(b) && seen[i-1] > seen[i], "newest first across pages")
	}
}

func testEmailsFollow(t *testing.T, s store.Store) {
	ctx := context.Background()
	folder := key("folder", "mbx\x00F9")
	var es []correlate.Tracked
	for i := range 4 {
		tr := email(i, fmt.Sprintf("f%d@x", i))
		tr.Record = rec("A")
		es = append(es, put(t, s, tr, key("msgid", tr.MessageID), folder))
	}
	timeline := func(r correlate.Record) []int64 {
		got, _, err := s.Emails(ctx, r, 0, "")
		require.NoError(t, err)
		return ids(got)
	}
	require.NoError(t, s.Relink(ctx, es[1].ID, rec("B")))
	assert.Equal(t, []int64{es[3].ID, es[2].ID, es[0].ID}, timeline(rec("A")), "a relinked email leaves its old record's timeline")
	assert.Equal(t, []int64{es[1].ID}, timeline(rec("B")), "and joins the new one's")
	apply(t, s, store.Batch{Relinks: []store.Relink{{MessageID: "f3@x", Record: rec("B")}}})
	assert.Equal(t, []int64{es[3].ID, es[1].ID}, timeline(rec("B")), "in time order, also through Apply")
	require.NoError(t, s.Delete(ctx, es[3].ID))
	assert.Equal(t, []int64{es[1].ID}, timeline(rec("B")), "a deleted email leaves the timeline")
	n, err := s.RelinkKey(ctx, folder, rec("C"))
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []int64{es[2].ID, es[1].ID, es[0].ID}, timeline(rec("C")), "RelinkKey moves every email of the key")
	assert.Empty(t, timeline(rec("A")))
	assert.Empty(t, timeline(rec("B")))
}

func testEmailsBadCursor(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := email(1, "")
	tr.Record = rec("R")
	put(t, s, tr)
	for _, c := range []string{"not a cursor", "AAAA", "{\"at\":1}", strings.Repeat("A", 5000)} {
		_, _, err := s.Emails(ctx, rec("R"), 10, c)
		assert.ErrorIs(t, err, store.ErrBadCursor, "cursor %.20q", c)
	}
}

func testScan(t *testing.T, s store.Store) {
	ctx := context.Background()
	var all []correlate.Tracked
	for i := range 6 {
		all = append(all, put(t, s, email(5-i, fmt.Sprintf("s%d@x", i)))) // newest first: ID order is not time order
	}
	require.NoError(t, s.Delete(ctx, all[2].ID))
	live := slices.Delete(slices.Clone(all), 2, 3)
	got, err := s.Scan(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, ids(live), ids(got), "every email in ID order, not time order; deleted ones left out")
	equalTracked(t, live[0], got[0], "Scan carries whole tracked emails")
	got, err = s.Scan(ctx, all[1].ID, 2)
	require.NoError(t, err)
	assert.Equal(t, []int64{all[3].ID, all[4].ID}, ids(got), "after an ID, at most limit")
	got, err = s.Scan(ctx, all[5].ID, 0)
	require.NoError(t, err)
	assert.Empty(t, got, "nothing after the last")

	var b store.Batch
	for i := range correlate.DefaultLimit + 1 {
		b.Puts = append(b.Puts, entry(i, ""))
	}
	apply(t, s, b)
	got, err = s.Scan(ctx, 0, -1)
	require.NoError(t, err)
	assert.Len(t, got, correlate.DefaultLimit, "limit <= 0 means DefaultLimit")
}

func testLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := time.Now()
	l, err := s.Acquire(ctx, "mbx/a", "w1", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "mbx/a", l.Name)
	assert.Equal(t, "w1", l.Holder)
	assert.Positive(t, l.Token)
	assert.WithinDuration(t, before.Add(time.Minute), l.Until, 10*time.Second, "Until is about now plus ttl")

	_, err = s.Acquire(ctx, "mbx/a", "w2", time.Minute)
	assert.ErrorIs(t, err, store.ErrLeaseHeld, "another holder waits for the lease")

	r, err := s.Acquire(ctx, "mbx/a", "w1", 2*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, l.Token, r.Token, "a renewal keeps the Token")
	assert.True(t, r.Until.After(l.Until), "and extends Until")
	apply(t, s, store.Batch{Lease: &l, States: []store.State{{Name: "mbx/a/cursor", Value: []byte("1")}}})
	assert.Equal(t, "1", states(t, s, "mbx/a/")["mbx/a/cursor"], "a batch under a held lease is written (the renewal kept its Token)")

	other, err := s.Acquire(ctx, "mbx/b", "w2", time.Minute)
	require.NoError(t, err, "another name is another lease")
	_, err = s.Apply(ctx, store.Batch{Lease: &store.Lease{Name: other.Name, Holder: "w1", Token: other.Token}})
	assert.ErrorIs(t, err, store.ErrLeaseLost, "a lease is its holder's: the same name and Token under another holder is refused")

	require.NoError(t, s.Release(ctx, r))
	assert.ErrorIs(t, s.Release(ctx, r), store.ErrLeaseLost, "a lease is released once")
	_, err = s.Apply(ctx, store.Batch{Lease: &l, States: []store.State{{Name: "mbx/a/cursor", Value: []byte("2")}}})
	assert.ErrorIs(t, err, store.ErrLeaseLost, "a released lease fences nothing in")
	assert.Equal(t, "1", states(t, s, "mbx/a/")["mbx/a/cursor"])

	n, err := s.Acquire(ctx, "mbx/a", "w2", time.Minute)
	require.NoError(t, err, "a released lease is free at once")
	assert.Greater(t, n.Token, l.Token, "the lease changed hands: a new Token")
	_, err = s.Acquire(ctx, "mbx/c", "w1", 0)
	assert.Error(t, err, "ttl must be positive")
}

func testLeaseExclusive(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []store.Lease
	held := 0
	for w := range workers {
		wg.Go(func() {
			l, err := s.Acquire(ctx, "mbx/shared", fmt.Sprintf("worker-%d", w), time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, l)
			case errors.Is(err, store.ErrLeaseHeld):
				held++
			default:
				t.Errorf("Acquire: %v", err)
			}
		})
	}
	wg.Wait()
	require.Len(t, won, 1, "exactly one of many workers gets the lease")
	assert.Equal(t, workers-1, held, "every other one is told it is held")
	w := won[0]
	again, err := s.Acquire(ctx, "mbx/shared", w.Holder, time.Minute)
	require.NoError(t, err, "the winner holds it")
	assert.Equal(t, w.Token, again.Token)
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	const ttl = 50 * time.Millisecond
	wait := func() { time.Sleep(4 * ttl) }

	l1, err := s.Acquire(ctx, "mbx/t", "w1", ttl)
	require.NoError(t, err)
	wait()
	_, err = s.Apply(ctx, store.Batch{Lease: &l1, States: []store.State{{Name: "t", Value: []byte("late")}}})
	require.ErrorIs(t, err, store.ErrLeaseLost, "an expired lease is lost, even before anyone takes it over")

	l2, err := s.Acquire(ctx, "mbx/t", "w2", time.Minute)
	require.NoError(t, err, "an expired lease can be taken over")
	assert.Greater(t, l2.Token, l1.Token, "the takeover gets a new Token")
	_, err = s.Apply(ctx, store.Batch{
		Lease:   &l1,
		Puts:    []store.Entry{entry(1, "stale@x", key("msgid", "stale@x"))},
		Relinks: []store.Relink{{MessageID: "stale@x", Record: rec("X")}},
		States:  []store.State{{Name: "t", Value: []byte("stale")}},
	})
	require.ErrorIs(t, err, store.ErrLeaseLost, "the stalled worker's batch is refused")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "and writes nothing")
	assert.Empty(t, states(t, s, "t"))
	assert.ErrorIs(t, s.Release(ctx, l1), store.ErrLeaseLost, "the old holder cannot release the new holder's lease")
	apply(t, s, store.Batch{Lease: &l2, States: []store.State{{Name: "t", Value: []byte("new")}}})
	assert.Equal(t, "new", states(t, s, "t")["t"])

	l3, err := s.Acquire(ctx, "mbx/u", "w1", ttl)
	require.NoError(t, err)
	wait()
	l4, err := s.Acquire(ctx, "mbx/u", "w1", time.Minute)
	require.NoError(t, err)
	assert.Greater(t, l4.Token, l3.Token, "a holder that lets its lease expire gets it back with a new Token: its old batches stay refused")
	_, err = s.Apply(ctx, store.Batch{Lease: &l3})
	assert.ErrorIs(t, err, store.ErrLeaseLost)
}

func testLeaseNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	longest := strings.Repeat("m", store.MaxNameLen)
	l, err := s.Acquire(ctx, longest, "w", time.Minute)
	require.NoError(t, err, "a name of MaxNameLen bytes")
	require.NoError(t, s.Release(ctx, l))
	for _, name := range []string{"", longest + "m"} {
		_, err := s.Acquire(ctx, name, "w", time.Minute)
		assert.Error(t, err, "a name of %d bytes is refused", len(name))
	}
	odd, err := s.Acquire(ctx, "mbx/\x00\xff", "w\x00", time.Minute)
	require.NoError(t, err, "names and holders are bytes")
	assert.Equal(t, "w\x00", odd.Holder)
	require.NoError(t, s.Release(ctx, odd))
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
