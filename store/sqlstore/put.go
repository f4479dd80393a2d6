package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// maxAttempts bounds the retries of a PostgreSQL write that lost a deadlock
// or a race with a concurrent Delete.
const maxAttempts = 5

// errRace reports that an email found to exist was gone when read.
var errRace = errors.New("tracked email deleted while being read")

// Put implements correlate.Store. The email and its keys are written by one
// statement on PostgreSQL and in one transaction on SQLite: all or nothing.
func (s *Store) Put(ctx context.Context, t correlate.Tracked, keys []correlate.Key) (correlate.Tracked, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return correlate.Tracked{}, fail(ctx, "put", err)
	}
	if t.ID != 0 {
		return correlate.Tracked{}, fmt.Errorf("sqlstore: put: tracked email already has ID %d", t.ID)
	}
	keys = dedupKeys(keys)
	var (
		got    correlate.Tracked
		exists bool
	)
	if s.pg {
		got, exists, err = s.pgPut(ctx, t, keys)
	} else {
		got, exists, err = s.sqlitePut(ctx, t, keys)
	}
	if err != nil {
		return correlate.Tracked{}, fail(ctx, fmt.Sprintf("put %q", t.MessageID), err)
	}
	if exists {
		return got, fmt.Errorf("sqlstore: put %q: %w", t.MessageID, correlate.ErrExists)
	}
	return got, nil
}

// emailArgs returns the values of insertCols for t with its (deduplicated)
// keys.
func (s *Store) emailArgs(t *correlate.Tracked, keys []correlate.Key) []any {
	return []any{
		s.msgID(t.MessageID), s.str(t.Record.Type), s.str(t.Record.ID), s.str(t.Token),
		blob(t.ConversationIndex), s.str(t.Subject), blob(encodeStrings(t.Participants)),
		s.str(t.Mailbox), s.str(t.FolderID), s.str(t.FolderPath),
		int64(t.Direction), toMicro(t.Time), int64(t.Method), t.CorrelatedWith, t.Parent,
		blob(encodeKeys(keys)), s.msgIDLong(t.MessageID),
	}
}

// insertCols are the columns of mc_email a write sets, all but id.
const insertCols = `message_id, record_type, record_id, token, conversation_index, subject,
	participants, mailbox, folder_id, folder_path, direction, at, method, correlated_with, parent, index_keys,
	message_id_long`

// nInsertCols is the number of insertCols.
const nInsertCols = 17

// pgPut is an Apply of one Put (see pgApply): one round trip, which also
// reads the email stored under its MessageID when that is taken.
func (s *Store) pgPut(ctx context.Context, t correlate.Tracked, keys []correlate.Key) (correlate.Tracked, bool, error) {
	b := store.Batch{Puts: []store.Entry{{Tracked: t, Keys: keys}}}
	res, err := s.pgApply(ctx, &b, []int{0})
	if err != nil {
		return correlate.Tracked{}, false, err
	}
	return res.Tracked[0], res.Existing[0], nil
}

var byMessageIDSQL = "SELECT " + emailCols + " FROM mc_email WHERE message_id = $1"

// byMessageID reads the email stored under a MessageID that conflicted;
// errRace if it has been deleted since.
func (s *Store) byMessageID(ctx context.Context, tx *sql.Tx, id string) (correlate.Tracked, error) {
	t, err := scanTracked(s.queryRow(ctx, tx, byMessageIDSQL, s.msgID(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return correlate.Tracked{}, errRace
	}
	return t, err
}

const sqliteInsertEmail = `INSERT INTO mc_email (` + insertCols + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (message_id) DO NOTHING RETURNING id`

func (s *Store) sqlitePut(ctx context.Context, t correlate.Tracked, keys []correlate.Key) (got correlate.Tracked, exists bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) (err error) {
		got, exists, err = sqliteWriter{s: s, tx: tx}.put(ctx, t, keys)
		return err
	})
	return got, exists, err
}

// sqliteWriter writes emails inside one SQLite transaction.
type sqliteWriter struct {
	s  *Store
	tx *sql.Tx
}

func (w sqliteWriter) put(ctx context.Context, t correlate.Tracked, keys []correlate.Key) (correlate.Tracked, bool, error) {
	err := w.s.queryRow(ctx, w.tx, sqliteInsertEmail, w.s.emailArgs(&t, keys)...).Scan(&t.ID)
	if errors.Is(err, sql.ErrNoRows) {
		got, err := w.s.byMessageID(ctx, w.tx, t.MessageID)
		return got, true, err
	}
	if err != nil {
		return correlate.Tracked{}, false, err
	}
	if err := w.insertKeys(ctx, t.ID, toMicro(t.Time), keys); err != nil {
		return correlate.Tracked{}, false, err
	}
	return t, false, nil
}

// insertKeys inserts the postings of email id (time at) under keys, which
// has no repeats; a posting already there is left alone.
func (w sqliteWriter) insertKeys(ctx context.Context, id, at int64, keys []correlate.Key) error {
	for len(keys) > 0 {
		n := min(len(keys), sqliteKeyRows)
		args := make([]any, 0, 2+2*n)
		args = append(args, at, id)
		for _, k := range keys[:n] {
			args = append(args, indexValue(k.Kind), indexValue(k.Value))
		}
		if _, err := w.s.execute(ctx, w.tx, sqliteInsertKeys[n], args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// sqliteKeyRows is the most keys one INSERT writes.
const sqliteKeyRows = 32

// sqliteInsertKeys[n] inserts n keys of one email: $1 is its time, $2 its
// ID, then kind and value of each key.
var sqliteInsertKeys = func() [sqliteKeyRows + 1]string {
	var qs [sqliteKeyRows + 1]string
	for n := 1; n <= sqliteKeyRows; n++ {
		q := "INSERT OR IGNORE INTO mc_key (kind, value, at, email) VALUES "
		for i := 0; i < n; i++ {
			if i > 0 {
				q += ", "
			}
			q += fmt.Sprintf("($%d, $%d, $1, $2)", 3+2*i, 4+2*i)
		}
		qs[n] = q
	}
	return qs
}()
