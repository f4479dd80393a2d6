package imapsync

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/internal/dovecottest"
	"github.com/mailcorrelate/mailcorrelate/internal/pop3"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// barePOP3 is the POP3 floor: a plain session doing the sync's own reads —
// CAPA, USER/PASS, UIDL, LIST, then TOP n 0 for every message, pipelined in
// groups of DefaultBatchSize — reading every header and doing nothing with
// it.
func barePOP3(addr, user, pw string) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	c, err := pop3.NewClient(conn, time.Minute)
	if err != nil {
		return 0, err
	}
	defer c.Quit()
	caps, err := c.Capa()
	if err != nil {
		return 0, err
	}
	if err := c.Login(user, pw); err != nil {
		return 0, err
	}
	ids, err := c.UIDL()
	if err != nil {
		return 0, err
	}
	if _, err := c.List(); err != nil {
		return 0, err
	}
	nums := make([]int, len(ids))
	for i, e := range ids {
		nums[i] = e.Num
	}
	n := 0
	for len(nums) > 0 {
		k := min(len(nums), DefaultBatchSize)
		res, err := c.TopMany(nums[:k], 0, DefaultMaxHeaderBytes, caps.Has("PIPELINING"))
		if err != nil {
			return n, err
		}
		n += len(res)
		nums = nums[k:]
	}
	return n, nil
}

// BenchmarkSyncPOP3 measures the POP3 sync against Dovecot on loopback,
// over the 10,000-message mailbox of BenchmarkSync:
//
//   - first-sync: a first full sync into a memstore, in messages/s, beside
//     a bare session doing the same UIDL, LIST and pipelined TOP n 0 just
//     before and just after it (the floor, their mean); the heap the store
//     keeps per email (its UIDL row included) and the sync's peak above it;
//   - incremental: a SyncOnce with no new mail over the 10,000 messages
//     done — connect, login, lease, UIDL and LIST of the maildrop, the
//     10,000 rows loaded once with States, one TOP to check the last
//     message done, QUIT.
func BenchmarkSyncPOP3(b *testing.B) {
	s0 := dovecottest.NeedPOP3(b)
	d := dovecot{Server: s0, addr: s0.Addr}
	mb := loadBench(b, d)
	newSyncer := func(st *memstore.Store) *Syncer {
		eng, err := mailcorrelate.New(st, nil)
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(eng, st, &Options{Known: mb.knownFunc(),
			Mailboxes: []Mailbox{{Address: samplegen.Mailbox, URL: "pop3://" + mb.user + "@" + d.POP3Addr, Password: mb.pw}}})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	floor := func() {
		if n, err := barePOP3(d.POP3Addr, mb.user, mb.pw); err != nil || n != mb.n {
			b.Fatalf("bare POP3: %d of %d: %v", n, mb.n, err)
		}
	}
	b.Run("first-sync", func(b *testing.B) { benchFirstSync(b, mb.n, floor, newSyncer) })
	b.Run("incremental", func(b *testing.B) {
		st := memstore.New()
		s := newSyncer(st)
		ctx := context.Background()
		if err := s.SyncOnce(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := s.SyncOnce(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if c := s.Status()[0].Counts; c.Fetched != int64(mb.n) {
			b.Fatalf("fetched %d, want %d: an incremental pass reads nothing", c.Fetched, mb.n)
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/SyncOnce")
		b.ReportMetric(float64(mb.n), "messages-done")
	})
}
