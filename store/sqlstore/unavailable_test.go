package sqlstore_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// TestUnavailableSQLiteFull fills a database to its size limit: the write
// that does not fit fails with an error wrapping store.ErrUnavailable (the
// next message would fail alike); errors about one call's input do not.
func TestUnavailableSQLiteFull(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlstore.Open(ctx, "sqlite:"+path+"?_pragma=max_page_count(60)", nil)
	require.NoError(t, err)
	defer s.Close()
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		e := mail(i, "")
		e.Tracked.Subject = strings.Repeat("s", 3000)
		_, full = s.Put(ctx, e.Tracked, e.Keys)
	}
	require.Error(t, full, "60 pages of 4 KiB hold fewer than 1,000 emails of 3 KB")
	assert.ErrorIs(t, full, store.ErrUnavailable, "SQLITE_FULL: %v", full)
	assertInputErrors(t, s)
}

// TestUnavailableSQLiteBusy holds SQLite's write lock in another
// connection for longer than the store's busy timeout.
func TestUnavailableSQLiteBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlstore.Open(ctx, "sqlite:"+path, &sqlstore.Options{BusyTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	_, err = s.Put(ctx, mail(1, "a@x").Tracked, nil)
	assert.ErrorIs(t, err, store.ErrUnavailable, "the database stays locked past the busy timeout: %v", err)
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	_, err = s.Put(ctx, mail(1, "a@x").Tracked, nil)
	assert.NoError(t, err, "and is written once the lock is gone")
}

// assertInputErrors checks that errors about one call's input do not wrap
// store.ErrUnavailable, whatever the state of the store.
func assertInputErrors(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	preset := mail(1, "p@x").Tracked
	preset.ID = 7
	_, err := s.Put(ctx, preset, nil)
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrUnavailable, "a Put with an ID set: %v", err)
	_, _, err = s.Emails(ctx, correlate.Record{Type: "incident", ID: "1"}, 10, "bad cursor")
	require.ErrorIs(t, err, store.ErrBadCursor)
	assert.NotErrorIs(t, err, store.ErrUnavailable)
	_, err = s.Apply(ctx, store.Batch{States: []store.State{{Name: ""}}})
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrUnavailable, "a state without a name: %v", err)
}

// throwawayPostgres starts a PostgreSQL cluster of the test's own with
// .ci/postgres.sh (on a free port) and returns its URL and a function that
// stops it; the cluster is removed when the test ends. Without PostgreSQL
// installed the test is skipped, or fails under CI=true.
func throwawayPostgres(t *testing.T) (url string, stop func()) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", ".ci", "postgres.sh"))
	require.NoError(t, err)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAILCORRELATE_PG_PORT=") && !strings.HasPrefix(kv, "MAILCORRELATE_PGDATA=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command("bash", script, "start")
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s start: %v\n%s", script, err, stderr.String())
		}
		t.Skipf("cannot start a PostgreSQL cluster of the test's own (%v): %s", err, stderr.String())
	}
	var dir string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := strings.TrimPrefix(sc.Text(), "export ")
		k, v, _ := strings.Cut(line, "=")
		v = strings.Trim(v, "'")
		switch k {
		case "MAILCORRELATE_TEST_POSTGRES":
			url = v
		case "MAILCORRELATE_PGDATA":
			dir = v
		}
	}
	require.NotEmpty(t, url, "%s start printed no URL: %s", script, out)
	require.NotEmpty(t, dir)
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd := exec.Command("bash", script, "stop", dir)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s stop: %v\n%s", script, err, out)
		}
	}
	t.Cleanup(stop)
	return url, stop
}

