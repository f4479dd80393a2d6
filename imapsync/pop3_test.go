package imapsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/internal/pop3fake"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// popWorld is a fake POP3 server, a store (recording what each Apply
// writes), an engine and the events of a sync.
type popWorld struct {
	*world
	pop *pop3fake.Server
	rec *recorder
}

// recorder is a store that records the sync state each Apply writes.
type recorder struct {
	store.Store
	mu       sync.Mutex
	applies  int
	rows     int // states written (deleted rows not counted)
	deleted  int
	maxValue int
}

func (r *recorder) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	res, err := r.Store.Apply(ctx, b)
	if err == nil {
		r.mu.Lock()
		r.applies++
		for _, st := range b.States {
			if st.Value == nil {
				r.deleted++
				continue
			}
			r.rows++
			r.maxValue = max(r.maxValue, len(st.Value))
		}
		r.mu.Unlock()
	}
	return res, err
}

func newPopWorld(t *testing.T, opts *pop3fake.Options) *popWorld {
	t.Helper()
	srv, err := pop3fake.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	srv.AddUser("support", "secret")
	w := serverlessWorld(t)
	pw := &popWorld{world: w, pop: srv, rec: &recorder{Store: w.st}}
	// The engine writes through the recorder too.
	w.eng, err = mailcorrelate.New(pw.rec, &mailcorrelate.Options{Folders: w.rules})
	require.NoError(t, err)
	return pw
}

func (w *popWorld) mailbox() Mailbox {
	return Mailbox{Address: testAddr, URL: "pop3://support@" + w.pop.Addr, Password: "secret"}
}

func (w *popWorld) syncer(o *Options) *Syncer {
	w.t.Helper()
	s, err := New(w.eng, w.rec, o)
	require.NoError(w.t, err)
	return s
}

func (w *popWorld) deliver(m mail) string {
	w.t.Helper()
	uidl, err := w.pop.Append("support", m.raw())
	require.NoError(w.t, err)
	return uidl
}

// conversation delivers a customer's email (known to the CRM under rec)
// and n replies, ten minutes apart.
func (w *popWorld) conversation(tag string, rec correlate.Record, n int, at time.Time) []string {
	first := tag + ".0@contoso.example"
	w.known[first] = rec
	w.deliver(mail{id: first, subject: "Case " + tag, date: at})
	ids := []string{first}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s.%d@contoso.example", tag, i)
		w.deliver(mail{id: id, inReplyTo: ids[i-1], subject: "Re: Case " + tag, date: at.Add(time.Duration(i) * 10 * time.Minute)})
		ids = append(ids, id)
	}
	return ids
}

func (w *popWorld) commands(verb string) []string {
	var out []string
	for _, c := range w.pop.Commands() {
		if c == verb || strings.HasPrefix(c, verb+" ") {
			out = append(out, c)
		}
	}
	return out
}

func (w *popWorld) rows(t *testing.T) []store.State {
	t.Helper()
	rows, err := w.st.States(context.Background(), POP3StatePrefix+testAddr+"/uidl/")
	require.NoError(t, err)
	return rows
}

