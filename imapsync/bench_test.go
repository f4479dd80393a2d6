package imapsync

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// benchMailbox is a Dovecot mailbox loaded once per benchmark binary.
type benchMailbox struct {
	user, pw string
	n        int
	known    map[string]correlate.Record
}

var (
	benchOnce sync.Once
	benchMB   benchMailbox
)

// benchSize is the mailbox of BenchmarkSync: the sample's scenarios
// repeated until about 10,000 messages.
const benchSize = 10000

func loadBench(b *testing.B, d dovecot) benchMailbox {
	benchOnce.Do(func() {
		user, pw := d.newUser(b)
		a := d.admin(b, user, pw)
		known := map[string]correlate.Record{}
		n := 0
		samplegen.Stream(&samplegen.Options{ExtraCustomers: 900, Gap: 2 * time.Hour}, func(m samplegen.Mail) bool {
			a.appendRaw("INBOX", m.Date, m.Raw)
			if m.Seed {
				rec, _ := correlate.ParseRecord(m.Regarding)
				known[correlate.NormalizeMessageID(m.MessageID)] = rec
			}
			n++
			return n < benchSize
		})
		benchMB = benchMailbox{user: user, pw: pw, n: n, known: known}
	})
	return benchMB
}

// knownFunc is Options.Known for the mailbox's emails the CRM filed.
func (mb benchMailbox) knownFunc() func(context.Context, *correlate.Message) (correlate.Record, bool) {
	return func(_ context.Context, m *correlate.Message) (correlate.Record, bool) {
		r, ok := mb.known[m.MessageID]
		return r, ok
	}
}

