package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// mail returns the n-th fixture email and its keys: its Message-ID, a
// token, and a conversation shared by every ten emails.
func mail(n int, msgID string) sqlstore.Entry {
	tr := correlate.Tracked{
		MessageID:         msgID,
		Record:            correlate.Record{Type: "incident", ID: fmt.Sprintf("CAS-%05d", n/10)},
		Token:             fmt.Sprintf("CRM:%07d", n),
		ConversationIndex: []byte{1, byte(n >> 8), byte(n)},
		Subject:           fmt.Sprintf("Printer %d offline", n),
		Participants:      []string{"support@fabrikam.example", fmt.Sprintf("c%d@contoso.example", n%50)},
		Mailbox:           "support@fabrikam.example",
		FolderID:          "AAMkAD",
		FolderPath:        "Inbox",
		Direction:         correlate.Direction(n % 2),
		Time:              t0.Add(time.Duration(n) * time.Minute),
		Method:            correlate.InReplyTo,
	}
	keys := []correlate.Key{
		{Kind: "token", Value: tr.Token},
		{Kind: "conv", Value: fmt.Sprintf("C%05d", n/10)},
	}
	if msgID != "" {
		keys = append(keys, correlate.MessageIDKey(msgID))
	}
	return sqlstore.Entry{Tracked: tr, Keys: keys}
}

func TestPutBatch(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		ctx := context.Background()
		s := open(t, &sqlstore.Options{BatchSize: 3}) // several chunks per batch
		stored, err := s.Put(ctx, mail(0, "old@x").Tracked, mail(0, "old@x").Keys)
		require.NoError(t, err)

		dupKeys := mail(7, "")
		dupKeys.Keys = append(dupKeys.Keys, dupKeys.Keys...)
		batch := []sqlstore.Entry{
			mail(1, "a@x"),
			mail(2, "b@x"),
			mail(3, "old@x"), // already stored
			mail(4, "a@x"),   // repeats entry 0
			mail(5, ""),      // no Message-ID: never a duplicate
			mail(6, ""),
			dupKeys,
			mail(8, "c@x"),
		}
		res, err := s.PutBatch(ctx, batch)
		require.NoError(t, err)
		require.Len(t, res, len(batch), "one Result per Entry")

		cases := []struct {
			i      int
			exists bool
			sameAs int64 // the ID the result must carry when it exists
			reason string
		}{
			{0, false, 0, "a new Message-ID is stored"},
			{1, false, 0, "a new Message-ID is stored"},
			{2, true, stored.ID, "a Message-ID stored before the batch is refused and the stored email returned, as Put does"},
			{3, true, res[0].Tracked.ID, "a Message-ID repeated inside the batch is stored once, the first time"},
			{4, false, 0, "emails without a Message-ID never collide"},
			{5, false, 0, "emails without a Message-ID never collide"},
			{6, false, 0, "repeated keys do not make an entry fail"},
			{7, false, 0, "entries after refused ones are still stored"},
		}
		var last int64
		for _, c := range cases {
			r := res[c.i]
			assert.Equal(t, c.exists, r.Exists, "entry %d: %s", c.i, c.reason)
			if c.exists {
				assert.Equal(t, c.sameAs, r.Tracked.ID, "entry %d: %s", c.i, c.reason)
				continue
			}
			assert.Greater(t, r.Tracked.ID, last, "entry %d: IDs increase in batch order", c.i)
			last = r.Tracked.ID
			got, err := s.Get(ctx, r.Tracked.ID)
			require.NoError(t, err)
			want := batch[c.i].Tracked
			want.ID = r.Tracked.ID
			assert.True(t, want.Time.Equal(got.Time))
			want.Time, got.Time = time.Time{}, time.Time{}
			assert.Equal(t, want, got, "entry %d round-trips: %s", c.i, c.reason)
		}
		assert.Equal(t, "CAS-00000", res[2].Tracked.Record.ID, "the stored email is returned, not the refused one")

		st, err := s.Stats(ctx)
		require.NoError(t, err)
		// Stored: old@x (3 keys) + entries 0, 1, 7 (3 keys each) + 4, 5, 6 (2 keys each).
		assert.Equal(t, correlate.Stats{Emails: 7, Keys: 4*3 + 3*2}, st)

		n, err := s.Count(ctx, correlate.Key{Kind: "token", Value: "CRM:0000004"})
		require.NoError(t, err)
		assert.Zero(t, n, "a refused entry stores none of its keys")
		ts, err := s.Lookup(ctx, correlate.Key{Kind: "conv", Value: "C00000"}, correlate.Query{})
		require.NoError(t, err)
		assert.Len(t, ts, 9-2, "emails 0..8 share a conversation; 3 and 4 were refused")

		// A preset ID is a caller bug and stores nothing.
		bad := []sqlstore.Entry{mail(20, "p@x"), mail(21, "q@x")}
		bad[1].Tracked.ID = 99
		_, err = s.PutBatch(ctx, bad)
		require.Error(t, err)
		n, err = s.Count(ctx, correlate.MessageIDKey("p@x"))
		require.NoError(t, err)
		assert.Zero(t, n, "a batch with a preset ID stores nothing")

		res, err = s.PutBatch(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, res)
	})
}

// TestPutBatchLarge writes one batch bigger than a chunk and finds every
// email again through each of its keys.
func TestPutBatchLarge(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		ctx := context.Background()
		s := open(t, &sqlstore.Options{BatchSize: 250})
		const n = 1000
		batch := make([]sqlstore.Entry, n)
		for i := range batch {
			batch[i] = mail(i, fmt.Sprintf("m%d@x", i))
		}
		res, err := s.PutBatch(ctx, batch)
		require.NoError(t, err)
		for i, r := range res {
			require.False(t, r.Exists)
			ts, err := s.Lookup(ctx, correlate.MessageIDKey(fmt.Sprintf("m%d@x", i)), correlate.Query{})
			require.NoError(t, err)
			require.Len(t, ts, 1)
			require.Equal(t, r.Tracked.ID, ts[0].ID)
		}
		ts, err := s.Lookup(ctx, correlate.Key{Kind: "conv", Value: "C00042"}, correlate.Query{Limit: -1})
		require.NoError(t, err)
		assert.Len(t, ts, 10)
		st, err := s.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, correlate.Stats{Emails: n, Keys: 3 * n}, st)

		// The same batch again stores nothing and returns the stored emails.
		again, err := s.PutBatch(ctx, batch)
		require.NoError(t, err)
		for i := range again {
			assert.True(t, again[i].Exists)
			assert.Equal(t, res[i].Tracked.ID, again[i].Tracked.ID)
		}
	})
}
