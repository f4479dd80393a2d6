package imapsync

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/internal/ledger"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// crashMailbox fills a fresh Dovecot mailbox with n messages in threads of
// ten: each thread's first email known to the CRM, the others replies (so
// correlation depends on what was stored before), and returns the known
// records.
func crashMailbox(t *testing.T, d dovecot, n int) (workerMailbox, map[string]string) {
	user, pw := d.newUser(t)
	a := d.admin(t, user, pw)
	addr := user + "@fabrikam.example"
	known := map[string]string{}
	var prev string
	for i := range n {
		id := fmt.Sprintf("k%05d@contoso.example", i)
		m := mail{id: id, subject: fmt.Sprintf("Case %d", i/10), date: t0.Add(time.Duration(i) * time.Minute), to: addr,
			from: fmt.Sprintf("c%d@contoso.example", i/10)}
		if i%10 == 0 {
			known[id] = fmt.Sprintf("incident:CAS-%d", i/10)
		} else {
			m.inReplyTo, m.subject = prev, "Re: "+m.subject
		}
		a.append("INBOX", m)
		prev = id
	}
	return workerMailbox{Address: addr, URL: "imap://" + user + "@" + d.addr, Password: pw}, known
}

func exportLedger(t *testing.T, dsn, schema string) []ledger.Line {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), dsn, &sqlstore.Options{Schema: schema})
	require.NoError(t, err)
	defer st.Close()
	var buf bytes.Buffer
	_, err = ledger.Export(context.Background(), st, &buf)
	require.NoError(t, err)
	lines, err := ledger.Read(&buf)
	require.NoError(t, err)
	return lines
}

// TestCrash: a sync process over a 3,000-message mailbox (SQLite store) is
// killed with SIGKILL at five random instants and started again each time;
// the ledger it ends with equals an uninterrupted run's, with no email
// stored twice — each message's writes and its folder's cursor commit
// together.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 messages")
	}
	d := needDovecot(t)
	const n = 3000
	mb, known := crashMailbox(t, d, n)
	job := workerJob{Holder: "w", Once: true, LeaseTTL: 2 * time.Second, Mailboxes: []workerMailbox{mb}, Known: known}
	killFiveTimes(t, job, n, 1)
}

// killFiveTimes runs job (a worker process syncing a mailbox of n
// messages into SQLite) to the end, then into another store five times
// killed with SIGKILL, each after a random number of messages (random from
// seed), and a sixth time to the end: the second ledger must equal the
// first, with no email stored twice.
func killFiveTimes(t *testing.T, job workerJob, n int, seed uint64) {
	t.Helper()
	dir := t.TempDir()

	// The uninterrupted run.
	job.Store = "sqlite:" + filepath.Join(dir, "whole.db")
	start := time.Now()
	w := startWorker(t, job)
	require.NoError(t, <-w.done, w.stderr.String())
	whole := exportLedger(t, job.Store, "")
	require.Len(t, whole, n, "every message tracked (filter All)")
	t.Logf("uninterrupted run: %v", time.Since(start))

	// Killed five times, at a random number of messages into each run.
	job.Store = "sqlite:" + filepath.Join(dir, "killed.db")
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), seed))
	kills := 0
	for kills < 5 {
		w := startWorker(t, job)
		after := 1 + r.IntN(n/8)
		seen := 0
		for range w.events {
			if seen++; seen == after {
				w.kill()
				kills++
				break
			}
		}
		for range w.events { // drain
		}
		err := <-w.done
		if seen < after {
			require.NoError(t, err, w.stderr.String())
			break // finished before the kill: the remaining runs have nothing to do
		}
		t.Logf("kill %d after %d messages: %v", kills, seen, err)
	}
	require.Equal(t, 5, kills, "five kills in the middle of the sync")
	w = startWorker(t, job)
	require.NoError(t, <-w.done, w.stderr.String())
	killed := exportLedger(t, job.Store, "")

	want := map[string]ledger.Line{}
	for _, l := range whole {
		want[l.MessageID] = l
	}
	got := map[string]ledger.Line{}
	for _, l := range killed {
		_, dup := got[l.MessageID]
		require.False(t, dup, "%s stored twice", l.MessageID)
		got[l.MessageID] = l
	}
	assert.Equal(t, want, got, "the ledger after five kills equals the uninterrupted run's")
}
