package imapsync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/party"
)

var (
	caseA = correlate.Record{Type: "incident", ID: "CAS-1"}
	acct  = correlate.Record{Type: "account", ID: "contoso"}
)

// TestSyncOnce: replies correlate with the email they answer, the cursor
// makes a second pass read nothing, and no flag is ever set (\Seen
// included): the sync only EXAMINEs and PEEKs.
func TestSyncOnce(t *testing.T) {
	w := newWorld(t)
	ids := w.conversation("a", caseA, 3, t0)
	w.append("INBOX", mail{id: "stranger@else.example", subject: "Hello", date: t0.Add(time.Hour), from: "x@else.example"})
	s := w.syncer(w.options(w.mailbox()))
	require.NoError(t, s.SyncOnce(context.Background()))

	for _, id := range ids {
		got, ok := w.tracked(id)
		require.True(t, ok, "%s is a reply in the conversation: tracked", id)
		assert.Equal(t, caseA, got.Record, id)
		assert.Equal(t, testAddr, got.Mailbox)
		assert.True(t, strings.HasPrefix(got.FolderID, idName), "the fake server has no folder ids: name and UIDVALIDITY")
	}
	_, ok := w.tracked("stranger@else.example")
	assert.False(t, ok, "a new conversation is not tracked under the default filter (ResponsesToTrackedEmail)")
	st := statusOf(s, testAddr)
	assert.Equal(t, StateDone, st.State)
	assert.Equal(t, Counts{Fetched: 5, Correlated: 3, Tracked: 4, Untracked: 1}, st.Counts)
	require.Len(t, st.Folders, 1)
	assert.Equal(t, uint32(5), st.Folders[0].UID, "the Inbox cursor is at the last UID")

	// Nothing new: a second pass fetches nothing.
	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, int64(5), statusOf(s, testAddr).Counts.Fetched)

	flags, err := w.srv.Flags("support", "INBOX")
	require.NoError(t, err)
	for uid, f := range flags {
		assert.Empty(t, f, "UID %d: the sync never sets a flag", uid)
	}

	// New mail: only it is read.
	w.append("INBOX", mail{id: "a.9@contoso.example", inReplyTo: ids[3], subject: "Re: Case a", date: t0.Add(2 * time.Hour)})
	require.NoError(t, s.SyncOnce(context.Background()))
	assert.Equal(t, int64(6), statusOf(s, testAddr).Counts.Fetched)
	got, _ := w.tracked("a.9@contoso.example")
	assert.Equal(t, caseA, got.Record)
}

// TestDateMerge: on a first sync the folders are read oldest first across
// folders, so a reply in Inbox meets the email it answers although that one
// sits in a tracked folder read later.
func TestDateMerge(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.srv.Create("support", "INBOX/Contoso"))
	w.append("INBOX/Contoso", mail{id: "orig@contoso.example", subject: "Order", date: t0})
	w.append("INBOX", mail{id: "reply@contoso.example", inReplyTo: "orig@contoso.example", subject: "Re: Order", date: t0.Add(time.Hour)})
	mb := w.mailbox()
	mb.Folders = []folder.Mapping{{FolderPath: "Inbox/Contoso", Record: acct}}
	s := w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(context.Background()))
	got, ok := w.tracked("reply@contoso.example")
	require.True(t, ok, "the reply is read after the email it answers")
	assert.Equal(t, acct, got.Record)
	assert.Equal(t, correlate.InReplyTo, got.Method)
}

// Test26thRule: Dynamics allows at most 25 tracked folders per mailbox.
func Test26thRule(t *testing.T) {
	w := newWorld(t)
	mb := w.mailbox()
	for i := range 25 {
		mb.Folders = append(mb.Folders, folder.Mapping{FolderPath: "Inbox/F" + string(rune('A'+i)), Record: acct})
	}
	_, err := New(w.eng, w.st, w.options(mb))
	require.NoError(t, err, "25 rules are allowed")
	mb.Folders = append(mb.Folders, folder.Mapping{FolderPath: "Inbox/Z26", Record: acct})
	_, err = New(w.eng, w.st, w.options(mb))
	require.ErrorIs(t, err, folder.ErrTooMany, "the 26th rule is refused")
	assert.True(t, IsPermanent(err))

	mb.Folders = []folder.Mapping{{FolderPath: "Archive/2025", Record: acct}}
	_, err = New(w.eng, w.st, w.options(mb))
	assert.ErrorIs(t, err, folder.ErrOutsideInbox, "only folders under Inbox can be tracked")
}

