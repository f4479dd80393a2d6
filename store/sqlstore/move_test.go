package sqlstore_test

import (
	"context"
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
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// Keys of the Move tests: folder keys of one mailbox, and one too long for
// the index to keep whole.
var (
	mvMsg   = correlate.Key{Kind: correlate.KindMessageID, Value: "m@x"}
	mvA     = correlate.Key{Kind: "folder", Value: "support@example.com\x00A"}
	mvB     = correlate.Key{Kind: "folder", Value: "support@example.com\x00B"}
	mvC     = correlate.Key{Kind: "folder", Value: "support@example.com\x00C"}
	mvToken = correlate.Key{Kind: "token", Value: "CRM:0001001"}
	mvLong  = correlate.Key{Kind: "folder", Value: "support@example.com\x00" + strings.Repeat("L", 3000)}
)

// putMoved stores the one email of a Move test, under mvMsg, mvA and
// mvToken, and returns its ID.
func putMoved(t *testing.T, s *sqlstore.Store) int64 {
	t.Helper()
	tr, err := s.Put(context.Background(), correlate.Tracked{MessageID: "m@x", FolderID: "A", FolderPath: "Inbox/A",
		Time: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, []correlate.Key{mvMsg, mvA, mvToken})
	require.NoError(t, err)
	return tr.ID
}

// keyList returns the stored key list (index_keys) of email id.
func keyList(t *testing.T, s *sqlstore.Store, id int64) []byte {
	t.Helper()
	var col []byte
	require.NoError(t, sqlstore.DB(s).QueryRow("SELECT index_keys FROM mc_email WHERE id = $1", id).Scan(&col))
	return col
}

// requireDeletedClean deletes email id, the only email stored, and
// requires that no posting outlives it: Delete removes the postings its
// key list names, so a Move that left the list behind its postings leaves
// one.
func requireDeletedClean(t *testing.T, s *sqlstore.Store, id int64) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Delete(ctx, id))
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, correlate.Stats{}, st, "no email, no posting left")
}

// TestMoveKeyList checks what a Move leaves of the email's postings and of
// its key list, which Delete follows and no contract read shows.
func TestMoveKeyList(t *testing.T) {
	cases := []struct {
		name  string
		moves []store.Move // of the email, named by ID
		want  []correlate.Key
		why   string
	}{
		{"drop-and-add", []store.Move{{Drop: []correlate.Key{mvA}, Add: []correlate.Key{mvB}}},
			[]correlate.Key{mvMsg, mvToken, mvB}, "the dropped key leaves the list, the added one joins its end"},
		{"in-both", []store.Move{{Drop: []correlate.Key{mvA, mvB}, Add: []correlate.Key{mvB, mvA, mvA}}},
			[]correlate.Key{mvMsg, mvA, mvToken, mvB}, "a key in Drop and Add ends up added: A stays where it was, B joins once"},
		{"lacking-and-having", []store.Move{{Drop: []correlate.Key{mvC}, Add: []correlate.Key{mvToken}}},
			[]correlate.Key{mvMsg, mvA, mvToken}, "dropping a key it lacks and adding one it has change nothing"},
		{"two-in-one-batch", []store.Move{{Drop: []correlate.Key{mvA}, Add: []correlate.Key{mvB}}, {Drop: []correlate.Key{mvB}, Add: []correlate.Key{mvC}}},
			[]correlate.Key{mvMsg, mvToken, mvC}, "the second Move starts from the list the first left"},
		{"long", []store.Move{{Drop: []correlate.Key{mvA}, Add: []correlate.Key{mvLong}}},
			[]correlate.Key{mvMsg, mvToken, mvLong}, "the list keeps a long key whole, its posting is hashed"},
		{"none", []store.Move{{}},
			[]correlate.Key{mvMsg, mvA, mvToken}, "a Move of the folder fields alone keeps every key"},
	}
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := open(t, nil)
				ctx := context.Background()
				id := putMoved(t, s)
				moves := make([]store.Move, len(c.moves))
				for i, mv := range c.moves {
					mv.ID, mv.FolderID, mv.FolderPath = id, fmt.Sprint("F", i), fmt.Sprint("Inbox/F", i)
					moves[i] = mv
				}
				_, err := s.Apply(ctx, store.Batch{Moves: moves})
				require.NoError(t, err)
				assert.Equal(t, sqlstore.EncodeKeys(c.want), keyList(t, s, id), c.why)
				for _, k := range []correlate.Key{mvMsg, mvA, mvB, mvC, mvToken, mvLong} {
					n, err := s.Count(ctx, k)
					require.NoError(t, err)
					want := 0
					if slices.Contains(c.want, k) {
						want = 1
					}
					assert.Equal(t, want, n, "postings of %.30q follow the list (%s)", k.Value, c.why)
				}
				got, err := s.Get(ctx, id)
				require.NoError(t, err)
				last := len(c.moves) - 1
				assert.Equal(t, fmt.Sprint("F", last), got.FolderID, "the last Move's folder")
				requireDeletedClean(t, s, id)
			})
		}
	})
}

