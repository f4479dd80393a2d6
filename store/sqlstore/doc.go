// Package sqlstore is a [correlate.Store] in a SQL database: an embedded
// SQLite file for one machine, or PostgreSQL for many workers sharing one
// ledger of tracked emails that survives restarts.
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
// busy timeout. PostgreSQL runs through pgx (github.com/jackc/pgx/v5), the
// Go PostgreSQL driver, behind database/sql.
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
//     (index_keys), which Delete follows;
//   - mc_key: the inverted index, one row per (kind, value, email), with the
//     email's time copied so that its primary key (kind, value, at, email)
//     answers a newest-first, time-windowed lookup by a backward index range
//     scan; it has no other index, so a key costs one index entry;
//   - mc_sequence: named counters;
//   - mc_migration: the migrations applied.
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
// column arrays (unnest) on PostgreSQL. [Store.NextSequence] is one atomic
// upsert … RETURNING: no value is ever handed out twice. Writes that lose a
// PostgreSQL deadlock are retried.
//
// # Reads
//
// [Store.Lookup] reads one key's postings newest first and joins the emails.
// [Store.Candidates] counts overlaps in SQL: for each distinct key its
// newest MaxPerKey postings within the window (LATERAL subqueries on
// PostgreSQL, LIMITed UNION ALL terms on SQLite), grouped by email; only the
// ranked, limited candidates leave the database.
//
// # Errors
//
// Every error is wrapped and starts with "sqlstore:". A done context makes a
// call fail with an error wrapping ctx.Err(); a call that fails leaves the
// database as it was. Options.StatementTimeout bounds each call.
//
// A Store is safe for concurrent use, and any number of Stores, in one
// process or many, may share a database.
package sqlstore
