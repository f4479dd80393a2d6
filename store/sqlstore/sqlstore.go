package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver

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

// sqliteHot lists the statements SQLite prepares at Open.
func sqliteHot() []string {
	qs := []string{getSQL, lookupQuery, countSQL, nextSequenceSQL,
		sqliteInsertEmail, byMessageIDSQL, sqliteDeleteRead, sqliteDeleteKey, deleteEmail, deleteHistory,
		sqliteLastIDSQL, sqliteInsertEmailsFull, sqliteInsertKeysFull,
		sqliteRelinkReadID, sqliteRelinkReadMs, sqliteRelinkSQL, sqliteInsertHistory, sqliteRelinkKeyHistory, sqliteRelinkKey,
		putStateSQL, deleteStateSQL, statesFromSQL, statesRangeSQL, historySQL, sqliteEmails, scanSQL,
		sqliteLeases.acquire, sqliteLeases.check, sqliteLeases.release, leaseHolderSQL}
	return append(qs, sqliteInsertKeys[1:]...)
}

func (s *Store) prepare(ctx context.Context) error {
	s.prepared = make(map[string]*sql.Stmt)
	for _, q := range sqliteHot() {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		s.prepared[q] = st
	}
	return nil
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

// sqliteDefaults are the pragmas set on every SQLite connection unless the
// URL sets the same pragma: synchronous NORMAL, which in WAL mode keeps
// every commit through a crash of the process and the database intact
// through a power loss, which may lose the last commits; a 32 MiB page
// cache, so that a batch stays in memory until its commit; statement
// journals in memory, not in temporary files. The busy timeout comes
// first. WAL mode (readers never wait for the writer) is not among them:
// it is a property of the file, which Open sets once (see setWAL).
var sqliteDefaults = []string{"synchronous(NORMAL)", "cache_size(-32768)", "temp_store(MEMORY)"}

// sqliteOpen is what Open needs to know of a SQLite data source.
type sqliteOpen struct {
	memory bool          // an in-memory database
	wal    bool          // Open switches the file to WAL mode
	busy   time.Duration // the busy timeout
}

func openSQLite(path string, o Options) (*sql.DB, sqliteOpen, error) {
	var lite sqliteOpen
	path = strings.TrimPrefix(path, "//") // sqlite:///abs/path
	file, query, _ := strings.Cut(path, "?")
	if file == "" {
		return nil, lite, errors.New("empty path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, lite, err
	}
	lite.memory = strings.TrimPrefix(file, "file:") == ":memory:" || q.Get("mode") == "memory"
	lite.busy = o.BusyTimeout
	if lite.busy <= 0 {
		lite.busy = 5 * time.Second
	}
	set := func(name string) bool {
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), name) {
				return true
			}
		}
		return false
	}
	if set("busy_timeout") {
		// The URL's busy timeout also bounds Open's own retries.
		for _, p := range q["_pragma"] {
			p = strings.ToLower(strings.TrimSpace(p))
			if v, ok := strings.CutPrefix(p, "busy_timeout("); ok {
				if ms, err := strconv.Atoi(strings.TrimSuffix(v, ")")); err == nil {
					lite.busy = time.Duration(ms) * time.Millisecond
				}
			}
		}
	}
	defaults := append([]string{"busy_timeout(" + strconv.FormatInt(lite.busy.Milliseconds(), 10) + ")"}, sqliteDefaults...)
	for _, d := range defaults {
		name, _, _ := strings.Cut(d, "(")
		if !set(name) {
			q.Add("_pragma", d)
		}
	}
	lite.wal = !lite.memory && !set("journal_mode") && q.Get("_journal_mode") == "" && q.Get("_journal") == ""
	// Every transaction takes the write lock when it begins (BEGIN
	// IMMEDIATE): a transaction that reads, then writes, could otherwise
	// fail with SQLITE_BUSY when another writer came first, however long
	// the busy timeout.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", file+"?"+q.Encode())
	return db, lite, err
}

