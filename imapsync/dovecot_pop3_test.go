package imapsync

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/dovecottest"
	"github.com/mailcorrelate/mailcorrelate/internal/pop3"
)

// dovecotPOP3 is the Dovecot server .ci/dovecot.sh started, with POP3, and
// a world without a server of its own.
func dovecotPOP3(t *testing.T) (*world, dovecot) {
	t.Helper()
	s := dovecottest.NeedPOP3(t)
	return serverlessWorld(t), dovecot{Server: s, addr: s.Addr}
}

func (d dovecot) pop3Mailbox(user, pw string) Mailbox {
	return Mailbox{Address: user + "@fabrikam.example", URL: "pop3://" + user + "@" + d.POP3Addr, Password: pw}
}

// count returns the number of messages in a folder.
func (a *admin) count(folder string) int {
	a.t.Helper()
	st, err := a.c.Status(folder, []imap.StatusItem{imap.StatusMessages})
	require.NoError(a.t, err)
	return int(st.Messages)
}

// TestDovecotPOP3: a mailbox read over Dovecot's POP3: replies filed under
// the case of the email they answer, a second pass reads nothing, new mail
// alone is read; nothing is deleted, and TOP sets no \Seen.
func TestDovecotPOP3(t *testing.T) {
	w, d := dovecotPOP3(t)
	user, pw := d.newUser(t)
	a := d.admin(t, user, pw)
	addr := user + "@fabrikam.example"
	w.known["q1@contoso.example"] = caseA
	a.append("INBOX", mail{id: "q1@contoso.example", subject: "Printer", date: t0, to: addr})
	a.append("INBOX", mail{id: "q2@contoso.example", inReplyTo: "q1@contoso.example", subject: "Re: Printer", date: t0.Add(time.Hour), to: addr})
	a.append("INBOX", mail{id: "q3@else.example", subject: "Hello", date: t0.Add(2 * time.Hour), from: "x@else.example", to: addr})
	s := w.syncer(w.options(d.pop3Mailbox(user, pw)))
	require.NoError(t, s.SyncOnce(context.Background()))
	got, ok := w.tracked("q2@contoso.example")
	require.True(t, ok)
	assert.Equal(t, caseA, got.Record)
	assert.Equal(t, correlate.InReplyTo, got.Method)
	_, ok = w.tracked("q3@else.example")
	assert.False(t, ok)
	st := statusOf(s, addr)
	assert.Empty(t, st.LastError)
	assert.Equal(t, Counts{Fetched: 3, Correlated: 1, Tracked: 2, Untracked: 1}, st.Counts)
	require.Len(t, st.Folders, 1)
	assert.Equal(t, 3, st.Folders[0].UIDLs)

	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, int64(3), statusOf(s, addr).Counts.Fetched, "nothing read again")
	a.append("INBOX", mail{id: "q4@contoso.example", inReplyTo: "q2@contoso.example", subject: "Re: Printer", date: t0.Add(3 * time.Hour), to: addr})
	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, int64(4), statusOf(s, addr).Counts.Fetched, "the new message alone")
	got, _ = w.tracked("q4@contoso.example")
	assert.Equal(t, caseA, got.Record)
	assert.Equal(t, 4, a.count("INBOX"), "nothing deleted")
	assert.Zero(t, a.seen("INBOX"), "headers by TOP: no message marked \\Seen")
}

// TestDovecotPOP3Delete: a mailbox that leaves nothing on the server:
// Dovecot's Inbox is empty after the pass, and every email is filed.
func TestDovecotPOP3Delete(t *testing.T) {
	w, d := dovecotPOP3(t)
	user, pw := d.newUser(t)
	a := d.admin(t, user, pw)
	addr := user + "@fabrikam.example"
	w.known["e0@contoso.example"] = caseA
	prev := "e0@contoso.example"
	a.append("INBOX", mail{id: prev, subject: "Case", date: t0, to: addr})
	for i := 1; i < 20; i++ {
		id := fmt.Sprintf("e%d@contoso.example", i)
		a.append("INBOX", mail{id: id, inReplyTo: prev, subject: "Re: Case", date: t0.Add(time.Duration(i) * 10 * time.Minute), to: addr})
		prev = id
	}
	mb := d.pop3Mailbox(user, pw)
	mb.DeleteFromServer = true
	s := w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Len(t, ledgerOf(t, w.st), 20)
	assert.Equal(t, 0, a.count("INBOX"), "nothing left on the server")
	assert.Equal(t, int64(20), statusOf(s, addr).Counts.Deleted)
	require.NoError(t, s.SyncOnce(context.Background()))
	rows, err := w.st.States(context.Background(), POP3StatePrefix+addr+"/")
	require.NoError(t, err)
	assert.Empty(t, rows, "the rows of deleted messages are gone")
}

// TestDovecotPOP3Restart: Dovecot stopped and started in the middle of a
// POP3 sync: the Syncer reconnects with backoff and resumes from its rows;
// nothing is lost or filed twice.
func TestDovecotPOP3Restart(t *testing.T) {
	d := privateDovecot(t)
	w, user, pw := serverlessWorld(t), "alice", "secret"
	a := d.admin(t, user, pw)
	addr := user + "@fabrikam.example"
	const n = 400
	last := a.bigCase(w, addr, n)
	a.c.Logout()
	o := w.options(d.pop3Mailbox(user, pw))
	o.BatchSize = 20
	o.PollInterval = 200 * time.Millisecond
	var seen atomic.Int64 // POP3 has no UIDs: the n/3-th email
	syncThroughRestart(t, w, d, o, addr, last, n, func(Event) bool { return seen.Add(1) == n/3 })
}