// TestPOP3SyncOnce: the replies correlate with the email they answer; the
// state is one small row per message, written with the email it covers;
// a second pass reads no message (one TOP checks the last one done); new
// mail alone is read; nothing is ever deleted or retrieved whole.
func TestPOP3SyncOnce(t *testing.T) {
	w := newPopWorld(t, nil)
	ids := w.conversation("a", caseA, 3, t0)
	w.deliver(mail{id: "stranger@else.example", subject: "Hello", date: t0.Add(time.Hour), from: "x@else.example"})
	s := w.syncer(w.options(w.mailbox()))
	require.NoError(t, s.SyncOnce(context.Background()))

	for _, id := range ids {
		got, ok := w.tracked(id)
		require.True(t, ok, "%s is in the conversation: tracked", id)
		assert.Equal(t, caseA, got.Record, id)
		assert.Equal(t, testAddr, got.Mailbox)
		assert.Equal(t, "INBOX", got.FolderPath)
	}
	_, ok := w.tracked("stranger@else.example")
	assert.False(t, ok, "a new conversation is not tracked under the default filter")
	st := statusOf(s, testAddr)
	assert.Equal(t, StateDone, st.State)
	assert.Equal(t, Counts{Fetched: 5, Correlated: 3, Tracked: 4, Untracked: 1}, st.Counts)
	require.Len(t, st.Folders, 1)
	assert.Equal(t, FolderStatus{Role: "inbox", Path: "INBOX", UIDLs: 5}, st.Folders[0])
	assert.Len(t, w.rows(t), 5, "one row per message, under the mailbox's prefix")
	assert.Equal(t, 5, w.rec.rows, "each row written once, with the email it covers (the stranger's with the batch's end)")
	assert.Less(t, w.rec.maxValue, 80, "a row is a few bytes: no blob of every UIDL")
	evs := w.eventsCopy()
	require.Len(t, evs, 5)
	assert.Equal(t, "00000001", evs[0].UIDL)
	assert.Zero(t, evs[0].UID, "a POP3 message has no UID")
	assert.Equal(t, "INBOX", evs[0].Folder)
	assert.Len(t, w.commands("TOP"), 5, "headers by TOP n 0")

	// Nothing new: one TOP (the last message done, to detect new UIDLs),
	// no message processed.
	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, int64(5), statusOf(s, testAddr).Counts.Fetched)
	assert.Equal(t, []string{"TOP 5 0"}, w.commands("TOP")[5:])

	w.deliver(mail{id: "a.9@contoso.example", inReplyTo: ids[3], subject: "Re: Case a", date: t0.Add(2 * time.Hour)})
	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, int64(6), statusOf(s, testAddr).Counts.Fetched, "only the new message is read")
	got, _ := w.tracked("a.9@contoso.example")
	assert.Equal(t, caseA, got.Record)
	assert.Empty(t, w.commands("DELE"), "never DELE unless the mailbox leaves nothing on the server")
	assert.Empty(t, w.commands("RETR"), "no bounce: no message retrieved whole")
	assert.Equal(t, 6, w.pop.Count("support"))
	assert.Len(t, w.commands("QUIT"), 3, "each pass ends its session: the maildrop is not held between passes")
}

// bounceRaw returns a delivery status notification for the email id sent
// to to: the guardrails need its body to find the email it returns.
func bounceRaw(id, to string, at time.Time) []byte {
	b := bounce(id, to, at)
	b.extra += "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n"
	return []byte(strings.Replace(string(b.raw()), "Content-Type: text/plain; charset=utf-8\r\n", "", 1))
}

func bounce(id, to string, at time.Time) mail {
	return mail{id: "bounce-" + id, subject: "Undelivered Mail Returned to Sender", date: at,
		from:  "Mail Delivery System <MAILER-DAEMON@mx.fabrikam.example>",
		extra: "Auto-Submitted: auto-replied\r\nReturn-Path: <>\r\n",
		body: "This is a MIME-encapsulated message.\r\n\r\n--B1\r\nContent-Type: text/plain\r\n\r\nUser unknown\r\n\r\n" +
			"--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.fabrikam.example\r\n\r\n" +
			"Final-Recipient: rfc822; " + to + "\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
			"--B1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: " + testAddr + "\r\nTo: " + to +
			"\r\nSubject: Re: Case a\r\nMessage-ID: <" + id + ">\r\n\r\n--B1--\r\n"}
}

// TestPOP3Bounce: a bounce is the only message retrieved whole (RETR):
// the guardrails read it to find the email it returns.
func TestPOP3Bounce(t *testing.T) {
	w := newPopWorld(t, nil)
	w.conversation("a", caseA, 1, t0)
	_, err := w.pop.Append("support", bounceRaw("a.1@contoso.example", "customer@contoso.example", t0.Add(time.Hour)))
	require.NoError(t, err)
	w.deliver(mail{id: "after@contoso.example", subject: "Re: Case a", inReplyTo: "a.1@contoso.example", date: t0.Add(2 * time.Hour)})
	s := w.syncer(w.options(w.mailbox()))
	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, []string{"RETR 3"}, w.commands("RETR"), "only the bounce, message 3, is retrieved")
	var be Event
	for _, ev := range w.eventsCopy() {
		if ev.UIDL == "00000003" {
			be = ev
		}
	}
	require.NotNil(t, be.Message)
	assert.NotEmpty(t, be.Message.Body, "the bounce was correlated with its body")
	assert.Equal(t, guard.Bounce, be.Decision.Classification.Class)
	assert.Equal(t, Untracked, be.Action, "a bounce is not tracked")
	_, ok := w.tracked("after@contoso.example")
	assert.True(t, ok, "the mail after the bounce is processed")
}

