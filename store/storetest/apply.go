package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

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