// TestRefusedPassword: the mailbox with the wrong password stops with
// "authentication refused"; the other is synchronized.
func TestRefusedPassword(t *testing.T) {
	w := newWorld(t)
	w.srv.AddUser("bob", "right")
	ids := w.conversation("a", caseA, 1, t0)
	bad := Mailbox{Address: "bob@fabrikam.example", URL: w.url("bob"), Password: "wrong"}
	o := w.options(w.mailbox(), bad)
	s := w.syncer(o)
	stop := runFor(t, s, 10*time.Second)
	eventually(t, 5*time.Second, "bob stopped, support synced", func() bool {
		_, ok := w.tracked(ids[1])
		return ok && statusOf(s, "bob@fabrikam.example").State == StateStopped && statusOf(s, testAddr).State == StateIdle
	})
	st := statusOf(s, "bob@fabrikam.example")
	assert.Equal(t, CauseAuth, st.Cause)
	assert.Contains(t, st.LastError, "authentication refused")
	assert.Equal(t, StateIdle, statusOf(s, testAddr).State, "the other mailbox goes on")
	stop()
	assert.Equal(t, 1, w.srv.Logins(), "a refused password is not retried (one login, support's)")
}

// TestDroppedMidFetch: the connection dropped in the middle of a UID FETCH
// → reconnect with backoff, resume from the cursor, nothing lost or filed
// twice.
func TestDroppedMidFetch(t *testing.T) {
	w := newWorld(t)
	ids := w.conversation("a", caseA, 40, t0)
	o := w.options(w.mailbox())
	o.BatchSize = 8
	s := w.syncer(o)
	w.srv.DropAfter(13)
	stop := runFor(t, s, 20*time.Second)
	eventually(t, 15*time.Second, "every reply tracked", func() bool {
		_, ok := w.tracked(ids[len(ids)-1])
		return ok
	})
	stop()
	l := ledgerOf(t, w.st)
	assert.Len(t, l, len(ids), "each message stored once")
	st := statusOf(s, testAddr)
	assert.Equal(t, CauseConnect, st.Cause, "the drop was reported: %s", st.LastError)
	assert.GreaterOrEqual(t, w.srv.Logins(), 2, "it reconnected")
	assert.Equal(t, int64(len(ids)), st.Counts.Tracked)
}

// TestDroppedMidBounceBody: the connection dropped while a bounce's body
// is fetched → the bounce is processed after the reconnect, not skipped:
// a message is done only once everything it needs was fetched (a defect:
// the cursor moved past the bounce before its body came, and the pass's
// final flush wrote it).
func TestDroppedMidBounceBody(t *testing.T) {
	w := newWorld(t)
	ids := w.conversation("a", caseA, 1, t0)
	_, err := w.srv.Append("support", "INBOX", t0.Add(time.Hour), bounceRaw(ids[1], "customer@contoso.example", t0.Add(time.Hour)))
	require.NoError(t, err)
	s := w.syncer(w.options(w.mailbox()))
	w.srv.DropAfter(4) // three headers, then the bounce's body
	stop := runFor(t, s, 20*time.Second)
	bounced := func() bool {
		for _, ev := range w.eventsCopy() {
			if ev.UID == 3 && ev.Message != nil && len(ev.Message.Body) > 0 {
				return true
			}
		}
		return false
	}
	eventually(t, 15*time.Second, "the bounce processed with its body after the reconnect", func() bool {
		return bounced() && statusOf(s, testAddr).State == StateIdle
	})
	stop()
	assert.GreaterOrEqual(t, w.srv.Logins(), 2, "it reconnected")
	assert.Equal(t, CauseConnect, statusOf(s, testAddr).Cause)
}