// TestPOP3NoUIDL: a server without UIDL cannot say which messages were
// read: the mailbox stops with a clear status, nothing is filed.
func TestPOP3NoUIDL(t *testing.T) {
	w := newPopWorld(t, &pop3fake.Options{NoUIDL: true})
	w.conversation("a", caseA, 1, t0)
	s := w.syncer(w.options(w.mailbox()))
	err := s.SyncOnce(context.Background())
	require.Error(t, err)
	assert.True(t, IsPermanent(err))
	st := statusOf(s, testAddr)
	assert.Equal(t, StateStopped, st.State)
	assert.Equal(t, CauseUnsupported, st.Cause)
	assert.Contains(t, st.LastError, "has no UIDL")
	assert.Empty(t, ledgerOf(t, w.st))
	assert.Empty(t, w.commands("TOP"))
}

// TestPOP3Dropped: the connection dropped in the middle of a TOP, and then
// of a bounce's RETR → reconnect with backoff, resume from the rows,
// nothing lost or filed twice.
func TestPOP3Dropped(t *testing.T) {
	w := newPopWorld(t, nil)
	ids := w.conversation("a", caseA, 30, t0)
	_, err := w.pop.Append("support", bounceRaw("a.30@contoso.example", "customer@contoso.example", t0.Add(24*time.Hour)))
	require.NoError(t, err)
	o := w.options(w.mailbox())
	o.BatchSize = 8
	o.PollInterval = 50 * time.Millisecond
	s := w.syncer(o)
	w.pop.DropAfter("TOP", 13)
	w.pop.DropAfter("RETR", 0)
	stop := runFor(t, s, 20*time.Second)
	eventually(t, 15*time.Second, "every message processed", func() bool {
		st := statusOf(s, testAddr)
		return len(st.Folders) == 1 && st.Folders[0].UIDLs == len(ids)+1
	})
	stop()
	l := ledgerOf(t, w.st)
	assert.Len(t, l, len(ids), "each message stored once")
	st := statusOf(s, testAddr)
	assert.Equal(t, CauseConnect, st.Cause, "the drop was reported: %s", st.LastError)
	assert.GreaterOrEqual(t, w.pop.Logins(), 3, "it reconnected after each drop: %v", w.pop.Commands())
	assert.Len(t, w.commands("RETR"), 2, "the cut RETR was made again")
	assert.Equal(t, int64(len(ids)), st.Counts.Tracked)
}

// TestPOP3BadResponse: an answer that is not POP3 ends the session (a
// server error, retried); the next session goes on.
func TestPOP3BadResponse(t *testing.T) {
	w := newPopWorld(t, nil)
	ids := w.conversation("a", caseA, 5, t0)
	o := w.options(w.mailbox())
	o.PollInterval = 50 * time.Millisecond
	s := w.syncer(o)
	w.pop.GarbageAfter("LIST", 0)
	w.pop.GarbageAfter("TOP", 3)
	stop := runFor(t, s, 20*time.Second)
	eventually(t, 15*time.Second, "every message tracked", func() bool {
		_, ok := w.tracked(ids[len(ids)-1])
		return ok
	})
	stop()
	assert.Len(t, ledgerOf(t, w.st), len(ids))
	st := statusOf(s, testAddr)
	assert.Equal(t, CauseServer, st.Cause)
	assert.Contains(t, st.LastError, "protocol error")
}

