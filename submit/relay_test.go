package submit_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/submit"
)

var caseRec = correlate.Record{Type: "incident", ID: "CAS-01042"}

const caseMail = "From: Alice Agent <alice@fabrikam.example>\r\n" +
	"To: Jane Doe <jane@contoso.example>\r\n" +
	"Subject: Your printer case\r\n" +
	"Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n" +
	"Message-ID: <outlook-1@fabrikam.example>\r\n" +
	"X-CRM-Regarding: incident:CAS-01042\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"We are looking into it.=0D=0A\r\n" +
	"..a line that starts with a dot\r\n"

// TestRelayTracks sends a CRM email regarding a case through the relay: the
// upstream receives it with a token and a signed Message-ID, X-CRM-Regarding
// gone and everything else as sent; the store tracks it under the case; the
// customer's reply then correlates with it by token when her mail program
// dropped the headers, and by In-Reply-To when it kept them.
func TestRelayTracks(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := h.dial("alice", "alice-pw")
	if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail); err != nil {
		t.Fatal(err)
	}
	got := h.up.messages()
	if len(got) != 1 {
		t.Fatalf("upstream got %d messages, want 1", len(got))
	}
	m := parse(t, got[0].Data)
	if m.Subject != "Your printer case CRM:0001001" {
		t.Errorf("subject %q: want the first token of user 1 appended", m.Subject)
	}
	rec, err := header.VerifyMessageID(m.MessageID, [][]byte{testKey})
	if err != nil || rec != caseRec {
		t.Errorf("Message-ID %q: record %v, %v: want a signed id naming the case", m.MessageID, rec, err)
	}
	if _, ok := m.Header["X-Crm-Regarding"]; ok {
		t.Error("X-CRM-Regarding reached the upstream")
	}
	// Every other line is relayed as it came; the dot-stuffed body line
	// arrives unstuffed, as the client meant it.
	want := strings.NewReplacer(
		"Subject: Your printer case\r\n", "Subject: Your printer case CRM:0001001\r\n",
		"Message-ID: <outlook-1@fabrikam.example>\r\n", "Message-ID: <"+m.MessageID+">\r\n",
		"X-CRM-Regarding: incident:CAS-01042\r\n", "",
	).Replace(caseMail)
	if string(got[0].Data) != want {
		t.Errorf("relayed message:\n%q\nwant\n%q", got[0].Data, want)
	}

	ts := h.tracked()
	if len(ts) != 1 {
		t.Fatalf("%d tracked emails, want 1", len(ts))
	}
	tr := ts[0]
	if tr.MessageID != m.MessageID || tr.Record != caseRec || tr.Token != "CRM:0001001" ||
		tr.Direction != correlate.Outgoing || tr.Subject != m.Subject || tr.Mailbox != "alice" {
		t.Errorf("tracked %+v: want the relayed email, outgoing, under the case, with its token", tr)
	}
	if p := h.pending(); len(p) != 0 {
		t.Errorf("pending rows left after a relayed message: %v", p)
	}

	ctx := context.Background()
	replies := []struct {
		name, raw string
		method    correlate.Method
		why       string
	}{
		{
			name: "headers stripped",
			raw: "From: Jane Doe <jane@contoso.example>\r\nTo: alice@fabrikam.example\r\n" +
				"Subject: AW: Your printer case CRM:0001001\r\nMessage-ID: <r1@contoso.example>\r\n\r\nStill broken.\r\n",
			method: correlate.TrackingToken,
			why:    "a web mail client that drops In-Reply-To still keeps the subject: the token finds the case",
		},
		{
			name: "with headers",
			raw: "From: Jane Doe <jane@contoso.example>\r\nTo: alice@fabrikam.example\r\n" +
				"Subject: Re: your case\r\nMessage-ID: <r2@contoso.example>\r\nIn-Reply-To: <" + m.MessageID + ">\r\n\r\nok\r\n",
			method: correlate.InReplyTo,
			why:    "a reply naming the relayed Message-ID correlates by In-Reply-To, first in precedence",
		},
	}
	for _, r := range replies {
		msg := parse(t, []byte(r.raw))
		d, err := h.engine.Correlate(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if d.Match.Record != caseRec || d.Match.Method != r.method {
			t.Errorf("%s: %s: got %v", r.name, r.why, d.Match)
		}
	}

	// The signed id names the case even once the tracked email is gone.
	if err := h.store.Delete(ctx, tr.ID); err != nil {
		t.Fatal(err)
	}
	d, err := h.engine.Correlate(ctx, parse(t, []byte(replies[1].raw)))
	if err != nil || d.Match.Record != caseRec {
		t.Errorf("reply to a deleted email: %v, %v: want the record its signed In-Reply-To names", d.Match, err)
	}
}

