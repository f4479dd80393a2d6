package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	neturl "net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// envPostgres names the environment variable holding the PostgreSQL test
// server's URL (.ci/postgres.sh sets it).
const envPostgres = "MAILCORRELATE_TEST_POSTGRES"

// pgURL returns the test server's URL. Without one the test is skipped, or
// fails under CI=true: CI must run the PostgreSQL tests.
func pgURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envPostgres)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: the PostgreSQL tests must run in CI (.ci/postgres.sh starts a server)", envPostgres)
		}
		t.Skipf("no PostgreSQL server: set %s (e.g. eval \"$(.ci/postgres.sh start)\") to run this test", envPostgres)
	}
	return u
}

// newSchema returns a fresh schema name, dropped with everything in it when
// the test ends, so tests never see each other's rows.
func newSchema(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "mctest_" + hex.EncodeToString(b[:])
	cleanupExec(t, url, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return schema
}

// cleanupExec runs stmt on the server at url when the test ends.
func cleanupExec(t testing.TB, url, stmt string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("%s: %v", stmt, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Errorf("%s: %v", stmt, err)
		}
	})
}

// newDatabase creates a database of its own on the test server, dropped
// when the test ends, and returns its URL: for tests of what lands in a
// database's default schema, which other tests (and other packages' tests
// sharing the server) may also use.
func newDatabase(t testing.TB, url string) string {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "mctest_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	cleanupExec(t, url, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// openPG opens a Store on a fresh schema of the test server.
func openPG(t testing.TB, opts *sqlstore.Options) *sqlstore.Store {
	t.Helper()
	url := pgURL(t)
	var o sqlstore.Options
	if opts != nil {
		o = *opts
	}
	if o.Schema == "" {
		o.Schema = newSchema(t, url)
	}
	s, err := sqlstore.Open(context.Background(), url, &o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// openSQLite opens a Store on a new SQLite file.
func openSQLite(t testing.TB, opts *sqlstore.Options) *sqlstore.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlstore.Open(context.Background(), "sqlite:"+path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// backends runs f once per database: SQLite always, PostgreSQL when a
// server is configured.
func backends(t *testing.T, f func(t *testing.T, open func(t testing.TB, opts *sqlstore.Options) *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) { f(t, openSQLite) })
	t.Run("postgres", func(t *testing.T) {
		pgURL(t)
		f(t, openPG)
	})
}

func envTrue(name string) bool { return os.Getenv(name) == "1" || os.Getenv(name) == "true" }