// TestUnavailablePostgres terminates the session of a call in flight, as a
// server shutting down does, then stops the PostgreSQL server under a
// store: the call in flight and every call on the stopped server fail with
// errors wrapping store.ErrUnavailable, and so does opening a store on it;
// errors about one call's input, on the running server and on the stopped
// one, do not.
func TestUnavailablePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a PostgreSQL cluster of its own")
	}
	url, stop := throwawayPostgres(t)
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, url, &sqlstore.Options{Schema: "unavailable"})
	require.NoError(t, err)
	defer s.Close()
	first, err := s.Put(ctx, mail(1, "a@x").Tracked, mail(1, "a@x").Keys)
	require.NoError(t, err)

	err = s.Relink(ctx, 987654, correlate.Record{Type: "incident", ID: "X"})
	require.ErrorIs(t, err, correlate.ErrNotFound)
	assert.NotErrorIs(t, err, store.ErrUnavailable, "an email that does not exist is about the call")
	huge := mail(2, "b@x").Tracked
	huge.Method = 1 << 40
	_, err = s.Put(ctx, huge, nil)
	require.Error(t, err, "a Method beyond the INTEGER column")
	assert.NotErrorIs(t, err, store.ErrUnavailable, "a value the database refuses is about the call: %v", err)
	assertInputErrors(t, s)

	// A call in flight: Acquire (one statement) and Apply (a pipeline of
	// them) wait for the lease's row, locked by another session, when
	// their session is terminated as a shutdown terminates it (SQLSTATE
	// 57P01).
	l, err := s.Acquire(ctx, "mbx", "w1", time.Minute)
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	probe, err := pgx.Connect(ctx, url) // outside conn's transaction, which would see one snapshot of pg_stat_activity
	require.NoError(t, err)
	defer probe.Close(ctx)
	for name, call := range map[string]func() error{
		"Acquire": func() error { _, err := s.Acquire(ctx, "mbx", "w2", time.Minute); return err },
		"Apply": func() error {
			_, err := s.Apply(ctx, store.Batch{Lease: &l, Puts: []store.Entry{mail(6, "f@x")}})
			return err
		},
	} {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "SELECT 1 FROM unavailable.mc_lease WHERE name = 'mbx' FOR UPDATE")
		require.NoError(t, err)
		inFlight := make(chan error, 1)
		go func() { inFlight <- call() }()
		var waiting int
		require.Eventually(t, func() bool {
			err := probe.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'").Scan(&waiting)
			return err == nil
		}, 30*time.Second, 20*time.Millisecond, "%s waits for the lock", name)
		_, err = probe.Exec(ctx, "SELECT pg_terminate_backend($1)", waiting)
		require.NoError(t, err)
		select {
		case err := <-inFlight:
			require.Error(t, err)
			assert.ErrorIs(t, err, store.ErrUnavailable, "%s in flight when its session was terminated: %v", name, err)
		case <-time.After(time.Minute):
			t.Fatalf("%s in flight did not return", name)
		}
		require.NoError(t, tx.Rollback(ctx))
	}
	_, err = s.Acquire(ctx, "mbx", "w1", time.Minute)
	require.NoError(t, err, "the store reconnects")
	n, err := s.Count(ctx, mail(6, "f@x").Keys[0])
	require.NoError(t, err)
	assert.Zero(t, n, "the Apply in flight wrote nothing")

	stop() // pg_ctl stop -m fast
	calls := map[string]func(context.Context) error{
		"Put": func(ctx context.Context) error {
			_, err := s.Put(ctx, mail(3, "c@x").Tracked, mail(3, "c@x").Keys)
			return err
		},
		"PutBatch": func(ctx context.Context) error {
			_, err := s.PutBatch(ctx, []sqlstore.Entry{mail(4, "d@x")})
			return err
		},
		"Get": func(ctx context.Context) error { _, err := s.Get(ctx, first.ID); return err },
		"Lookup": func(ctx context.Context) error {
			_, err := s.Lookup(ctx, correlate.MessageIDKey("a@x"), correlate.Query{})
			return err
		},
		"Count":  func(ctx context.Context) error { _, err := s.Count(ctx, correlate.MessageIDKey("a@x")); return err },
		"Relink": func(ctx context.Context) error { return s.Relink(ctx, first.ID, correlate.Record{Type: "t", ID: "1"}) },
		"RelinkKey": func(ctx context.Context) error {
			_, err := s.RelinkKey(ctx, correlate.MessageIDKey("a@x"), correlate.Record{})
			return err
		},
		"Delete":       func(ctx context.Context) error { return s.Delete(ctx, first.ID) },
		"NextSequence": func(ctx context.Context) error { _, err := s.NextSequence(ctx, "token"); return err },
		"Stats":        func(ctx context.Context) error { _, err := s.Stats(ctx); return err },
		"Apply": func(ctx context.Context) error {
			_, err := s.Apply(ctx, store.Batch{Puts: []store.Entry{mail(5, "e@x")}})
			return err
		},
		"States":  func(ctx context.Context) error { _, err := s.States(ctx, ""); return err },
		"History": func(ctx context.Context) error { _, err := s.History(ctx, first.ID); return err },
		"Emails":  func(ctx context.Context) error { _, _, err := s.Emails(ctx, first.Record, 10, ""); return err },
		"Scan":    func(ctx context.Context) error { _, err := s.Scan(ctx, 0, 10); return err },
		"Acquire": func(ctx context.Context) error { _, err := s.Acquire(ctx, "mbx2", "w", time.Minute); return err },
		"Release": func(ctx context.Context) error {
			return s.Release(ctx, store.Lease{Name: "mbx", Holder: "w1", Token: 1})
		},
	}
	for name, call := range calls {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := call(ctx)
		cancel()
		require.Error(t, err, name)
		assert.ErrorIs(t, err, store.ErrUnavailable, "%s on a stopped server: %v", name, err)
		assert.False(t, errors.Is(err, correlate.ErrNotFound), name)
	}
	assertInputErrors(t, s)

	_, err = sqlstore.Open(ctx, url+"&connect_timeout=5", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, store.ErrUnavailable, "Open on a stopped server: %v", err)
}
