package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// TestHostileStrings stores the strings strangers put in mail: every one
// must round-trip byte for byte and be found again under its key.
func TestHostileStrings(t *testing.T) {
	cases := []struct {
		name, s, reason string
	}{
		{"NUL", "a\x00b", "PostgreSQL TEXT cannot hold NUL; the store must not lose or refuse it"},
		{"InvalidUTF8", "caf\xe9 \xff\xfe", "Latin-1 bytes in an undeclared header are not UTF-8"},
		{"Empty", "", "an empty value is a value, not NULL"},
		{"Quotes", `'); DROP TABLE mc_email; --`, "values are bound, never spliced into SQL"},
		{"Backslashes", `\x00\\`, "bytea escape syntax in a string is only text"},
		{"Long", strings.Repeat("Ünïcødé ", 5000), "a 45 kB subject"},
		{"Emoji", "Re: 🖨️ printer", "4-byte UTF-8"},
	}
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		ctx := context.Background()
		s := open(t, nil)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				in := correlate.Tracked{
					MessageID:         "id" + c.s + fmt.Sprint(i),
					Record:            correlate.Record{Type: c.s, ID: c.s},
					Token:             c.s,
					ConversationIndex: []byte(c.s),
					Subject:           c.s,
					Participants:      []string{c.s, "", c.s + "@x"},
					Mailbox:           c.s,
					FolderID:          c.s,
					FolderPath:        c.s,
					Time:              t0.Add(time.Duration(i) * time.Second),
				}
				k := correlate.Key{Kind: c.s + "kind", Value: c.s}
				got, err := s.Put(ctx, in, []correlate.Key{k})
				require.NoError(t, err, c.reason)
				back, err := s.Get(ctx, got.ID)
				require.NoError(t, err, c.reason)
				in.ID = got.ID
				if len(in.ConversationIndex) == 0 {
					in.ConversationIndex = nil
				}
				assert.True(t, in.Time.Equal(back.Time))
				back.Time = in.Time
				assert.Equal(t, in, back, c.reason)
				ts, err := s.Lookup(ctx, k, correlate.Query{})
				require.NoError(t, err, c.reason)
				require.Len(t, ts, 1, c.reason)
				assert.Equal(t, got.ID, ts[0].ID, c.reason)
				_, err = s.Put(ctx, correlate.Tracked{MessageID: in.MessageID, Time: t0}, nil)
				assert.ErrorIs(t, err, correlate.ErrExists, "the Message-ID is matched exactly: %s", c.reason)
			})
		}
	})
}

// TestTimes checks what a store keeps of a time: the instant to the
// microsecond, finer digits dropped, and windows bounded exactly.
func TestTimes(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		ctx := context.Background()
		s := open(t, nil)
		at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
		k := correlate.Key{Kind: "t", Value: "1"}
		got, err := s.Put(ctx, correlate.Tracked{Time: at}, []correlate.Key{k})
		require.NoError(t, err)
		back, err := s.Get(ctx, got.ID)
		require.NoError(t, err)
		assert.Equal(t, at.Truncate(time.Microsecond).UTC(), back.Time, "kept to the microsecond, in UTC")

		stored := at.Truncate(time.Microsecond)
		cases := []struct {
			q      correlate.Query
			want   int
			reason string
		}{
			{correlate.Query{Since: stored}, 1, "Since is inclusive"},
			{correlate.Query{Since: stored.Add(time.Nanosecond)}, 0, "a Since after the stored instant, even by a nanosecond, excludes it"},
			{correlate.Query{Until: stored}, 0, "Until is exclusive"},
			{correlate.Query{Until: stored.Add(time.Nanosecond)}, 1, "an Until after the stored instant includes it"},
			{correlate.Query{Since: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, 1, "a window reaching far into the past"},
		}
		for _, c := range cases {
			ts, err := s.Lookup(ctx, k, c.q)
			require.NoError(t, err)
			assert.Len(t, ts, c.want, c.reason)
		}
	})
}