// TestMoveUnreadableKeyList moves an email whose key list cannot be read:
// the Move still moves its postings and leaves the list as it is, and
// Delete, which then scans the key table for the email's postings, still
// leaves none behind.
func TestMoveUnreadableKeyList(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		s := open(t, nil)
		ctx := context.Background()
		id := putMoved(t, s)
		corrupt := []byte{0xff}
		_, err := sqlstore.DB(s).Exec("UPDATE mc_email SET index_keys = $1 WHERE id = $2", corrupt, id)
		require.NoError(t, err)
		_, err = s.Apply(ctx, store.Batch{Moves: []store.Move{{ID: id, FolderID: "B", Drop: []correlate.Key{mvA}, Add: []correlate.Key{mvB}}}})
		require.NoError(t, err)
		assert.Equal(t, corrupt, keyList(t, s, id), "a list that cannot be read is not rewritten")
		n, err := s.Count(ctx, mvB)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "the added posting")
		n, err = s.Count(ctx, mvA)
		require.NoError(t, err)
		assert.Zero(t, n, "the dropped one")
		requireDeletedClean(t, s, id)
	})
}

// dumpRows returns every row of the tables a batch with Moves writes, as
// text: the state of the database to compare before and after a batch
// that failed.
func dumpRows(t *testing.T, s *sqlstore.Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT kind, value, at, email FROM mc_key ORDER BY kind, value, at, email",
		"SELECT id, folder_id, folder_path, index_keys FROM mc_email ORDER BY id",
		"SELECT name, value FROM mc_state ORDER BY name",
	} {
		rs, err := sqlstore.DB(s).Query(q)
		require.NoError(t, err)
		cols, err := rs.Columns()
		require.NoError(t, err)
		for rs.Next() {
			vals := make([][]byte, len(cols))
			dest := make([]any, len(cols))
			for i := range vals {
				dest[i] = &vals[i]
			}
			require.NoError(t, rs.Scan(dest...))
			fmt.Fprintf(&b, "%q\n", vals)
		}
		require.NoError(t, rs.Err())
		rs.Close()
	}
	return b.String()
}

// TestMoveRolledBack makes batches whose Moves are made and then undone,
// because a later part of the batch fails: the key table, the emails and
// the states must be, byte for byte, as before. The lease case is the
// lease check of the path PostgreSQL takes for a batch with Moves, which
// is not the pipeline's.
func TestMoveRolledBack(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		s := open(t, nil)
		ctx := context.Background()
		id := putMoved(t, s)
		lost, err := s.Acquire(ctx, "mailbox", "w1", time.Hour)
		require.NoError(t, err)
		require.NoError(t, s.Release(ctx, lost))
		before := dumpRows(t, s)
		for _, c := range []struct {
			name  string
			lease *store.Lease
			last  store.Move
			is    error
		}{
			{"unknown-email", nil, store.Move{ID: id + 1000, FolderID: "C"}, correlate.ErrNotFound},
			{"unknown-message-id", nil, store.Move{MessageID: "nobody@x", FolderID: "C"}, correlate.ErrNotFound},
			{"lease-lost", &lost, store.Move{ID: id, FolderID: "C", Add: []correlate.Key{mvC}}, store.ErrLeaseLost},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := s.Apply(ctx, store.Batch{
					Lease: c.lease,
					Puts:  []store.Entry{{Tracked: correlate.Tracked{MessageID: "n@x", FolderID: "A"}, Keys: []correlate.Key{{Kind: correlate.KindMessageID, Value: "n@x"}, mvA}}},
					Moves: []store.Move{
						{ID: id, FolderID: "B", Drop: []correlate.Key{mvA}, Add: []correlate.Key{mvB, mvLong}},
						{MessageID: "n@x", FolderID: "B", Drop: []correlate.Key{mvA}, Add: []correlate.Key{mvB}},
						c.last,
					},
					States: []store.State{{Name: "imap/a", Value: []byte("1")}},
				})
				require.ErrorIs(t, err, c.is)
				assert.Equal(t, before, dumpRows(t, s), "nothing of the batch remains")
			})
		}
	})
}

