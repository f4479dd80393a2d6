package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

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
