package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// On PostgreSQL, Apply (and Put, which is an Apply of one email) sends its
// statements in one pipeline — one write, one round trip — on a pgx
// connection of the pool, without database/sql in between. PostgreSQL runs
// the statements of a pipeline, up to its Sync, in one implicit
// transaction: committed after the last one, rolled back at the first
// error, which also skips the rest. No statement of a batch needs the
// result of another on the client, so nothing waits for a reply before the
// end:
//
//   - the Puts, one statement per chunk (pgPutsSQL), which also returns the
//     email stored under each Message-ID found taken;
//   - each Relink, one statement (pgRelinkSQL) that locks the email, files
//     it under its new record and keeps the change, and returns the record
//     it had; a later statement sees what an earlier one wrote, so a Relink
//     reaches a Put of the same batch and a second Relink of an email the
//     first one's record;
//   - the States, one statement;
//   - the lease check, last (pgLeaseCheckSQL), which locks the lease's row
//     until the commit.
//
// What the client decided between the statements before — that a lease was
// lost, that an email to relink is missing, that the email holding a
// Message-ID cannot be read yet — the statements decide in the server:
// they raise an error with mc_fail (migration 3) and the codes below, which
// rolls the whole batch back. The statements are prepared once per
// connection (pgx's statement cache).
//
// A batch with Moves is not sent this way: a Move needs the moved email's
// key list on the client before it can write (see Apply), so such a batch
// is made statement by statement in a transaction (txApply).

// The SQLSTATE codes a batch's statements raise through mc_fail.
const (
	pgCodeLeaseLost = "MC001" // the batch's lease is not held
	pgCodeRace      = "MC002" // the email holding a Message-ID was committed after the statement began
	pgCodeNotFound  = "MC003" // the email a Relink names does not exist
)

// pgCode returns the SQLSTATE code of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// pgRaw runs f on a pgx connection of the database/sql pool.
func (s *Store) pgRaw(ctx context.Context, f func(c *pgx.Conn) error) error {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error { return f(dc.(*stdlib.Conn).Conn()) })
}

// cancelGrace bounds how long a write whose context ended while PostgreSQL
// had its statements waits for the server's answer to the cancel request.
const cancelGrace = time.Second

// pgWrite runs send, which sends one pipeline of statements and reads its
// results, on a pgx connection of the pool.
//
// A pipeline that has reached the server commits unless one of its
// statements fails there: dropping the connection would not stop it, the
// server having every message up to its Sync already. So when ctx ends
// while the pipeline may be at the server, pgWrite asks the server to
// cancel it (a cancel request) and keeps reading, for at most cancelGrace,
// to learn what happened: either the statement running was cancelled and
// the transaction rolled back (send returns that error, which the caller
// reports with ctx's) or it had committed (send returns no error, and the
// write was made). Only when the server does not answer in time is the
// outcome unknown, as for any commit whose connection is lost. A
// connection that was sent a cancel request is closed afterwards (the
// pool drops it): the request could still reach a later statement.
func (s *Store) pgWrite(ctx context.Context, send func(ctx context.Context, c *pgx.Conn) error) error {
	return s.pgRaw(ctx, func(c *pgx.Conn) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ctx.Done() == nil { // a context that never ends: nothing to watch
			return send(ctx, c)
		}
		wctx, giveUp := context.WithCancel(context.WithoutCancel(ctx))
		defer giveUp()
		finished, watched := make(chan struct{}), make(chan struct{})
		stopWatch := context.AfterFunc(ctx, func() {
			defer close(watched)
			t := time.NewTimer(cancelGrace)
			defer t.Stop()
			cctx, cancel := context.WithTimeout(context.Background(), cancelGrace)
			_ = c.PgConn().CancelRequest(cctx) // when it fails, the timer ends the wait
			cancel()
			select {
			case <-finished:
			case <-t.C:
				giveUp() // pgx closes the connection
			}
		})
		err := send(wctx, c)
		close(finished)
		if !stopWatch() {
			<-watched
			cctx, cancel := context.WithTimeout(context.Background(), cancelGrace)
			_ = c.PgConn().Close(cctx)
			cancel()
		}
		return err
	})
}

