package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

func TestOpenErrors(t *testing.T) {
	// A port nobody listens on: bind one, note it, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	l.Close()

	cases := []struct {
		name, url string
		hidden    string // text the error must not show
		reason    string
	}{
		{"UnknownScheme", "mysql://root:hunter2@db/mail", "hunter2", "only sqlite: and postgres:// are supported; the password stays out of the message"},
		{"EmptySQLitePath", "sqlite:", "", "a file name is required"},
		{"SQLiteInMissingDir", "sqlite:" + filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), "", "the driver cannot create the file"},
		{"BadPostgresURL", "postgres://u:hunter2@[::1/db", "hunter2", "pgx rejects the URL; the password stays out of the message"},
		{"NoServer", "postgres://u:hunter2@" + dead + "/db?connect_timeout=5", "hunter2", "nothing listens: a wrapped connection error, not a panic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := sqlstore.Open(ctx, c.url, nil)
			require.Error(t, err, c.reason)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), "sqlstore: open", c.reason)
			if c.hidden != "" {
				assert.NotContains(t, err.Error(), c.hidden, c.reason)
			}
		})
	}
}

// TestReopen closes a SQLite store and opens the file again: everything,
// sequences included, survives, and IDs go on increasing.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	url := "sqlite:" + filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlstore.Open(ctx, url, nil)
	require.NoError(t, err)
	first, err := s.Put(ctx, mail(1, "a@x").Tracked, mail(1, "a@x").Keys)
	require.NoError(t, err)
	_, err = s.NextSequence(ctx, "token")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = sqlstore.Open(ctx, url, nil)
	require.NoError(t, err)
	defer s.Close()
	ts, err := s.Lookup(ctx, correlate.MessageIDKey("a@x"), correlate.Query{})
	require.NoError(t, err)
	require.Len(t, ts, 1)
	assert.Equal(t, first.ID, ts[0].ID)
	n, err := s.NextSequence(ctx, "token")
	require.NoError(t, err)
	assert.EqualValues(t, 2, n, "a sequence continues after a restart")
	require.NoError(t, s.Delete(ctx, first.ID))
	second, err := s.Put(ctx, mail(2, "b@x").Tracked, nil)
	require.NoError(t, err)
	assert.Greater(t, second.ID, first.ID, "the ID of a deleted email is not reused, even the largest")
}

// TestConcurrentOpen opens one database from many goroutines at once: the
// migrations run once and every Store works.
func TestConcurrentOpen(t *testing.T) {
	run := func(t *testing.T, url string, opts *sqlstore.Options) {
		ctx := context.Background()
		const n = 6
		stores := make([]*sqlstore.Store, n)
		var wg sync.WaitGroup
		for i := range stores {
			wg.Go(func() {
				s, err := sqlstore.Open(ctx, url, opts)
				if assert.NoError(t, err) {
					stores[i] = s
				}
			})
		}
		wg.Wait()
		for i, s := range stores {
			require.NotNil(t, s)
			defer s.Close()
			_, err := s.Put(ctx, mail(i, fmt.Sprintf("m%d@x", i)).Tracked, nil)
			require.NoError(t, err)
		}
		st, err := stores[0].Stats(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, n, st.Emails, "all stores share one set of tables")
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, "sqlite:"+filepath.Join(t.TempDir(), "ledger.db"), nil)
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgURL(t)
		run(t, url, &sqlstore.Options{Schema: newSchema(t, url)})
	})
}

// TestNewerSchema refuses a database migrated by a newer version of the
// library rather than writing rows it may not understand.
func TestNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlstore.Open(ctx, "sqlite:"+path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO mc_migration (version, name, applied_at) VALUES (9999, 'future.sql', 0)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = sqlstore.Open(ctx, "sqlite:"+path, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "newer")
}

