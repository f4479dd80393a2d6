-- The edge contract (store.Store): key values and Message-IDs too long for
-- a B-tree entry (at most 2,704 bytes) are kept hashed (index_value in
-- codec.go; the rows already stored are rewritten by this migration's Go
-- step), with the Message-ID itself in message_id_long; a record's
-- timeline; the history of changes of record; sync state; leases.
ALTER TABLE mc_email ADD COLUMN message_id_long BYTEA;

-- A record's timeline, newest first: Emails reads it backwards. The record
-- is indexed by 8 bytes of its SHA-256, so that a record of any length has
-- an entry (Emails compares the record itself too).
CREATE INDEX mc_email_record ON mc_email ((substr(sha256(record_type || '\x00'::bytea || record_id), 1, 8)), at, id);

-- Every change of a tracked email's record, in the order made.
CREATE TABLE mc_history (
	id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email     BIGINT NOT NULL,
	from_type BYTEA NOT NULL,
	from_id   BYTEA NOT NULL,
	to_type   BYTEA NOT NULL,
	to_id     BYTEA NOT NULL,
	actor     BYTEA NOT NULL,
	cause     BYTEA NOT NULL,
	at        BIGINT NOT NULL
);

CREATE INDEX mc_history_email ON mc_history (email, id);

-- Named sync state (a folder's cursor), written with the emails it covers.
CREATE TABLE mc_state (
	name  BYTEA PRIMARY KEY,
	value BYTEA NOT NULL
);

-- Leases: until is Unix microseconds by the server's clock (0 once
-- released); token counts the times the lease changed hands.
CREATE TABLE mc_lease (
	name   BYTEA PRIMARY KEY,
	holder BYTEA NOT NULL,
	until  BIGINT NOT NULL,
	token  BIGINT NOT NULL
);
