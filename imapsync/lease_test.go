package imapsync

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needPostgres returns the PostgreSQL server .ci/postgres.sh started, or
// skips (fails in CI).
func needPostgres(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("MAILCORRELATE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but MAILCORRELATE_TEST_POSTGRES is not set: .ci/run must start PostgreSQL")
		}
		t.Skip("PostgreSQL not running: run `bash .ci/postgres.sh run go test ./imapsync/`")
	}
	return dsn
}

// collect gathers a worker's events until it exits.
func collect(w *worker, mu *sync.Mutex, into *[]workerEvent) {
	for ev := range w.events {
		mu.Lock()
		*into = append(*into, ev)
		mu.Unlock()
	}
}

// TestLeaseTakeover: two worker processes share one PostgreSQL store and
// ten mailboxes. The first takes every mailbox's lease; the second waits
// (a mailbox is synced by one worker at a time). The first is killed with
// SIGKILL: when its leases expire the second takes its mailboxes over and
// syncs the mail that arrived meanwhile — nothing lost, nothing doubled.
func TestLeaseTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("two processes, ten mailboxes")
	}
	d := needDovecot(t)
	dsn := needPostgres(t)
	begin := time.Now()
	var b [4]byte
	rand.Read(b[:])
	schema := "imapsync_lease_" + hex.EncodeToString(b[:])
	const mailboxes, per = 10, 20
	var mbs []workerMailbox
	known := map[string]string{}
	admins := map[string]*admin{}
	for i := range mailboxes {
		user, pw := d.newUser(t)
		addr := user + "@fabrikam.example"
		mbs = append(mbs, workerMailbox{Address: addr, URL: "imap://" + user + "@" + d.addr, Password: pw})
		a := d.admin(t, user, pw)
		admins[addr] = a
		for j := range per {
			id := fmt.Sprintf("l%d.%d@contoso.example", i, j)
			m := mail{id: id, subject: "Lease case", date: t0.Add(time.Duration(j) * time.Minute), to: addr}
			if j == 0 {
				known[id] = fmt.Sprintf("incident:L-%d", i)
			} else {
				m.inReplyTo, m.subject = fmt.Sprintf("l%d.%d@contoso.example", i, j-1), "Re: Lease case"
			}
			a.append("INBOX", m)
		}
	}
	t.Logf("%v: loaded", time.Since(begin))
	job := workerJob{Store: dsn, Schema: schema, LeaseTTL: 2 * time.Second, Mailboxes: mbs, Known: known}
	var mu sync.Mutex
	var events []workerEvent
	count := func(holder string) map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for _, ev := range events {
			if ev.Holder == holder {
				out[ev.Mailbox]++
			}
		}
		return out
	}

	job.Holder = "w1"
	w1 := startWorker(t, job)
	go collect(w1, &mu, &events)
	eventually(t, 30*time.Second, "w1 synced every mailbox", func() bool {
		c := count("w1")
		if len(c) < mailboxes {
			return false
		}
		for _, n := range c {
			if n < per {
				return false
			}
		}
		return true
	})
	t.Logf("%v: w1 synced every mailbox", time.Since(begin))
	job.Holder = "w2"
	w2 := startWorker(t, job)
	go collect(w2, &mu, &events)
	defer func() {
		w2.kill()
		<-w2.done
	}()
	time.Sleep(time.Second)
	assert.Empty(t, count("w2"), "w1 holds every lease: w2 syncs nothing")

	w1.kill()
	<-w1.done
	killedAt := time.Now()
	// Mail that arrives while nobody holds the mailboxes.
	for i, mb := range mbs {
		admins[mb.Address].append("INBOX", mail{id: fmt.Sprintf("late%d@contoso.example", i),
			inReplyTo: fmt.Sprintf("l%d.%d@contoso.example", i, per-1), subject: "Re: Lease case", date: t0.Add(time.Hour), to: mb.Address})
	}
	eventually(t, 30*time.Second, "w2 took every mailbox over", func() bool {
		return len(count("w2")) == mailboxes
	})
	t.Logf("%v: w2 took every mailbox over", time.Since(begin))
	mu.Lock()
	for _, ev := range events {
		if ev.Holder == "w2" {
			assert.True(t, ev.Time.After(killedAt), "w2 synced %s only after w1 died", ev.Mailbox)
		}
	}
	mu.Unlock()

	lines := exportLedger(t, dsn, schema)
	seen := map[string]bool{}
	for _, l := range lines {
		require.False(t, seen[l.MessageID], "%s stored twice", l.MessageID)
		seen[l.MessageID] = true
	}
	assert.Len(t, lines, mailboxes*(per+1), "every message of every mailbox, the late ones too, once")
	for i := range mailboxes {
		id := fmt.Sprintf("late%d@contoso.example", i)
		assert.True(t, seen[id], "%s synced by the worker that took over", id)
	}
	for _, l := range lines {
		assert.NotEmpty(t, l.Regarding, "%s correlated with its thread", l.MessageID)
	}
}