// TestRelayRecordDecision covers where the record comes from when the
// client names none.
func TestRelayRecordDecision(t *testing.T) {
	const customerMail = "From: Jane Doe <jane@contoso.example>\r\nTo: alice@fabrikam.example\r\n" +
		"Subject: Printer offline CRM:0001001\r\nMessage-ID: <in-1@contoso.example>\r\nDate: Mon, 2 Mar 2026 08:00:00 +0000\r\n\r\nhelp\r\n"
	cases := []struct {
		name       string
		skip       bool
		msg        string
		wantRecord correlate.Record
		wantMethod correlate.Method
		wantTrack  bool
		wantSubj   string
		why        string
	}{
		{
			name: "reply to tracked email",
			msg: "From: alice@fabrikam.example\r\nTo: jane@contoso.example\r\nSubject: RE: Printer offline CRM:0001001\r\n" +
				"In-Reply-To: <in-1@contoso.example>\r\nMessage-ID: <out-1@fabrikam.example>\r\n\r\nOn it.\r\n",
			wantRecord: caseRec, wantMethod: correlate.InReplyTo, wantTrack: true,
			wantSubj: "RE: Printer offline CRM:0001002",
			why:      "a reply inherits the record of the tracked email it answers, and gets its own token in place of the old one",
		},
		{
			name: "new mail",
			msg: "From: alice@fabrikam.example\r\nTo: bob@northwind.example\r\nSubject: Lunch?\r\n" +
				"Message-ID: <out-2@fabrikam.example>\r\n\r\nnoon\r\n",
			wantTrack: true, wantSubj: "Lunch? CRM:0001002",
			why: "mail naming no record is tracked without one, as Dynamics tracks every email sent from the CRM",
		},
		{
			name: "new mail, SkipUnregarded",
			skip: true,
			msg: "From: alice@fabrikam.example\r\nTo: bob@northwind.example\r\nSubject: Lunch?\r\n" +
				"Message-ID: <out-2@fabrikam.example>\r\n\r\nnoon\r\n",
			wantSubj: "Lunch?",
			why:      "with SkipUnregarded, mail naming no record passes untouched and untracked",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, func(o *submit.Options) { o.SkipUnregarded = c.skip })
			ctx := context.Background()
			// The customer's email, tracked under the case.
			if _, err := h.engine.Track(ctx, parse(t, []byte(customerMail)), correlate.Match{Record: caseRec}); err != nil {
				t.Fatal(err)
			}
			// The counter of user 1 stands at 1, as if CRM:0001001 was issued.
			if _, err := h.store.NextSequence(ctx, "token.user.1"); err != nil {
				t.Fatal(err)
			}
			if err := send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"x@y.example"}, c.msg); err != nil {
				t.Fatal(err)
			}
			got := h.up.messages()
			if len(got) != 1 {
				t.Fatalf("upstream got %d messages", len(got))
			}
			m := parse(t, got[0].Data)
			if m.Subject != c.wantSubj {
				t.Errorf("%s: subject %q, want %q", c.why, m.Subject, c.wantSubj)
			}
			ts := h.tracked()
			if !c.wantTrack {
				if len(ts) != 1 || string(got[0].Data) != c.msg {
					t.Errorf("%s: %d tracked, relayed %q", c.why, len(ts), got[0].Data)
				}
				return
			}
			if len(ts) != 2 {
				t.Fatalf("%d tracked emails, want 2", len(ts))
			}
			tr := ts[1]
			if tr.Record != c.wantRecord || tr.Method != c.wantMethod || tr.MessageID != m.MessageID {
				t.Errorf("%s: tracked %v %v %q (relayed %q)", c.why, tr.Record, tr.Method, tr.MessageID, m.MessageID)
			}
			if c.wantRecord.IsZero() && m.MessageID != "out-2@fabrikam.example" {
				t.Errorf("mail without a record keeps its own Message-ID, got %q", m.MessageID)
			}
			if !c.wantRecord.IsZero() {
				if rec, err := header.VerifyMessageID(m.MessageID, [][]byte{testKey}); err != nil || rec != c.wantRecord {
					t.Errorf("Message-ID %q not signed for %v: %v", m.MessageID, c.wantRecord, err)
				}
			}
		})
	}
}

