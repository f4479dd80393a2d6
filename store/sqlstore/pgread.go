package sqlstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// PostgreSQL's reads of tracked emails (Get, Lookup, Emails,
// Scan) go through pgx itself, on a connection of the database/sql pool,
// rather than through database/sql: database/sql makes a driver value of
// every column and converts it again into the destination, some 45
// allocations a row, where pgRow reads the columns in place and makes one
// string of all the text of a row (the Tracked values share it; they are
// read-only) and one slice of its participants.

// pgRow holds the columns of one row of selectCols while it is read.
type pgRow struct {
	id, dir, at, method, corr, parent                  int64
	msgID, recType, recID, token, conv, subject, parts pgtype.DriverBytes
	mailbox, folderID, folderPath                      pgtype.DriverBytes
	dest                                               []any
}

func newPGRow() *pgRow {
	r := &pgRow{}
	r.dest = []any{&r.id, &r.msgID, &r.recType, &r.recID, &r.token, &r.conv, &r.subject,
		&r.parts, &r.mailbox, &r.folderID, &r.folderPath, &r.dir, &r.at, &r.method, &r.corr, &r.parent}
	return r
}

// tracked makes the Tracked of the row just scanned.
func (r *pgRow) tracked() (correlate.Tracked, error) {
	fields := [...][]byte{r.msgID, r.recType, r.recID, r.token, r.conv, r.subject, r.parts, r.mailbox, r.folderID, r.folderPath}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	buf := make([]byte, 0, n)
	for _, f := range fields {
		buf = append(buf, f...)
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is never written again
	var text [len(fields)]string
	off := 0
	for i, f := range fields {
		text[i] = all[off : off+len(f)]
		off += len(f)
	}
	t := correlate.Tracked{
		ID:             r.id,
		MessageID:      text[0],
		Record:         correlate.Record{Type: text[1], ID: text[2]},
		Token:          text[3],
		Subject:        text[5],
		Mailbox:        text[7],
		FolderID:       text[8],
		FolderPath:     text[9],
		Direction:      correlate.Direction(r.dir),
		Time:           fromMicro(r.at),
		Method:         correlate.Method(r.method),
		CorrelatedWith: r.corr,
		Parent:         r.parent,
	}
	if len(text[4]) > 0 {
		t.ConversationIndex = unsafe.Slice(unsafe.StringData(text[4]), len(text[4]))
	}
	ps, err := splitStrings(text[6])
	if err != nil {
		return correlate.Tracked{}, fmt.Errorf("email %d: %w", t.ID, err)
	}
	t.Participants = ps
	return t, nil
}

// splitStrings is decodeStrings over a string, whose parts it returns
// without copying them.
func splitStrings(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	count := 0
	for rest := s; len(rest) > 0; count++ {
		n, k := binary.Uvarint([]byte(rest[:min(len(rest), binary.MaxVarintLen64)]))
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, errCorrupt
		}
		rest = rest[k+int(n):]
	}
	out := make([]string, 0, count)
	for len(s) > 0 {
		n, k := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
		out = append(out, s[k:k+int(n)])
		s = s[k+int(n):]
	}
	return out, nil
}

// pgReadEmails runs query and reads its rows of selectCols.
func (s *Store) pgReadEmails(ctx context.Context, query string, args ...any) ([]correlate.Tracked, error) {
	var out []correlate.Tracked
	err := s.pgRaw(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		r := newPGRow()
		for rows.Next() {
			if err := rows.Scan(r.dest...); err != nil {
				return err
			}
			t, err := r.tracked()
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}