// TestMoveRelinks: a person drags a tracked email into a tracked folder
// whose rule names another record: the folder rule wins (re-link), within
// one IDLE cycle, and within one poll without IDLE. Moved on to an
// unmapped folder it keeps that record.
func TestMoveRelinks(t *testing.T) {
	for _, idle := range []bool{true, false} {
		name := "poll"
		if idle {
			name = "idle"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			require.NoError(t, w.srv.Create("support", "INBOX/Contoso"))
			ids := w.conversation("a", caseA, 1, t0)
			mb := w.mailbox()
			mb.Folders = []folder.Mapping{{FolderPath: "INBOX/Contoso", Record: acct}}
			o := w.options(mb)
			o.NoIdle = !idle
			if !idle {
				o.PollInterval = 100 * time.Millisecond
			}
			s := w.syncer(o)
			stop := runFor(t, s, 30*time.Second)
			eventually(t, 5*time.Second, "first pass", func() bool {
				got, ok := w.tracked(ids[1])
				return ok && got.Record == caseA && statusOf(s, testAddr).State == StateIdle
			})
			uids, err := w.srv.UIDs("support", "INBOX")
			require.NoError(t, err)
			_, err = w.srv.Move("support", "INBOX", uids[1], "INBOX/Contoso")
			require.NoError(t, err)
			eventually(t, 5*time.Second, "re-linked to the folder's record", func() bool {
				got, _ := w.tracked(ids[1])
				return got.Record == acct
			})
			var relinked []Event
			for _, ev := range w.eventsCopy() {
				if ev.Action == Relinked {
					relinked = append(relinked, ev)
				}
			}
			require.Len(t, relinked, 1)
			assert.Equal(t, caseA, relinked[0].Previous)
			assert.Equal(t, "INBOX/Contoso", relinked[0].Folder)

			// Moved back to Inbox, it keeps the folder's record.
			uids, err = w.srv.UIDs("support", "INBOX/Contoso")
			require.NoError(t, err)
			_, err = w.srv.Move("support", "INBOX/Contoso", uids[0], "INBOX")
			require.NoError(t, err)
			eventually(t, 5*time.Second, "the move back seen", func() bool {
				evs := w.eventsCopy()
				last := evs[len(evs)-1]
				return last.Folder == "INBOX" && last.Action == Existing
			})
			got, _ := w.tracked(ids[1])
			assert.Equal(t, acct, got.Record, "back in Inbox, it keeps its record")
			stop()
			assert.Len(t, ledgerOf(t, w.st), 2, "a move re-links, it never stores the email twice")
		})
	}
}

// TestMoveBetweenTrackedFolders: an email moved from one tracked folder to
// another is re-linked and filed under the new folder, its folder keys
// included: a later change of the old folder's rule no longer reaches it,
// one of the new folder's does.
func TestMoveBetweenTrackedFolders(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	require.NoError(t, w.srv.Create("support", "INBOX/A"))
	require.NoError(t, w.srv.Create("support", "INBOX/B"))
	acctA, acctB := correlate.Record{Type: "account", ID: "A"}, correlate.Record{Type: "account", ID: "B"}
	w.append("INBOX/A", mail{id: "m1@contoso.example", subject: "Order", date: t0})
	w.append("INBOX/A", mail{id: "m2@contoso.example", subject: "Order too", date: t0.Add(time.Minute)})
	mb := w.mailbox()
	mb.Folders = []folder.Mapping{{FolderPath: "INBOX/A", Record: acctA}, {FolderPath: "INBOX/B", Record: acctB}}
	s := w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(ctx))
	first, ok := w.tracked("m1@contoso.example")
	require.True(t, ok)
	require.Equal(t, acctA, first.Record)

	uids, err := w.srv.UIDs("support", "INBOX/A")
	require.NoError(t, err)
	_, err = w.srv.Move("support", "INBOX/A", uids[0], "INBOX/B")
	require.NoError(t, err)
	require.NoError(t, s.SyncOnce(ctx))
	got, ok := w.tracked("m1@contoso.example")
	require.True(t, ok)
	assert.Equal(t, acctB, got.Record, "re-linked to the new folder's record")
	assert.Equal(t, first.ID, got.ID, "the same email, not a copy")
	assert.Equal(t, "INBOX/B", got.FolderPath, "filed under the new folder")
	assert.NotEqual(t, first.FolderID, got.FolderID)
	evs := w.eventsCopy()
	last := evs[len(evs)-1]
	assert.Equal(t, Relinked, last.Action)
	assert.Equal(t, got.FolderID, last.Email.FolderID, "the event shows the email as filed now")

	// The old folder's rule changes its record: the email it lost stays.
	n, err := w.st.RelinkKey(ctx, folder.Key(testAddr, first.FolderID), correlate.Record{Type: "account", ID: "C"})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only the email still in the old folder")
	got, _ = w.tracked("m1@contoso.example")
	assert.Equal(t, acctB, got.Record, "the old folder's rule no longer reaches the moved email")
	n, err = w.st.RelinkKey(ctx, folder.Key(testAddr, got.FolderID), correlate.Record{Type: "account", ID: "D"})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the new folder's rule does")

	// Moved on to Inbox (untracked), it keeps its folder: IMAP cannot tell
	// a move from a copy, and the email stays filed where it was tracked.
	uids, err = w.srv.UIDs("support", "INBOX/B")
	require.NoError(t, err)
	_, err = w.srv.Move("support", "INBOX/B", uids[0], "INBOX")
	require.NoError(t, err)
	require.NoError(t, s.SyncOnce(ctx))
	back, _ := w.tracked("m1@contoso.example")
	assert.Equal(t, got.FolderID, back.FolderID)
	assert.Len(t, ledgerOf(t, w.st), 2, "moves never store an email twice")
}

