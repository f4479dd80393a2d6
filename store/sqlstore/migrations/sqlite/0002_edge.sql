-- The edge contract (store.Store): key values and Message-IDs too long for
-- an index are kept hashed (index_value in codec.go; the rows already
-- stored are rewritten by this migration's Go step), with the Message-ID
-- itself in message_id_long; a record's timeline; the history of changes
-- of record; sync state; leases.
ALTER TABLE mc_email ADD COLUMN message_id_long TEXT;

-- A record's timeline, newest first: Emails reads it backwards.
CREATE INDEX mc_email_record ON mc_email (record_type, record_id, at, id);

-- Every change of a tracked email's record, in the order made.
CREATE TABLE mc_history (
	id        INTEGER PRIMARY KEY,
	email     INTEGER NOT NULL,
	from_type TEXT NOT NULL,
	from_id   TEXT NOT NULL,
	to_type   TEXT NOT NULL,
	to_id     TEXT NOT NULL,
	actor     TEXT NOT NULL,
	cause     TEXT NOT NULL,
	at        INTEGER NOT NULL
);

CREATE INDEX mc_history_email ON mc_history (email, id);

-- Named sync state (a folder's cursor), written with the emails it covers.
CREATE TABLE mc_state (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

-- Leases: until is Unix microseconds (0 once released); token counts the
-- times the lease changed hands.
CREATE TABLE mc_lease (
	name   TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	until  INTEGER NOT NULL,
	token  INTEGER NOT NULL
) WITHOUT ROWID;
