package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// lookupIDs returns the IDs of the emails under k, newest first.
func lookupIDs(t *testing.T, s correlate.Store, k correlate.Key) []int64 {
	t.Helper()
	res, err := s.Lookup(context.Background(), k, correlate.Query{Limit: -1})
	require.NoError(t, err)
	return ids(res)
}

func testApplyMoves(t *testing.T, s store.Store) {
	ctx := context.Background()
	folderA, folderB := key("folder", "support@example.com\x00A"), key("folder", "support@example.com\x00B")
	long := key("folder", "support@example.com\x00"+strings.Repeat("L", 3000))
	e1 := put(t, s, email(1, "e1@x"), key("msgid", "e1@x"), folderA, key("token", "T1"))
	e3 := put(t, s, email(3, "e3@x"), key("msgid", "e3@x"), folderA)

	res := apply(t, s, store.Batch{Moves: []store.Move{{ID: e1.ID, FolderID: "B", FolderPath: "Inbox/B", Drop: []correlate.Key{folderA}, Add: []correlate.Key{folderB}}}})
	assert.Empty(t, res.Changes, "a Move is no change of record")
	got, err := s.Get(ctx, e1.ID)
	require.NoError(t, err)
	want := e1
	want.FolderID, want.FolderPath = "B", "Inbox/B"
	equalTracked(t, want, got, "a Move changes the folder and nothing else")
	assert.Equal(t, []int64{e3.ID}, lookupIDs(t, s, folderA), "the old folder's key no longer names the email, and still names the other")
	assert.Equal(t, []int64{e1.ID}, lookupIDs(t, s, folderB), "the new folder's key names it")
	assert.Equal(t, []int64{e1.ID}, lookupIDs(t, s, key("token", "T1")), "its other keys stay")
	assert.Equal(t, []int64{e1.ID}, lookupIDs(t, s, key("msgid", "e1@x")))
	n, err := s.Count(ctx, folderA)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "Count follows the Move")
	assert.Empty(t, history(t, s, e1.ID), "and keeps no history")

	// By Message-ID, a Put of the same batch; a key added twice or already
	// there is stored once; a key dropped that the email does not have
	// leaves the emails that have it; a Relink in the same batch.
	res = apply(t, s, store.Batch{
		Puts:    []store.Entry{entry(2, "e2@x", key("msgid", "e2@x"), folderA)},
		Relinks: []store.Relink{{MessageID: "e2@x", Record: rec("R9")}},
		Moves: []store.Move{
			{MessageID: "e2@x", FolderID: "B", FolderPath: "Inbox/B", Drop: []correlate.Key{folderA}, Add: []correlate.Key{folderB, folderB}},
			{ID: e1.ID, FolderID: "B", FolderPath: "Inbox/B", Drop: []correlate.Key{key("token", "none")}, Add: []correlate.Key{folderB}},
			{ID: e3.ID, FolderID: "F1", FolderPath: "Inbox/Cases", Drop: []correlate.Key{folderB}},
		},
	})
	e2 := res.Tracked[0]
	assert.Equal(t, "F1", e2.FolderID, "Result.Tracked is the email as put, before the batch's Moves")
	require.Len(t, res.Changes, 1, "the Relink")
	got, err = s.Get(ctx, e2.ID)
	require.NoError(t, err)
	assert.Equal(t, "B", got.FolderID)
	assert.Equal(t, rec("R9"), got.Record, "the Move keeps the record the Relink gave")
	assert.Equal(t, []int64{e3.ID}, lookupIDs(t, s, folderA), "the moved Put is not under its first folder, the other email still is")
	assert.Equal(t, []int64{e2.ID, e1.ID}, lookupIDs(t, s, folderB), "each email once under the new folder, newest first")
	n, err = s.Count(ctx, folderB)
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	// Keys longer than the index keeps whole.
	apply(t, s, store.Batch{Moves: []store.Move{{ID: e1.ID, FolderID: "L", FolderPath: "Inbox/L", Drop: []correlate.Key{folderB}, Add: []correlate.Key{long}}}})
	assert.Equal(t, []int64{e1.ID}, lookupIDs(t, s, long), "a long key added by a Move")
	assert.Equal(t, []int64{e2.ID}, lookupIDs(t, s, folderB))
	apply(t, s, store.Batch{Moves: []store.Move{{ID: e1.ID, FolderID: "B", FolderPath: "Inbox/B", Drop: []correlate.Key{long}, Add: []correlate.Key{folderB}}}})
	assert.Empty(t, lookupIDs(t, s, long), "and dropped by one")

	// A Move that cannot be made undoes the whole batch.
	before, err := s.Stats(ctx)
	require.NoError(t, err)
	for name, mv := range map[string]store.Move{
		"UnknownID":        {ID: 987654, FolderID: "C", Add: []correlate.Key{folderA}},
		"UnknownMessageID": {MessageID: "nobody@x", FolderID: "C", Add: []correlate.Key{folderA}},
		"MessageIDKey":     {ID: e1.ID, FolderID: "C", Drop: []correlate.Key{key("msgid", "e1@x")}},
		"NoEmail":          {FolderID: "C"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Apply(ctx, store.Batch{
				Puts:   []store.Entry{entry(4, "new@x", key("msgid", "new@x"), folderA)},
				Moves:  []store.Move{{ID: e1.ID, FolderID: "C", FolderPath: "Inbox/C", Drop: []correlate.Key{folderB}, Add: []correlate.Key{folderA}}, mv},
				States: []store.State{{Name: "moves/1", Value: []byte("v")}},
			})
			require.Error(t, err)
			if strings.HasPrefix(name, "Unknown") {
				require.ErrorIs(t, err, correlate.ErrNotFound, "a Move of an email that does not exist fails the batch")
			}
			after, err := s.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, before, after, "no email or key of the batch remains")
			assert.Empty(t, lookupIDs(t, s, key("msgid", "new@x")), "the batch's Put is undone")
			got, err := s.Get(ctx, e1.ID)
			require.NoError(t, err)
			assert.Equal(t, "B", got.FolderID, "the batch's first Move is undone")
			assert.Equal(t, []int64{e3.ID}, lookupIDs(t, s, folderA), "with its keys")
			assert.Equal(t, []int64{e2.ID, e1.ID}, lookupIDs(t, s, folderB))
			assert.Empty(t, states(t, s, "moves/"), "the batch's States are undone")
		})
	}
}
