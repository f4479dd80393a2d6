package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// An Entry is one email of a batch: the tracked email (ID 0) and its keys;
// the same type as the Puts of a [store.Batch].
type Entry = store.Entry

// A Result says what [Store.PutBatch] did with one Entry.
type Result struct {
	// Tracked is the stored email: the Entry's, with its assigned ID, or
	// when Exists the email already stored under the same MessageID.
	Tracked correlate.Tracked
	// Exists reports that an email with the Entry's MessageID was already
	// stored, or came earlier in the batch; nothing of this Entry was
	// written (as when Put returns ErrExists).
	Exists bool
}

// PutBatch stores a batch of emails with their keys, for bulk ingestion: the
// same as calling Put for each Entry in order, but in one transaction (all
// or nothing) and, on PostgreSQL, in one statement per Options.BatchSize
// emails. It returns one Result per Entry.
//
// When ctx is cancelled or the connection fails part-way, the transaction is
// rolled back and no email of the batch is stored. An Entry with a non-zero
// Tracked.ID is an error and nothing is stored.
func (s *Store) PutBatch(ctx context.Context, batch []Entry) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "put batch", err)
	}
	first, err := firstOf(batch)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: put batch: %w", err)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	var res []Result
	err = s.transact(ctx, func(tx *sql.Tx) (err error) {
		res, err = s.writeEntries(ctx, tx, batch, first)
		return err
	})
	if err != nil {
		return nil, fail(ctx, "put batch", err)
	}
	return res, nil
}

// firstOf checks that no Entry of batch has an ID and returns, for each,
// the Entry whose MessageID it repeats, else its own index.
func firstOf(batch []Entry) ([]int, error) {
	first := make([]int, len(batch))
	seen := make(map[string]int, len(batch))
	for i := range batch {
		t := &batch[i].Tracked
		if t.ID != 0 {
			return nil, fmt.Errorf("entry %d already has ID %d", i, t.ID)
		}
		first[i] = i
		if t.MessageID == "" {
			continue
		}
		if j, ok := seen[t.MessageID]; ok {
			first[i] = j
		} else {
			seen[t.MessageID] = i
		}
	}
	return first, nil
}

// transact runs f in a transaction and commits it; when PostgreSQL reports
// a deadlock or a serialization failure, or a concurrent Delete raced the
// read of a duplicate, it runs f again in a new one.
func (s *Store) transact(ctx context.Context, f func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, f)
		if err != nil && attempt < maxAttempts && ctx.Err() == nil && (retryable(err) || errors.Is(err, errRace)) {
			continue
		}
		return err
	}
}

// inTx runs f in a transaction, committed when f succeeds. SQLite's
// transactions take the write lock when they begin, this process's
// writers first taking wmu.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	if !s.pg {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// writeEntries writes batch inside tx, as PutBatch documents; first is
// firstOf(batch).
func (s *Store) writeEntries(ctx context.Context, tx *sql.Tx, batch []Entry, first []int) ([]Result, error) {
	var (
		res []Result
		err error
	)
	if s.pg {
		res, err = s.pgPutBatch(ctx, tx, batch, first)
	} else {
		res, err = s.sqlitePutBatch(ctx, tx, batch, first)
	}
	if err != nil {
		return nil, err
	}
	for i, j := range first {
		if j != i {
			res[i] = Result{Tracked: res[j].Tracked, Exists: true}
		}
	}
	return res, nil
}

// stmtTimeout applies the statement timeout to one statement of a batch.
func (s *Store) stmtTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout > 0 {
		return context.WithTimeout(ctx, s.timeout)
	}
	return ctx, func() {}
}

// pgBatchSQL writes one chunk: IDs are drawn in input order, emails whose
// MessageID is taken are skipped (ON CONFLICT DO NOTHING), the keys of the
// others are inserted, and the statement returns each input's ordinal, its
// drawn ID and whether it was inserted. The emails are inserted in
// Message-ID order, so that batches racing over the same Message-IDs wait
// for each other in one order and never deadlock.
const pgBatchSQL = pgBatchWith + pgBatchSelect