// pgPutsSQL writes one chunk of emails as pgBatchSQL does, and returns for
// each its ordinal, its drawn ID, whether it was inserted and, when its
// Message-ID was taken, the email stored under it (emailCols; the integer
// columns 0 otherwise), read in the statement's snapshot. An email that a
// concurrent writer committed after the statement began (ON CONFLICT
// waited for it) is not in that snapshot: the statement then fails with
// pgCodeRace, and the batch is made again, in a new one. The subquery's
// LIMIT 1 keeps it a probe of the unique index for each taken email: the
// planner would otherwise be free to make it a join of the whole table.
var pgPutsSQL = pgBatchWith + `
SELECT input.ord, input.id, ins.id IS NOT NULL, ` + pgTakenCols() + `
FROM input LEFT JOIN ins ON ins.id = input.id
LEFT JOIN LATERAL (SELECT ` + emailColsE + ` FROM mc_email e
	WHERE ins.id IS NULL AND e.message_id = input.message_id LIMIT 1) AS t(` + pgTakenNames(",") + `) ON true
WHERE CASE WHEN ins.id IS NULL AND t.c0 IS NULL
	THEN mc_fail('` + pgCodeRace + `', 'the email holding the Message-ID was committed after the statement began') ELSE true END`

// pgPutOneSQL is pgPutsSQL for a chunk of one email, whose columns are
// parameters ($1 … $17, insertCols) rather than arrays: PostgreSQL runs it
// with less work.
var pgPutOneSQL = `WITH ins AS (
	INSERT INTO mc_email (` + insertCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
	ON CONFLICT (message_id) DO NOTHING
	RETURNING id, at
), k AS (
	INSERT INTO mc_key (kind, value, at, email)
	SELECT u.kind, u.value, ins.at, ins.id FROM ins CROSS JOIN unnest($18::bytea[], $19::bytea[]) AS u(kind, value)
)
SELECT 1::bigint, COALESCE(ins.id, 0), ins.id IS NOT NULL, ` + pgTakenCols() + `
FROM (VALUES (1)) AS one LEFT JOIN ins ON true
LEFT JOIN LATERAL (SELECT ` + emailColsE + ` FROM mc_email e
	WHERE ins.id IS NULL AND e.message_id = $1 LIMIT 1) AS t(` + pgTakenNames(",") + `) ON true
