// SQLite: opening the database, its pragmas and busy handling, and the statements prepared at Open.

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
)

// sqliteHot lists the statements SQLite prepares at Open.
func sqliteHot() []string {
	qs := []string{getSQL, lookupQuery, countSQL, nextSequenceSQL,
		sqliteInsertEmail, byMessageIDSQL, sqliteDeleteRead, sqliteDeleteKey, deleteEmail, deleteHistory,
		sqliteLastIDSQL, sqliteInsertEmailsFull, sqliteInsertKeysFull,
		relinkRead.byID, relinkRead.byMsgID, sqliteRelinkSQL, sqliteInsertHistory, sqliteRelinkKeyHistory, sqliteRelinkKey,
		moveRead.byID, moveRead.byMsgID, sqliteMoveSQL,
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
