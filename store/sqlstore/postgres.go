// PostgreSQL: opening the pool, and what only PostgreSQL needs of errors and key columns.

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	// also registers the "sqlite" database/sql driver
	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// openPostgres returns the Store's handle and, when it carries a statement
// timeout, one without it for Open's setup (else nil).
func openPostgres(dsn string, o Options) (db, setup *sql.DB, err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, errors.New(strings.ReplaceAll(err.Error(), dsn, redact(dsn)))
	}
	if o.Schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{o.Schema}.Sanitize()
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "mailcorrelate"
	}
	if cfg.RuntimeParams["plan_cache_mode"] == "" {
		// Every statement of the package has one good plan, whatever its
		// arguments (an index range or probe per key or email), and pgx
		// prepares them once per connection. PostgreSQL's default would
		// plan the statements that take arrays (unnest) anew at every
		// call, the plan for the arrays' actual lengths looking cheaper
		// than the generic one: planning then costs more server CPU than
		// running them.
		cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	if o.wrapConn != nil {
		cfg.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) {
			return o.wrapConn(c), nil
		}
	}
	if o.StatementTimeout > 0 {
		untimed := cfg.Copy()
		setup = stdlib.OpenDB(*untimed)
		setup.SetMaxOpenConns(1)
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(o.StatementTimeout.Milliseconds(), 1), 10)
	}
	return stdlib.OpenDB(*cfg), setup, nil
}

// redact removes the password from a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// retryable reports whether a PostgreSQL transaction failed for a reason
// that retrying it cures: a deadlock or a serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// keyColumns returns the kind and value arrays of keys for PostgreSQL, as
// the indexes keep them.
func keyColumns(keys []correlate.Key) (kinds, values [][]byte) {
	kinds = make([][]byte, len(keys))
	values = make([][]byte, len(keys))
	for i, k := range keys {
		kinds[i], values[i] = bytesOf(indexValue(k.Kind)), bytesOf(indexValue(k.Value))
	}
	return kinds, values
}