// TestMoveConcurrent moves one email back and forth between two folders
// from several goroutines, in transactions of their own: whatever order
// they commit in, the email ends up under the key of the folder it is in
// and no other, and its key list says so. (TestMoveAfterConcurrentMove
// makes the race that matters deterministically.)
func TestMoveConcurrent(t *testing.T) {
	const workers, moves = 4, 10
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		s := open(t, nil)
		ctx := context.Background()
		id := putMoved(t, s)
		folders := map[string]correlate.Key{"A": mvA, "B": mvB}
		var wg sync.WaitGroup
		errs := make(chan error, workers*moves)
		for w := range workers {
			wg.Go(func() {
				for i := range moves {
					to, from := "A", "B"
					if (w+i)%2 == 0 {
						to, from = "B", "A"
					}
					_, err := s.Apply(ctx, store.Batch{Moves: []store.Move{{ID: id, FolderID: to,
						Drop: []correlate.Key{folders[from]}, Add: []correlate.Key{folders[to]}}}})
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := s.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, sqlstore.EncodeKeys([]correlate.Key{mvMsg, mvToken, folders[got.FolderID]}), keyList(t, s, id),
			"the list names the last Move's folder key, once")
		for name, k := range folders {
			n, err := s.Count(ctx, k)
			require.NoError(t, err)
			assert.Equal(t, name == got.FolderID, n == 1, "the email is under folder %s's key only when there", name)
		}
		requireDeletedClean(t, s, id)
	})
}

// TestMoveAfterConcurrentMove moves an email that another transaction has
// just moved (from A to C) and not yet committed. A Move rewrites the key
// list from the one it read, so it must read the email's row with its
// lock, after the other transaction commits: read without it, the Move
// would start from the list before the other Move (A) and leave a list
// without C, whose posting Delete would then leave behind.
func TestMoveAfterConcurrentMove(t *testing.T) {
	s, conn, waitLocked := pgBlocked(t)
	ctx := context.Background()
	id := putMoved(t, s)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, "DELETE FROM mc_key WHERE kind = $1 AND value = $2", []byte(mvA.Kind), []byte(mvA.Value))
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO mc_key (kind, value, at, email) SELECT $1, $2, at, id FROM mc_email WHERE id = $3",
		[]byte(mvC.Kind), []byte(mvC.Value), id)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "UPDATE mc_email SET folder_id = 'C', index_keys = $1 WHERE id = $2",
		sqlstore.EncodeKeys([]correlate.Key{mvMsg, mvToken, mvC}), id)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		_, err := s.Apply(ctx, store.Batch{Moves: []store.Move{{ID: id, FolderID: "B", Drop: []correlate.Key{mvA}, Add: []correlate.Key{mvB}}}})
		done <- err
	}()
	waitLocked()
	require.NoError(t, tx.Commit(ctx))
	select {
	case err = <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Apply did not return")
	}
	assert.Equal(t, sqlstore.EncodeKeys([]correlate.Key{mvMsg, mvToken, mvC, mvB}), keyList(t, s, id),
		"the Move started from the list the other Move left")
	requireDeletedClean(t, s, id)
}
