package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// BenchmarkApply makes the small Applies of the edges, one at a time, as a
// mailbox sync and the submission relay make them:
//
//   - track: one email with five index keys, one State and the lease (a
//     synced message with its folder's cursor; a relayed message with its
//     pending row);
//   - cursor: one State and the lease (a folder's cursor alone);
//   - clear: the deletion of one State, no lease (the relay clearing a
//     pending row);
//   - relay: a track, then the clear of its State: the two Applies of one
//     relayed message (an op is the pair).
//
// Besides ns/op it reports the process's CPU time per op (cpu-ns/op: on
// PostgreSQL the client's share), its write system calls per op
// (writes/op, from /proc/self/io: on PostgreSQL the round trips, one write
// each; on SQLite the WAL's writes) and, when the test server's data
// directory is known (MAILCORRELATE_PGDATA, as .ci/postgres.sh sets it),
// the CPU time of the PostgreSQL server's processes per op (db-cpu-ns/op).
func BenchmarkApply(b *testing.B) {
	clear := func(n int) store.Batch { return store.Batch{States: []store.State{{Name: pendingName(n)}}} }
	shapes := []struct {
		name  string
		setup func(n int, l *store.Lease) []store.Batch // made before the timer starts
		ops   func(n int, l *store.Lease) []store.Batch
	}{
		{"track", nil, func(n int, l *store.Lease) []store.Batch { return []store.Batch{trackBatch(n, l)} }},
		{"cursor", nil, func(n int, l *store.Lease) []store.Batch {
			return []store.Batch{{Lease: l, States: []store.State{{Name: "imap/support@fabrikam.example/INBOX", Value: cursorValue(n)}}}}
		}},
		{"clear", func(n int, l *store.Lease) []store.Batch { return []store.Batch{trackBatch(n, l)} },
			func(n int, l *store.Lease) []store.Batch { return []store.Batch{clear(n)} }},
		{"relay", nil, func(n int, l *store.Lease) []store.Batch { return []store.Batch{trackBatch(n, l), clear(n)} }},
	}
	benchBackends(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		l, err := s.Acquire(ctx, "relay/submit.fabrikam.example", "relay-1", time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		// Some tracked emails already, so that the tables have depth.
		warm := make([]sqlstore.Entry, 2000)
		for i := range warm {
			warm[i] = benchEntry("w", i)
		}
		if _, err := s.PutBatch(ctx, warm); err != nil {
			b.Fatal(err)
		}
		dbCPU := serverCPU(b, s)
		n := 0
		apply := func(b *testing.B, batches []store.Batch) {
			for _, batch := range batches {
				if _, err := s.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, sh := range shapes {
			b.Run(sh.name, func(b *testing.B) {
				if sh.setup != nil {
					for i := range b.N {
						apply(b, sh.setup(n+i, &l))
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				w0, d0, c0 := writeCalls(), dbCPU(), benchutil.CPUTime()
				for i := range b.N {
					apply(b, sh.ops(n+i, &l))
				}
				b.StopTimer()
				benchutil.ReportCPU(b, c0, b.N)
				if w := writeCalls(); w > 0 {
					b.ReportMetric(float64(w-w0)/float64(b.N), "writes/op")
				}
				if d := dbCPU(); d > 0 {
					b.ReportMetric(float64((d-d0).Nanoseconds())/float64(b.N), "db-cpu-ns/op")
				}
				n += b.N
			})
		}
	})
}

// trackBatch is the n-th track of BenchmarkApply: a new email with five
// keys (its Message-ID, token, conversation, subject and address), its
// pending row and the lease.
func trackBatch(n int, l *store.Lease) store.Batch {
	e := benchEntry("a", n)
	e.Keys = e.Keys[:5]
	return store.Batch{Lease: l, Puts: []store.Entry{e},
		States: []store.State{{Name: pendingName(n), Value: []byte(e.Tracked.MessageID)}}}
}

func pendingName(n int) string { return fmt.Sprintf("submit/pending/relay-1/%016x", n) }

func cursorValue(n int) []byte {
	return []byte(fmt.Sprintf(`{"id":"AAMkAGI2TG93AAA","validity":1700000000,"uid":%d}`, n))
}

// writeCalls returns the write system calls the process has made so far,
// or 0 where /proc/self/io cannot tell.
func writeCalls() int64 {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// serverCPU returns a function that reads the CPU time PostgreSQL's
// processes have used so far: the postmaster named by the data directory
// of MAILCORRELATE_PGDATA and every process it started. It returns 0 on
// SQLite or when the server's processes cannot be found.
func serverCPU(b *testing.B, s *sqlstore.Store) func() time.Duration {
	none := func() time.Duration { return 0 }
	dir := os.Getenv("MAILCORRELATE_PGDATA")
	if dir == "" || !strings.HasPrefix(s.String(), "postgres") {
		return none
	}
	root, err := benchutil.PIDFileRoot(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		b.Logf("server CPU not measured: %v", err)
		return none
	}
	return benchutil.TreeCPU(root)
}