// sqliteBusy is SQLite's result code SQLITE_BUSY (see errors.go for more).
const sqliteBusy = 5

// sqliteCode returns the primary SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// untilFree runs f (which must leave the database as it was when it fails)
// until it ends other than with SQLITE_BUSY, or the busy timeout has gone
// by. SQLite answers SQLITE_BUSY at once, without waiting in its busy
// handler, where waiting could deadlock: a connection holding a read lock
// that wants the write lock while another one holds it and waits for the
// readers. That happens when several processes open a new file at once —
// each reads the schema, and one switches the file to WAL or migrates it —
// so Open waits out those collisions itself, with random pauses so that
// the processes fall out of step.
func (l sqliteOpen) untilFree(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(l.busy)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		err := f()
		if err == nil || sqliteCode(err) != sqliteBusy || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// setWAL switches the database file to WAL mode, which it keeps: readers
// never wait for the writer.
func setWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("the database stays in journal mode %q", mode)
	}
	return nil
}

// openPostgres returns the Store's handle and, when it carries a statement
// timeout, one without it for Open's setup (else nil).
func openPostgres(dsn string, o Options) (db, setup *sql.DB, err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, errors.New(strings.ReplaceAll(err.Error(), dsn, redact(dsn)))
	}
	if o.Schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{o.Schema}.Sanitize()
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "mailcorrelate"
	}
	if cfg.RuntimeParams["plan_cache_mode"] == "" {
		// Every statement of the package has one good plan, whatever its
		// arguments (an index range or probe per key or email), and pgx
		// prepares them once per connection. PostgreSQL's default would
		// plan the statements that take arrays (unnest) anew at every
		// call, the plan for the arrays' actual lengths looking cheaper
		// than the generic one: planning then costs more server CPU than
		// running them.
		cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	if o.wrapConn != nil {
		cfg.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) {
			return o.wrapConn(c), nil
		}
	}
	if o.StatementTimeout > 0 {
		untimed := cfg.Copy()
		setup = stdlib.OpenDB(*untimed)
		setup.SetMaxOpenConns(1)
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(o.StatementTimeout.Milliseconds(), 1), 10)
	}
	return stdlib.OpenDB(*cfg), setup, nil
}

// redact removes the password from a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
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

// fail wraps err for the caller: "sqlstore: op: err". When ctx is done the
// error also wraps ctx.Err(), whatever the driver made of it.
//
// PostgreSQL reports a statement cancelled by the statement timeout (the
// server's statement_timeout, or pgx cancelling the query when the
// per-statement context expired) as SQLSTATE 57014; with ctx still live that
// can only be the timeout, so the error wraps context.DeadlineExceeded.
//
// An error that is about the store rather than the call — see unavailable
// — also wraps store.ErrUnavailable.
func fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlstore: %s: %w (%w)", op, cerr, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "57014" && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlstore: %s: %w (%w)", op, context.DeadlineExceeded, err)
	}
	if ctx.Err() == nil && unavailable(err) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// retryable reports whether a PostgreSQL transaction failed for a reason
// that retrying it cures: a deadlock or a serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// str returns the driver value of a string column: BYTEA on PostgreSQL (so
// every byte string round-trips), TEXT on SQLite (which stores any bytes).
func (s *Store) str(v string) any {
	if s.pg {
		return bytesOf(v)
	}
	return v
}

// bytesOf returns v's bytes, never nil (nil would be NULL).
func bytesOf(v string) []byte {
	if v == "" {
		return []byte{}
	}
	return []byte(v)
}

// ix returns the driver value of an indexed string column: v as the
// indexes keep it (see indexValue).
func (s *Store) ix(v string) any { return s.str(indexValue(v)) }

// msgID returns the driver value of the message_id column: the Message-ID
// as the unique index keeps it, NULL when empty, so that emails without
// one never collide in the unique index.
func (s *Store) msgID(v string) any {
	if v == "" {
		return nil
	}
	return s.ix(v)
}