// benchFirstSync measures a first full sync of a mailbox of n messages
// (newSyncer's, into a fresh memstore) per iteration, in messages/s,
// beside floor — a bare session doing the sync's reads and nothing with
// them — run just before and just after it in the same iteration (the
// floor is their mean: the machine is shared, and the mean of both sides
// is fairer to both), and the heap: what the store keeps per email, and
// the peak above it — the sync's own working set, which does not grow with
// the mailbox.
func benchFirstSync(b *testing.B, n int, floor func(), newSyncer func(*memstore.Store) *Syncer) {
	timed := func(f func()) (time.Duration, time.Duration) {
		t0, c0 := time.Now(), benchutil.CPUTime()
		f()
		return time.Since(t0), benchutil.CPUTime() - c0
	}
	b.ReportAllocs()
	var syncDur, floorDur, syncCPU, floorCPU time.Duration
	var retained, over float64
	for range b.N {
		b.StopTimer()
		fd, fc := timed(floor)
		floorDur, floorCPU = floorDur+fd, floorCPU+fc
		st := memstore.New()
		s := newSyncer(st)
		base := heapNow()
		stop := make(chan struct{})
		peak := heapPeak(stop)
		b.StartTimer()
		sd, sc := timed(func() {
			if err := s.SyncOnce(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
		syncDur, syncCPU = syncDur+sd, syncCPU+sc
		b.StopTimer()
		fd, fc = timed(floor)
		floorDur, floorCPU = floorDur+fd, floorCPU+fc
		close(stop)
		if c := s.Status()[0].Counts; c.Fetched != int64(n) {
			b.Fatalf("fetched %d of %d", c.Fetched, n)
		}
		end := heapNow()
		retained += float64(end-base) / float64(n)
		over += float64(peak.Load()) - float64(end)
		runtime.KeepAlive(st)
		b.StartTimer()
	}
	msgs := float64(n * b.N)
	b.ReportMetric(msgs/syncDur.Seconds(), "msgs/s")
	fl := floorDur / 2 // measured twice per iteration
	b.ReportMetric(msgs/fl.Seconds(), "floor-msgs/s")
	b.ReportMetric(fl.Seconds()/syncDur.Seconds(), "vs-floor")
	// Client CPU per message (this process; the server's is not counted):
	// on a shared machine the wall-clock ratio moves with the load, this
	// does not.
	b.ReportMetric(float64(floorCPU.Microseconds())/2/msgs, "floor-cpu-µs/msg")
	b.ReportMetric(float64(syncCPU.Microseconds())/msgs, "sync-cpu-µs/msg")
	b.ReportMetric(retained/float64(b.N), "retained-B/email")
	b.ReportMetric(over/float64(b.N)/(1<<20), "peak-over-retained-MB")
	b.ReportMetric(float64(n), "emails")
}

// bareFetch is the floor: a plain go-imap client doing the sync's header
// fetch — EXAMINE, UID SEARCH, UID FETCH of UID, RFC822.SIZE,
// INTERNALDATE and BODY.PEEK[HEADER] in batches of DefaultBatchSize —
// reading every header and doing nothing with it.
func bareFetch(d dovecot, user, pw string) (int, error) {
	c, err := client.Dial(d.addr)
	if err != nil {
		return 0, err
	}
	defer c.Logout()
	if err := c.Login(user, pw); err != nil {
		return 0, err
	}
	if _, err := c.Select("INBOX", true); err != nil {
		return 0, err
	}
	crit := imap.NewSearchCriteria()
	crit.Uid = new(imap.SeqSet)
	crit.Uid.AddRange(1, 0)
	uids, err := c.UidSearch(crit)
	if err != nil {
		return 0, err
	}
	section := &imap.BodySectionName{BodyPartName: imap.BodyPartName{Specifier: imap.HeaderSpecifier}, Peek: true,
		Partial: []int{0, DefaultMaxHeaderBytes}}
	items := []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size, imap.FetchInternalDate, section.FetchItem()}
	n := 0
	for len(uids) > 0 {
		k := min(len(uids), DefaultBatchSize)
		set := new(imap.SeqSet)
		set.AddNum(uids[:k]...)
		uids = uids[k:]
		ch := make(chan *imap.Message, 32)
		done := make(chan error, 1)
		go func() { done <- c.UidFetch(set, items, ch) }()
		for m := range ch {
			for _, lit := range m.Body {
				io.Copy(io.Discard, lit)
			}
			n++
		}
		if err := <-done; err != nil {
			return n, err
		}
	}
	return n, nil
}

// heapPeak samples the heap in use until stop is closed.
func heapPeak(stop <-chan struct{}) *atomic.Uint64 {
	var peak atomic.Uint64
	go func() {
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return &peak
}

func heapNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkSync measures the sync against Dovecot on loopback (issue 18
// §5):
//
//   - first-sync: a first full sync of a 10,000-message mailbox into a
//     memstore, in messages/s, beside a bare client doing the same header
//     UID FETCH just before and just after it in the same iteration (the
//     floor, their mean; target ≥ 0.7 of it), and
//     the heap: what the store keeps per email, and the peak above it —
//     the sync's own working set, which does not grow with the mailbox;
//   - incremental-25-folders: a pass with no new mail over a mailbox with
//     25 tracked folders (target ≤ 50 ms), on an open connection, and a
//     whole SyncOnce (connect, login, lease, pass, logout) beside it.
func BenchmarkSync(b *testing.B) {
	d := needDovecot(b)
	b.Run("first-sync", func(b *testing.B) {
		mb := loadBench(b, d)
		floor := func() {
			if n, err := bareFetch(d, mb.user, mb.pw); err != nil || n != mb.n {
				b.Fatalf("bare fetch: %d of %d: %v", n, mb.n, err)
			}
		}
		benchFirstSync(b, mb.n, floor, func(st *memstore.Store) *Syncer {
			rules := &folder.Rules{}
			eng, err := mailcorrelate.New(st, &mailcorrelate.Options{Folders: rules})
			if err != nil {
				b.Fatal(err)
			}
			s, err := New(eng, st, &Options{Rules: rules, Known: mb.knownFunc(),
				Mailboxes: []Mailbox{{Address: samplegen.Mailbox, URL: "imap://" + mb.user + "@" + d.addr, Password: mb.pw}}})
			if err != nil {
				b.Fatal(err)
			}
			return s
		})
	})
	b.Run("incremental-25-folders", func(b *testing.B) {
		user, pw := d.newUser(b)
		a := d.admin(b, user, pw)
		addr := user + "@fabrikam.example"
		var rules []folder.Mapping
		for i := range folder.MaxPerMailbox {
			path := fmt.Sprintf("INBOX/Client %02d", i+1)
			if err := a.c.Create(path); err != nil {
				b.Fatal(err)
			}
			for j := range 4 {
				a.append(path, mail{id: fmt.Sprintf("f%d.%d@contoso.example", i, j), subject: "Order", date: t0, to: addr})
			}
			rules = append(rules, folder.Mapping{FolderPath: path, Record: correlate.Record{Type: "account", ID: fmt.Sprint(i + 1)}})
		}
		for j := range 20 {
			a.append("INBOX", mail{id: fmt.Sprintf("i%d@contoso.example", j), subject: "Hello", date: t0, to: addr})
		}
		st := memstore.New()
		fr := &folder.Rules{}
		eng, _ := mailcorrelate.New(st, &mailcorrelate.Options{Folders: fr})
		s, err := New(eng, st, &Options{Rules: fr, Mailboxes: []Mailbox{{Address: addr, URL: "imap://" + user + "@" + d.addr,
			Password: pw, Folders: rules, Sent: true}}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := s.SyncOnce(ctx); err != nil {
			b.Fatal(err)
		}
		mb := s.mailboxes[0]
		l, err := st.Acquire(ctx, mb.leaseName(), s.holder, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		mb.setLease(l)
		ic, err := connect(ctx, mb, &s.o)
		if err != nil {
			b.Fatal(err)
		}
		defer ic.close()
		if _, err := s.pass(ctx, mb, ic); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := s.pass(ctx, mb, ic); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if got := len(s.Status()[0].Folders); got != 27 {
			b.Fatalf("%d folders read, want Inbox, Sent and 25 tracked", got)
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pass")
		s.release(mb)
		t1 := time.Now()
		const onces = 5
		for range onces {
			if err := s.SyncOnce(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(t1).Milliseconds())/onces, "ms/SyncOnce")
	})
}