// TestPOP3Renumbered: the server loses its UID list and gives UIDLs again
// from 1 after a message was deleted: "00000004" now names a new message.
// It is read (not taken for the one done before), and the old messages,
// met again under other UIDLs, are not filed twice.
func TestPOP3Renumbered(t *testing.T) {
	w := newPopWorld(t, nil)
	ids := w.conversation("a", caseA, 3, t0) // UIDLs 1–4
	s := w.syncer(w.options(w.mailbox()))
	require.NoError(t, s.SyncOnce(context.Background()))
	require.NoError(t, w.pop.Remove("support", 0)) // a person's client deleted the first
	require.NoError(t, w.pop.Renumber("support"))  // 2,3,4 → 1,2,3
	uidl := w.deliver(mail{id: "a.new@contoso.example", inReplyTo: ids[3], subject: "Re: Case a", date: t0.Add(time.Hour)})
	require.Equal(t, "00000004", uidl, "the new message has the UIDL of one read before")
	require.NoError(t, s.SyncOnce(context.Background()))
	got, ok := w.tracked("a.new@contoso.example")
	require.True(t, ok, "the new message under a reused UIDL is read")
	assert.Equal(t, caseA, got.Record)
	l := ledgerOf(t, w.st)
	assert.Len(t, l, len(ids)+1, "every message once")
	st := statusOf(s, testAddr)
	assert.Equal(t, int64(3), st.Counts.Existing, "the others were found already tracked")
	require.NotEmpty(t, st.Messages)
	assert.Contains(t, st.Messages[len(st.Messages)-1].Text, "new UIDLs")
	assert.Len(t, w.rows(t), 4, "the row of the message gone was removed")
}

// TestPOP3DeleteFromServer: a mailbox that leaves nothing on the server:
// each message is deleted once its writes are committed — and, when the
// session is cut before QUIT, by the next pass —, never twice filed; a
// message the sync could not process stays.
func TestPOP3DeleteFromServer(t *testing.T) {
	w := newPopWorld(t, nil)
	ids := w.conversation("a", caseA, 4, t0)
	w.deliver(mail{id: "big@contoso.example", inReplyTo: ids[4], subject: "Re: Case a", date: t0.Add(time.Hour), body: strings.Repeat("x", 5000)})
	mb := w.mailbox()
	mb.DeleteFromServer = true
	o := w.options(mb)
	o.MaxMessageBytes = 4000
	s := w.syncer(o)
	w.pop.DropAfter("QUIT", 0) // the first session ends without QUIT's answer: nothing deleted
	err := s.SyncOnce(context.Background())
	require.Error(t, err, "the deletions were not confirmed")
	assert.Equal(t, 6, w.pop.Count("support"), "nothing deleted without QUIT")
	assert.Len(t, ledgerOf(t, w.st), len(ids), "but everything filed")

	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, 1, w.pop.Count("support"), "all deleted but the oversize message")
	st := statusOf(s, testAddr)
	assert.Equal(t, int64(5), st.Counts.Deleted)
	assert.Equal(t, int64(len(ids)+1), st.Counts.Fetched, "the second pass read no message again")
	assert.Len(t, ledgerOf(t, w.st), len(ids), "nothing filed twice")

	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Len(t, w.rows(t), 1, "the rows of deleted messages are removed: only the oversize one's")
	assert.Equal(t, 1, w.pop.Count("support"))
}

// TestPOP3NoTOPNoCAPA: an RFC 1939 server without CAPA and without TOP:
// the headers come by RETR, cut after the header.
func TestPOP3NoTOPNoCAPA(t *testing.T) {
	w := newPopWorld(t, &pop3fake.Options{NoCAPA: true, NoTOP: true})
	ids := w.conversation("a", caseA, 2, t0)
	s := w.syncer(w.options(w.mailbox()))
	require.NoError(t, s.SyncOnce(context.Background()))
	for _, id := range ids {
		got, ok := w.tracked(id)
		require.True(t, ok, id)
		assert.Equal(t, caseA, got.Record)
	}
	assert.Len(t, w.commands("TOP"), 1, "TOP tried once")
	assert.Len(t, w.commands("RETR"), 3)
	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, int64(3), statusOf(s, testAddr).Counts.Fetched)
}

