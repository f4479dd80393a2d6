package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// unavailable reports whether err says that the store cannot reach its data
// at all, whatever the call — the errors that wrap store.ErrUnavailable —
// rather than something about one call's input:
//
//   - PostgreSQL: the connection could not be made or was lost (refused,
//     reset, closed, cut short, SQLSTATE class 08), the server is shutting
//     down or starting (57P01 admin shutdown, 57P02 crash shutdown, 57P03
//     cannot connect now), out of resources (class 53: disk full 53100,
//     out of memory, too many connections), an I/O or system error (class
//     58), a read-only server (25006: a standby after a failover), data
//     corrupted (XX001, XX002);
//   - SQLite: the disk or database is full (SQLITE_FULL), read-only
//     (SQLITE_READONLY), unreadable (SQLITE_IOERR, SQLITE_CORRUPT,
//     SQLITE_NOTADB, SQLITE_CANTOPEN, SQLITE_NOLFS), out of memory
//     (SQLITE_NOMEM), denied (SQLITE_PERM, SQLITE_AUTH), or held by another
//     process for longer than the busy timeout (SQLITE_BUSY).
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch class := pe.Code[:min(2, len(pe.Code))]; {
		case class == "08", class == "53", class == "58":
			return true
		}
		switch pe.Code {
		case "57P01", "57P02", "57P03", "25006", "XX001", "XX002":
			return true
		}
		return false
	}
	switch sqliteCode(err) {
	case 0:
	case sqliteBusy, sqliteNoMem, sqliteReadOnly, sqliteIOErr, sqliteCorrupt, sqliteFull,
		sqliteCantOpen, sqliteNoLFS, sqliteNotADB, sqlitePerm, sqliteAuth:
		return true
	default:
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EIO), errors.Is(err, syscall.EROFS):
		return true
	}
	return false
}

// More SQLite result codes (see sqliteBusy).
const (
	sqlitePerm     = 3
	sqliteNoMem    = 7
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteCorrupt  = 11
	sqliteFull     = 13
	sqliteCantOpen = 14
	sqliteNoLFS    = 22
	sqliteAuth     = 23
	sqliteNotADB   = 26
)

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
