package submit_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
	"github.com/mailcorrelate/mailcorrelate/submit"
)

// benchMessage returns the i-th message of the benchmark: about 3 KB, as
// Outlook writes a short email with a quoted thread (text and HTML parts),
// regarding one of 500 cases.
func benchMessage(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Alice Agent <alice@fabrikam.example>\r\n")
	fmt.Fprintf(&b, "To: Customer %d <c%d@contoso.example>\r\n", i%97, i%97)
	fmt.Fprintf(&b, "Subject: Your case about the printer in building %d\r\n", i%500)
	fmt.Fprintf(&b, "Date: Mon, 2 Mar 2026 09:%02d:%02d +0000\r\n", i/60%60, i%60)
	fmt.Fprintf(&b, "Message-ID: <bench-%d@fabrikam.example>\r\n", i)
	fmt.Fprintf(&b, "X-CRM-Regarding: incident:CAS-%05d\r\n", i%500)
	b.WriteString("Thread-Topic: Your case about the printer\r\nThread-Index: AQHZyJ4AbCdEfGhIjKlMnOpQrStUvW==\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"_000_b\"\r\n\r\n")
	b.WriteString("--_000_b\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for range 12 {
		b.WriteString("We are looking into the printer and will come back to you shortly. Regards, Alice\r\n")
	}
	b.WriteString("--_000_b\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<html><body>\r\n")
	for range 12 {
		b.WriteString("<p>We are looking into the printer and will come back to you shortly.</p>\r\n")
	}
	b.WriteString("</body></html>\r\n--_000_b--\r\n")
	return b.String()
}

// spooler makes the benchmark's upstream take responsibility for a message
// as a mail server does before it answers 250 (RFC 5321 §6.1): the message
// is written to a queue file and synced to disk.
func spooler(dir string) func(io.Reader) error {
	var n atomic.Int64
	return func(r io.Reader) error {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("q%d", n.Add(1))))
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(f, r); err != nil {
			return err
		}
		return f.Sync()
	}
}

// BenchmarkSubmit sends the same kind of messages straight to an upstream
// server and through the relay, interleaved in one run, from 4 clients at
// once, each on its own connection, and reports both rates and their
// ratio (target: relay >= 0.8 of direct). The upstream is
//
//   - upstream=spool: a go-smtp server in the benchmark process that
//     spools each message to disk with fsync before its 250, as a mail
//     server does;
//   - upstream=discard: the same server throwing messages away (the
//     relay's whole cost, against a server that does nothing);
//   - upstream=postfix: Debian's Postfix, a real submission server, at
//     MAILCORRELATE_TEST_POSTFIX (.ci/postfix.sh: queue files synced by
//     cleanup before the 250, then the discard transport); skipped when
//     that is not set.
//
// Each relayed message is stamped, signed and tracked in a memstore, an
// SQLite file or PostgreSQL (with MAILCORRELATE_TEST_POSTGRES). ns/op is
// the time of one direct and one relayed message; cpu-µs/msg the benchmark
// process's CPU time (clients, relay and, but for Postfix, the upstream)
// per message; mta-cpu-µs/msg Postfix's own (every process of its master);
// relay-db-cpu-µs/msg PostgreSQL's while the relay runs (with
// MAILCORRELATE_PGDATA, as .ci/postgres.sh sets it); store-tx/msg the
// relay's store transactions (Apply) per message.
func BenchmarkSubmit(b *testing.B) {
	for _, c := range []struct{ store, upstream string }{
		{"memory", "spool"}, {"memory", "discard"}, {"sqlite", "spool"}, {"postgres", "spool"},
		{"memory", "postfix"}, {"sqlite", "postfix"}, {"postgres", "postfix"},
	} {
		b.Run("store="+c.store+"/upstream="+c.upstream, func(b *testing.B) {
			if c.upstream == "postfix" && os.Getenv("MAILCORRELATE_TEST_POSTFIX") == "" {
				b.Skip("no Postfix: set MAILCORRELATE_TEST_POSTFIX (.ci/postfix.sh)")
			}
			var st store.Store = memstore.New()
			var dsn string
			var opts *sqlstore.Options
			switch c.store {
			case "sqlite":
				dsn = "sqlite:" + filepath.Join(b.TempDir(), "submit.db")
			case "postgres":
				if dsn = os.Getenv("MAILCORRELATE_TEST_POSTGRES"); dsn == "" {
					b.Skip("no PostgreSQL server: set MAILCORRELATE_TEST_POSTGRES (.ci/postgres.sh)")
				}
				opts = &sqlstore.Options{Schema: fmt.Sprintf("mcsubmit_bench_%d", time.Now().UnixNano())}
			}
			if dsn != "" {
				s, err := sqlstore.Open(context.Background(), dsn, opts)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if opts != nil {
					defer dropSchema(b, dsn, opts.Schema)
				}
				st = s
			}
			benchSubmit(b, c.upstream, st, c.store == "postgres")
		})
	}
}