// pgBatchWith is the part of pgBatchSQL that writes; pgPutsSQL shares it.
const pgBatchWith = `WITH input AS MATERIALIZED (
	SELECT nextval('mc_email_id_seq') AS id, u.*
	FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[],
		$8::bytea[], $9::bytea[], $10::bytea[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],
		$16::bytea[], $17::bytea[])
		WITH ORDINALITY AS u(` + insertCols + `, ord)
	ORDER BY u.ord
), ins AS (
	INSERT INTO mc_email (id, ` + insertCols + `)
	SELECT id, ` + insertCols + ` FROM input ORDER BY message_id
	ON CONFLICT (message_id) DO NOTHING
	RETURNING id, at
), k AS (
	INSERT INTO mc_key (kind, value, at, email)
	SELECT q.kind, q.value, ins.at, ins.id
	FROM unnest($18::bigint[], $19::bytea[], $20::bytea[]) AS q(ord, kind, value)
	JOIN input ON input.ord = q.ord
	JOIN ins ON ins.id = input.id
)`

const pgBatchSelect = `
SELECT input.ord, input.id, ins.id IS NOT NULL FROM input LEFT JOIN ins ON ins.id = input.id`

// pgColumns holds one chunk's column arrays.
type pgColumns struct {
	msgID, recType, recID, token, conv, subject, parts, mailbox, folderID, folderPath [][]byte
	dir, at, method, corr, parent                                                     []int64
	indexKeys, msgIDLong                                                              [][]byte
	keyOrd                                                                            []int64
	keyKind, keyValue                                                                 [][]byte
}

func (c *pgColumns) reset() {
	*c = pgColumns{
		msgID: c.msgID[:0], recType: c.recType[:0], recID: c.recID[:0], token: c.token[:0],
		conv: c.conv[:0], subject: c.subject[:0], parts: c.parts[:0], mailbox: c.mailbox[:0],
		folderID: c.folderID[:0], folderPath: c.folderPath[:0],
		dir: c.dir[:0], at: c.at[:0], method: c.method[:0], corr: c.corr[:0], parent: c.parent[:0],
		indexKeys: c.indexKeys[:0], msgIDLong: c.msgIDLong[:0],
		keyOrd: c.keyOrd[:0], keyKind: c.keyKind[:0], keyValue: c.keyValue[:0],
	}
}

func (c *pgColumns) add(ord int64, e *Entry) {
	t := &e.Tracked
	var msgID, long []byte
	if t.MessageID != "" {
		msgID = []byte(indexValue(t.MessageID))
		if string(msgID) != t.MessageID {
			long = []byte(t.MessageID)
		}
	}
	var conv []byte
	if len(t.ConversationIndex) > 0 {
		conv = t.ConversationIndex
	}
	c.msgID = append(c.msgID, msgID)
	c.recType = append(c.recType, bytesOf(t.Record.Type))
	c.recID = append(c.recID, bytesOf(t.Record.ID))
	c.token = append(c.token, bytesOf(t.Token))
	c.conv = append(c.conv, conv)
	c.subject = append(c.subject, bytesOf(t.Subject))
	c.parts = append(c.parts, encodeStrings(t.Participants))
	c.mailbox = append(c.mailbox, bytesOf(t.Mailbox))
	c.folderID = append(c.folderID, bytesOf(t.FolderID))
	c.folderPath = append(c.folderPath, bytesOf(t.FolderPath))
	c.dir = append(c.dir, int64(t.Direction))
	c.at = append(c.at, toMicro(t.Time))
	c.method = append(c.method, int64(t.Method))
	c.corr = append(c.corr, t.CorrelatedWith)
	c.parent = append(c.parent, t.Parent)
	keys := dedupKeys(e.Keys)
	c.indexKeys = append(c.indexKeys, encodeKeys(keys))
	c.msgIDLong = append(c.msgIDLong, long)
	for _, k := range keys {
		c.keyOrd = append(c.keyOrd, ord)
		c.keyKind = append(c.keyKind, bytesOf(indexValue(k.Kind)))
		c.keyValue = append(c.keyValue, bytesOf(indexValue(k.Value)))
	}
}

func (c *pgColumns) args() []any {
	return []any{c.msgID, c.recType, c.recID, c.token, c.conv, c.subject, c.parts, c.mailbox, c.folderID, c.folderPath,
		c.dir, c.at, c.method, c.corr, c.parent, c.indexKeys, c.msgIDLong, c.keyOrd, c.keyKind, c.keyValue}
}