// TestSchemaOption keeps two schemas of one PostgreSQL database apart, and
// out of the default schema, public. It runs in a database of its own:
// public in the shared test database may hold a store that another test
// or package made (issue 17, item 14).
func TestSchemaOption(t *testing.T) {
	url := newDatabase(t, pgURL(t))
	ctx := context.Background()
	open := func(opts *sqlstore.Options) *sqlstore.Store {
		s, err := sqlstore.Open(ctx, url, opts)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := open(&sqlstore.Options{Schema: "tenant_a"})
	b := open(&sqlstore.Options{Schema: "tenant b"})
	_, err := a.Put(ctx, mail(1, "a@x").Tracked, mail(1, "a@x").Keys)
	require.NoError(t, err)
	st, err := b.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "another schema is another store")

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tables := func(schema string) int {
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'mc_email'", schema).Scan(&n))
		return n
	}
	assert.Zero(t, tables("public"), "nothing was created in public")
	assert.Equal(t, 1, tables("tenant b"), "a schema name is an identifier, quoted")

	def := open(nil)
	assert.Equal(t, 1, tables("public"), "without Schema the store is in the connection's search_path: public")
	st, err = def.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "and apart from the named schemas")
}

func TestStatementTimeout(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		s := open(t, &sqlstore.Options{StatementTimeout: time.Nanosecond})
		_, err := s.Lookup(context.Background(), correlate.MessageIDKey("a@x"), correlate.Query{})
		require.ErrorIs(t, err, context.DeadlineExceeded, "a statement that outlives the timeout fails")
		_, err = s.PutBatch(context.Background(), []sqlstore.Entry{mail(1, "a@x")})
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// TestClosed: a closed Store answers with errors, never panics.
func TestClosed(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		s := open(t, nil)
		require.NoError(t, s.Close())
		ctx := context.Background()
		_, err := s.Put(ctx, mail(1, "a@x").Tracked, nil)
		assert.Error(t, err)
		_, err = s.Lookup(ctx, correlate.MessageIDKey("a@x"), correlate.Query{})
		assert.Error(t, err)
		_, err = s.NextSequence(ctx, "x")
		assert.Error(t, err)
		_, err = s.PutBatch(ctx, []sqlstore.Entry{mail(1, "a@x")})
		assert.Error(t, err)
	})
}

// TestPostgresServerGone stops serving a Store's connections mid-life (the
// server terminates them, as on a restart or failover): calls fail with
// errors, and the pool reconnects for the next ones.
func TestPostgresServerGone(t *testing.T) {
	url := pgURL(t)
	ctx := context.Background()
	schema := newSchema(t, url)
	// The store's sessions carry a name of their own, so that only they are
	// terminated.
	s, err := sqlstore.Open(ctx, url+"&application_name="+schema, &sqlstore.Options{Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Put(ctx, mail(1, "a@x").Tracked, mail(1, "a@x").Keys)
	require.NoError(t, err)

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", schema)
	require.NoError(t, err)

	// database/sql retries a call whose connection turned out dead before
	// anything was sent; either way the next calls work.
	var ok bool
	for range 3 {
		if _, err := s.Lookup(ctx, correlate.MessageIDKey("a@x"), correlate.Query{}); err == nil {
			ok = true
			break
		}
	}
	assert.True(t, ok, "the store reconnects after its connections were terminated")
}

// TestSQLitePragmas checks the connection settings Open chooses, and that a
// pragma in the URL replaces Open's default instead of being overridden by
// it.
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pragma := func(s *sqlstore.Store, name string) string {
		var v string
		require.NoError(t, sqlstore.DB(s).QueryRowContext(ctx, "PRAGMA "+name).Scan(&v))
		return v
	}
	cases := []struct {
		name, query, pragma, want, reason string
	}{
		{"WAL", "", "journal_mode", "wal", "readers never wait for the writer"},
		{"Synchronous", "", "synchronous", "1", "NORMAL: safe in WAL mode, no fsync per commit"},
		{"BusyTimeout", "", "busy_timeout", "5000", "the documented default, 5 s"},
		{"TempStore", "", "temp_store", "2", "statement journals in memory"},
		{"OverrideSynchronous", "?_pragma=synchronous(FULL)", "synchronous", "2", "the URL's pragma wins over the default"},
		{"OverrideBusy", "?_pragma=busy_timeout(250)", "busy_timeout", "250", "the URL's pragma wins over the default"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, fmt.Sprintf("p%d.db", i))+c.query, nil)
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, c.want, pragma(s, c.pragma), c.reason)
		})
	}
	s, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "b.db"), &sqlstore.Options{BusyTimeout: 1500 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "1500", pragma(s, "busy_timeout"), "Options.BusyTimeout sets it")
}
