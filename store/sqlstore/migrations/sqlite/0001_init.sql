-- Tracked emails: one row per email. Strings are stored as TEXT with their
-- exact bytes (SQLite does not validate UTF-8), times as Unix microseconds.
CREATE TABLE mc_email (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id         TEXT UNIQUE,
	record_type        TEXT NOT NULL,
	record_id          TEXT NOT NULL,
	token              TEXT NOT NULL,
	conversation_index BLOB,
	subject            TEXT NOT NULL,
	participants       BLOB,
	mailbox            TEXT NOT NULL,
	folder_id          TEXT NOT NULL,
	folder_path        TEXT NOT NULL,
	direction          INTEGER NOT NULL,
	at                 INTEGER NOT NULL,
	method             INTEGER NOT NULL,
	correlated_with    INTEGER NOT NULL,
	parent             INTEGER NOT NULL,
	-- The email's keys (kind and value of each, length-prefixed), for Delete.
	index_keys         BLOB
);

-- The inverted index: one row per (key, email). at is the email's time,
-- copied so that a newest-first lookup reads the primary key alone. There
-- is no index on email: Delete finds an email's rows through its
-- index_keys, which costs less than a second index on every insert.
CREATE TABLE mc_key (
	kind  TEXT NOT NULL,
	value TEXT NOT NULL,
	at    INTEGER NOT NULL,
	email INTEGER NOT NULL,
	PRIMARY KEY (kind, value, at, email)
) WITHOUT ROWID;

-- Named counters (tracking-token numbers).
CREATE TABLE mc_sequence (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