func (s *Store) pgPutBatch(ctx context.Context, tx *sql.Tx, batch []Entry, first []int) ([]Result, error) {
	res := make([]Result, len(batch))
	var taken [][]byte // MessageIDs that conflicted
	var cols pgColumns
	todo := make([]int, 0, min(len(batch), s.batch))
	done := 0
	for start := 0; start < len(batch); {
		cols.reset()
		todo = todo[:0]
		for ; start < len(batch) && len(todo) < s.batch; start++ {
			if first[start] == start {
				todo = append(todo, start)
				cols.add(int64(len(todo)), &batch[start])
			}
		}
		if len(todo) == 0 {
			continue
		}
		sctx, cancel := s.stmtTimeout(ctx)
		rs, err := tx.QueryContext(sctx, pgBatchSQL, cols.args()...)
		if err != nil {
			cancel()
			return nil, err
		}
		for rs.Next() {
			var (
				ord, id  int64
				inserted bool
			)
			if err := rs.Scan(&ord, &id, &inserted); err != nil {
				rs.Close()
				cancel()
				return nil, err
			}
			if ord < 1 || ord > int64(len(todo)) {
				rs.Close()
				cancel()
				return nil, fmt.Errorf("batch statement returned ordinal %d of %d", ord, len(todo))
			}
			i := todo[ord-1]
			if inserted {
				t := batch[i].Tracked
				t.ID = id
				res[i] = Result{Tracked: t}
			} else {
				res[i].Exists = true
				taken = append(taken, []byte(indexValue(batch[i].Tracked.MessageID)))
			}
		}
		err = rs.Err()
		rs.Close()
		cancel()
		if err != nil {
			return nil, err
		}
		done += len(todo)
		if s.afterChunk != nil {
			s.afterChunk(done)
		}
	}
	if len(taken) > 0 {
		if err := s.pgFillTaken(ctx, tx, batch, first, res, taken); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// pgFillTaken reads the stored emails whose MessageIDs the batch found
// taken.
func (s *Store) pgFillTaken(ctx context.Context, tx *sql.Tx, batch []Entry, first []int, res []Result, taken [][]byte) error {
	sctx, cancel := s.stmtTimeout(ctx)
	defer cancel()
	rs, err := tx.QueryContext(sctx, "SELECT "+emailCols+" FROM mc_email WHERE message_id = ANY($1::bytea[])", taken)
	if err != nil {
		return err
	}
	stored, err := scanRows(rs)
	if err != nil {
		return err
	}
	byID := make(map[string]correlate.Tracked, len(stored))
	for _, t := range stored {
		byID[t.MessageID] = t
	}
	for i := range res {
		if first[i] != i || !res[i].Exists {
			continue
		}
		t, ok := byID[batch[i].Tracked.MessageID]
		if !ok {
			return errRace
		}
		res[i].Tracked = t
	}
	return nil
}

// SQLite writes a batch with multi-row statements: sqliteEmailRows emails
// per INSERT (18 parameters each) and sqliteBatchKeyRows keys per INSERT
// (4 each), below SQLite's limit of 32,766 parameters and large enough
// that the per-statement cost of database/sql disappears. Their parameters
// are anonymous ("?"): the driver looks each parameter's name up, and
// SQLite finds a name by walking the list of the statement's names, which
// makes numbered parameters quadratic in their number.
const (
	sqliteEmailRows    = 50
	sqliteBatchKeyRows = 200
)

// sqliteInsertEmailsSQL inserts n emails with IDs chosen by the caller,
// returning the IDs of those inserted: INSERT OR IGNORE skips an email whose
// MessageID is taken without aborting the statement (and so without the
// statement journal an abortable multi-row INSERT needs).
func sqliteInsertEmailsSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR IGNORE INTO mc_email (id, " + insertCols + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for c := 0; c < 1+nInsertCols; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
		}
		b.WriteString(")")
	}
	b.WriteString(" RETURNING id")
	return b.String()
}

// sqliteInsertKeysSQL inserts n keys, 4 parameters each.
func sqliteInsertKeysSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR IGNORE INTO mc_key (kind, value, at, email) VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?)")
	}
	return b.String()
}

var (
	sqliteInsertEmailsFull = sqliteInsertEmailsSQL(sqliteEmailRows)
	sqliteInsertKeysFull   = sqliteInsertKeysSQL(sqliteBatchKeyRows)
)

