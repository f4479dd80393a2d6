package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	// also registers the "sqlite" database/sql driver
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// Options configures a [Store]. A nil *Options is the zero Options, and zero
// fields mean the documented defaults.
type Options struct {
	// Schema is the PostgreSQL schema holding the tables; Open creates it
	// when missing and puts it first on every connection's search_path. ""
	// means the connection's own search_path (usually "public"). SQLite
	// ignores it.
	Schema string
	// MaxConns bounds the connection pool; 0 means 10. An in-memory SQLite
	// database ("sqlite::memory:") always has exactly one connection.
	MaxConns int
	// StatementTimeout bounds every call of a Store (for PutBatch: every
	// statement of the batch); 0 means no bound. On PostgreSQL it is also
	// set as the server's statement_timeout, so the server gives up even if
	// the client has gone.
	StatementTimeout time.Duration
	// BusyTimeout is how long a SQLite writer waits for another process to
	// release the database; 0 means 5 s. PostgreSQL ignores it.
	BusyTimeout time.Duration
	// BatchSize is the number of emails PutBatch sends in one statement
	// (PostgreSQL) or writes between checks of its context (SQLite, which
	// writes 50 per statement); 0 means 1000.
	BatchSize int

	// upTo, when not 0, stops the migrations after that version (the
	// migration tests make databases of an earlier version with it).
	upTo int
	// wrapConn, when set, wraps every PostgreSQL network connection (the
	// tests count round trips with it).
	wrapConn func(net.Conn) net.Conn
}

// A Store is a [store.Store] (and so a [correlate.Store]) in a SQL
// database: an SQLite file for one machine, or a PostgreSQL database shared
// by many workers. Open one with
// [Open] and Close it when done. A Store is safe for concurrent use, and any
// number of Stores, in any number of processes, may share one database.
type Store struct {
	db      *sql.DB
	pg      bool
	name    string // the data source, password removed
	timeout time.Duration
	batch   int

	// wmu serializes this process's SQLite writers: SQLite admits one
	// writer at a time, and waiting on a mutex is cheaper than on its busy
	// handler. Writers in other processes wait in the busy handler.
	wmu sync.Mutex

	// prepared holds SQLite's hot statements, prepared once at Open (SQLite
	// parses a statement on every unprepared call; pgx caches PostgreSQL's
	// per connection by itself). Read-only after Open.
	prepared map[string]*sql.Stmt

	// afterChunk, when set (by tests), is called inside PutBatch's
	// transaction after each chunk has been written, with the number of
	// emails written so far.
	afterChunk func(done int)
}

var _ store.Store = (*Store)(nil)

// Open opens the store named by dsn and brings its schema up to date:
//
//   - "sqlite:PATH" opens (creating it if needed) the SQLite database file
//     PATH ("sqlite:///abs/path" works too) through the pure-Go
//     modernc.org/sqlite driver, in WAL mode with a busy timeout;
//     "sqlite::memory:" is a private in-memory database. PATH may carry the
//     driver's query parameters: a "_pragma=name(value)" replaces Open's
//     default for that pragma.
//   - "postgres://…" or "postgresql://…" connects to PostgreSQL through
//     pgx (github.com/jackc/pgx/v5); every parameter pgx understands is
//     accepted. Its sessions run with plan_cache_mode force_generic_plan
//     unless the URL sets it (see the package documentation, Writes).
//
// The schema is created and migrated by versioned migrations embedded in
// this package, inside one locked transaction, so any number of workers may
// Open the same database at once (migration 2 builds an index of mc_email
// and reads mc_key once: on a large PostgreSQL store the first Open of this
// version holds writers back for that long). A server or file it cannot
// reach is an error wrapping store.ErrUnavailable.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Store{timeout: o.StatementTimeout, batch: o.BatchSize}
	if s.batch <= 0 {
		s.batch = 1000
	}
	maxConns := o.MaxConns
	if maxConns <= 0 {
		maxConns = 10
	}
	var (
		err  error
		lite sqliteOpen
		// setup is the handle Open pings and migrates through: s.db, or
		// on PostgreSQL with a statement timeout a connection without it
		// (waiting for another worker's migration takes longer than a
		// statement may, and a timeout of a few milliseconds would cut
		// Open's own statements short).
		setup *sql.DB
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		s.name = dsn
		s.db, lite, err = openSQLite(strings.TrimPrefix(dsn, "sqlite:"), o)
		if lite.memory {
			maxConns = 1
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.pg = true
		s.name = redact(dsn)
		s.db, setup, err = openPostgres(dsn, o)
	default:
		return nil, fmt.Errorf("sqlstore: open %q: want sqlite:PATH or postgres://…", redact(dsn))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", s.name, err)
	}
	s.db.SetMaxOpenConns(maxConns)
	s.db.SetMaxIdleConns(maxConns)
	if setup == nil {
		setup = s.db
	} else {
		defer setup.Close()
	}
	if err := setup.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fail(ctx, "open "+s.name, err)
	}
	if lite.wal {
		if err := lite.untilFree(ctx, func() error { return setWAL(ctx, s.db) }); err != nil {
			s.db.Close()
			return nil, fail(ctx, "open "+s.name+": journal_mode WAL", err)
		}
	}
	if err := lite.untilFree(ctx, func() error { return s.migrate(ctx, setup, o.Schema, o.upTo) }); err != nil {
		s.db.Close()
		return nil, fail(ctx, "open "+s.name+": migrate", err)
	}
	if !s.pg && o.upTo == 0 {
		if err := s.prepare(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlstore: open %s: prepare: %w", s.name, err)
		}
	}
	return s, nil
}

