package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/internal/check"
	"github.com/mailcorrelate/mailcorrelate/store/internal/cursor"
)

// Relink implements correlate.Store, and keeps the change in the email's
// History with cause manual.
func (s *Store) Relink(ctx context.Context, id int64, r correlate.Record) error {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return fail(ctx, "relink", err)
	}
	err = s.transact(ctx, func(tx *sql.Tx) error {
		_, _, err := s.relink(ctx, tx, store.Relink{ID: id, Record: r, Change: store.Change{Cause: store.CauseManual}}, time.Now())
		return err
	})
	if err != nil {
		return fail(ctx, fmt.Sprintf("relink %d", id), err)
	}
	return nil
}

// An emailRead reads the email a Relink or a Move names, by ID or by
// Message-ID. On PostgreSQL it locks the email's row until the commit, so
// that changes of one email in concurrent batches are made one after the
// other, each from what the one before left.
type emailRead struct{ byID, byMsgID, pgByID, pgByMsgID string }

func newEmailRead(cols string) emailRead {
	q := "SELECT " + cols + " FROM mc_email WHERE "
	return emailRead{byID: q + "id = $1", byMsgID: q + "message_id = $1",
		pgByID: q + "id = $1 FOR UPDATE", pgByMsgID: q + "message_id = $1 FOR UPDATE"}
}

// row reads, inside tx, the email id or, when id is 0, the one with
// Message-ID msgID.
func (r *emailRead) row(ctx context.Context, s *Store, tx *sql.Tx, id int64, msgID string) *sql.Row {
	switch {
	case id != 0 && s.pg:
		return s.queryRow(ctx, tx, r.pgByID, id)
	case id != 0:
		return s.queryRow(ctx, tx, r.byID, id)
	case s.pg:
		return s.queryRow(ctx, tx, r.pgByMsgID, s.msgID(msgID))
	default:
		return s.queryRow(ctx, tx, r.byMsgID, s.msgID(msgID))
	}
}

// relinkRead is the read of the email a Relink changes.
var relinkRead = newEmailRead("id, COALESCE(message_id_long, message_id), record_type, record_id")

// relink makes rl inside tx: it files the email under rl.Record and keeps
// the change (a zero Change.Time is now), unless the email is under that
// record already. An email that does not exist is an error wrapping
// correlate.ErrNotFound.
func (s *Store) relink(ctx context.Context, tx *sql.Tx, rl store.Relink, now time.Time) (store.Change, bool, error) {
	var (
		c     store.Change
		msgID sql.NullString
	)
	err := relinkRead.row(ctx, s, tx, rl.ID, rl.MessageID).Scan(&c.Email, &msgID, &c.From.Type, &c.From.ID)
	if errors.Is(err, sql.ErrNoRows) {
		if rl.ID != 0 {
			return c, false, fmt.Errorf("relink %d: %w", rl.ID, correlate.ErrNotFound)
		}
		return c, false, fmt.Errorf("relink %q: %w", rl.MessageID, correlate.ErrNotFound)
	}
	if err != nil || c.From == rl.Record {
		return store.Change{}, false, err
	}
	c.MessageID, c.To, c.Actor, c.Cause = msgID.String, rl.Record, rl.Change.Actor, rl.Change.Cause
	at := rl.Change.Time
	if at.IsZero() {
		at = now
	}
	c.Time = fromMicro(toMicro(at))
	if s.pg {
		_, err = tx.ExecContext(ctx, pgRecordChange, c.Email, s.str(c.To.Type), s.str(c.To.ID),
			s.str(c.From.Type), s.str(c.From.ID), s.str(c.Actor), s.str(string(c.Cause)), toMicro(c.Time))
		return c, err == nil, err
	}
	if _, err = s.execute(ctx, tx, sqliteRelinkSQL, c.To.Type, c.To.ID, c.Email); err != nil {
		return store.Change{}, false, err
	}
	_, err = s.execute(ctx, tx, sqliteInsertHistory, c.Email, c.From.Type, c.From.ID, c.To.Type, c.To.ID,
		c.Actor, string(c.Cause), toMicro(c.Time))
	return c, err == nil, err
}

