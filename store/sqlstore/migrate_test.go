package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// TestMigrateLongValues makes a database as version 1 of the schema left
// it, with index values the indexes now keep hashed — a Message-ID and a
// key of 1,500 bytes (version 1 on PostgreSQL took up to about 2,700), a
// short value that begins with the hash prefix, a long sequence name — and
// opens it with this version: migration 2 rewrites them, and every read
// finds them as before.
func TestMigrateLongValues(t *testing.T) {
	ctx := context.Background()
	run := func(t *testing.T, url string, opts *sqlstore.Options, pg bool) {
		old, err := sqlstore.OpenAt(ctx, url, opts, 1)
		require.NoError(t, err)
		db := sqlstore.DB(old)
		str := func(v string) any {
			if pg {
				return []byte(v)
			}
			return v
		}
		longID := strings.Repeat("i", 1500) + "@example.com"
		longAddr := strings.Repeat("a", 1500) + "@example.com"
		marked := sqlstore.HashedPrefix + "not a hash"
		longSeq := strings.Repeat("s", 1500)
		emails := []struct {
			id    int64
			msgID string
			keys  []correlate.Key
		}{
			{1, longID, []correlate.Key{correlate.MessageIDKey(longID), {Kind: "sm.addr", Value: longAddr}, {Kind: "k", Value: marked}}},
			{2, "short@example.com", []correlate.Key{correlate.MessageIDKey("short@example.com"), {Kind: "sm.addr", Value: longAddr}}},
		}
		for _, e := range emails {
			at := t0.Add(time.Duration(e.id) * time.Hour).UnixMicro()
			_, err := db.ExecContext(ctx, `INSERT INTO mc_email (id, message_id, record_type, record_id, token, subject, mailbox,
				folder_id, folder_path, direction, at, method, correlated_with, parent, index_keys)
				VALUES ($1, $2, $3, $4, $5, $5, $5, $5, $5, 0, $6, 3, 0, 0, $7)`,
				e.id, str(e.msgID), str("incident"), str("CAS-1"), str(""), at, sqlstore.EncodeKeys(e.keys))
			require.NoError(t, err)
			for _, k := range e.keys {
				_, err := db.ExecContext(ctx, "INSERT INTO mc_key (kind, value, at, email) VALUES ($1, $2, $3, $4)",
					str(k.Kind), str(k.Value), at, e.id)
				require.NoError(t, err)
			}
		}
		if pg {
			_, err = db.ExecContext(ctx, "SELECT setval('mc_email_id_seq', 2)")
		} else {
			_, err = db.ExecContext(ctx, "INSERT INTO sqlite_sequence (name, seq) VALUES ('mc_email', 2)")
		}
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "INSERT INTO mc_sequence (name, value) VALUES ($1, 7)", str(longSeq))
		require.NoError(t, err)
		require.NoError(t, old.Close())

		s, err := sqlstore.Open(ctx, url, opts)
		require.NoError(t, err, "migration 2 runs on a database of version 1")
		defer s.Close()
		for _, k := range emails[0].keys {
			got, err := s.Lookup(ctx, k, correlate.Query{})
			require.NoError(t, err)
			require.NotEmpty(t, got, "the key %.20q… (%d bytes) is found after the migration", k.Value, len(k.Value))
			assert.EqualValues(t, 1, got[len(got)-1].ID)
		}
		got, err := s.Get(ctx, 1)
		require.NoError(t, err)
		assert.Equal(t, longID, got.MessageID, "the Message-ID is read whole")
		_, err = s.Put(ctx, correlate.Tracked{MessageID: longID}, nil)
		assert.ErrorIs(t, err, correlate.ErrExists, "the long Message-ID stays unique")
		n, err := s.NextSequence(ctx, longSeq)
		require.NoError(t, err)
		assert.EqualValues(t, 8, n, "a sequence with a long name goes on counting")
		page, _, err := s.Emails(ctx, correlate.Record{Type: "incident", ID: "CAS-1"}, 0, "")
		require.NoError(t, err)
		assert.Equal(t, []int64{2, 1}, idsOf(page), "the emails stored before have a timeline")
		require.NoError(t, s.Delete(ctx, 1))
		n2, err := s.Count(ctx, correlate.Key{Kind: "sm.addr", Value: longAddr})
		require.NoError(t, err)
		assert.Equal(t, 1, n2, "Delete finds the rewritten keys")
		var long int
		q := "SELECT count(*) FROM mc_key WHERE length(value) > $1"
		if !pg {
			q = "SELECT count(*) FROM mc_key WHERE length(CAST(value AS BLOB)) > $1"
		}
		require.NoError(t, sqlstore.DB(s).QueryRowContext(ctx, q, sqlstore.MaxIndexed).Scan(&long))
		assert.Zero(t, long, "no index value is longer than MaxIndexed")
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, "sqlite:"+t.TempDir()+"/ledger.db", nil, false)
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgURL(t)
		run(t, url, &sqlstore.Options{Schema: newSchema(t, url)}, true)
	})
}

func idsOf(ts []correlate.Tracked) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// TestHashedValuesDoNotCollide stores a long key value and Message-ID
// beside short ones forged to look like their hashes (the hash prefix and
// the SHA-256 of the long one): each is found alone, and neither is taken
// for a duplicate of the other.
func TestHashedValuesDoNotCollide(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		ctx := context.Background()
		s := open(t, nil)
		long := strings.Repeat("x", sqlstore.MaxIndexed+1)
		sum := sha256.Sum256([]byte(long))
		forged := sqlstore.HashedPrefix + string(sum[:])
		require.Equal(t, forged, sqlstore.IndexValue(long), "the forgery is what the index would keep of the long value")
		k1, k2 := correlate.Key{Kind: "v", Value: long}, correlate.Key{Kind: "v", Value: forged}
		a, err := s.Put(ctx, correlate.Tracked{MessageID: long}, []correlate.Key{k1})
		require.NoError(t, err)
		b, err := s.Put(ctx, correlate.Tracked{MessageID: forged}, []correlate.Key{k2})
		require.NoError(t, err, "the forged Message-ID is not a duplicate of the long one")
		for k, want := range map[correlate.Key]int64{k1: a.ID, k2: b.ID} {
			got, err := s.Lookup(ctx, k, correlate.Query{})
			require.NoError(t, err)
			assert.Equal(t, []int64{want}, idsOf(got), "the key of %d bytes finds its own email", len(k.Value))
		}
		back, err := s.Get(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, forged, back.MessageID)
		exact := strings.Repeat("y", sqlstore.MaxIndexed)
		assert.Equal(t, exact, sqlstore.IndexValue(exact), "MaxIndexed bytes are kept as they are")
	})
}