func benchSubmit(b *testing.B, upMode string, st store.Store, pg bool) {
	clients := benchClients
	cs := &countingStore{Store: st}
	upstream := os.Getenv("MAILCORRELATE_TEST_POSTFIX")
	h := newHarness(b, cs, func(o *submit.Options) {
		o.Logger = discardSlog()
		if upMode == "postfix" {
			o.Upstream.Addr = upstream
		}
	})
	var mtaCPU func() time.Duration
	switch upMode {
	case "spool":
		h.up.sink = spooler(b.TempDir())
		upstream = h.up.Addr
	case "postfix":
		mtaCPU = treeCPU(b, filepath.Join(os.Getenv("MAILCORRELATE_TEST_POSTFIX_DIR"), "queue", "pid", "master.pid"),
			"Postfix's master (MAILCORRELATE_TEST_POSTFIX_DIR)")
	default:
		h.up.sink = func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
		upstream = h.up.Addr
	}
	users := [][2]string{{"alice", "alice-pw"}, {"bob", "bob-pw"}}
	direct := make([]*smtp.Client, clients)
	relayed := make([]*smtp.Client, clients)
	for i := range clients {
		c, err := smtp.Dial(upstream)
		if err != nil {
			b.Fatal(err)
		}
		direct[i] = c
		relayed[i] = h.dial(users[i%2][0], users[i%2][1])
	}
	defer func() {
		for i := range clients {
			direct[i].Close()
		}
	}()
	msgs := make([]string, 0, 1024)
	for i := range cap(msgs) {
		msgs = append(msgs, benchMessage(i))
	}
	var seq atomic.Int64
	// run sends n messages over cs, clients at once, and returns the time
	// it took.
	run := func(cs []*smtp.Client, n int, relay bool) time.Duration {
		var wg sync.WaitGroup
		var left atomic.Int64
		left.Store(int64(n))
		start := time.Now()
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for left.Add(-1) >= 0 {
					k := int(seq.Add(1))
					msg := msgs[k%len(msgs)]
					// Every message is new to the relay: its own Message-ID.
					msg = strings.Replace(msg, fmt.Sprintf("<bench-%d@", k%len(msgs)), fmt.Sprintf("<bench-%d-%d@", k, i), 1)
					from := "alice@fabrikam.example"
					if err := send(c, from, []string{"c@contoso.example"}, msg); err != nil {
						b.Errorf("relay=%v: %v", relay, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	// Warm both paths, then interleave rounds so that both see the same
	// load from the rest of the machine.
	run(direct, 2*clients, false)
	run(relayed, 2*clients, true)
	b.ReportAllocs()
	b.ResetTimer()
	// PostgreSQL's own CPU time, when .ci/postgres.sh says where its
	// cluster is.
	var dbCPU func() time.Duration
	if dir := os.Getenv("MAILCORRELATE_PGDATA"); pg && dir != "" {
		dbCPU = treeCPU(b, filepath.Join(dir, "data", "postmaster.pid"), "PostgreSQL's postmaster (MAILCORRELATE_PGDATA)")
	}
	var tDirect, tRelay, cDirect, cRelay, mDirect, mRelay, dRelay time.Duration
	cs.applies.Store(0)
	const rounds = 10
	for r := range rounds {
		n := b.N/rounds + 1
		if r < b.N%rounds {
			n++
		}
		// Postfix's CPU time is read between the timed stretches: reading
		// /proc costs this process time of its own.
		var m0, m1, d1 time.Duration
		if mtaCPU != nil {
			m0 = mtaCPU()
		}
		c0 := benchutil.CPUTime()
		tDirect += run(direct, n, false)
		cDirect += benchutil.CPUTime() - c0
		if mtaCPU != nil {
			m1 = mtaCPU()
		}
		if dbCPU != nil {
			d1 = dbCPU()
		}
		c1 := benchutil.CPUTime()
		tRelay += run(relayed, n, true)
		cRelay += benchutil.CPUTime() - c1
		if mtaCPU != nil {
			m2 := mtaCPU()
			mDirect += m1 - m0
			mRelay += m2 - m1
		}
		if dbCPU != nil {
			dRelay += dbCPU() - d1
		}
	}
	b.StopTimer()
	total := float64(rounds*(b.N/rounds+1) + b.N%rounds)
	dr, rr := total/tDirect.Seconds(), total/tRelay.Seconds()
	b.ReportMetric(dr, "direct-msgs/s")
	b.ReportMetric(rr, "relay-msgs/s")
	b.ReportMetric(rr/dr, "relay/direct")
	b.ReportMetric(float64(cDirect)/total/1e3, "direct-cpu-µs/msg")
	b.ReportMetric(float64(cRelay)/total/1e3, "relay-cpu-µs/msg")
	if mtaCPU != nil {
		b.ReportMetric(float64(mDirect)/total/1e3, "direct-mta-cpu-µs/msg")
		b.ReportMetric(float64(mRelay)/total/1e3, "relay-mta-cpu-µs/msg")
	}
	if dbCPU != nil {
		b.ReportMetric(float64(dRelay)/total/1e3, "relay-db-cpu-µs/msg")
	}
	b.ReportMetric(float64(cs.applies.Load())/total, "store-tx/msg")
}

// countingStore counts the relay's store transactions (Apply).
type countingStore struct {
	store.Store
	applies atomic.Int64
}

func (s *countingStore) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	s.applies.Add(1)
	return s.Store.Apply(ctx, b)
}

// treeCPU returns a function that reads the CPU time a server has used so
// far, from /proc: that of the process whose pid the first line of
// pidFile holds (with its exited children's) and of every process it
// started — Postfix's master and its daemons, PostgreSQL's postmaster and
// its backends.
func treeCPU(b *testing.B, pidFile, what string) func() time.Duration {
	root, err := benchutil.PIDFileRoot(pidFile)
	if err != nil {
		b.Fatalf("%s: %v", what, err)
	}
	return benchutil.TreeCPU(root)
}

var benchClients = 4