// testCert returns a server configuration with a certificate for
// mail.fabrikam.example and a client configuration trusting it.
func testCert(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.fabrikam.example"},
		DNSNames: []string{"mail.fabrikam.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// TestPOP3TLS: pop3:// to a host that is not loopback goes through STLS
// (the certificate checked against the host name); pop3s:// is TLS from
// the start; a server without STLS gets no credentials, and the mailbox
// stops.
func TestPOP3TLS(t *testing.T) {
	srvConf, cliConf := testCert(t)
	for _, tc := range []struct {
		name   string
		opts   pop3fake.Options
		scheme string
		err    string
	}{
		{name: "STLS", opts: pop3fake.Options{TLS: srvConf}, scheme: "pop3"},
		{name: "pop3s", opts: pop3fake.Options{TLS: srvConf, Implicit: true}, scheme: "pop3s"},
		{name: "no STLS", scheme: "pop3", err: "offers no STLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newPopWorld(t, &tc.opts)
			ids := w.conversation("a", caseA, 1, t0)
			mb := w.mailbox()
			mb.URL = tc.scheme + "://support@mail.fabrikam.example"
			o := w.options(mb)
			o.TLSConfig = cliConf
			o.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, w.pop.Addr) // the name resolves to the fake server
			}
			s := w.syncer(o)
			err := s.SyncOnce(context.Background())
			if tc.err != "" {
				require.Error(t, err)
				assert.True(t, IsPermanent(err))
				st := statusOf(s, testAddr)
				assert.Equal(t, CauseTLS, st.Cause)
				assert.Contains(t, st.LastError, tc.err)
				assert.Empty(t, w.commands("USER"), "no credential sent in clear text")
				assert.Zero(t, w.pop.Logins())
				return
			}
			require.NoError(t, err)
			_, ok := w.tracked(ids[1])
			assert.True(t, ok)
		})
	}
}

// TestPOP3XOAUTH2: SASL XOAUTH2 with a token from an oauth2.TokenSource (a
// long token is sent after the server's empty challenge, RFC 5034); a
// refused token stops the mailbox with the server's error; the refreshed
// token is used on the next connect.
func TestPOP3XOAUTH2(t *testing.T) {
	w := newPopWorld(t, nil)
	long := strings.Repeat("t", 600)
	var valid atomic.Value
	valid.Store(long)
	w.pop.EnableXOAUTH2(func(user string) string {
		if user == "support" {
			return valid.Load().(string)
		}
		return ""
	})
	ids := w.conversation("a", caseA, 1, t0)
	ts := &tokens{tok: long}
	mb := w.mailbox()
	mb.Password, mb.TokenSource = "", ts
	s := w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(context.Background()))
	_, ok := w.tracked(ids[1])
	assert.True(t, ok, "synced with the XOAUTH2 token")
	assert.Empty(t, w.commands("USER"))

	valid.Store("tok-2")
	err := s.SyncOnce(context.Background())
	require.Error(t, err)
	st := statusOf(s, testAddr)
	assert.Equal(t, CauseAuth, st.Cause)
	assert.Contains(t, st.LastError, "401", "the server's JSON error is in the status")

	ts.mu.Lock()
	ts.tok = "tok-2"
	ts.mu.Unlock()
	require.NoError(t, s.SyncOnce(context.Background()), "the refreshed token is used on the next connect")
}

// TestPOP3Refused: a refused password stops that mailbox; a maildrop
// locked by another session ([IN-USE]) is retried until it is free.
func TestPOP3Refused(t *testing.T) {
	w := newPopWorld(t, nil)
	w.pop.AddUser("bob", "right")
	ids := w.conversation("a", caseA, 1, t0)
	bad := Mailbox{Address: "bob@fabrikam.example", URL: "pop3://bob@" + w.pop.Addr, Password: "wrong"}
	o := w.options(w.mailbox(), bad)
	o.PollInterval = 50 * time.Millisecond
	s := w.syncer(o)
	w.pop.SetInUse(true)
	stop := runFor(t, s, 10*time.Second)
	eventually(t, 5*time.Second, "bob stopped, support retrying", func() bool {
		return statusOf(s, "bob@fabrikam.example").State == StateStopped && statusOf(s, testAddr).Failures >= 2
	})
	st := statusOf(s, testAddr)
	assert.Equal(t, CauseServer, st.Cause, "[IN-USE] is temporary")
	assert.Contains(t, st.LastError, "IN-USE")
	w.pop.SetInUse(false)
	eventually(t, 5*time.Second, "support synced once the maildrop is free", func() bool {
		_, ok := w.tracked(ids[1])
		return ok
	})
	stop()
	st = statusOf(s, "bob@fabrikam.example")
	assert.Equal(t, CauseAuth, st.Cause)
	assert.Contains(t, st.LastError, "authentication refused")
}

