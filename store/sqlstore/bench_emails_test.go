package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// timelineEmails is the size of BenchmarkEmails' store: 1,000,000 tracked
// emails unless MAILCORRELATE_BENCH_TIMELINE_EMAILS says otherwise. One
// email in 100 is filed under timelineRecord: 10,000 at the default size.
func timelineEmails() int {
	if n, err := strconv.Atoi(os.Getenv("MAILCORRELATE_BENCH_TIMELINE_EMAILS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

var timelineRecord = correlate.Record{Type: "account", ID: "A-TIMELINE"}

// BenchmarkEmails reads a page of 50 emails of a record's timeline on
// PostgreSQL (issue 19's target: a record of 10,000 emails in a store of
// 1,000,000, at most 5 ms at p99). The store is built with PutBatch, the
// record's emails spread over the whole time range among the others' (the
// other emails are filed ten to a record, as benchEntry makes them).
// "first" reads the newest page; "any" a page at a random depth, from the
// cursors of a walk through the whole timeline. Skipped without PostgreSQL.
func BenchmarkEmails(b *testing.B) {
	url := pgURL(b)
	ctx := context.Background()
	schema := fmt.Sprintf("mcbench_timeline_%d", os.Getpid())
	cleanups = append(cleanups, func() {
		if conn, err := pgx.Connect(ctx, url); err == nil {
			conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	s, err := sqlstore.Open(ctx, url, &sqlstore.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := timelineEmails()
	start := time.Now()
	batch := make([]sqlstore.Entry, 0, 5000)
	for i := range n {
		e := benchEntry("t", i)
		if i%100 == 0 {
			e.Tracked.Record = timelineRecord
		}
		batch = append(batch, e)
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := s.PutBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// Measure the store at rest, not the aftermath of its bulk load: the
	// vacuum and analysis autovacuum would run, and the checkpoint.
	for _, q := range []string{"VACUUM (ANALYZE) mc_email", "VACUUM (ANALYZE) mc_key", "CHECKPOINT"} {
		if _, err := sqlstore.DB(s).ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled with %d emails in %v", n, time.Since(start).Round(time.Second))

	const page = 50
	cursors := []string{""}
	total := 0
	for cur := ""; ; {
		ts, next, err := s.Emails(ctx, timelineRecord, page, cur)
		if err != nil {
			b.Fatal(err)
		}
		total += len(ts)
		if next == "" {
			break
		}
		cursors = append(cursors, next)
		cur = next
	}
	if want := (n + 99) / 100; total != want {
		b.Fatalf("the timeline holds %d emails, want %d", total, want)
	}
	for _, bc := range []struct {
		name    string
		cursors []string
	}{{"first", cursors[:1]}, {"any", cursors}} {
		b.Run(fmt.Sprintf("%s/record=%d/store=%d", bc.name, total, n), func(b *testing.B) {
			b.ReportAllocs()
			var ot benchutil.OpTimer
			i := 0
			ot.Start()
			for b.Loop() {
				cur := bc.cursors[(i*7919)%len(bc.cursors)]
				i++
				ot.Begin()
				ts, _, err := s.Emails(ctx, timelineRecord, page, cur)
				ot.Tick()
				if err != nil || len(ts) == 0 {
					b.Fatalf("Emails = %d emails, %v", len(ts), err)
				}
			}
			ot.Report(b)
		})
	}
}
