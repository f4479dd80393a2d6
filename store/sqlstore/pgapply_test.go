package sqlstore_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// pgBlocked opens a Store on a fresh schema whose connections carry an
// application name of their own, and returns it with a connection to the
// same schema (for the test's own transactions) and a function that waits
// until one of the Store's statements waits for a lock.
func pgBlocked(t *testing.T) (*sqlstore.Store, *pgx.Conn, func()) {
	t.Helper()
	url := pgURL(t)
	ctx := context.Background()
	schema := newSchema(t, url)
	app := "mc_" + schema
	s, err := sqlstore.Open(ctx, url+"&application_name="+app, &sqlstore.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	waitLocked := func() {
		t.Helper()
		probe, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer probe.Close(ctx)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			var n int
			require.NoError(t, probe.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n))
			if n > 0 {
				return
			}
		}
		t.Fatal("the Store's statement never waited for the lock")
	}
	return s, conn, waitLocked
}

// TestApplyCancelledAtServer cancels an Apply whose statements are at the
// server, its lease check waiting for the lease's row, which another
// transaction holds. The whole batch was sent in one round trip: the server
// has all of it, and would commit it once the row is free, after the
// caller was told it failed. Apply must cancel it at the server instead:
// the call fails with the context's error and nothing of the batch is
// ever written.
func TestApplyCancelledAtServer(t *testing.T) {
	s, conn, waitLocked := pgBlocked(t)
	ctx := context.Background()
	l, err := s.Acquire(ctx, "mailbox", "w1", time.Hour)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, "SELECT 1 FROM mc_lease WHERE name = $1 FOR UPDATE", []byte("mailbox"))
	require.NoError(t, err)

	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := s.Apply(actx, store.Batch{Lease: &l, Puts: []store.Entry{mail(1, "a@x")},
			States: []store.State{{Name: "imap/a", Value: []byte("1")}}})
		done <- err
	}()
	waitLocked()
	cancel()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Apply did not return after its context was cancelled")
	}
	require.ErrorIs(t, err, context.Canceled, "the batch was cancelled at the server")
	require.NoError(t, tx.Rollback(ctx)) // the lease row is free: a batch still at the server would commit now

	// A batch still at the server would commit as soon as the row is free:
	// give it the time to, then nothing of it may be there.
	_, err = s.Apply(ctx, store.Batch{Lease: &l, States: []store.State{{Name: "imap/b", Value: []byte("2")}}})
	require.NoError(t, err, "the Store works on after a cancelled Apply")
	time.Sleep(100 * time.Millisecond)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "the cancelled batch's email was never stored")
	got, err := s.States(ctx, "imap/")
	require.NoError(t, err)
	assert.Equal(t, []store.State{{Name: "imap/b", Value: []byte("2")}}, got, "nor its state")
}

