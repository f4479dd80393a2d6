// Reading emails: the selected columns and scanning rows into Tracked values.

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	// also registers the "sqlite" database/sql driver
	"github.com/mailcorrelate/mailcorrelate/correlate"
)

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