// TestPOP3Poll: Run polls a POP3 mailbox every PollInterval, each time in
// a new session (a session does not see mail that arrives after its
// login), under a lease named after the POP3 state.
func TestPOP3Poll(t *testing.T) {
	w := newPopWorld(t, nil)
	ids := w.conversation("a", caseA, 1, t0)
	o := w.options(w.mailbox())
	o.PollInterval = 100 * time.Millisecond
	s := w.syncer(o)
	stop := runFor(t, s, 10*time.Second)
	eventually(t, 5*time.Second, "first pass", func() bool {
		_, ok := w.tracked(ids[1])
		return ok && statusOf(s, testAddr).State == StateIdle
	})
	_, err := w.st.Acquire(context.Background(), POP3StatePrefix+testAddr, "someone else", time.Minute)
	assert.ErrorIs(t, err, store.ErrLeaseHeld, "the mailbox is synced under the lease pop3/ADDRESS")
	w.deliver(mail{id: "a.2@contoso.example", inReplyTo: ids[1], subject: "Re: Case a", date: t0.Add(time.Hour)})
	eventually(t, 5*time.Second, "new mail seen by the next poll", func() bool {
		_, ok := w.tracked("a.2@contoso.example")
		return ok
	})
	stop()
	assert.GreaterOrEqual(t, w.pop.Logins(), 2)
}

// TestPOP3After: Mailbox.After over POP3 compares the date of the newest
// Received field (the server's delivery), else the Date field.
func TestPOP3After(t *testing.T) {
	w := newPopWorld(t, nil)
	w.deliver(mail{id: "old@contoso.example", subject: "Old", date: t0.Add(72 * time.Hour),
		extra: "Received: from mx by pop.fabrikam.example; " + t0.Format(time.RFC1123Z) + "\r\n"})
	w.deliver(mail{id: "olddate@contoso.example", subject: "Old too", date: t0})
	w.deliver(mail{id: "new@contoso.example", subject: "New", date: t0.Add(48 * time.Hour)})
	mb := w.mailbox()
	mb.After = t0.Add(24 * time.Hour)
	mb.Filter = party.All
	s := w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(context.Background()))
	_, ok := w.tracked("old@contoso.example")
	assert.False(t, ok, "received before After (its Date says later)")
	_, ok = w.tracked("olddate@contoso.example")
	assert.False(t, ok, "no Received: its Date decides")
	_, ok = w.tracked("new@contoso.example")
	assert.True(t, ok)
	assert.Equal(t, int64(2), statusOf(s, testAddr).Counts.Skipped)
}

// TestPOP3Config: what POP3 cannot do is refused when the Syncer is made.
func TestPOP3Config(t *testing.T) {
	w := newPopWorld(t, nil)
	for _, tc := range []struct {
		name string
		edit func(*Mailbox)
		want string
	}{
		{"folder rules", func(m *Mailbox) { m.Folders = []folder.Mapping{{FolderPath: "Inbox/Contoso", Record: acct}} }, "POP3 has no folders"},
		{"Sent", func(m *Mailbox) { m.Sent = true }, "POP3 reads only the Inbox"},
		{"delete over IMAP", func(m *Mailbox) { m.URL, m.DeleteFromServer = "imap://support@127.0.0.1:143", true }, "never deletes"},
	} {
		mb := w.mailbox()
		tc.edit(&mb)
		_, err := New(w.eng, w.st, w.options(mb))
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
		assert.True(t, IsPermanent(err), tc.name)
	}
}

// losingStore refuses every renewal of a lease (another worker took it)
// and says when it did.
type losingStore struct {
	store.Store
	n    atomic.Int32
	lost chan struct{}
	once sync.Once
}

func (l *losingStore) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (store.Lease, error) {
	if l.n.Add(1) > 1 {
		l.once.Do(func() { close(l.lost) })
		return store.Lease{}, fmt.Errorf("losing: %w", store.ErrLeaseHeld)
	}
	return l.Store.Acquire(ctx, name, holder, ttl)
}