const (
	historyCols = "email, from_type, from_id, to_type, to_id, actor, cause, at"
	// pgRecordChange files email $1 under ($2, $3) and keeps the change
	// from ($4, $5).
	pgRecordChange = `WITH u AS (UPDATE mc_email SET record_type = $2, record_id = $3 WHERE id = $1)
INSERT INTO mc_history (` + historyCols + `) VALUES ($1, $4, $5, $2, $3, $6, $7, $8)`
	sqliteRelinkSQL     = "UPDATE mc_email SET record_type = $1, record_id = $2 WHERE id = $3"
	sqliteInsertHistory = "INSERT INTO mc_history (" + historyCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)

// The emails under a key that RelinkKey changes: $1, $2 the record, $3, $4
// the key.
const relinkKeyWhere = `id IN (SELECT email FROM mc_key WHERE kind = $3 AND value = $4)
	AND (record_type <> $1 OR record_id <> $2)`

const (
	// pgRelinkKey locks the emails it changes, changes them and keeps a
	// change for each ($5 the cause, $6 the time): one statement.
	pgRelinkKey = `WITH old AS (
	SELECT id, record_type, record_id FROM mc_email WHERE ` + relinkKeyWhere + `
	FOR UPDATE
), u AS (
	UPDATE mc_email e SET record_type = $1, record_id = $2 FROM old WHERE e.id = old.id
)
INSERT INTO mc_history (` + historyCols + `)
SELECT old.id, old.record_type, old.record_id, $1, $2, ''::bytea, $5, $6 FROM old`
	// SQLite keeps the changes first, then makes them, under its write
	// lock.
	sqliteRelinkKeyHistory = `INSERT INTO mc_history (` + historyCols + `)
SELECT id, record_type, record_id, $1, $2, '', $5, $6 FROM mc_email WHERE ` + relinkKeyWhere
	sqliteRelinkKey = "UPDATE mc_email SET record_type = $1, record_id = $2 WHERE " + relinkKeyWhere
)

// RelinkKey implements correlate.Store. It changes every email under k and
// keeps a change (cause folder) in the History of each, in one
// transaction.
func (s *Store) RelinkKey(ctx context.Context, k correlate.Key, r correlate.Record) (int, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return 0, fail(ctx, "relink key", err)
	}
	args := []any{s.str(r.Type), s.str(r.ID), s.ix(k.Kind), s.ix(k.Value), s.str(string(store.CauseFolder)), time.Now().UnixMicro()}
	var n int64
	err = s.transact(ctx, func(tx *sql.Tx) error {
		q := pgRelinkKey
		if !s.pg {
			q = sqliteRelinkKeyHistory
		}
		res, err := s.execute(ctx, tx, q, args...)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || s.pg {
			return err
		}
		_, err = s.execute(ctx, tx, sqliteRelinkKey, args[:4]...)
		return err
	})
	if err != nil {
		return 0, fail(ctx, "relink key "+k.Kind, err)
	}
	return int(n), nil
}