// TestUIDValidityReset: the server renumbers Inbox (new UIDVALIDITY):
// the folder is read again, and nothing is stored twice.
func TestUIDValidityReset(t *testing.T) {
	w := newWorld(t)
	ids := w.conversation("a", caseA, 5, t0)
	s := w.syncer(w.options(w.mailbox()))
	require.NoError(t, s.SyncOnce(context.Background()))
	require.NoError(t, w.srv.Renumber("support", "INBOX"))
	w.append("INBOX", mail{id: "a.new@contoso.example", inReplyTo: ids[5], subject: "Re: Case a", date: t0.Add(time.Hour)})
	require.NoError(t, s.SyncOnce(context.Background()))
	l := ledgerOf(t, w.st)
	assert.Len(t, l, len(ids)+1, "every message once, the new one too")
	st := statusOf(s, testAddr)
	assert.Equal(t, int64(len(ids)), st.Counts.Existing, "the rescan found them already tracked")
	require.NotEmpty(t, st.Messages)
	assert.Contains(t, st.Messages[len(st.Messages)-1].Text, "UIDVALIDITY")
}

// TestBadMessages: one oversize and one unreadable message are reported
// and skipped; they never block the mailbox.
func TestBadMessages(t *testing.T) {
	w := newWorld(t)
	ids := w.conversation("a", caseA, 1, t0)
	_, err := w.srv.Append("support", "INBOX", t0.Add(time.Hour), []byte("\x00\x01 not a header at all\r\n\r\nbody"))
	require.NoError(t, err, "garbage: read with problems, not tracked")
	w.append("INBOX", mail{id: "big@contoso.example", inReplyTo: ids[1], subject: "Re: Case a", date: t0.Add(2 * time.Hour),
		body: strings.Repeat("x", 5000)})
	w.append("INBOX", mail{id: "after@contoso.example", inReplyTo: ids[1], subject: "Re: Case a", date: t0.Add(3 * time.Hour)})
	o := w.options(w.mailbox())
	o.MaxMessageBytes = 4000
	s := w.syncer(o)
	require.NoError(t, s.SyncOnce(context.Background()))
	_, ok := w.tracked("after@contoso.example")
	assert.True(t, ok, "the mail after the bad ones is processed")
	_, ok = w.tracked("big@contoso.example")
	assert.False(t, ok, "oversize: skipped")
	var failed []Event
	for _, ev := range w.eventsCopy() {
		if ev.Action == Failed {
			failed = append(failed, ev)
		}
	}
	require.Len(t, failed, 1)
	assert.Contains(t, failed[0].Reason, "too large")
	assert.Equal(t, "big@contoso.example", correlate.NormalizeMessageID("big@contoso.example"))
	st := statusOf(s, testAddr)
	assert.Equal(t, int64(1), st.Counts.Errors)
	assert.Equal(t, int64(4), st.Counts.Fetched, "the garbage message was read too, and left untracked")
}

// TestDeletedTrackedFolder: a deleted tracked folder disables its rule
// with a status message; the rest of the mailbox goes on.
func TestDeletedTrackedFolder(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.srv.Create("support", "INBOX/Contoso"))
	mb := w.mailbox()
	mb.Folders = []folder.Mapping{{FolderPath: "Inbox/Contoso", Record: acct}}
	s := w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(context.Background()))
	require.Equal(t, 1, w.rules.Len(), "the rule bound to the folder")
	require.NoError(t, w.srv.Delete("support", "INBOX/Contoso"))
	ids := w.conversation("a", caseA, 1, t0)
	require.NoError(t, s.SyncOnce(context.Background()))
	_, ok := w.tracked(ids[1])
	assert.True(t, ok)
	assert.Equal(t, 0, w.rules.Len(), "the rule of a deleted folder no longer applies")
	st := statusOf(s, testAddr)
	require.NotEmpty(t, st.Messages)
	assert.Contains(t, st.Messages[len(st.Messages)-1].Text, "was deleted")
	var disabled bool
	for _, f := range st.Folders {
		disabled = disabled || f.Disabled != ""
	}
	assert.True(t, disabled)
}

