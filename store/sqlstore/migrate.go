package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations
var migrationFS embed.FS

// A migration is one embedded, versioned schema change.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations returns the migrations of a dialect ("sqlite", "postgres") in
// version order. Files are named NNNN_name.sql; statements end with a
// semicolon at the end of a line.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	ents, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, stmts: splitStatements(string(b))})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// splitStatements splits a migration file into statements: each ends with a
// semicolon at the end of a line. Comment lines are dropped.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// goStep returns the part of migration version written in Go, run after
// its statements in the same transaction, or nil.
func (s *Store) goStep(version int) func(context.Context, *sql.Tx) error {
	switch version {
	case 2:
		return s.hashLongValues
	}
	return nil
}

// hashLongValues rewrites the index values stored before migration 2 that
// the indexes now keep hashed (see indexValue): Message-IDs (kept whole in
// message_id_long), key kinds and values, sequence names. It reads every
// row of those tables once, with a filter the database evaluates; stores
// rarely hold any such value.
func (s *Store) hashLongValues(ctx context.Context, tx *sql.Tx) error {
	long := func(col string) string {
		if s.pg {
			return fmt.Sprintf("(length(%[1]s) > %[2]d OR substr(%[1]s, 1, %[3]d) = $1)", col, maxIndexed, len(hashedPrefix))
		}
		return fmt.Sprintf("(length(CAST(%[1]s AS BLOB)) > %[2]d OR substr(CAST(%[1]s AS BLOB), 1, %[3]d) = CAST($1 AS BLOB))",
			col, maxIndexed, len(hashedPrefix))
	}
	prefix := []byte(hashedPrefix)
	read := func(q string, n int) ([][]any, error) {
		rs, err := tx.QueryContext(ctx, q, prefix)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		var rows [][]any
		for rs.Next() {
			row := make([]any, n)
			ptrs := make([]any, n)
			for i := range row {
				ptrs[i] = &row[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				return nil, err
			}
			rows = append(rows, row)
		}
		return rows, rs.Err()
	}
	text := func(v any) string {
		switch v := v.(type) {
		case []byte:
			return string(v)
		case string:
			return v
		}
		return ""
	}
	rows, err := read("SELECT id, message_id FROM mc_email WHERE "+long("message_id"), 2)
	if err != nil {
		return err
	}
	for _, r := range rows {
		id := text(r[1])
		if _, err := tx.ExecContext(ctx, "UPDATE mc_email SET message_id = $1, message_id_long = $2 WHERE id = $3",
			s.ix(id), s.str(id), r[0]); err != nil {
			return err
		}
	}
	rows, err = read("SELECT kind, value, at, email FROM mc_key WHERE "+long("kind")+" OR "+long("value"), 4)
	if err != nil {
		return err
	}
	for _, r := range rows {
		kind, value := text(r[0]), text(r[1])
		if _, err := tx.ExecContext(ctx, "DELETE FROM mc_key WHERE kind = $1 AND value = $2 AND at = $3 AND email = $4",
			s.str(kind), s.str(value), r[2], r[3]); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO mc_key (kind, value, at, email) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
			s.ix(kind), s.ix(value), r[2], r[3]); err != nil {
			return err
		}
	}
	rows, err = read("SELECT name, value FROM mc_sequence WHERE "+long("name"), 2)
	if err != nil {
		return err
	}
	for _, r := range rows {
		name := text(r[0])
		if _, err := tx.ExecContext(ctx, "UPDATE mc_sequence SET name = $1 WHERE name = $2", s.ix(name), s.str(name)); err != nil {
			return err
		}
	}
	return nil
}

// migrate brings the schema up to date (or to version upTo, when not 0).
// It runs in one transaction that
// first takes a lock (PostgreSQL: an advisory lock named after the schema;
// SQLite: the database write lock, BEGIN IMMEDIATE), so workers opening the
// same database at once apply each migration exactly once; PostgreSQL and
// SQLite both roll DDL back with the transaction.
func (s *Store) migrate(ctx context.Context, db *sql.DB, schema string, upTo int) error {
	ms, err := migrations(s.dialect())
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.pg {
		// Waiting for another worker's migration may take longer than a
		// statement may; the caller's ctx still bounds it.
		if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return err
		}
		h := fnv.New64a()
		h.Write([]byte("mailcorrelate/sqlstore\x00" + schema))
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
			return err
		}
		if schema != "" {
			if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
				return err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS mc_migration (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`); err != nil {
		return err
	}
	var have int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM mc_migration").Scan(&have); err != nil {
		return err
	}
	if latest := ms[len(ms)-1].version; have > latest {
		return fmt.Errorf("database schema version %d is newer than this library's %d", have, latest)
	}
	for _, m := range ms {
		if m.version <= have || upTo > 0 && m.version > upTo {
			continue
		}
		for _, st := range m.stmts {
			if _, err := tx.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		if f := s.goStep(m.version); f != nil {
			if err := f(ctx, tx); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO mc_migration (version, name, applied_at) VALUES ($1, $2, $3)",
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return tx.Commit()
}