// Apply implements store.Store: one transaction, retried whole when
// PostgreSQL reports a deadlock. The lease is checked last, just before
// the commit, and on PostgreSQL its row stays locked until then, so that
// no one takes the lease over between the check and the commit.
//
// On PostgreSQL a batch without Moves is one pipeline, one round trip
// (pgApply); a batch with Moves is made statement by statement in a
// transaction (txApply, as on SQLite). A Move rewrites the moved email's
// key list (index_keys, the list Delete follows), which only the client
// decodes, so it reads the email before it writes: a statement whose
// arguments depend on the reply to another cannot join the pipeline, and
// rewriting the list in SQL would need a decoder of its own in the
// database. Moves are rare (an email found in another folder than the one
// it was tracked in), so their batches take the slower path that SQLite
// takes, whose other writes (PutBatch's for the Puts, Relink's for the
// Relinks) serve PostgreSQL already.
func (s *Store) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return store.Result{}, fail(ctx, "apply", err)
	}
	first, err := firstOf(b.Puts)
	if err != nil {
		return store.Result{}, fmt.Errorf("sqlstore: apply: %w", err)
	}
	if err := check.Batch(&b); err != nil {
		return store.Result{}, fmt.Errorf("sqlstore: apply: %w", err)
	}
	if s.pg && len(b.Moves) == 0 {
		res, err := s.pgApply(ctx, &b, first)
		if err != nil {
			return store.Result{}, fail(ctx, "apply", err)
		}
		return res, nil
	}
	res, err := s.txApply(ctx, &b, first)
	if err != nil {
		return store.Result{}, fail(ctx, "apply", err)
	}
	return res, nil
}

// sqliteSmallPuts is the most Puts an Apply writes one by one, with the
// statements prepared at Open (two for each email), rather than with
// PutBatch's multi-row statements, which are built for their number of
// rows and so parsed at every call.
const sqliteSmallPuts = 16

// txApply makes b (checked; first is firstOf(b.Puts)) in one
// transaction, statement by statement, retried whole when PostgreSQL
// reports a deadlock: SQLite's Apply, whose transactions hold the write
// lock from their start, and PostgreSQL's for a batch with Moves (see
// Apply). On SQLite, a batch that is one statement (a State alone, no
// lease) is made by that statement alone, which SQLite makes atomically.
func (s *Store) txApply(ctx context.Context, b *store.Batch, first []int) (store.Result, error) {
	states := distinctStates(b.States)
	if !s.pg && len(b.Puts) == 0 && len(b.Relinks) == 0 && len(b.Moves) == 0 && b.Lease == nil && len(states) <= 1 {
		if len(states) == 1 {
			q, args := s.stateWrite(states[0])
			if _, err := s.exec(ctx, q, args...); err != nil {
				return store.Result{}, err
			}
		}
		return store.Result{}, nil
	}
	var res store.Result
	err := s.transact(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		res = store.Result{} // what an attempt rolled back wrote is not reported
		if len(b.Puts) > 0 {
			res.Tracked = make([]correlate.Tracked, len(b.Puts))
			res.Existing = make([]bool, len(b.Puts))
		}
		if n := len(b.Puts); n > sqliteSmallPuts || s.pg { // sqliteWriter is SQLite's
			rs, err := s.writeEntries(ctx, tx, b.Puts, first)
			if err != nil {
				return err
			}
			for i, r := range rs {
				res.Tracked[i], res.Existing[i] = r.Tracked, r.Exists
			}
		} else if n > 0 {
			w := sqliteWriter{s: s, tx: tx}
			for i, j := range first {
				if j != i {
					res.Tracked[i], res.Existing[i] = res.Tracked[j], true
					continue
				}
				t, exists, err := w.put(ctx, b.Puts[i].Tracked, dedupKeys(b.Puts[i].Keys))
				if err != nil {
					return err
				}
				res.Tracked[i], res.Existing[i] = t, exists
			}
		}
		for _, rl := range b.Relinks {
			c, changed, err := s.relink(ctx, tx, rl, now)
			if err != nil {
				return err
			}
			if changed {
				res.Changes = append(res.Changes, c)
			}
		}
		for _, mv := range b.Moves {
			if err := s.move(ctx, tx, mv); err != nil {
				return err
			}
		}
		for _, st := range states {
			q, args := s.stateWrite(st)
			if _, err := s.execute(ctx, tx, q, args...); err != nil {
				return err
			}
		}
		if l := b.Lease; l != nil {
			var one int
			err := s.queryRow(ctx, tx, s.leases().check, s.leaseArgs(l.Name, l.Holder, l.Token)...).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("lease %q of %q (token %d): %w", l.Name, l.Holder, l.Token, store.ErrLeaseLost)
			}
			return err
		}
		return nil
	})
	return res, err
}