// popUIDLs lists a Dovecot POP3 maildrop: each message's UIDL by its
// Message-ID.
func popUIDLs(t *testing.T, d dovecot, user, pw string) map[string]string {
	t.Helper()
	conn, err := net.Dial("tcp", d.POP3Addr)
	require.NoError(t, err)
	c, err := pop3.NewClient(conn, 10*time.Second)
	require.NoError(t, err)
	defer c.Quit()
	require.NoError(t, c.Login(user, pw))
	ids, err := c.UIDL()
	require.NoError(t, err)
	out := map[string]string{}
	for _, e := range ids {
		h, err := c.Top(e.Num, 0, 1<<16)
		require.NoError(t, err)
		for _, line := range strings.Split(string(h), "\r\n") {
			if v, ok := strings.CutPrefix(line, "Message-ID: "); ok {
				out[strings.Trim(v, "<>")] = e.UIDL
			}
		}
	}
	return out
}

// TestDovecotPOP3Renumbered: a Dovecot whose UIDLs are the bare UID
// (pop3_uidl_format=%08Xu, as many servers number their messages) loses
// its UID list after a message was deleted: it numbers the messages again
// from 1, and a new message gets the UIDL of one read before. The new
// message is read, and the old ones, met again under other UIDLs, are not
// filed twice.
func TestDovecotPOP3Renumbered(t *testing.T) {
	w, d := dovecotPOP3(t)
	user, pw := d.NewUserWith(t, "userdb_pop3_uidl_format=%%08Xu")
	a := d.admin(t, user, pw)
	addr := user + "@fabrikam.example"
	w.known["n0@contoso.example"] = caseA
	ids := []string{"n0@contoso.example"}
	a.append("INBOX", mail{id: ids[0], subject: "Case", date: t0, to: addr})
	for i := 1; i < 4; i++ {
		ids = append(ids, fmt.Sprintf("n%d@contoso.example", i))
		a.append("INBOX", mail{id: ids[i], inReplyTo: ids[i-1], subject: "Re: Case", date: t0.Add(time.Duration(i) * time.Hour), to: addr})
	}
	s := w.syncer(w.options(d.pop3Mailbox(user, pw)))
	require.NoError(t, s.SyncOnce(context.Background()))
	require.Len(t, ledgerOf(t, w.st), 4)
	before := popUIDLs(t, d, user, pw)
	require.Equal(t, "00000004", before[ids[3]])

	// A person's mail program deletes the first message; Dovecot loses
	// its UID list (and index) and numbers what is left from 1 again.
	_, err := a.c.Select("INBOX", false)
	require.NoError(t, err)
	set := new(imap.SeqSet)
	set.AddNum(1)
	require.NoError(t, a.c.Store(set, imap.FormatFlagsOp(imap.AddFlags, true), []interface{}{imap.DeletedFlag}, nil))
	require.NoError(t, a.c.Expunge(nil))
	require.NoError(t, a.c.Logout())
	maildir := filepath.Join(d.Home(user), "Maildir")
	files, err := os.ReadDir(maildir)
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasPrefix(f.Name(), "dovecot-uidlist") || strings.HasPrefix(f.Name(), "dovecot.index") {
			require.NoError(t, os.Remove(filepath.Join(maildir, f.Name())))
		}
	}
	a = d.admin(t, user, pw)
	a.append("INBOX", mail{id: "n9@contoso.example", inReplyTo: ids[3], subject: "Re: Case", date: t0.Add(9 * time.Hour), to: addr})
	after := popUIDLs(t, d, user, pw)
	require.Equal(t, "00000004", after["n9@contoso.example"], "the new message has the UIDL of one read before: %v", after)

	require.NoError(t, s.SyncOnce(context.Background()))
	got, ok := w.tracked("n9@contoso.example")
	require.True(t, ok, "the new message under a reused UIDL is read")
	assert.Equal(t, caseA, got.Record)
	assert.Len(t, ledgerOf(t, w.st), 5, "every message once")
	st := statusOf(s, addr)
	require.NotEmpty(t, st.Messages)
	assert.Contains(t, st.Messages[len(st.Messages)-1].Text, "new UIDLs")
	assert.Equal(t, int64(3), st.Counts.Existing, "the three old messages were found already tracked")
}

// TestPOP3Crash: a POP3 sync process over a 1,500-message mailbox (SQLite
// store) is killed with SIGKILL at five random instants and started again
// each time; the ledger it ends with equals an uninterrupted run's, with
// no email stored twice — each message's writes and its UIDL row commit
// together. (TestCrash does the same over IMAP with 3,000 messages; half
// here keeps the two under a minute and a half with -race.)
func TestPOP3Crash(t *testing.T) {
	if testing.Short() {
		t.Skip("1,500 messages")
	}
	_, d := dovecotPOP3(t)
	const n = 1500
	mb, known := crashMailbox(t, d, n)
	mb.URL = "pop3://" + strings.TrimPrefix(strings.Split(mb.URL, "@")[0], "imap://") + "@" + d.POP3Addr
	// One holder for every run: a run started after a kill takes the
	// killed one's lease at once, so a long TTL costs nothing, and it
	// survives a loaded machine (-race) renewing late.
	job := workerJob{Holder: "w", Once: true, LeaseTTL: 30 * time.Second, Mailboxes: []workerMailbox{mb}, Known: known}
	killFiveTimes(t, job, n, 2)
}