// TestAgainstMemstore runs the same random history of puts, deletes and
// relinks on memstore and on a sqlstore, then asks both the same random
// questions: the answers must be identical. memstore is the reference
// implementation of the contract; this catches what the contract's fixed
// cases miss (windows, ties, limits).
func TestAgainstMemstore(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		ctx := context.Background()
		ref := memstore.New()
		s := open(t, nil)
		rng := rand.New(rand.NewPCG(7, 11))
		key := func() correlate.Key {
			return correlate.Key{Kind: string(rune('a' + rng.IntN(3))), Value: fmt.Sprint(rng.IntN(8))}
		}
		const emails = 400
		at := func() time.Time { // few distinct times: many ties
			return t0.Add(time.Duration(rng.IntN(60)) * time.Minute)
		}
		var ids []int64
		for i := 0; i < emails; i++ {
			tr := correlate.Tracked{MessageID: fmt.Sprintf("m%d@x", i), Record: correlate.Record{Type: "incident", ID: fmt.Sprint(i % 7)}, Time: at()}
			var keys []correlate.Key
			for range rng.IntN(5) {
				keys = append(keys, key())
			}
			a, errA := ref.Put(ctx, tr, keys)
			b, errB := s.Put(ctx, tr, keys)
			require.NoError(t, errA)
			require.NoError(t, errB)
			require.Equal(t, a.ID, b.ID, "both stores number emails 1, 2, 3 …")
			ids = append(ids, a.ID)
			switch r := rng.IntN(20); {
			case r == 0:
				victim := ids[rng.IntN(len(ids))]
				assert.Equal(t, ref.Delete(ctx, victim) == nil, s.Delete(ctx, victim) == nil, "delete %d", victim)
			case r == 1:
				k, rec := key(), correlate.Record{Type: "incident", ID: "R" + fmt.Sprint(rng.IntN(3))}
				na, errA := ref.RelinkKey(ctx, k, rec)
				nb, errB := s.RelinkKey(ctx, k, rec)
				require.NoError(t, errA)
				require.NoError(t, errB)
				assert.Equal(t, na, nb, "RelinkKey %v changes the same number of emails", k)
			}
		}
		window := func() correlate.Query {
			var q correlate.Query
			if rng.IntN(2) == 0 {
				q.Since = t0.Add(time.Duration(rng.IntN(60))*time.Minute + time.Duration(rng.IntN(3)-1)*time.Nanosecond)
			}
			if rng.IntN(2) == 0 {
				q.Until = t0.Add(time.Duration(rng.IntN(60))*time.Minute + time.Duration(rng.IntN(3)-1)*time.Nanosecond)
			}
			q.Limit = []int{0, -1, 1, 3, 10}[rng.IntN(5)]
			return q
		}
		view := func(ts []correlate.Tracked) []string {
			out := make([]string, len(ts))
			for i, t := range ts {
				out[i] = fmt.Sprintf("%d:%s@%s", t.ID, t.Record, t.Time.UTC().Format(time.TimeOnly))
			}
			return out
		}
		for range 300 {
			k, q := key(), window()
			a, errA := ref.Lookup(ctx, k, q)
			b, errB := s.Lookup(ctx, k, q)
			require.NoError(t, errA)
			require.NoError(t, errB)
			require.Equal(t, view(a), view(b), "Lookup(%v, %+v)", k, q)
			na, _ := ref.Count(ctx, k)
			nb, err := s.Count(ctx, k)
			require.NoError(t, err)
			require.Equal(t, na, nb, "Count(%v)", k)
		}
		sa, _ := ref.Stats(ctx)
		sb, err := s.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, sa, sb)
	})
}

// TestDelete removes emails through the key list stored on their row: with
// a key list this package did not write (a damaged row) it still finds every
// posting, and of workers deleting one email at once exactly one succeeds.
func TestDelete(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		ctx := context.Background()
		s := open(t, nil)
		var ids []int64
		for i := 0; i < 3; i++ {
			e := mail(i, fmt.Sprintf("d%d@x", i))
			got, err := s.Put(ctx, e.Tracked, e.Keys)
			require.NoError(t, err)
			ids = append(ids, got.ID)
		}
		_, err := sqlstore.DB(s).ExecContext(ctx, "UPDATE mc_email SET index_keys = $1 WHERE id = $2", []byte{0x80}, ids[0])
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, ids[0]), "an unreadable key list is no reason to keep an email")
		st, err := s.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, correlate.Stats{Emails: 2, Keys: 6}, st, "the damaged email's postings were found by scanning")

		var wg sync.WaitGroup
		var ok, notFound atomic.Int32
		for range 8 {
			wg.Go(func() {
				switch err := s.Delete(ctx, ids[1]); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, correlate.ErrNotFound):
					notFound.Add(1)
				default:
					t.Errorf("Delete: %v", err)
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, ok.Load(), "one worker deletes the email")
		assert.EqualValues(t, 7, notFound.Load(), "the others find it gone")
		st, err = s.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, correlate.Stats{Emails: 1, Keys: 3}, st)
		n, err := s.Count(ctx, correlate.Key{Kind: "conv", Value: "C00000"})
		require.NoError(t, err)
		assert.Equal(t, 1, n, "only the remaining email is under the shared key")
	})
}