// stateWrite returns the statement that writes st (deletes it when its
// Value is nil) and its arguments.
func (s *Store) stateWrite(st store.State) (string, []any) {
	if st.Value == nil {
		return deleteStateSQL, []any{s.str(st.Name)}
	}
	return putStateSQL, []any{s.str(st.Name), bytesOf(string(st.Value))}
}

const (
	putStateSQL = `INSERT INTO mc_state (name, value) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET value = excluded.value`
	deleteStateSQL = "DELETE FROM mc_state WHERE name = $1"
	statesFromSQL  = "SELECT name, value FROM mc_state WHERE name >= $1 ORDER BY name"
	statesRangeSQL = "SELECT name, value FROM mc_state WHERE name >= $1 AND name < $2 ORDER BY name"
)

// States implements store.Store. A prefix is a range of the names' index
// (no LIKE: a prefix's "%" and "_" are characters).
func (s *Store) States(ctx context.Context, prefix string) ([]store.State, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return nil, fail(ctx, "states", err)
	}
	q, args := statesFromSQL, []any{s.str(prefix)}
	if hi, ok := successor(prefix); ok {
		q, args = statesRangeSQL, append(args, s.str(hi))
	}
	rs, err := s.query(ctx, nil, q, args...)
	if err != nil {
		return nil, fail(ctx, "states", err)
	}
	defer rs.Close()
	var out []store.State
	for rs.Next() {
		var st store.State
		if err := rs.Scan(&st.Name, &st.Value); err != nil {
			return nil, fail(ctx, "states", err)
		}
		if st.Value == nil {
			st.Value = []byte{} // a state is never nil: nil deletes
		}
		out = append(out, st)
	}
	if err := rs.Err(); err != nil {
		return nil, fail(ctx, "states", err)
	}
	return out, nil
}

// successor returns the least string greater than every string that starts
// with prefix, and false when there is none (prefix is empty or all 0xff).
func successor(prefix string) (string, bool) {
	b := []byte(prefix)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "", false
	}
	b[len(b)-1]++
	return string(b), true
}

const historySQL = `SELECT COALESCE(e.message_id_long, e.message_id), h.from_type, h.from_id, h.to_type, h.to_id, h.actor, h.cause, h.at
FROM mc_email e LEFT JOIN mc_history h ON h.email = e.id WHERE e.id = $1 ORDER BY h.id`

// History implements store.Store: one query, the email joined with its
// changes.
func (s *Store) History(ctx context.Context, id int64) ([]store.Change, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return nil, fail(ctx, "history", err)
	}
	rs, err := s.query(ctx, nil, historySQL, id)
	if err != nil {
		return nil, fail(ctx, fmt.Sprintf("history %d", id), err)
	}
	defer rs.Close()
	found := false
	var out []store.Change
	for rs.Next() {
		found = true
		var (
			msgID                                     sql.NullString
			fromType, fromID, toType, toID, actor, ca sql.NullString
			at                                        sql.NullInt64
		)
		if err := rs.Scan(&msgID, &fromType, &fromID, &toType, &toID, &actor, &ca, &at); err != nil {
			return nil, fail(ctx, fmt.Sprintf("history %d", id), err)
		}
		if !at.Valid {
			continue // the email, without changes
		}
		out = append(out, store.Change{
			Email:     id,
			MessageID: msgID.String,
			From:      correlate.Record{Type: fromType.String, ID: fromID.String},
			To:        correlate.Record{Type: toType.String, ID: toID.String},
			Actor:     actor.String,
			Cause:     store.Cause(ca.String),
			Time:      fromMicro(at.Int64),
		})
	}
	if err := rs.Err(); err != nil {
		return nil, fail(ctx, fmt.Sprintf("history %d", id), err)
	}
	if !found {
		return nil, fmt.Errorf("sqlstore: history %d: %w", id, correlate.ErrNotFound)
	}
	return out, nil
}

