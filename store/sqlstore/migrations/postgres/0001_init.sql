-- Tracked emails: one row per email. Strings are stored as BYTEA so that
-- every Go string round-trips (mail carries NUL bytes and invalid UTF-8,
-- which TEXT rejects); read them with convert_from(col, 'UTF8'). Times are
-- Unix microseconds: to_timestamp(at / 1e6).
CREATE SEQUENCE mc_email_id_seq;

CREATE TABLE mc_email (
	id                 BIGINT PRIMARY KEY DEFAULT nextval('mc_email_id_seq'),
	message_id         BYTEA UNIQUE,
	record_type        BYTEA NOT NULL,
	record_id          BYTEA NOT NULL,
	token              BYTEA NOT NULL,
	conversation_index BYTEA,
	subject            BYTEA NOT NULL,
	participants       BYTEA,
	mailbox            BYTEA NOT NULL,
	folder_id          BYTEA NOT NULL,
	folder_path        BYTEA NOT NULL,
	direction          SMALLINT NOT NULL,
	at                 BIGINT NOT NULL,
	method             INTEGER NOT NULL,
	correlated_with    BIGINT NOT NULL,
	parent             BIGINT NOT NULL,
	-- The email's keys (kind and value of each, length-prefixed), for Delete.
	index_keys         BYTEA
);

ALTER SEQUENCE mc_email_id_seq OWNED BY mc_email.id;

-- The inverted index: one row per (key, email). at is the email's time,
-- copied so that a newest-first lookup reads the primary key alone. There
-- is no index on email: Delete finds an email's rows through its
-- index_keys, which costs less than a second index on every insert.
CREATE TABLE mc_key (
	kind  BYTEA NOT NULL,
	value BYTEA NOT NULL,
	at    BIGINT NOT NULL,
	email BIGINT NOT NULL,
	PRIMARY KEY (kind, value, at, email)
);

-- Named counters (tracking-token numbers).
CREATE TABLE mc_sequence (
	name  BYTEA PRIMARY KEY,
	value BIGINT NOT NULL
);