// TestLeaseLostDuringPass: a lease lost in the middle of SyncOnce's pass
// stops the pass, and the status says "lease lost", not a server error.
func TestLeaseLostDuringPass(t *testing.T) {
	w := newPopWorld(t, nil)
	w.conversation("a", caseA, 3, t0)
	ls := &losingStore{Store: w.st, lost: make(chan struct{})}
	o := w.options(w.mailbox())
	o.LeaseTTL = 30 * time.Millisecond
	o.OnMessage = func(Event) {
		select { // the first message waits until the renewal was refused
		case <-ls.lost:
			time.Sleep(10 * time.Millisecond)
		case <-time.After(5 * time.Second):
		}
	}
	s, err := New(w.eng, ls, o)
	require.NoError(t, err)
	err = s.SyncOnce(context.Background())
	require.Error(t, err)
	st := statusOf(s, testAddr)
	assert.Equal(t, CauseLease, st.Cause, st.LastError)
	assert.Less(t, st.Counts.Fetched, int64(4), "the pass stopped")
}

// failOnce is a store whose n-th Apply carrying an email fails once (a
// passing error: a busy database), the writes after it succeeding.
type failOnce struct {
	store.Store
	n    atomic.Int32
	at   int32
	done atomic.Bool
}

func (f *failOnce) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	if len(b.Puts) > 0 && f.n.Add(1) == f.at && !f.done.Swap(true) {
		return store.Result{}, errors.New("failOnce: database is busy")
	}
	return f.Store.Apply(ctx, b)
}

// TestFailedWriteNotSkipped: the write of one email fails once, and the
// pass ends; the pass's last write (the cursor, or the UIDL rows, of the
// mail processed before) must not mark that email done: the next pass
// files it (a defect: the cursor went past it, and it was lost).
func TestFailedWriteNotSkipped(t *testing.T) {
	for _, proto := range []string{"imap", "pop3"} {
		t.Run(proto, func(t *testing.T) {
			var w *world
			var mb Mailbox
			var deliver func(m mail)
			if proto == "imap" {
				w = newWorld(t)
				mb = w.mailbox()
				deliver = func(m mail) { w.append("INBOX", m) }
			} else {
				pw := newPopWorld(t, nil)
				w, mb = pw.world, pw.mailbox()
				deliver = func(m mail) { pw.deliver(m) }
			}
			w.known["f0@contoso.example"] = caseA
			deliver(mail{id: "f0@contoso.example", subject: "Case", date: t0})
			for i := 1; i <= 5; i++ {
				deliver(mail{id: fmt.Sprintf("f%d@contoso.example", i), inReplyTo: fmt.Sprintf("f%d@contoso.example", i-1),
					subject: "Re: Case", date: t0.Add(time.Duration(i) * 10 * time.Minute)})
			}
			// An untracked message after the one whose write fails: the
			// pass's last write carries its cursor or row.
			deliver(mail{id: "stranger@else.example", subject: "Hello", date: t0.Add(2 * time.Hour), from: "x@else.example"})
			fs := &failOnce{Store: w.st, at: 3}
			s, err := New(w.eng, fs, w.options(mb))
			require.NoError(t, err)
			require.Error(t, s.SyncOnce(context.Background()), "the third email's write failed")
			require.NoError(t, s.SyncOnce(context.Background()))
			l := ledgerOf(t, w.st)
			for i := 0; i <= 5; i++ {
				assert.Equal(t, caseA.String(), l[fmt.Sprintf("f%d@contoso.example", i)], "f%d filed", i)
			}
		})
	}
}

// TestPOP3StaleConnection: a connection that waited longer than
// Options.Timeout for its pass (for a worker) is replaced, not used: the
// server may have ended it, and it held the maildrop meanwhile.
func TestPOP3StaleConnection(t *testing.T) {
	w := newPopWorld(t, nil)
	ids := w.conversation("a", caseA, 1, t0)
	s := w.syncer(w.options(w.mailbox()))
	mb := s.mailboxes[0]
	src, err := connectPOP3(context.Background(), mb, &s.o)
	require.NoError(t, err)
	defer src.close()
	src.dialed = time.Now().Add(-2 * s.o.Timeout)
	l, err := w.st.Acquire(context.Background(), mb.leaseName(), s.holder, time.Minute)
	require.NoError(t, err)
	mb.setLease(l)
	require.NoError(t, src.pass(context.Background(), s, mb))
	assert.Equal(t, 2, w.pop.Logins(), "a new session for the pass")
	_, ok := w.tracked(ids[1])
	assert.True(t, ok)
}