// TestUpstreamRefuses: whatever the upstream refuses, the client gets the
// upstream's own reply and nothing stays tracked, over either dialect.
func TestUpstreamRefuses(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(h *harness, p *upstreamProxy)
		wantCode int
		// mayDeliver: the upstream may have the whole message when the
		// connection breaks (only its reply is lost), as any SMTP hop
		// may; the relay cannot tell, and does as for a refusal.
		mayDeliver bool
		why        string
	}{
		{
			name: "data refused",
			setup: func(h *harness, _ *upstreamProxy) {
				h.up.refuseData = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Spam detected"}
			},
			wantCode: 554,
			why:      "the upstream refused the content: its 554 reaches the client, the tracked email is rolled back",
		},
		{
			name: "temporary refusal",
			setup: func(h *harness, _ *upstreamProxy) {
				h.up.refuseData = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Queue full"}
			},
			wantCode: 452,
			why:      "a temporary refusal stays temporary, so the client retries",
		},
		{
			name: "recipient refused",
			setup: func(h *harness, _ *upstreamProxy) {
				h.up.refuseRcpt = map[string]*smtp.SMTPError{"jane@contoso.example": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}}
			},
			wantCode: 550,
			why:      "RCPT is passed through: the client learns at RCPT which recipient the upstream refused",
		},
		{
			name:     "upstream down",
			setup:    func(h *harness, _ *upstreamProxy) { h.up.close() },
			wantCode: 451,
			why:      "an unreachable upstream is a temporary failure at MAIL",
		},
		{
			name: "connection lost during data",
			setup: func(h *harness, p *upstreamProxy) {
				h.up.onData = func() { p.dropAll() }
			},
			wantCode:   451,
			mayDeliver: true,
			why:        "a connection that breaks before the upstream answers is a temporary failure",
		},
	}
	for _, d := range dialects {
		for _, c := range cases {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				h, p := relayVia(t, d.hide)
				c.setup(h, p)
				err := send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail)
				if code(err) != c.wantCode {
					t.Fatalf("%s: got %v, want code %d", c.why, err, c.wantCode)
				}
				if c.name == "data refused" && !strings.Contains(err.Error(), "Spam detected") {
					t.Errorf("the upstream's text is lost: %v", err)
				}
				if ts := h.tracked(); len(ts) != 0 {
					t.Errorf("%s: %d emails tracked: %+v", c.why, len(ts), ts)
				}
				if p := h.pending(); len(p) != 0 {
					t.Errorf("pending rows left: %v", p)
				}
				if n := len(h.up.messages()); n != 0 && !c.mayDeliver {
					t.Errorf("upstream delivered %d", n)
				}
			})
		}
	}
}

// failingStore fails Apply, as a store that lost its database does.
type failingStore struct {
	store.Store
	fail bool
}

func (s *failingStore) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	if s.fail && len(b.Puts) > 0 {
		return store.Result{}, errors.New("disk full")
	}
	return s.Store.Apply(ctx, b)
}

// TestTrackingFails: when the email cannot be tracked it is not sent; the
// client gets a temporary 451 and its retry, once the store is back, goes
// through.
func TestTrackingFails(t *testing.T) {
	fs := &failingStore{Store: newMemstore(), fail: true}
	h := newHarness(t, fs, nil)
	c := h.dial("alice", "alice-pw")
	err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail)
	if code(err) != 451 {
		t.Fatalf("got %v, want 451", err)
	}
	if n := len(h.up.messages()); n != 0 {
		t.Fatalf("the upstream got %d messages although tracking failed", n)
	}
	fs.fail = false
	if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail); err != nil {
		t.Fatalf("retry on the same connection: %v", err)
	}
	if n, m := len(h.up.messages()), len(h.tracked()); n != 1 || m != 1 {
		t.Fatalf("after the retry: %d relayed, %d tracked; want 1 and 1", n, m)
	}
}

// lostCommitStore makes the Apply that tracks but reports a failure while
// lose is set, as a database whose connection broke during COMMIT does: the
// relay cannot tell whether the email was stored.
type lostCommitStore struct {
	store.Store
	lose atomic.Bool
}

func (s *lostCommitStore) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	res, err := s.Store.Apply(ctx, b)
	if err == nil && len(b.Puts) > 0 && s.lose.Load() {
		return store.Result{}, errors.New("connection reset by peer during COMMIT")
	}
	return res, err
}

