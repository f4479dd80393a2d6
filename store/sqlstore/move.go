// Moving a tracked email to another folder: its folder fields, its
// postings and its key list.

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// moveRead is the read of the email a Move files elsewhere: its ID, its
// time (the at of its postings) and its key list.
var moveRead = newEmailRead("id, at, index_keys")

const (
	// sqliteMoveSQL sets email $4's folder ($1, $2) and key list ($3); its
	// postings are deleted with sqliteDeleteKey and inserted with
	// sqliteInsertKeys, as Delete and Put do.
	sqliteMoveSQL = "UPDATE mc_email SET folder_id = $1, folder_path = $2, index_keys = $3 WHERE id = $4"
	// pgMoveSQL makes a Move in one statement: it deletes the postings of
	// email $4 (at $3) under the keys of $1, $2 (kinds, values: Delete's
	// pgDeleteKeys), inserts its postings under those of $5, $6 unless
	// there already, and sets its folder ($7, $8) and key list ($9). The
	// keys deleted and inserted are distinct (see move), so its parts,
	// which see one snapshot, never touch the same row.
	pgMoveSQL = `WITH d AS (
	` + pgDeleteKeys + `
), a AS (
	INSERT INTO mc_key (kind, value, at, email)
	SELECT u.kind, u.value, $3, $4 FROM unnest($5::bytea[], $6::bytea[]) AS u(kind, value)
	ON CONFLICT DO NOTHING
)
UPDATE mc_email SET folder_id = $7, folder_path = $8, index_keys = $9 WHERE id = $4`
)

// move makes mv inside tx: the email's folder fields become mv's, its
// postings under mv.Drop are deleted and those under mv.Add inserted (a
// key in both is kept: it ends up added), and its key list (index_keys,
// which Delete follows) says so. A key list that cannot be read is left as
// it is: Delete then finds the email's postings by scanning the key table,
// whatever they are. An email that does not exist is an error wrapping
// correlate.ErrNotFound.
func (s *Store) move(ctx context.Context, tx *sql.Tx, mv store.Move) error {
	var (
		id, at int64
		col    []byte
	)
	err := moveRead.row(ctx, s, tx, mv.ID, mv.MessageID).Scan(&id, &at, &col)
	if errors.Is(err, sql.ErrNoRows) {
		if mv.ID != 0 {
			return fmt.Errorf("move %d: %w", mv.ID, correlate.ErrNotFound)
		}
		return fmt.Errorf("move %q: %w", mv.MessageID, correlate.ErrNotFound)
	}
	if err != nil {
		return err
	}
	add := dedupKeys(mv.Add)
	drop := without(dedupKeys(mv.Drop), add)
	list := col // unreadable: left as it is
	if keys, err := decodeKeys(col); err == nil {
		list = encodeKeys(movedKeys(keys, drop, add))
	}
	if s.pg {
		dropKinds, dropValues := keyColumns(drop)
		addKinds, addValues := keyColumns(add)
		_, err := tx.ExecContext(ctx, pgMoveSQL, dropKinds, dropValues, at, id, addKinds, addValues,
			s.str(mv.FolderID), s.str(mv.FolderPath), blob(list))
		return err
	}
	for _, k := range drop {
		if _, err := s.execute(ctx, tx, sqliteDeleteKey, indexValue(k.Kind), indexValue(k.Value), at, id); err != nil {
			return err
		}
	}
	if err := (sqliteWriter{s: s, tx: tx}).insertKeys(ctx, id, at, add); err != nil {
		return err
	}
	_, err = s.execute(ctx, tx, sqliteMoveSQL, mv.FolderID, mv.FolderPath, blob(list), id)
	return err
}

// without returns the keys of keys that are not in drop (a new slice).
func without(keys, drop []correlate.Key) []correlate.Key {
	out := make([]correlate.Key, 0, len(keys))
	for _, k := range keys {
		if !slices.Contains(drop, k) {
			out = append(out, k)
		}
	}
	return out
}

// movedKeys returns an email's key list after a Move: keys without those
// of drop, then those of add it does not have yet, in order. drop and add
// are distinct and without repeats.
func movedKeys(keys, drop, add []correlate.Key) []correlate.Key {
	out := without(keys, drop)
	for _, k := range add {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