// emailsWhere selects a page of a record's timeline: $1, $2 the record,
// ($3, $4) the (at, id) the page starts below. On PostgreSQL the record is
// found through the 8 bytes of its SHA-256 that mc_email_record indexes.
const (
	sqliteEmailsSQL = `WHERE record_type = $1 AND record_id = $2 AND (at, id) < ($3, $4)
ORDER BY at DESC, id DESC LIMIT $5`
	pgEmailsSQL = `WHERE substr(sha256(record_type || '\x00'::bytea || record_id), 1, 8) = substr(sha256($1::bytea || '\x00'::bytea || $2::bytea), 1, 8)
	AND record_type = $1 AND record_id = $2 AND (at, id) < ($3, $4)
ORDER BY at DESC, id DESC LIMIT $5`
)

var (
	sqliteEmails = "SELECT " + emailCols + " FROM mc_email " + sqliteEmailsSQL
	pgEmails     = "SELECT " + emailCols + " FROM mc_email " + pgEmailsSQL
)

// Emails implements store.Store: an index range scan of mc_email_record,
// backwards from the cursor, one row more than the page to learn whether
// another follows.
func (s *Store) Emails(ctx context.Context, r correlate.Record, limit int, cur string) ([]correlate.Tracked, string, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return nil, "", fail(ctx, "emails", err)
	}
	if limit <= 0 {
		limit = correlate.DefaultLimit
	}
	at, last := int64(math.MaxInt64), int64(math.MaxInt64)
	if cur != "" {
		if at, last, err = cursor.Decode(cur); err != nil {
			return nil, "", fmt.Errorf("sqlstore: emails: %w", err)
		}
	}
	q := sqliteEmails
	if s.pg {
		q = pgEmails
	}
	out, err := s.readEmails(ctx, q, s.str(r.Type), s.str(r.ID), at, last, int64(min(limit, math.MaxInt32))+1)
	if err != nil {
		return nil, "", fail(ctx, "emails "+r.String(), err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	end := out[limit-1]
	return out, cursor.Encode(toMicro(end.Time), end.ID), nil
}

var scanSQL = "SELECT " + emailCols + " FROM mc_email WHERE id > $1 ORDER BY id LIMIT $2"

// Scan implements store.Store: a range scan of the primary key.
func (s *Store) Scan(ctx context.Context, after int64, limit int) ([]correlate.Tracked, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return nil, fail(ctx, "scan", err)
	}
	if limit <= 0 {
		limit = correlate.DefaultLimit
	}
	out, err := s.readEmails(ctx, scanSQL, after, int64(limit))
	if err != nil {
		return nil, fail(ctx, "scan", err)
	}
	return out, nil
}

// Leases keep Until as Unix microseconds. On PostgreSQL "now" is the
// server's clock (clock_timestamp(), not the transaction's start), so that
// workers on machines whose clocks disagree agree on expiry; SQLite, one
// machine's file, takes this process's clock as the last parameter ($4).
const (
	pgNow     = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
	sqliteNow = "$4"

	// acquireSQL takes lease $1 for holder $2 for $3 µs: a new row (token
	// 1); or the row of an expired or released lease, whoever held it (the
	// token counts on); or a renewal by its holder (the same token). A
	// lease another holder has is left alone and no row comes back.
	acquireSQL = `INSERT INTO mc_lease AS l (name, holder, until, token) VALUES ($1, $2, %s + $3, 1)
ON CONFLICT (name) DO UPDATE SET
	holder = excluded.holder,
	until = excluded.until,
	token = CASE WHEN l.holder = excluded.holder AND l.until > excluded.until - $3 THEN l.token ELSE l.token + 1 END
WHERE l.holder = excluded.holder OR l.until <= excluded.until - $3
RETURNING until, token`
	leaseHolderSQL = "SELECT holder, until FROM mc_lease WHERE name = $1"
	// checkLeaseSQL finds lease ($1, $2, $3) if held.
	checkLeaseSQL = "SELECT 1 FROM mc_lease WHERE name = $1 AND holder = $2 AND token = $3 AND until > %s"
	releaseSQL    = "UPDATE mc_lease SET until = 0 WHERE name = $1 AND holder = $2 AND token = $3 AND until > %s"
)