WHERE CASE WHEN ins.id IS NULL AND t.c0 IS NULL
	THEN mc_fail('` + pgCodeRace + `', 'the email holding the Message-ID was committed after the statement began') ELSE true END`

// pgTakenNames returns the names of the columns of the taken email t of
// pgPutsSQL (c0 … c15, emailCols in order), joined by sep.
func pgTakenNames(sep string) string {
	names := make([]string, len(newPGRow().dest))
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	return strings.Join(names, sep)
}

// pgTakenCols returns the columns of the taken email t of pgPutsSQL, the
// integer ones 0 when there is none.
func pgTakenCols() string {
	cols := strings.Split(pgTakenNames(" "), " ")
	for i := range cols {
		cols[i] = "t." + cols[i]
	}
	for _, i := range []int{0, 11, 12, 13, 14, 15} { // id, direction, at, method, correlated_with, parent
		cols[i] = "COALESCE(" + cols[i] + ", 0)"
	}
	return strings.Join(cols, ", ")
}

// pgRelinkSQL makes one Relink: it locks the email named by %s ($1),
// files it under ($2, $3) and keeps the change (actor $4, cause $5, time
// $6) unless it is under that record already, and returns the email's ID,
// Message-ID and record before. An email that does not exist fails the
// statement with pgCodeNotFound.
const pgRelinkSQL = `WITH old AS (
	SELECT id, COALESCE(message_id_long, message_id) AS mid, record_type, record_id FROM mc_email WHERE %s FOR UPDATE
), chg AS (
	SELECT id, record_type, record_id FROM old WHERE record_type <> $2 OR record_id <> $3
), u AS (
	UPDATE mc_email e SET record_type = $2, record_id = $3 FROM chg WHERE e.id = chg.id
), h AS (
	INSERT INTO mc_history (` + historyCols + `) SELECT id, record_type, record_id, $2, $3, $4, $5, $6 FROM chg
)
SELECT old.id, old.mid, old.record_type, old.record_id FROM (VALUES (1)) AS one LEFT JOIN old ON true
WHERE CASE WHEN old.id IS NULL THEN mc_fail('` + pgCodeNotFound + `', 'tracked email not found') ELSE true END`

var (
	pgRelinkByID  = fmt.Sprintf(pgRelinkSQL, "id = $1")
	pgRelinkByMsg = fmt.Sprintf(pgRelinkSQL, "message_id = $1")
)

// pgStatesSQL writes several States, their names distinct: it deletes
// those named by $3 and upserts those of $1 (names) and $2 (values).
const pgStatesSQL = `WITH d AS (DELETE FROM mc_state WHERE name = ANY($3::bytea[]))
INSERT INTO mc_state (name, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])
ON CONFLICT (name) DO UPDATE SET value = excluded.value`

// pgLeaseCheckSQL finds lease ($1, $2, $3) held and locks its row until
// the commit (FOR SHARE: Acquire and Release, which update it, wait), so
// that no one takes the lease over before the batch commits; a lease not
// held fails the statement with pgCodeLeaseLost.
var pgLeaseCheckSQL = `SELECT CASE WHEN count(*) = 0 THEN mc_fail('` + pgCodeLeaseLost + `', 'lease lost') END
FROM (` + pgLeases.check + `) AS l`

// pgApply makes b (checked; first is firstOf(b.Puts)) in one pipeline, made
// again when PostgreSQL reports a deadlock or a serialization failure, or
// an email found taken was deleted before it could be read.
func (s *Store) pgApply(ctx context.Context, b *store.Batch, first []int) (store.Result, error) {
	for attempt := 1; ; attempt++ {
		var res store.Result
		err := s.pgWrite(ctx, func(ctx context.Context, c *pgx.Conn) (err error) {
			res, err = s.pgApplyOnce(ctx, c, b, first)
			return err
		})
		if err != nil && attempt < maxAttempts && ctx.Err() == nil && (retryable(err) || errors.Is(err, errRace)) {
			continue
		}
		return res, err
	}
}

// pgApplyOnce sends the pipeline of b on c and reads its results.
func (s *Store) pgApplyOnce(ctx context.Context, c *pgx.Conn, b *store.Batch, first []int) (store.Result, error) {
	var (
		pb    pgx.Batch
		res   store.Result
		now   = time.Now()
		state = distinctStates(b.States)
	)
	if len(b.Puts) > 0 {
		res.Tracked = make([]correlate.Tracked, len(b.Puts))
		res.Existing = make([]bool, len(b.Puts))
	}
	todo := s.pgQueuePuts(&pb, b.Puts, first) // the Puts of each chunk, first occurrences only
	for _, rl := range b.Relinks {
		at := rl.Change.Time
		if at.IsZero() {
			at = now
		}
		q, arg := pgRelinkByID, any(rl.ID)
		if rl.ID == 0 {
			q, arg = pgRelinkByMsg, s.msgID(rl.MessageID)
		}
		pb.Queue(q, arg, bytesOf(rl.Record.Type), bytesOf(rl.Record.ID), bytesOf(rl.Change.Actor),
			bytesOf(string(rl.Change.Cause)), toMicro(at))
	}
	pgQueueStates(&pb, state)
	if l := b.Lease; l != nil {
		pb.Queue(pgLeaseCheckSQL, s.leaseArgs(l.Name, l.Holder, l.Token)...)
	}
	if pb.Len() == 0 {
		return res, nil
	}

	br := c.SendBatch(ctx, &pb)
	err := s.pgReadBatch(br, b, todo, len(state) > 0, now, &res)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.Result{}, err
	}
	for i, j := range first {
		if j != i {
			res.Tracked[i], res.Existing[i] = res.Tracked[j], true
		}
	}
	return res, nil
}

// pgQueuePuts queues the first occurrences of puts (see firstOf) on pb, by
// chunks of at most s.batch, and returns the Puts of each chunk.
func (s *Store) pgQueuePuts(pb *pgx.Batch, puts []store.Entry, first []int) (todo [][]int) {
	for start := 0; start < len(puts); {
		var chunk []int
		for ; start < len(puts) && len(chunk) < s.batch; start++ {
			if first[start] == start {
				chunk = append(chunk, start)
			}
		}
		switch {
		case len(chunk) == 1:
			e := &puts[chunk[0]]
			keys := dedupKeys(e.Keys)
			kinds, values := keyColumns(keys)
			pb.Queue(pgPutOneSQL, append(s.emailArgs(&e.Tracked, keys), kinds, values)...)
		case len(chunk) > 1:
			var cols pgColumns // not reused: pgx reads the arguments when the batch is sent
			for j, i := range chunk {
				cols.add(int64(j+1), &puts[i])
			}
			pb.Queue(pgPutsSQL, cols.args()...)
		default:
			continue
		}
		todo = append(todo, chunk)
	}
	return todo
}

// pgQueueStates queues the writes of state (distinct names) on pb: one
// statement whatever their number.
func pgQueueStates(pb *pgx.Batch, state []store.State) {
	switch {
	case len(state) == 0:
	case len(state) == 1 && state[0].Value != nil:
		pb.Queue(putStateSQL, bytesOf(state[0].Name), bytesOf(string(state[0].Value)))
	case len(state) == 1:
		pb.Queue(deleteStateSQL, bytesOf(state[0].Name))
	default:
		var names, values, deleted [][]byte
		for _, st := range state {
			if st.Value == nil {
				deleted = append(deleted, bytesOf(st.Name))
			} else {
				names, values = append(names, bytesOf(st.Name)), append(values, bytesOf(string(st.Value)))
			}
		}
		pb.Queue(pgStatesSQL, names, values, deleted)
	}
}

// pgReadBatch reads the results of the pipeline pgApplyOnce sent for b:
// the Puts of each chunk of todo, the relinks, the state writes (states
// when there are some) and the lease check.
func (s *Store) pgReadBatch(br pgx.BatchResults, b *store.Batch, todo [][]int, states bool, now time.Time, res *store.Result) error {
	for _, chunk := range todo {
		if err := s.pgReadPuts(br, b.Puts, chunk, res); err != nil {
			return err
		}
	}
	for _, rl := range b.Relinks {
		ch, err := pgReadRelink(br, rl, now)
		if err != nil {
			return err
		}
		if ch.From != ch.To {
			res.Changes = append(res.Changes, ch)
		}
	}
	if states {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	if l := b.Lease; l != nil {
		if _, err := br.Exec(); err != nil {
			if pgCode(err) == pgCodeLeaseLost {
				return fmt.Errorf("lease %q of %q (token %d): %w", l.Name, l.Holder, l.Token, store.ErrLeaseLost)
			}
			return err
		}
	}
	return nil
}

// pgReadPuts reads the rows of one chunk's pgPutsSQL into res.
func (s *Store) pgReadPuts(br pgx.BatchResults, puts []store.Entry, chunk []int, res *store.Result) error {
	rows, err := br.Query()
	if err != nil {
		if pgCode(err) == pgCodeRace {
			return errRace
		}
		return err
	}
	defer rows.Close()
	var (
		ord, id  int64
		inserted bool
		r        = newPGRow()
		dest     = append([]any{&ord, &id, &inserted}, r.dest...)
		seen     int
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if ord < 1 || ord > int64(len(chunk)) {
			return fmt.Errorf("puts statement returned ordinal %d of %d", ord, len(chunk))
		}
		i := chunk[ord-1]
		seen++
		if inserted {
			t := puts[i].Tracked
			t.ID = id
			res.Tracked[i] = t
			continue
		}
		t, err := r.tracked()
		if err != nil {
			return err
		}
		res.Tracked[i], res.Existing[i] = t, true
	}
	if err := rows.Err(); err != nil {
		if pgCode(err) == pgCodeRace {
			return errRace
		}
		return err
	}
	if seen != len(chunk) {
		return fmt.Errorf("puts statement returned %d rows for %d emails", seen, len(chunk))
	}
	return nil
}

// pgReadRelink reads the row of rl's pgRelinkSQL: the change it made (From
// equal to To when it changed nothing).
func pgReadRelink(br pgx.BatchResults, rl store.Relink, now time.Time) (store.Change, error) {
	var (
		c                  store.Change
		mid, rtype, rid    []byte
		at                 = rl.Change.Time
		errNotFoundWrapped = func() error {
			if rl.ID != 0 {
				return fmt.Errorf("relink %d: %w", rl.ID, correlate.ErrNotFound)
			}
			return fmt.Errorf("relink %q: %w", rl.MessageID, correlate.ErrNotFound)
		}
	)
	err := br.QueryRow().Scan(&c.Email, &mid, &rtype, &rid)
	if pgCode(err) == pgCodeNotFound {
		return c, errNotFoundWrapped()
	}
	if err != nil {
		return c, err
	}
	if at.IsZero() {
		at = now
	}
	c.MessageID, c.From = string(mid), correlate.Record{Type: string(rtype), ID: string(rid)}
	c.To, c.Actor, c.Cause, c.Time = rl.Record, rl.Change.Actor, rl.Change.Cause, fromMicro(toMicro(at))
	return c, nil
}

// distinctStates returns the states of a batch as they stand after it,
// one per name (the last one given), in name order: one statement writes
// them, and writers of the same names take their rows' locks in one order.
func distinctStates(sts []store.State) []store.State {
	if len(sts) < 2 {
		return sts
	}
	last := make(map[string]int, len(sts))
	for i, st := range sts {
		last[st.Name] = i
	}
	out := make([]store.State, 0, len(last))
	for i, st := range sts {
		if last[st.Name] == i {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b store.State) int { return strings.Compare(a.Name, b.Name) })
	return out
}