// TestTrackingCommitLost: a track whose commit may have been made although
// the store reported a failure is rolled back before the client gets its
// 451, so no email of a message the client was told to send again stays
// tracked, nor its pending row (which the next start would roll back, even
// after the retry relayed the message).
func TestTrackingCommitLost(t *testing.T) {
	st := &lostCommitStore{Store: newMemstore()}
	st.lose.Store(true)
	h := newHarness(t, st, nil)
	c := h.dial("alice", "alice-pw")
	if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail); code(err) != 451 {
		t.Fatalf("got %v, want 451", err)
	}
	if n, m, p := len(h.up.messages()), len(h.tracked()), len(h.pending()); n != 0 || m != 0 || p != 0 {
		t.Fatalf("after the lost commit: %d relayed, %d tracked, %d pending; want none", n, m, p)
	}
	st.lose.Store(false)
	if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n, m, p := len(h.up.messages()), len(h.tracked()), len(h.pending()); n != 1 || m != 1 || p != 0 {
		t.Fatalf("after the retry: %d relayed, %d tracked, %d pending; want 1, 1 and 0", n, m, p)
	}
}

// TestRetry: a message sent again (the client never saw the 250) is relayed
// again exactly as the first time, and tracked once.
func TestRetry(t *testing.T) {
	noID := strings.Replace(caseMail, "Message-ID: <outlook-1@fabrikam.example>\r\n", "", 1)
	cases := []struct {
		name, msg string
		why       string
	}{
		{"same Message-ID", caseMail, "the signed id derives from the client's id, so the retry finds the tracked email"},
		{"no Message-ID", noID, "the id of a message without one derives from its content, so a retry gets the same"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			for range 2 {
				if err := send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"jane@contoso.example"}, c.msg); err != nil {
					t.Fatal(err)
				}
			}
			got := h.up.messages()
			if len(got) != 2 || !bytes.Equal(got[0].Data, got[1].Data) {
				t.Fatalf("%s: the two copies differ:\n%q\n%q", c.why, got[0].Data, got[1].Data)
			}
			if ts := h.tracked(); len(ts) != 1 {
				t.Fatalf("%s: %d tracked emails, want 1", c.why, len(ts))
			}
			m := parse(t, got[0].Data)
			if _, err := header.VerifyMessageID(m.MessageID, [][]byte{testKey}); err != nil {
				t.Errorf("Message-ID %q: %v", m.MessageID, err)
			}
		})
	}

	t.Run("after a refusal", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		h.up.refuseData = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		c := h.dial("alice", "alice-pw")
		if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail); code(err) != 451 {
			t.Fatalf("got %v", err)
		}
		h.up.mu.Lock()
		h.up.refuseData = nil
		h.up.mu.Unlock()
		if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail); err != nil {
			t.Fatal(err)
		}
		ts := h.tracked()
		if len(ts) != 1 || ts[0].Token != "CRM:0001002" {
			t.Fatalf("tracked %+v: want one email; the refused attempt's token CRM:0001001 was rolled back with it", ts)
		}
	})
}