// msgIDLong returns the driver value of the message_id_long column: the
// Message-ID when the index keeps it hashed, else NULL.
func (s *Store) msgIDLong(v string) any {
	if indexValue(v) == v {
		return nil
	}
	return s.str(v)
}

// blob returns the driver value of a byte column: NULL when empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// selectCols returns the expressions scanTracked reads, of the mc_email
// row named a ("" or an alias with its dot).
func selectCols(a string) string {
	cols := []string{"id", "COALESCE(" + a + "message_id_long, " + a + "message_id)", "record_type", "record_id",
		"token", "conversation_index", "subject", "participants", "mailbox", "folder_id", "folder_path",
		"direction", "at", "method", "correlated_with", "parent"}
	for i, c := range cols {
		if !strings.HasPrefix(c, "COALESCE") {
			cols[i] = a + c
		}
	}
	return strings.Join(cols, ", ")
}

var (
	emailCols  = selectCols("")
	emailColsE = selectCols("e.")
)

type scanner interface{ Scan(dest ...any) error }

// scanTracked reads one row of emailCols.
func scanTracked(sc scanner) (correlate.Tracked, error) {
	var (
		t           correlate.Tracked
		msgID       sql.NullString
		conv, parts []byte
		dir         int64
		at, method  int64
	)
	if err := sc.Scan(&t.ID, &msgID, &t.Record.Type, &t.Record.ID, &t.Token, &conv, &t.Subject,
		&parts, &t.Mailbox, &t.FolderID, &t.FolderPath, &dir, &at, &method, &t.CorrelatedWith, &t.Parent); err != nil {
		return correlate.Tracked{}, err
	}
	t.MessageID = msgID.String
	if len(conv) > 0 {
		t.ConversationIndex = conv
	}
	ps, err := decodeStrings(parts)
	if err != nil {
		return correlate.Tracked{}, fmt.Errorf("email %d: %w", t.ID, err)
	}
	t.Participants = ps
	t.Direction = correlate.Direction(dir)
	t.Time = fromMicro(at)
	t.Method = correlate.Method(method)
	return t, nil
}