// leaseQueries are a dialect's lease statements, with its clock.
type leaseQueries struct{ acquire, check, release string }

var (
	pgLeases = leaseQueries{
		acquire: fmt.Sprintf(acquireSQL, pgNow),
		// The lease's row stays locked until the batch commits: no one
		// takes the lease over in between.
		check:   fmt.Sprintf(checkLeaseSQL, pgNow) + " FOR SHARE",
		release: fmt.Sprintf(releaseSQL, pgNow),
	}
	sqliteLeases = leaseQueries{
		acquire: fmt.Sprintf(acquireSQL, sqliteNow),
		check:   fmt.Sprintf(checkLeaseSQL, sqliteNow),
		release: fmt.Sprintf(releaseSQL, sqliteNow),
	}
)

func (s *Store) leases() *leaseQueries {
	if s.pg {
		return &pgLeases
	}
	return &sqliteLeases
}

// leaseArgs returns the arguments of a lease statement: name, holder and
// token (or ttl), and on SQLite the time now.
func (s *Store) leaseArgs(name, holder string, n int64) []any {
	args := []any{s.str(name), s.str(holder), n}
	if !s.pg {
		args = append(args, time.Now().UnixMicro())
	}
	return args
}

// Acquire implements store.Store in one statement, an upsert that only
// one of any number of racing workers wins.
func (s *Store) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (store.Lease, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return store.Lease{}, fail(ctx, "acquire", err)
	}
	if err := check.Name("lease", name); err != nil {
		return store.Lease{}, fmt.Errorf("sqlstore: acquire: %w", err)
	}
	us := ttl.Microseconds()
	if us <= 0 {
		return store.Lease{}, fmt.Errorf("sqlstore: acquire %q: ttl %v is not positive", name, ttl)
	}
	if !s.pg {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	var until, token int64
	err = s.queryRow(ctx, nil, s.leases().acquire, s.leaseArgs(name, holder, us)...).Scan(&until, &token)
	if errors.Is(err, sql.ErrNoRows) {
		var (
			other string
			to    int64
		)
		err := s.queryRow(ctx, nil, leaseHolderSQL, s.str(name)).Scan(&other, &to)
		if errors.Is(err, sql.ErrNoRows) { // no lease row is ever deleted; say what is known
			return store.Lease{}, fmt.Errorf("sqlstore: acquire %q: %w", name, store.ErrLeaseHeld)
		}
		if err != nil {
			return store.Lease{}, fail(ctx, fmt.Sprintf("acquire %q", name), err)
		}
		return store.Lease{}, fmt.Errorf("sqlstore: acquire %q: %w (by %q until %s)", name, store.ErrLeaseHeld,
			other, fromMicro(to).Format(time.RFC3339Nano))
	}
	if err != nil {
		return store.Lease{}, fail(ctx, fmt.Sprintf("acquire %q", name), err)
	}
	return store.Lease{Name: name, Holder: holder, Until: fromMicro(until), Token: token}, nil
}

// Release implements store.Store.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return fail(ctx, "release", err)
	}
	n, err := s.exec(ctx, s.leases().release, s.leaseArgs(l.Name, l.Holder, l.Token)...)
	if err != nil {
		return fail(ctx, fmt.Sprintf("release %q", l.Name), err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: release %q of %q (token %d): %w", l.Name, l.Holder, l.Token, store.ErrLeaseLost)
	}
	return nil
}
