// Deleting an email, its keys and its history.

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	// also registers the "sqlite" database/sql driver
	"github.com/mailcorrelate/mailcorrelate/correlate"
)

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
