package sqlstore

import (
	"context"
	"database/sql"
	"net"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// SetAfterChunk makes PutBatch call f inside its transaction after each
// chunk has been written, with the number of emails written so far: the
// crash tests cancel or kill a batch there, deterministically mid-way.
func SetAfterChunk(s *Store, f func(done int)) { s.afterChunk = f }

// DB returns the Store's database handle, for tests that inspect the
// connection settings.
func DB(s *Store) *sql.DB { return s.db }

// OpenAt opens a store migrated up to version only: a database as an
// earlier version of the package left it.
func OpenAt(ctx context.Context, dsn string, opts *Options, version int) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.upTo = version
	return Open(ctx, dsn, &o)
}

// OpenWrapped opens a store whose PostgreSQL network connections are
// wrapped by wrap.
func OpenWrapped(ctx context.Context, dsn string, opts *Options, wrap func(net.Conn) net.Conn) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.wrapConn = wrap
	return Open(ctx, dsn, &o)
}

// EncodeKeys is encodeKeys, for tests that write rows by hand.
func EncodeKeys(keys []correlate.Key) []byte { return encodeKeys(keys) }

// IndexValue is indexValue; MaxIndexed and HashedPrefix are its bounds.
func IndexValue(v string) string { return indexValue(v) }

const (
	MaxIndexed   = maxIndexed
	HashedPrefix = hashedPrefix
)

// Fail is fail with a live context: how a Store reports err.
func Fail(err error) error { return fail(context.Background(), "test", err) }

// EmailsSQL is the query of Store.Emails.
func EmailsSQL(s *Store) string {
	if s.pg {
		return pgEmails
	}
	return sqliteEmails
}
