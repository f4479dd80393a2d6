// Package sqlstore is a [store.Store] (and so a [correlate.Store]) in a SQL
// database: an embedded SQLite file for one machine, or PostgreSQL for many
// workers sharing one ledger of tracked emails, their sync state and their
// leases, that survives restarts.
//
//	s, err := sqlstore.Open(ctx, "sqlite:/var/lib/mailcorrelate/ledger.db", nil)
//	s, err := sqlstore.Open(ctx, "postgres://crm@db.example/mail?sslmode=verify-full",
//		&sqlstore.Options{Schema: "mailcorrelate"})
//	defer s.Close()
//	engine := correlate.NewEngine(s, chain, nil)
//
// SQLite runs through modernc.org/sqlite, a pure-Go translation of SQLite
// (no cgo, so the library cross-compiles), in WAL mode: readers never wait
// for the writer, and writers of several processes take turns through a
// busy timeout. Any number of processes may open a new file at once: where
// SQLite answers "database is locked" without waiting (switching the file
// to WAL, migrating it), Open waits and tries again until the busy timeout.
// PostgreSQL runs through pgx (github.com/jackc/pgx/v5), the Go PostgreSQL
// driver: the writes of the edges (Apply, Put, NextSequence) and the reads
// of tracked emails use pgx itself, the rest goes through database/sql.
//
// # Durability
//
// PostgreSQL commits as the server is configured. SQLite runs with
// synchronous=NORMAL, which in WAL mode keeps every committed transaction
// through a crash of the process and the database intact through a power
// loss, which may lose the last commits; add "?_pragma=synchronous(FULL)"
// to the URL to keep those too. A transaction cut short, by a cancelled
// context, a lost connection or a killed process, leaves nothing behind.
//
// # Schema
//
// One schema serves both databases; versioned migrations embedded in the
// package create and upgrade it when a Store is opened, inside one locked
// transaction, so workers starting together apply each migration once:
//
//   - mc_email: one row per tracked email, its ID assigned by the database
//     (never reused), a unique index on message_id (NULL when the email has
//     none), times as Unix microseconds, and the list of its keys
//     (index_keys), which Delete follows; an index on (record, at, id) is
//     each record's timeline (on PostgreSQL the record is indexed by 8
//     bytes of its SHA-256, so that a record of any length fits);
//   - mc_key: the inverted index, one row per (kind, value, email), with the
//     email's time copied so that its primary key (kind, value, at, email)
//     answers a newest-first, time-windowed lookup by a backward index range
//     scan; it has no other index, so a key costs one index entry;
//   - mc_history: every change of an email's record, indexed by email;
//   - mc_state: named sync state; mc_lease: leases (holder, expiry, token);
//   - mc_sequence: named counters;
//   - mc_migration: the migrations applied.
//
// Index values — key kinds and values, Message-IDs, sequence names — longer
// than 512 bytes are indexed by their SHA-256 (behind a prefix that no kept
// value begins with: one that does is hashed too), the Message-ID itself
// kept in message_id_long: PostgreSQL refuses a B-tree entry over 2,704
// bytes, and mail from strangers has From addresses and Message-IDs of
// kilobytes. Every read hashes its arguments alike, so nothing changes for
// the caller. State and lease names are at most store.MaxNameLen bytes.
//
// On PostgreSQL every string is BYTEA, because mail carries NUL bytes and
// invalid UTF-8 that TEXT rejects: every Go string round-trips. Read them in
// psql with convert_from(subject, 'UTF8').
//
// # Writes
//
// [Store.Put] writes the email and its keys in one statement on PostgreSQL
// (an INSERT … ON CONFLICT DO NOTHING on message_id, and the keys' INSERT in
// the same WITH) and in one transaction on SQLite: all or nothing. A
// duplicate MessageID stores nothing and returns the stored email with
// [correlate.ErrExists], also when several workers race to track the same
// email. [Store.PutBatch] writes many emails in one transaction, sending
// column arrays (unnest) on PostgreSQL. [Store.Apply] writes the Puts the
// same way, then its Relinks (each keeping a row of history), its Moves
// and States, and checks its lease last, in one transaction. A Move sets
// the email's folder fields, deletes its postings under the keys it drops
// and inserts them under those it adds (a posting already there is kept
// once; long keys are hashed as Put hashes them), and rewrites the
// email's key list (index_keys) to match, so that Delete still finds every
// posting; it keeps no history. [Store.NextSequence] is
// one atomic upsert … RETURNING: no value is ever handed out twice. Writes
// that lose a PostgreSQL deadlock are retried.
//
// On PostgreSQL, Apply and Put cost one round trip: every statement of the
// batch goes in one pipeline, which the server runs as one transaction,
// committed after its last statement or rolled back at the first error.
// What needs deciding between the statements — a lease lost, an email to
// relink missing — is decided by the statements themselves, which then
// fail the transaction (with the function mc_fail that migration 3
// creates). A context that ends while the pipeline is at the server cancels
// it there, and the call reports what happened: an error when nothing was
// written, none when the batch had committed already. Statements are
// prepared once per connection and planned generically (plan_cache_mode),
// as their plans do not depend on their arguments. A batch with Moves is
// the exception: a Move reads the email's key list before it rewrites it,
// so that batch is made statement by statement in a transaction (the
// email's row locked from the read to the commit), as on SQLite, at the
// cost of a round trip per statement; a context that ends before its
// commit rolls it back.
//
// # Leases
//
// A lease is a row (name, holder, until, token). [Store.Acquire] is one
// upsert that takes a free or expired lease (the token counts on), renews
// the holder's own (the token stays) or leaves another holder's alone, so
// any number of workers, in any number of processes and machines, may race
// for it: one wins. On PostgreSQL every expiry is judged by the server's
// clock (clock_timestamp()), so workers whose clocks disagree agree on it;
// a batch's lease is checked in its transaction, its row locked until the
// commit, so that no one takes the lease over in between.
//
// # Reads
//
// [Store.Lookup] reads one key's postings newest first and joins the emails.
//
// # Errors
//
// Every error is wrapped and starts with "sqlstore:". A done context makes a
// call fail with an error wrapping ctx.Err(); a call that fails leaves the
// database as it was. Options.StatementTimeout bounds each call. An error
// that is about the store rather than the call — the server refused or lost
// the connection or is shutting down, the disk is full, the database is
// read-only, unreadable or locked past the busy timeout — also wraps
// store.ErrUnavailable: stop, and try again later.
//
// A Store is safe for concurrent use, and any number of Stores, in one
// process or many, may share a database.
package sqlstore