// TestApplyTakenConcurrently puts an email whose Message-ID another
// transaction has just inserted and not yet committed: the Apply waits for
// it, and when it commits, reports the email as existing — the one the
// other transaction stored, which the Apply's statement, begun before that
// commit, cannot see in its snapshot (it is read again in a new one) —
// and writes the rest of its batch.
func TestApplyTakenConcurrently(t *testing.T) {
	s, conn, waitLocked := pgBlocked(t)
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO mc_email (message_id, record_type, record_id, token, subject, mailbox,
		folder_id, folder_path, direction, at, method, correlated_with, parent)
		VALUES ($1, $2, $3, '', '', '', '', '', 0, 0, 0, 0, 0) RETURNING id`,
		[]byte("dup@x"), []byte("incident"), []byte("CAS-OTHER")).Scan(&id)
	require.NoError(t, err)

	type result struct {
		res store.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := s.Apply(ctx, store.Batch{Puts: []store.Entry{mail(1, "dup@x")},
			States: []store.State{{Name: "imap/a", Value: []byte("1")}}})
		done <- result{res, err}
	}()
	waitLocked()
	require.NoError(t, tx.Commit(ctx))
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Apply did not return")
	}
	require.NoError(t, r.err)
	require.Equal(t, []bool{true}, r.res.Existing, "the Message-ID was taken by the other transaction")
	assert.Equal(t, id, r.res.Tracked[0].ID, "and the email reported is the one it stored")
	assert.Equal(t, "CAS-OTHER", r.res.Tracked[0].Record.ID)
	got, err := s.States(ctx, "imap/")
	require.NoError(t, err)
	assert.Len(t, got, 1, "the rest of the batch is written")
	n, err := s.Count(ctx, mail(1, "dup@x").Keys[0])
	require.NoError(t, err)
	assert.Zero(t, n, "nothing of the existing email's entry is written")
}

// writeCounter counts the writes to the network connections it wraps:
// pgx writes each pipeline (or lone statement) at once, so writes are
// round trips.
type writeCounter struct{ n atomic.Int64 }

func (w *writeCounter) wrap(c net.Conn) net.Conn { return countingConn{c, &w.n} }

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// TestApplyRoundTrips counts the round trips of Applies on PostgreSQL: one
// for a batch of Puts, Relinks, States and a lease, also when the lease is
// lost or a Relink names nothing (the server then undoes the batch), and
// one for Put and NextSequence.
func TestApplyRoundTrips(t *testing.T) {
	url := pgURL(t)
	ctx := context.Background()
	var w writeCounter
	s, err := sqlstore.OpenWrapped(ctx, url, &sqlstore.Options{Schema: newSchema(t, url)}, w.wrap)
	require.NoError(t, err)
	defer s.Close()
	l, err := s.Acquire(ctx, "mailbox", "w1", time.Hour)
	require.NoError(t, err)
	e, err := s.Put(ctx, mail(1, "e@x").Tracked, mail(1, "e@x").Keys)
	require.NoError(t, err)
	trips := func(f func()) int64 {
		n := w.n.Load()
		f()
		return w.n.Load() - n
	}
	full := func(i int, lease *store.Lease, relink int64) store.Batch {
		return store.Batch{Lease: lease,
			Puts: []store.Entry{mail(10+i, fmt.Sprintf("n%d@x", i)), mail(20+i, fmt.Sprintf("m%d@x", i)),
				mail(30+i, fmt.Sprintf("n%d@x", i-1))}, // the last one is taken (by the previous batch)
			Relinks: []store.Relink{{ID: relink, Record: correlate.Record{Type: "incident", ID: fmt.Sprintf("R%d", i)}}, {MessageID: fmt.Sprintf("n%d@x", i), Record: correlate.Record{Type: "incident", ID: "R"}}},
			States:  []store.State{{Name: "imap/a", Value: []byte{byte(i)}}, {Name: "imap/b"}},
		}
	}
	for i := range 4 {
		n := trips(func() {
			res, err := s.Apply(ctx, full(i, &l, e.ID))
			require.NoError(t, err)
			require.Len(t, res.Changes, 2)
		})
		if i > 0 { // the first pipeline on a connection prepares its statements first
			assert.EqualValues(t, 1, n, "one round trip per Apply (batch %d)", i)
		}
	}
	// After a batch fails, pgx prepares its statements again on that
	// connection (one round trip more, for the next batch): each failing
	// batch below comes after a good one.
	before, err := s.Stats(ctx)
	require.NoError(t, err)
	lost := l
	lost.Token++
	assert.EqualValues(t, 1, trips(func() {
		_, err = s.Apply(ctx, full(9, &lost, e.ID))
		require.ErrorIs(t, err, store.ErrLeaseLost)
	}), "a lost lease is found in the same round trip")
	after, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after, "and nothing of the batch is written")
	_, err = s.Apply(ctx, store.Batch{Lease: &l, States: []store.State{{Name: "imap/c", Value: []byte("c")}}})
	require.NoError(t, err)
	_, err = s.Apply(ctx, full(8, &l, e.ID))
	require.NoError(t, err)
	before, err = s.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, trips(func() {
		_, err = s.Apply(ctx, full(9, &l, e.ID+1000))
		require.ErrorIs(t, err, correlate.ErrNotFound)
	}), "so is an email to relink that does not exist")
	after, err = s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after, "and nothing of the batch is written")
	_, err = s.Apply(ctx, full(10, &l, e.ID))
	require.NoError(t, err)
	_, err = s.NextSequence(ctx, "token") // prepares its statement
	require.NoError(t, err)
	for i, f := range []func(){
		func() { _, err := s.Put(ctx, mail(40, "p@x").Tracked, mail(40, "p@x").Keys); require.NoError(t, err) },
		func() {
			_, err := s.Put(ctx, mail(41, "p@x").Tracked, nil)
			require.ErrorIs(t, err, correlate.ErrExists)
		},
		func() { _, err := s.NextSequence(ctx, "token"); require.NoError(t, err) },
	} {
		assert.EqualValues(t, 1, trips(f), "call %d: one round trip", i)
	}
}