// sqliteLastIDSQL reads the largest ID ever assigned (AUTOINCREMENT keeps it
// in sqlite_sequence, so the IDs of deleted emails are not reused).
const sqliteLastIDSQL = "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'mc_email'), 0)"

// sqlitePutBatch writes the batch in tx, an IMMEDIATE transaction, which
// holds SQLite's write lock from its start: no other writer, in this
// process or another, can take an ID, so the batch numbers its emails
// itself, after the largest ID ever assigned.
func (s *Store) sqlitePutBatch(ctx context.Context, tx *sql.Tx, batch []Entry, first []int) ([]Result, error) {
	sctx, cancel := s.stmtTimeout(ctx)
	defer func() { cancel() }()
	var next int64
	if err := s.queryRow(sctx, tx, sqliteLastIDSQL).Scan(&next); err != nil {
		return nil, err
	}
	todo := make([]int, 0, len(batch))
	for i := range batch {
		if first[i] == i {
			todo = append(todo, i)
		}
	}
	res := make([]Result, len(batch))
	var (
		args     []any
		keyArgs  []any
		taken    []int
		inserted = make(map[int64]bool, sqliteEmailRows)
		keys     = make([][]correlate.Key, sqliteEmailRows) // of each email of the chunk
		done     int
	)
	for start := 0; start < len(todo); {
		chunk := todo[start:min(len(todo), start+sqliteEmailRows)]
		args = args[:0]
		for j, i := range chunk {
			keys[j] = dedupKeys(batch[i].Keys)
			args = append(args, next+int64(j)+1)
			args = append(args, s.emailArgs(&batch[i].Tracked, keys[j])...)
		}
		q := sqliteInsertEmailsFull
		if len(chunk) < sqliteEmailRows {
			q = sqliteInsertEmailsSQL(len(chunk))
		}
		rs, err := s.query(sctx, tx, q, args...)
		if err != nil {
			return nil, err
		}
		if err := readIDs(rs, inserted); err != nil {
			return nil, err
		}
		for j, i := range chunk {
			id := next + int64(j) + 1
			if !inserted[id] {
				res[i].Exists = true
				taken = append(taken, i)
				continue
			}
			t := batch[i].Tracked
			t.ID = id
			res[i] = Result{Tracked: t}
			at := toMicro(t.Time)
			for _, k := range keys[j] {
				keyArgs = append(keyArgs, indexValue(k.Kind), indexValue(k.Value), at, id)
			}
		}
		if keyArgs, err = s.sqliteInsertKeyRows(sctx, tx, keyArgs, false); err != nil {
			return nil, err
		}
		next += int64(len(chunk))
		start += len(chunk)
		before := done
		done += len(chunk)
		if done/s.batch != before/s.batch || start == len(todo) {
			if keyArgs, err = s.sqliteInsertKeyRows(sctx, tx, keyArgs, true); err != nil {
				return nil, err
			}
			if s.afterChunk != nil {
				s.afterChunk(done)
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			cancel()
			sctx, cancel = s.stmtTimeout(ctx)
		}
	}
	for _, i := range taken {
		t, err := s.byMessageID(sctx, tx, batch[i].Tracked.MessageID)
		if err != nil {
			return nil, err
		}
		res[i].Tracked = t
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// sqliteInsertKeyRows inserts the key rows of keyArgs (four arguments a
// row) in statements of sqliteBatchKeyRows rows, and the rest too when
// all is set, and returns the arguments left.
func (s *Store) sqliteInsertKeyRows(ctx context.Context, tx *sql.Tx, keyArgs []any, all bool) ([]any, error) {
	for len(keyArgs) >= 4*sqliteBatchKeyRows || (all && len(keyArgs) > 0) {
		n := min(len(keyArgs)/4, sqliteBatchKeyRows)
		q := sqliteInsertKeysFull
		if n < sqliteBatchKeyRows {
			q = sqliteInsertKeysSQL(n)
		}
		if _, err := s.execute(ctx, tx, q, keyArgs[:4*n]...); err != nil {
			return keyArgs, err
		}
		keyArgs = keyArgs[:copy(keyArgs, keyArgs[4*n:])]
	}
	return keyArgs, nil
}

// readIDs reads the IDs that rs returns (the emails an INSERT made) into
// ids, which it clears first, and closes rs.
func readIDs(rs *sql.Rows, ids map[int64]bool) error {
	clear(ids)
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return err
		}
		ids[id] = true
	}
	return rs.Close()
}