func TestBackoff(t *testing.T) {
	s := &Syncer{o: Options{MinBackoff: time.Second, MaxBackoff: 30 * time.Second}}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 30 * time.Second} {
		got := s.backoff(n)
		assert.InDelta(t, float64(want), float64(got), float64(want)/4+1, "retry %d: doubling from MinBackoff, capped, ±25%%", n)
	}
}

func TestErrorClasses(t *testing.T) {
	e := classify("a@b", permanent(CauseAuth, errors.New("no")))
	assert.True(t, IsPermanent(e))
	assert.Equal(t, "imapsync: mailbox a@b: authentication refused: no", e.Error())
	assert.False(t, IsPermanent(classify("a@b", errors.New("boom"))), "unknown errors are retried")
}

// tokens is an oauth2.TokenSource handing out a token that can change
// (refreshed by another program): each connect asks again.
type tokens struct {
	mu  sync.Mutex
	tok string
}

func (ts *tokens) Token() (*oauth2.Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return &oauth2.Token{AccessToken: ts.tok}, nil
}

// TestXOAUTH2: a mailbox authenticated by SASL XOAUTH2 with a token from
// an oauth2.TokenSource; a refused token stops it ("authentication
// refused"); the refreshed token is used on the next connect.
func TestXOAUTH2(t *testing.T) {
	w := newWorld(t)
	var valid atomic.Value
	valid.Store("tok-1")
	w.srv.EnableXOAUTH2(func(user string) string {
		if user == "support" {
			return valid.Load().(string)
		}
		return ""
	})
	ids := w.conversation("a", caseA, 1, t0)
	ts := &tokens{tok: "tok-1"}
	mb := w.mailbox()
	mb.Password, mb.TokenSource = "", ts
	s := w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(context.Background()))
	_, ok := w.tracked(ids[1])
	assert.True(t, ok, "synced with the XOAUTH2 token")

	valid.Store("tok-2") // the old token expired
	err := s.SyncOnce(context.Background())
	require.Error(t, err)
	st := statusOf(s, testAddr)
	assert.Equal(t, CauseAuth, st.Cause)
	assert.Contains(t, st.LastError, "401", "the server's JSON error is in the status")

	ts.mu.Lock()
	ts.tok = "tok-2" // refreshed
	ts.mu.Unlock()
	require.NoError(t, s.SyncOnce(context.Background()), "the refreshed token is used on the next connect")
}

func TestXOAUTH2Initial(t *testing.T) {
	x := &xoauth2{user: "anna@fabrikam.example", token: "ya29.abc"}
	mech, ir, err := x.Start()
	require.NoError(t, err)
	assert.Equal(t, "XOAUTH2", mech)
	assert.Equal(t, "user=anna@fabrikam.example\x01auth=Bearer ya29.abc\x01\x01", string(ir), "the format Google and Microsoft document")
	resp, err := x.Next([]byte(`{"status":"400"}`))
	require.NoError(t, err)
	assert.Empty(t, resp, "an error challenge is answered with an empty response")
	_, err = x.Next([]byte("again"))
	assert.Error(t, err)
}

// TestAfter: Mailbox.After ("process email received after") skips older
// Inbox mail, and older mail in a tracked folder on its first pass only:
// an old email a person drags into the folder later is a move made now.
func TestAfter(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.srv.Create("support", "INBOX/Contoso"))
	w.append("INBOX", mail{id: "old@contoso.example", subject: "Old", date: t0})
	w.append("INBOX/Contoso", mail{id: "oldf@contoso.example", subject: "Old order", date: t0})
	w.append("INBOX", mail{id: "new@contoso.example", subject: "New", date: t0.Add(48 * time.Hour)})
	mb := w.mailbox()
	mb.After = t0.Add(24 * time.Hour)
	mb.Filter = party.All
	mb.Folders = []folder.Mapping{{FolderPath: "INBOX/Contoso", Record: acct}}
	s := w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(context.Background()))
	_, ok := w.tracked("old@contoso.example")
	assert.False(t, ok, "Inbox mail received before After is not read")
	_, ok = w.tracked("oldf@contoso.example")
	assert.False(t, ok, "nor tracked-folder mail on the folder's first pass")
	_, ok = w.tracked("new@contoso.example")
	assert.True(t, ok)
	assert.Equal(t, int64(2), statusOf(s, testAddr).Counts.Skipped)

	uids, err := w.srv.UIDs("support", "INBOX")
	require.NoError(t, err)
	_, err = w.srv.Move("support", "INBOX", uids[0], "INBOX/Contoso")
	require.NoError(t, err)
	require.NoError(t, s.SyncOnce(context.Background()))
	got, ok := w.tracked("old@contoso.example")
	require.True(t, ok, "dragged into the tracked folder now: tracked whatever its date")
	assert.Equal(t, acct, got.Record)
}

