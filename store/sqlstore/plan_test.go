package sqlstore_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// TestEmailsPlan checks that a page of a record's timeline is read from
// the index mc_email_record, backwards from the cursor, without sorting:
// its cost is the page's, not the record's nor the store's.
func TestEmailsPlan(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		s := openSQLite(t, nil)
		rs, err := sqlstore.DB(s).QueryContext(ctx, "EXPLAIN QUERY PLAN "+sqlstore.EmailsSQL(s),
			"incident", "CAS-1", int64(math.MaxInt64), int64(math.MaxInt64), 51)
		require.NoError(t, err)
		defer rs.Close()
		var plan []string
		for rs.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rs.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rs.Err())
		all := strings.Join(plan, "\n")
		assert.Contains(t, all, "USING INDEX mc_email_record (record_type=? AND record_id=? AND at<?)", "an index range from the cursor (SQLite shows the row value (at, id) < (?, ?) so): %s", all)
		assert.NotContains(t, all, "TEMP B-TREE", "no sort: %s", all)
	})
	t.Run("postgres", func(t *testing.T) {
		s := openPG(t, nil)
		db := sqlstore.DB(s)
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		// An empty table is cheapest to read whole; the question is whether
		// the index can answer without a sort.
		_, err = conn.ExecContext(ctx, "SET enable_seqscan = off")
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, "SET enable_bitmapscan = off")
		require.NoError(t, err)
		rs, err := conn.QueryContext(ctx, "EXPLAIN "+sqlstore.EmailsSQL(s),
			[]byte("incident"), []byte("CAS-1"), int64(math.MaxInt64), int64(math.MaxInt64), 51)
		require.NoError(t, err)
		defer rs.Close()
		var plan []string
		for rs.Next() {
			var line string
			require.NoError(t, rs.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rs.Err())
		all := strings.Join(plan, "\n")
		assert.Contains(t, all, "Index Scan Backward using mc_email_record", all)
		assert.NotContains(t, all, "Sort", all)
		assert.Contains(t, all, "ROW(at, id) < ROW(", "the cursor bounds the index scan: %s", all)
	})
}