// scanRows reads every row of rs, of emailCols.
func scanRows(rs *sql.Rows) ([]correlate.Tracked, error) {
	defer rs.Close()
	var out []correlate.Tracked
	for rs.Next() {
		t, err := scanTracked(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rs.Err()
}

// readEmails runs a query of emailCols outside any transaction: through
// pgx itself on PostgreSQL (see pgReadEmails), through database/sql on
// SQLite, prepared at Open when it is one of the hot statements.
func (s *Store) readEmails(ctx context.Context, query string, args ...any) ([]correlate.Tracked, error) {
	if s.pg {
		return s.pgReadEmails(ctx, query, args...)
	}
	rs, err := s.query(ctx, nil, query, args...)
	if err != nil {
		return nil, err
	}
	return scanRows(rs)
}

// window returns the bounds of q in stored microseconds.
func window(q correlate.Query) (since, until int64) {
	since, until = math.MinInt64, math.MaxInt64
	if !q.Since.IsZero() {
		since = boundMicro(q.Since)
	}
	if !q.Until.IsZero() {
		until = boundMicro(q.Until)
	}
	return since, until
}

// limit returns q's limit for SQL: no limit is the largest LIMIT.
func limit(q correlate.Query) int64 {
	if n := q.EffectiveLimit(); n >= 0 {
		return int64(n)
	}
	return math.MaxInt64
}

// dedupKeys returns keys with repeats removed, in first-seen order. It
// returns keys itself when there are none.
func dedupKeys(keys []correlate.Key) []correlate.Key {
	if len(keys) < 2 {
		return keys
	}
	if len(keys) <= 16 {
		out := make([]correlate.Key, 0, len(keys))
		for _, k := range keys {
			dup := false
			for _, o := range out {
				if o == k {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, k)
			}
		}
		return out
	}
	seen := make(map[correlate.Key]struct{}, len(keys))
	out := make([]correlate.Key, 0, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
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

// Delete implements correlate.Store. It reads the email's keys from its
// row and removes their postings, then the row, in one transaction.
func (s *Store) Delete(ctx context.Context, id int64) error {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return fail(ctx, "delete", err)
	}
	found, err := s.delete(ctx, id)
	if err != nil {
		return fail(ctx, fmt.Sprintf("delete %d", id), err)
	}
	if !found {
		return fmt.Errorf("sqlstore: delete %d: %w", id, correlate.ErrNotFound)
	}
	return nil
}

const (
	// The row to delete, locked on PostgreSQL against a concurrent Delete
	// (SQLite's write lock is already held).
	pgDeleteRead     = "SELECT at, index_keys FROM mc_email WHERE id = $1 FOR UPDATE"
	sqliteDeleteRead = "SELECT at, index_keys FROM mc_email WHERE id = $1"
	pgDeleteKeys     = `DELETE FROM mc_key k USING unnest($1::bytea[], $2::bytea[]) AS u(kind, value)
WHERE k.kind = u.kind AND k.value = u.value AND k.at = $3 AND k.email = $4`
	sqliteDeleteKey = "DELETE FROM mc_key WHERE kind = $1 AND value = $2 AND at = $3 AND email = $4"
	// scanDeleteKeys finds an email's postings without its key list: a
	// scan of the key table, for a row whose index_keys is unreadable.
	scanDeleteKeys = "DELETE FROM mc_key WHERE email = $1"
	deleteEmail    = "DELETE FROM mc_email WHERE id = $1"
	deleteHistory  = "DELETE FROM mc_history WHERE email = $1"
)

func (s *Store) delete(ctx context.Context, id int64) (found bool, err error) {
	read := sqliteDeleteRead
	if s.pg {
		read = pgDeleteRead
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			at  int64
			col []byte
		)
		err := s.queryRow(ctx, tx, read, id).Scan(&at, &col)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		keys, derr := decodeKeys(col)
		switch {
		case derr != nil:
			_, err = s.execute(ctx, tx, scanDeleteKeys, id)
		case s.pg:
			kinds, values := keyColumns(keys)
			_, err = tx.ExecContext(ctx, pgDeleteKeys, kinds, values, at, id)
		default:
			for _, k := range keys {
				if _, err = s.execute(ctx, tx, sqliteDeleteKey, indexValue(k.Kind), indexValue(k.Value), at, id); err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
		if _, err := s.execute(ctx, tx, deleteHistory, id); err != nil {
			return err
		}
		if _, err := s.execute(ctx, tx, deleteEmail, id); err != nil {
			return err
		}
		found = true
		return nil
	})
	return found, err
}

// keyColumns returns the kind and value arrays of keys for PostgreSQL, as
// the indexes keep them.
func keyColumns(keys []correlate.Key) (kinds, values [][]byte) {
	kinds = make([][]byte, len(keys))
	values = make([][]byte, len(keys))
	for i, k := range keys {
		kinds[i], values[i] = bytesOf(indexValue(k.Kind)), bytesOf(indexValue(k.Value))
	}
	return kinds, values
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

// candidatesTail ranks the hits (email, at) of the per-key scans.
const candidatesTail = `, c AS (
	SELECT email, at, count(*) AS n FROM hits GROUP BY email, at HAVING count(*) >= $4
	ORDER BY n DESC, at DESC, email DESC LIMIT $5
)
SELECT %s, c.n FROM c JOIN mc_email e ON e.id = c.email ORDER BY c.n DESC, c.at DESC, c.email DESC`

// SQLite has no LATERAL: each key is its own LIMITed subquery, joined by
// UNION ALL in groups (a compound SELECT has at most 500 terms).
const (
	sqliteGroup   = 200
	maxSQLiteKeys = (32766 - 5) / 2 // SQLite's limit on bound parameters
)

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
