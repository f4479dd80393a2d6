package imapsync

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/dovecottest"
)

// dovecot is the Dovecot server .ci/dovecot.sh started.
type dovecot struct {
	dovecottest.Server
	addr string
}

// needDovecot returns the running Dovecot, or skips the test when there
// is none — except in CI, where that is a failure.
func needDovecot(t testing.TB) dovecot {
	t.Helper()
	s := dovecottest.Need(t)
	return dovecot{Server: s, addr: s.Addr}
}

// newUser returns a fresh user (an empty mailbox) and its password.
func (d dovecot) newUser(t testing.TB) (string, string) { return d.NewUser(t) }

// admin is a plain IMAP session that plays the mailbox's owner: it
// delivers mail and moves, renames and deletes folders.
type admin struct {
	t testing.TB
	c *client.Client
}

func (d dovecot) admin(t testing.TB, user, pw string) *admin {
	t.Helper()
	var c *client.Client
	var err error
	for range 50 { // right after a restart the port may not answer yet
		if c, err = client.Dial(d.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	for range 30 { // the users file is read again within a second
		if err = c.Login(user, pw); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	t.Cleanup(func() { c.Logout() })
	return &admin{t: t, c: c}
}

func (a *admin) create(name string) {
	a.t.Helper()
	require.NoError(a.t, a.c.Create(name))
}

func (a *admin) append(folder string, m mail) {
	a.t.Helper()
	a.appendRaw(folder, m.date, m.raw())
}

func (a *admin) appendRaw(folder string, date time.Time, raw []byte) {
	a.t.Helper()
	require.NoError(a.t, a.c.Append(folder, nil, date, bytes.NewBuffer(raw)))
}

// move moves the message with the given Message-ID from one folder to
// another with UID MOVE.
func (a *admin) move(from, messageID, to string) {
	a.t.Helper()
	_, err := a.c.Select(from, false)
	require.NoError(a.t, err)
	crit := imap.NewSearchCriteria()
	crit.Header.Set("Message-Id", messageID)
	uids, err := a.c.UidSearch(crit)
	require.NoError(a.t, err)
	require.Len(a.t, uids, 1, "message %s in %s", messageID, from)
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	require.NoError(a.t, a.c.UidMove(set, to))
	require.NoError(a.t, a.c.Unselect())
}

func (a *admin) seen(folder string) int {
	a.t.Helper()
	st, err := a.c.Status(folder, []imap.StatusItem{imap.StatusUnseen, imap.StatusMessages})
	require.NoError(a.t, err)
	return int(st.Messages - st.Unseen)
}

// restart stops Dovecot and starts it again (.ci/dovecot.sh restart): a
// privateDovecot only.
func (d dovecot) restart(t testing.TB) { d.Restart(t, dovecotScript) }

const dovecotScript = "../.ci/dovecot.sh"

// privateDovecot starts a Dovecot of the test's own, for a test that
// restarts it (dovecottest.Private).
func privateDovecot(t testing.TB) dovecot {
	t.Helper()
	s := dovecottest.Private(t, dovecotScript)
	return dovecot{Server: s, addr: s.Addr}
}

// dovecotWorld is a world whose server is Dovecot.
func dovecotWorld(t *testing.T) (*world, dovecot, string, string, *admin) {
	d := needDovecot(t)
	user, pw := d.newUser(t)
	return serverlessWorld(t), d, user, pw, d.admin(t, user, pw)
}

func (d dovecot) mailbox(user, pw string) Mailbox {
	return Mailbox{Address: user + "@fabrikam.example", URL: "imap://" + user + "@" + d.addr, Password: pw}
}

// TestDovecot runs the life of a mailbox against a real Dovecot: first
// sync, folder ids (X-GUID), a UID MOVE into a tracked folder relinked
// within one IDLE cycle, the tracked folder renamed (the rule follows it),
// then deleted and created again with the same mail (a new UIDVALIDITY:
// read again, nothing doubled), and no flag set anywhere.
func TestDovecot(t *testing.T) {
	w, d, user, pw, a := dovecotWorld(t)
	a.create("INBOX/Clients")
	a.create("INBOX/Clients/Contoso")
	addr := user + "@fabrikam.example"
	first := "d1@contoso.example"
	w.known[first] = caseA
	a.append("INBOX", mail{id: first, subject: "Printer", date: t0, to: addr})
	a.append("INBOX", mail{id: "d2@contoso.example", inReplyTo: first, subject: "Re: Printer", date: t0.Add(time.Hour), to: addr})
	a.append("INBOX/Clients/Contoso", mail{id: "d3@contoso.example", subject: "Order 12", date: t0.Add(2 * time.Hour), to: addr})
	mb := d.mailbox(user, pw)
	mb.Folders = []folder.Mapping{{FolderPath: "Inbox/Clients/Contoso", Record: acct}}
	o := w.options(mb)
	s := w.syncer(o)
	stop := runFor(t, s, 60*time.Second)
	eventually(t, 10*time.Second, "first pass", func() bool {
		return statusOf(s, addr).State == StateIdle
	})
	st := statusOf(s, addr)
	require.Empty(t, st.LastError)
	got, ok := w.tracked("d2@contoso.example")
	require.True(t, ok)
	assert.Equal(t, caseA, got.Record)
	assert.True(t, strings.HasPrefix(got.FolderID, idXGUID), "Dovecot's folders are identified by X-GUID: %s", got.FolderID)
	got, ok = w.tracked("d3@contoso.example")
	require.True(t, ok, "mail in a tracked folder is tracked")
	assert.Equal(t, acct, got.Record)
	assert.Equal(t, correlate.FolderTracking, got.Method)
	contosoID := got.FolderID

	// The owner drags the reply into the tracked folder: IDLE on Inbox
	// sees it leave (EXPUNGE), and the next pass re-links it.
	a.move("INBOX", "<d2@contoso.example>", "INBOX/Clients/Contoso")
	eventually(t, 10*time.Second, "re-linked within one IDLE cycle", func() bool {
		got, _ := w.tracked("d2@contoso.example")
		return got.Record == acct
	})

	stop()

	// Renamed: the folder keeps its X-GUID, so the rule follows it.
	require.NoError(t, a.c.Rename("INBOX/Clients/Contoso", "INBOX/Clients/Contoso Ltd"))
	a.append("INBOX/Clients/Contoso Ltd", mail{id: "d4@contoso.example", subject: "Order 13", date: t0.Add(3 * time.Hour), to: addr})
	require.NoError(t, s.SyncOnce(context.Background()))
	got, ok = w.tracked("d4@contoso.example")
	require.True(t, ok, "mail in the renamed folder is tracked by its rule")
	assert.Equal(t, acct, got.Record)
	m, ok := w.rules.Mapping(addr, contosoID)
	require.True(t, ok, "the rule is still bound to the folder id")
	assert.Equal(t, "INBOX/Clients/Contoso Ltd", m.FolderPath)

	// Deleted and created again under the rule's path with the same mail:
	// a new folder (new X-GUID, new UIDVALIDITY), read again, no
	// duplicates.
	require.NoError(t, a.c.Delete("INBOX/Clients/Contoso Ltd"))
	a.create("INBOX/Clients/Contoso")
	for _, id := range []string{"d2", "d3", "d4"} {
		a.append("INBOX/Clients/Contoso", mail{id: id + "@contoso.example", subject: "again", date: t0.Add(4 * time.Hour), to: addr})
	}
	require.NoError(t, s.SyncOnce(context.Background()))
	l := ledgerOf(t, w.st)
	assert.Len(t, l, 4, "four emails, each once: %v", l)
	for _, id := range []string{"d2", "d3", "d4"} {
		assert.Equal(t, acct.String(), l[id+"@contoso.example"])
	}
	st = statusOf(s, addr)
	require.NotEmpty(t, st.Messages)
	var texts []string
	for _, n := range st.Messages {
		texts = append(texts, n.Text)
	}
	assert.Contains(t, strings.Join(texts, "\n"), "renamed to")
	assert.Contains(t, strings.Join(texts, "\n"), "created again")
	for _, f := range []string{"INBOX", "INBOX/Clients/Contoso"} {
		assert.Zero(t, a.seen(f), "%s: the sync never sets \\Seen", f)
	}
}

// TestDovecotPoll: without IDLE the move is seen by the next poll.
func TestDovecotPoll(t *testing.T) {
	w, d, user, pw, a := dovecotWorld(t)
	a.create("INBOX/Contoso")
	addr := user + "@fabrikam.example"
	w.known["p1@contoso.example"] = caseA
	a.append("INBOX", mail{id: "p1@contoso.example", subject: "Printer", date: t0, to: addr})
	a.append("INBOX", mail{id: "p2@contoso.example", inReplyTo: "p1@contoso.example", subject: "Re: Printer", date: t0.Add(time.Hour), to: addr})
	mb := d.mailbox(user, pw)
	mb.Folders = []folder.Mapping{{FolderPath: "INBOX/Contoso", Record: acct}}
	o := w.options(mb)
	o.NoIdle = true
	o.PollInterval = 300 * time.Millisecond
	s := w.syncer(o)
	stop := runFor(t, s, 30*time.Second)
	eventually(t, 10*time.Second, "first pass", func() bool {
		got, ok := w.tracked("p2@contoso.example")
		return ok && got.Record == caseA
	})
	a.move("INBOX", "<p2@contoso.example>", "INBOX/Contoso")
	eventually(t, 5*time.Second, "re-linked by the next poll", func() bool {
		got, _ := w.tracked("p2@contoso.example")
		return got.Record == acct
	})
	stop()
}

// TestDovecotRestart: Dovecot stopped and started in the middle of a
// sync: the Syncer reconnects with backoff and resumes from its cursor;
// nothing is lost or filed twice.
func TestDovecotRestart(t *testing.T) {
	d := privateDovecot(t)
	w, user, pw := serverlessWorld(t), "alice", "secret"
	a := d.admin(t, user, pw)
	addr := user + "@fabrikam.example"
	const n = 400
	last := a.bigCase(w, addr, n)
	o := w.options(d.mailbox(user, pw))
	o.BatchSize = 20
	syncThroughRestart(t, w, d, o, addr, last, n, func(ev Event) bool { return ev.UID == n/3 })
}

// bigCase delivers n emails of one case to Inbox: the first known to the
// CRM under caseA, each later one a reply to the one before, ten minutes
// apart, from thirty people at the customer. It returns the last one's
// Message-ID.
func (a *admin) bigCase(w *world, addr string, n int) string {
	a.t.Helper()
	prev := "r0@contoso.example"
	w.known[prev] = caseA
	a.append("INBOX", mail{id: prev, subject: "Big case", date: t0, to: addr})
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("r%d@contoso.example", i)
		a.append("INBOX", mail{id: id, inReplyTo: prev, subject: "Re: Big case", date: t0.Add(time.Duration(i) * 10 * time.Minute),
			from: fmt.Sprintf("person%d@contoso.example", i%30), to: addr})
		prev = id
	}
	return prev
}

// syncThroughRestart syncs the bigCase of n emails with o, restarting
// Dovecot once, at the first email restartAt names, until the last one is
// tracked; every email must then be tracked once, under caseA, and the
// status must report the lost connection.
func syncThroughRestart(t *testing.T, w *world, d dovecot, o *Options, addr, last string, n int, restartAt func(Event) bool) {
	t.Helper()
	var once sync.Once
	restarted := make(chan struct{})
	o.OnMessage = func(ev Event) {
		if restartAt(ev) {
			once.Do(func() {
				d.restart(t)
				close(restarted)
			})
		}
	}
	s := w.syncer(o)
	stop := runFor(t, s, 60*time.Second)
	eventually(t, 45*time.Second, "every message tracked after the restart", func() bool {
		_, ok := w.tracked(last)
		return ok
	})
	stop()
	select {
	case <-restarted:
	default:
		t.Fatal("Dovecot was not restarted during the sync")
	}
	l := ledgerOf(t, w.st)
	assert.Len(t, l, n, "each message once")
	for id, rec := range l {
		assert.Equal(t, caseA.String(), rec, id)
	}
	st := statusOf(s, addr)
	assert.NotEmpty(t, st.LastError, "the lost connection was reported")
	// The last error is the lost connection, or, when the reconnect came
	// while Dovecot was still starting, its temporary refusal ([UNAVAILABLE]
	// authentication): a server error, retried as well.
	assert.Contains(t, []Cause{CauseConnect, CauseServer}, st.Cause, st.LastError)
}

// TestDovecotRefusedPassword: Dovecot refuses the password: that mailbox
// stops with "authentication refused", the other is synchronized.
func TestDovecotRefusedPassword(t *testing.T) {
	w, d, user, pw, a := dovecotWorld(t)
	other, _ := d.newUser(t)
	addr := user + "@fabrikam.example"
	w.known["x1@contoso.example"] = caseA
	a.append("INBOX", mail{id: "x1@contoso.example", subject: "Hi", date: t0, to: addr})
	bad := d.mailbox(other, "not-the-password")
	o := w.options(d.mailbox(user, pw), bad)
	// From 127.0.0.2: Dovecot delays every login from an address that
	// failed one (its auth penalty), and the other tests use 127.0.0.1.
	dialer := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	o.Dial = dialer.DialContext
	s := w.syncer(o)
	err := s.SyncOnce(context.Background())
	require.Error(t, err)
	assert.True(t, IsPermanent(err))
	st := statusOf(s, bad.Address)
	assert.Equal(t, StateStopped, st.State)
	assert.Equal(t, CauseAuth, st.Cause)
	assert.Contains(t, st.LastError, "authentication refused")
	_, ok := w.tracked("x1@contoso.example")
	assert.True(t, ok, "the other mailbox was synchronized")
	assert.Empty(t, statusOf(s, addr).LastError)
}