// TestSent: the Sent folder is read only when Mailbox.Sent is on; its mail
// is outgoing, tracked when it correlated.
func TestSent(t *testing.T) {
	w := newWorld(t)
	ids := w.conversation("a", caseA, 1, t0)
	w.append("Sent", mail{id: "out@fabrikam.example", inReplyTo: ids[1], subject: "Re: Case a", date: t0.Add(time.Hour),
		from: testAddr, to: "customer@contoso.example"})
	s := w.syncer(w.options(w.mailbox()))
	require.NoError(t, s.SyncOnce(context.Background()))
	_, ok := w.tracked("out@fabrikam.example")
	assert.False(t, ok, "Sent is not read by default (AutoTrackSentFolderItems is off)")
	assert.Equal(t, int64(2), statusOf(s, testAddr).Counts.Fetched)

	mb := w.mailbox()
	mb.Sent = true
	s = w.syncer(w.options(mb))
	require.NoError(t, s.SyncOnce(context.Background()))
	got, ok := w.tracked("out@fabrikam.example")
	require.True(t, ok, "with Sent on, the reply sent from the mailbox is tracked")
	assert.Equal(t, caseA, got.Record)
	assert.Equal(t, correlate.Outgoing, got.Direction)
	var sent bool
	for _, f := range statusOf(s, testAddr).Folders {
		sent = sent || (f.Role == "sent" && f.Path == "Sent")
	}
	assert.True(t, sent, "the folder marked \\Sent was found")
}

// TestNoSTARTTLS: imap:// to a host that is not loopback needs STARTTLS; a
// server without it is refused before any credential is sent, and the
// mailbox stops (a permanent error).
func TestNoSTARTTLS(t *testing.T) {
	w := newWorld(t)
	mb := w.mailbox()
	mb.URL = "imap://support@mail.fabrikam.example"
	o := w.options(mb)
	o.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, w.srv.Addr) // the name resolves to the fake server
	}
	s := w.syncer(o)
	err := s.SyncOnce(context.Background())
	require.Error(t, err)
	assert.True(t, IsPermanent(err))
	st := statusOf(s, testAddr)
	assert.Equal(t, CauseTLS, st.Cause)
	assert.Contains(t, st.LastError, "STARTTLS")
	assert.Zero(t, w.srv.Logins(), "no credential sent")
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url, addr, user     string
		tls, loopback, pop3 bool
		err                 string
	}{
		{url: "imaps://anna@imap.example", addr: "imap.example:993", user: "anna", tls: true}, // imaps: TLS on 993
		{url: "imap://127.0.0.1:1143", addr: "127.0.0.1:1143", loopback: true},                // loopback: no STARTTLS needed
		{url: "imap://anna%40fabrikam.com@outlook.office365.com", addr: "outlook.office365.com:143", user: "anna@fabrikam.com"},
		{url: "imap://[::1]:143", addr: "[::1]:143", loopback: true},
		{url: "imap://anna:secret@imap.example", err: "password"},                                       // never a password in a URL
		{url: "pop3s://anna@pop.example", addr: "pop.example:995", user: "anna", tls: true, pop3: true}, // pop3s: TLS on 995
		{url: "pop3://127.0.0.1:1110", addr: "127.0.0.1:1110", loopback: true, pop3: true},              // loopback: no STLS needed
		{url: "POP3://pop.example", addr: "pop.example:110", pop3: true},                                // schemes are case-insensitive
		{url: "http://imap.example", err: "scheme"},
		{url: "imap://", err: "no host"},
		{url: "imap://imap.example:99999", err: "port"},
		{url: "imap://imap.example/INBOX", err: "path"},
	} {
		e, err := parseURL(tc.url)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.url)
			assert.NotContains(t, fmt.Sprint(err), "secret", "a password never reaches a message")
			continue
		}
		require.NoError(t, err, tc.url)
		assert.Equal(t, endpoint{pop3: tc.pop3, tls: tc.tls, host: e.host, addr: tc.addr, user: tc.user, loopback: tc.loopback}, e, tc.url)
	}
}