// The statement runners use the prepared form of query when there is one,
// inside tx when tx is not nil.

func (s *Store) stmtFor(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	st := s.prepared[query]
	if st != nil && tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st
}

func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.stmtFor(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryRowContext(ctx, query, args...)
	}
	return s.db.QueryRowContext(ctx, query, args...)
}

func (s *Store) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmtFor(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryContext(ctx, query, args...)
	}
	return s.db.QueryContext(ctx, query, args...)
}

func (s *Store) execute(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.stmtFor(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if tx != nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return s.db.ExecContext(ctx, query, args...)
}

// Close closes the database. Calls in progress finish first.
func (s *Store) Close() error {
	for _, st := range s.prepared {
		st.Close()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// String returns the data source the Store was opened with, without its
// password.
func (s *Store) String() string { return s.name }

func (s *Store) dialect() string {
	if s.pg {
		return "postgres"
	}
	return "sqlite"
}

// call prepares ctx for one call: its error if it is done, and the
// statement timeout.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return ctx, func() {}, err
	}
	if s.timeout > 0 {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		return ctx, cancel, nil
	}
	return ctx, func() {}, nil
}

var getSQL = "SELECT " + emailCols + " FROM mc_email WHERE id = $1"

// Get implements correlate.Store.
func (s *Store) Get(ctx context.Context, id int64) (correlate.Tracked, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return correlate.Tracked{}, fail(ctx, "get", err)
	}
	ts, err := s.readEmails(ctx, getSQL, id)
	if err != nil {
		return correlate.Tracked{}, fail(ctx, fmt.Sprintf("get %d", id), err)
	}
	if len(ts) == 0 {
		return correlate.Tracked{}, fmt.Errorf("sqlstore: get %d: %w", id, correlate.ErrNotFound)
	}
	return ts[0], nil
}

const lookupSQL = `SELECT ` + "%s" + ` FROM mc_key k JOIN mc_email e ON e.id = k.email
WHERE k.kind = $1 AND k.value = $2 AND k.at >= $3 AND k.at < $4
ORDER BY k.at DESC, k.email DESC LIMIT $5`

var lookupQuery = fmt.Sprintf(lookupSQL, emailColsE)

// Lookup implements correlate.Store.
func (s *Store) Lookup(ctx context.Context, k correlate.Key, q correlate.Query) ([]correlate.Tracked, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return nil, fail(ctx, "lookup", err)
	}
	since, until := window(q)
	out, err := s.readEmails(ctx, lookupQuery, s.ix(k.Kind), s.ix(k.Value), since, until, limit(q))
	if err != nil {
		return nil, fail(ctx, "lookup "+k.Kind, err)
	}
	return out, nil
}

const countSQL = "SELECT count(*) FROM mc_key WHERE kind = $1 AND value = $2"

// Count implements correlate.Store.
func (s *Store) Count(ctx context.Context, k correlate.Key) (int, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return 0, fail(ctx, "count", err)
	}
	var n int
	err = s.queryRow(ctx, nil, countSQL, s.ix(k.Kind), s.ix(k.Value)).Scan(&n)
	if err != nil {
		return 0, fail(ctx, "count "+k.Kind, err)
	}
	return n, nil
}

// exec runs a write statement and returns the number of rows it changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if !s.pg {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	res, err := s.execute(ctx, nil, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

const nextSequenceSQL = `INSERT INTO mc_sequence (name, value) VALUES ($1, 1)
ON CONFLICT (name) DO UPDATE SET value = mc_sequence.value + 1 RETURNING value`

// NextSequence implements correlate.Store. Each call is one atomic
// upsert-and-return statement, committed on its own: values are never
// handed out twice, by any number of Stores sharing the database, and a
// value is not given back when the caller's later work fails.
func (s *Store) NextSequence(ctx context.Context, name string) (int64, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return 0, fail(ctx, "sequence", err)
	}
	if !s.pg {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	var v int64
	if s.pg {
		err = s.pgWrite(ctx, func(ctx context.Context, c *pgx.Conn) error {
			return c.QueryRow(ctx, nextSequenceSQL, s.ix(name)).Scan(&v)
		})
	} else {
		err = s.queryRow(ctx, nil, nextSequenceSQL, s.ix(name)).Scan(&v)
	}
	if err != nil {
		return 0, fail(ctx, fmt.Sprintf("sequence %q", name), err)
	}
	return v, nil
}

// Stats implements correlate.Store. It counts rows, which PostgreSQL does by
// scanning: keep it off hot paths of large stores.
func (s *Store) Stats(ctx context.Context) (correlate.Stats, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return correlate.Stats{}, fail(ctx, "stats", err)
	}
	var st correlate.Stats
	err = s.db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM mc_email), (SELECT count(*) FROM mc_key)").Scan(&st.Emails, &st.Keys)
	if err != nil {
		return correlate.Stats{}, fail(ctx, "stats", err)
	}
	return st, nil
}