// TestRefusals: each of the relay's own refusals has a clear reply, and
// nothing is relayed or tracked.
func TestRefusals(t *testing.T) {
	big := caseMail + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 30)
	cases := []struct {
		name     string
		opts     func(*submit.Options)
		run      func(h *harness) error
		wantCode int
		why      string
	}{
		{
			name: "no auth",
			run: func(h *harness) error {
				return send(h.dial("", ""), "alice@fabrikam.example", []string{"j@x.example"}, caseMail)
			},
			wantCode: 530, why: "every client authenticates before MAIL",
		},
		{
			name: "bad password",
			run: func(h *harness) error {
				c, _ := smtp.Dial(h.addr)
				defer c.Close()
				return c.Auth(plainAuth("alice", "wrong"))
			},
			wantCode: 535, why: "a wrong password is refused as authentication failed",
		},
		{
			name: "sender not allowed",
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "ceo@fabrikam.example", []string{"j@x.example"}, caseMail)
			},
			wantCode: 553, why: "alice may not send as another person",
		},
		{
			name: "too large",
			opts: func(o *submit.Options) { o.MaxMessageBytes = 1024 },
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"}, big)
			},
			wantCode: 552, why: "a message over the size limit gets 552",
		},
		{
			name: "too large, header only",
			opts: func(o *submit.Options) { o.MaxMessageBytes = 1024 },
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"}, "Subject: "+strings.Repeat(strings.Repeat("y", 70)+"\r\n ", 20)+"z\r\n")
			},
			wantCode: 552, why: "the limit holds while the relay reads the header",
		},
		{
			name: "too large, no Message-ID",
			opts: func(o *submit.Options) { o.MaxMessageBytes = 1024 },
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"},
					strings.Replace(big, "Message-ID: <outlook-1@fabrikam.example>\r\n", "", 1))
			},
			wantCode: 552, why: "the limit holds while the relay reads a body it needs whole",
		},
		{
			name: "SMTPUTF8 the upstream lacks",
			run: func(h *harness) error {
				c := h.dial("alice", "alice-pw")
				if err := c.Mail("alice@fabrikam.example", &smtp.MailOptions{UTF8: true}); err != nil {
					return err
				}
				return c.Rcpt("jörg@contoso.example", nil)
			},
			wantCode: 553, why: "internationalized mail the upstream cannot take is refused with a reply that says so",
		},
		{
			name: "line too long",
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"}, caseMail+strings.Repeat("x", 2048)+"\r\n")
			},
			wantCode: 500, why: "a line longer than SMTP allows is refused, not cut",
		},
		{
			name: "too many recipients",
			opts: func(o *submit.Options) { o.MaxRecipients = 2 },
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"a@x.example", "b@x.example", "c@x.example"}, caseMail)
			},
			wantCode: 452, why: "the third recipient is one too many",
		},
		{
			name: "bad regarding",
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"},
					strings.Replace(caseMail, "incident:CAS-01042", "CAS-01042", 1))
			},
			wantCode: 554, why: "X-CRM-Regarding without a type is an error of the client: permanent",
		},
		{
			name: "two regardings",
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"},
					"X-CRM-Regarding: account:A-1\r\n"+caseMail)
			},
			wantCode: 554, why: "a message cannot be filed under two records",
		},
		{
			name: "no header",
			run: func(h *harness) error {
				return send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"}, "\r\njust a body\r\n")
			},
			wantCode: 554, why: "a message without header fields cannot be relayed as mail",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, c.opts)
			err := c.run(h)
			if code(err) != c.wantCode {
				t.Fatalf("%s: got %v, want %d", c.why, err, c.wantCode)
			}
			if n, m := len(h.up.messages()), len(h.tracked()); n != 0 || m != 0 {
				t.Fatalf("%s: %d relayed, %d tracked", c.why, n, m)
			}
		})
	}
}

// TestAuthFailuresHangUp: after three failed logins the relay says why and
// closes the connection.
func TestAuthFailuresHangUp(t *testing.T) {
	h := newHarness(t, nil, nil)
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var last error
	for range submit.MaxAuthFailures {
		last = c.Auth(plainAuth("alice", "guess"))
	}
	if code(last) != 421 {
		t.Fatalf("third failure: %v, want 421", last)
	}
	if err := c.Noop(); err == nil {
		t.Fatal("the connection is still open after three failed logins")
	}
}

// TestConnectionLimit: a connection beyond MaxConnections is greeted with
// 421 and closed, and a slot comes back when a client leaves.
func TestConnectionLimit(t *testing.T) {
	h := newHarness(t, nil, func(o *submit.Options) { o.MaxConnections = 2 })
	// The connection that checked the relay was up gives its slot back as
	// soon as the relay sees it closed: wait for that.
	var a, b *smtp.Client
	deadline := time.Now().Add(5 * time.Second)
	for a == nil || b == nil {
		c, err := smtp.Dial(h.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(plainAuth("bob", "bob-pw")); err != nil {
			c.Close()
			if code(err) != 421 || time.Now().After(deadline) {
				t.Fatalf("connection within the limit: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.Cleanup(func() { c.Close() })
		if a == nil {
			a = c
		} else {
			b = c
		}
	}
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); code(err) != 421 {
		t.Fatalf("third connection: %v, want 421", err)
	}
	a.Quit()
	deadline = time.Now().Add(5 * time.Second)
	for {
		c, err := smtp.Dial(h.addr)
		if err == nil {
			if err = c.Noop(); err == nil {
				c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a client left: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := send(b, "bob@fabrikam.example", []string{"j@x.example"}, caseMail); err != nil {
		t.Fatalf("the connection within the limit: %v", err)
	}
}
