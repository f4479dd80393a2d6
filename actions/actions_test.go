package actions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

var ctx = context.Background()

func rec(s string) correlate.Record {
	r, err := correlate.ParseRecord(s)
	if err != nil {
		panic(err)
	}
	return r
}

// newActions returns actions over a fresh memstore and the default engine.
func newActions(t testing.TB, opts *actions.Options) *actions.Actions {
	t.Helper()
	eng, err := mailcorrelate.New(memstore.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := actions.New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// msg parses a message made of header lines and a body.
func msg(t testing.TB, body string, header ...string) *correlate.Message {
	t.Helper()
	raw := strings.Join(header, "\r\n") + "\r\n\r\n" + body
	m, err := correlate.ParseMessage(strings.NewReader(raw), &correlate.ParseOptions{KeepBody: true, Text: true})
	if m == nil {
		t.Fatalf("parse: %v", err)
	}
	m.Mailbox = "support@fabrikam.example"
	return m
}

// caseMail is the CRM's first mail about case CAS-1, and reply its
// customer's answer.
func caseMail(t testing.TB) *correlate.Message {
	return msg(t, "Hello Jane,\r\nwe opened a case.\r\n",
		"From: Support <support@fabrikam.example>", "To: Jane Doe <jane@contoso.example>",
		"Subject: Printer offline", "Date: Mon, 2 Mar 2026 09:00:00 +0000", "Message-ID: <case-1@crm.fabrikam.example>")
}

func reply(t testing.TB, id, inReplyTo string) *correlate.Message {
	return msg(t, "Still broken.\r\n",
		"From: Jane Doe <jane@contoso.example>", "To: support@fabrikam.example",
		"Subject: RE: Printer offline", "Date: Mon, 2 Mar 2026 10:00:00 +0000",
		"Message-ID: <"+id+">", "In-Reply-To: <"+inReplyTo+">")
}

func TestLink(t *testing.T) {
	cas1, cas2 := rec("incident:CAS-1"), rec("incident:CAS-2")
	noID := msg(t, "body\r\n", "From: jane@contoso.example", "Subject: no id", "Date: Mon, 2 Mar 2026 09:00:00 +0000")
	tests := []struct {
		name string
		// before prepares the store; m is linked to r by "alice".
		before    func(t *testing.T, a *actions.Actions)
		m         *correlate.Message
		r         correlate.Record
		wantErr   error
		wantNew   bool
		wantFrom  correlate.Record // of the change kept; nil change when wantNoChange
		noChange  bool
		wantStays correlate.Record // the record the email has afterwards
	}{
		{
			name: "an untracked email is stored under the record, and the filing is kept with its actor",
			m:    caseMail(t), r: cas1, wantNew: true, wantStays: cas1,
		},
		{
			name: "linking again to the same record changes and keeps nothing",
			before: func(t *testing.T, a *actions.Actions) {
				if _, err := a.Link(ctx, caseMail(t), cas1, "bob"); err != nil {
					t.Fatal(err)
				}
			},
			m: caseMail(t), r: cas1, noChange: true, wantStays: cas1,
		},
		{
			name: "an email tracked under another record is refused, naming that record, and stays there",
			before: func(t *testing.T, a *actions.Actions) {
				if _, err := a.Link(ctx, caseMail(t), cas1, "bob"); err != nil {
					t.Fatal(err)
				}
			},
			m: caseMail(t), r: cas2, wantErr: actions.ErrTrackedElsewhere, wantStays: cas1,
		},
		{
			name: "an email tracked without a record (a track-only folder) is moved to the record",
			before: func(t *testing.T, a *actions.Actions) {
				f, err := a.Track(ctx, caseMail(t)) // nothing to correlate with: no record
				if err != nil || !f.New || !f.Tracked.Record.IsZero() {
					t.Fatalf("Track = %+v, %v; want new, without a record", f, err)
				}
			},
			m: caseMail(t), r: cas2, wantStays: cas2,
		},
		{
			name: "an email without a Message-ID is known by its fingerprint",
			m:    noID, r: cas1, wantNew: true, wantStays: cas1,
		},
		{
			name: "an email with nothing to identify it cannot be filed",
			m:    &correlate.Message{}, r: cas1, wantErr: actions.ErrNoIdentity,
		},
		{
			name: "the zero record is no record to link to (relink unlinks)",
			m:    caseMail(t), r: correlate.Record{}, wantErr: actions.ErrNoRecord,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newActions(t, nil)
			if tt.before != nil {
				tt.before(t, a)
			}
			f, err := a.Link(ctx, tt.m, tt.r, "alice")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Link error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				var te *actions.TrackedElsewhereError
				if errors.As(err, &te) && (te.Record != tt.wantStays || !strings.Contains(err.Error(), tt.wantStays.String())) {
					t.Errorf("error %q names %s, want %s", err, te.Record, tt.wantStays)
				}
			} else {
				if f.New != tt.wantNew {
					t.Errorf("New = %v, want %v", f.New, tt.wantNew)
				}
				if f.Tracked.Record != tt.r {
					t.Errorf("Filing record = %s, want %s", f.Tracked.Record, tt.r)
				}
				switch {
				case tt.noChange && f.Change != nil:
					t.Errorf("Change = %+v, want none", *f.Change)
				case !tt.noChange && (f.Change == nil || f.Change.To != tt.r || f.Change.Actor != "alice" || f.Change.Cause != store.CauseManual):
					t.Errorf("Change = %+v, want to %s by alice, manual", f.Change, tt.r)
				}
			}
			if tt.wantStays.IsZero() {
				return
			}
			got, err := a.Lookup(ctx, actions.Identity(tt.m))
			if err != nil {
				t.Fatal(err)
			}
			if got.Record != tt.wantStays {
				t.Errorf("the email is under %s, want %s", got.Record, tt.wantStays)
			}
		})
	}
}

// TestLinkConcurrent links one untracked email to a different record from
// many goroutines at once: exactly one wins, every other is told which
// record won, and the history holds the one filing.
func TestLinkConcurrent(t *testing.T) {
	a := newActions(t, nil)
	const n = 16
	errs := make([]error, n)
	ms := make([]*correlate.Message, n)
	for i := range ms {
		ms[i] = caseMail(t)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = a.Link(ctx, ms[i], correlate.Record{Type: "incident", ID: fmt.Sprint("CAS-", i)}, fmt.Sprint("user", i))
		})
	}
	wg.Wait()
	t1, err := a.Lookup(ctx, "case-1@crm.fabrikam.example")
	if err != nil {
		t.Fatal(err)
	}
	wins := 0
	for i, err := range errs {
		var te *actions.TrackedElsewhereError
		switch {
		case err == nil:
			wins++
			if want := fmt.Sprint("CAS-", i); t1.Record.ID != want {
				t.Errorf("goroutine %d won but the email is under %s", i, t1.Record)
			}
		case errors.As(err, &te):
			if te.Record != t1.Record {
				t.Errorf("goroutine %d was told %s, the email is under %s", i, te.Record, t1.Record)
			}
		default:
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d links succeeded, want 1", wins)
	}
	_, hist, err := a.History(ctx, t1.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].To != t1.Record {
		t.Errorf("history = %+v, want the one filing under %s", hist, t1.Record)
	}
}

func TestTrack(t *testing.T) {
	cas1 := rec("incident:CAS-1")
	autoReply := msg(t, "I am out of the office.\r\n",
		"From: Jane Doe <jane@contoso.example>", "To: support@fabrikam.example",
		"Subject: Automatic reply: Printer offline", "Auto-Submitted: auto-replied",
		"Date: Mon, 2 Mar 2026 09:05:00 +0000", "Message-ID: <ooo-1@contoso.example>",
		"In-Reply-To: <case-1@crm.fabrikam.example>")
	tests := []struct {
		name        string
		m           *correlate.Message
		wantNew     bool
		wantRecord  correlate.Record
		wantMethod  correlate.Method
		wantTracked bool
	}{
		{"a reply is correlated by In-Reply-To and filed under the case", reply(t, "r1@contoso.example", "case-1@crm.fabrikam.example"),
			true, cas1, correlate.InReplyTo, true},
		{"an email already tracked stays as it is", caseMail(t), false, cas1, correlate.None, true},
		{"a new conversation is tracked without a record: the person asked to track it", msg(t, "hi\r\n",
			"From: new@contoso.example", "To: support@fabrikam.example", "Subject: Hello", "Date: Mon, 2 Mar 2026 11:00:00 +0000",
			"Message-ID: <new-1@contoso.example>"), true, correlate.Record{}, correlate.None, true},
		{"an auto-reply is correlated but never tracked", autoReply, false, cas1, correlate.InReplyTo, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newActions(t, nil)
			if _, err := a.Link(ctx, caseMail(t), cas1, "crm"); err != nil {
				t.Fatal(err)
			}
			f, err := a.Track(ctx, tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if f.New != tt.wantNew {
				t.Errorf("New = %v, want %v", f.New, tt.wantNew)
			}
			if f.Decision.Match.Record != tt.wantRecord {
				t.Errorf("decision record = %s, want %s", f.Decision.Match.Record, tt.wantRecord)
			}
			if !tt.wantTracked {
				if f.NotTracked == "" || f.Tracked.ID != 0 {
					t.Errorf("Filing = %+v, want not tracked with a reason", f)
				}
				if _, err := a.Lookup(ctx, tt.m.MessageID); !errors.Is(err, correlate.ErrNotFound) {
					t.Errorf("Lookup after an untracked Track: %v, want not found", err)
				}
				return
			}
			if f.Tracked.Record != tt.wantRecord || f.Tracked.Method != tt.wantMethod {
				t.Errorf("tracked under %s by %s, want %s by %s", f.Tracked.Record, f.Tracked.Method, tt.wantRecord, tt.wantMethod)
			}
		})
	}
}

func TestRelinkAndHistory(t *testing.T) {
	a := newActions(t, nil)
	cas1, cas2, acct := rec("incident:CAS-1"), rec("incident:CAS-2"), rec("account:contoso")
	if _, err := a.Link(ctx, caseMail(t), cas1, "crm"); err != nil {
		t.Fatal(err)
	}
	id := "<case-1@crm.fabrikam.example>" // angle brackets are accepted
	steps := []struct {
		r        correlate.Record
		actor    string
		cause    store.Cause
		wantErr  error
		noChange bool
	}{
		{cas2, "alice", "", nil, false},                            // cause defaults to manual
		{cas2, "alice", store.CauseManual, nil, true},              // same record: nothing kept
		{acct, "", store.CauseMerge, nil, false},                   // a merge, by a program
		{correlate.Record{}, "bob", store.CauseManual, nil, false}, // unlinked: tracked, no record
		{cas1, "bob", "typo", actions.ErrBadCause, false},          // not a cause of store
	}
	for i, s := range steps {
		f, err := a.Relink(ctx, id, s.r, s.actor, s.cause)
		if !errors.Is(err, s.wantErr) {
			t.Fatalf("step %d: Relink error %v, want %v", i, err, s.wantErr)
		}
		if err != nil {
			continue
		}
		if (f.Change == nil) != s.noChange {
			t.Errorf("step %d: Change = %+v, want none: %v", i, f.Change, s.noChange)
		}
	}
	_, hist, err := a.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		" → incident:CAS-1 by crm (manual)",
		"incident:CAS-1 → incident:CAS-2 by alice (manual)",
		"incident:CAS-2 → account:contoso by  (merge)",
		"account:contoso →  by bob (manual)",
	}
	var got []string
	for _, c := range hist {
		got = append(got, fmt.Sprintf("%s → %s by %s (%s)", c.From, c.To, c.Actor, c.Cause))
		if c.Time.IsZero() {
			t.Errorf("change %+v has no time", c)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := a.Relink(ctx, "nobody@nowhere", cas1, "alice", ""); !errors.Is(err, correlate.ErrNotFound) {
		t.Errorf("Relink of an untracked email: %v, want ErrNotFound", err)
	}
	if _, _, err := a.History(ctx, "nobody@nowhere"); !errors.Is(err, correlate.ErrNotFound) {
		t.Errorf("History of an untracked email: %v, want ErrNotFound", err)
	}
}

// TestRelinkFollowedByReplies checks that a reply to a relinked email goes
// to the new record: what "change regarding" is for.
func TestRelinkFollowedByReplies(t *testing.T) {
	a := newActions(t, nil)
	if _, err := a.Link(ctx, caseMail(t), rec("incident:CAS-1"), "crm"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Relink(ctx, "case-1@crm.fabrikam.example", rec("incident:CAS-9"), "alice", ""); err != nil {
		t.Fatal(err)
	}
	f, err := a.Track(ctx, reply(t, "r1@contoso.example", "case-1@crm.fabrikam.example"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Tracked.Record != rec("incident:CAS-9") {
		t.Errorf("the reply was filed under %s, want incident:CAS-9", f.Tracked.Record)
	}
}

func TestUntrack(t *testing.T) {
	a := newActions(t, nil)
	if _, err := a.Link(ctx, caseMail(t), rec("incident:CAS-1"), "crm"); err != nil {
		t.Fatal(err)
	}
	if err := a.Untrack(ctx, "case-1@crm.fabrikam.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lookup(ctx, "case-1@crm.fabrikam.example"); !errors.Is(err, correlate.ErrNotFound) {
		t.Errorf("Lookup after Untrack: %v, want ErrNotFound", err)
	}
	if err := a.Untrack(ctx, "case-1@crm.fabrikam.example"); !errors.Is(err, correlate.ErrNotFound) {
		t.Errorf("second Untrack: %v, want ErrNotFound", err)
	}
	// A reply no longer finds the case.
	f, err := a.Track(ctx, reply(t, "r1@contoso.example", "case-1@crm.fabrikam.example"))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Tracked.Record.IsZero() {
		t.Errorf("a reply to an untracked email was filed under %s", f.Tracked.Record)
	}
}

func TestEmails(t *testing.T) {
	a := newActions(t, nil)
	cas1 := rec("incident:CAS-1")
	if _, err := a.Link(ctx, caseMail(t), cas1, "crm"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := a.Track(ctx, reply(t, fmt.Sprintf("r%d@contoso.example", i), "case-1@crm.fabrikam.example")); err != nil {
			t.Fatal(err)
		}
	}
	// The replies share a Date: newest first means the higher ID first.
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		ts, next, err := a.Emails(ctx, cas1, 4, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, t := range ts {
			ids = append(ids, t.MessageID)
		}
		if next == "" {
			break
		}
		if page > 3 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	want := "r4@contoso.example r3@contoso.example r2@contoso.example r1@contoso.example r0@contoso.example case-1@crm.fabrikam.example"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("timeline = %s\nwant       %s", got, want)
	}
	if _, _, err := a.Emails(ctx, cas1, 4, "not-a-cursor"); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("Emails with a made-up cursor: %v, want store.ErrBadCursor", err)
	}
	// The zero record lists the emails tracked without one.
	if _, err := a.Track(ctx, msg(t, "hi\r\n", "From: x@y.example", "Subject: new", "Message-ID: <lone@y.example>", "Date: Mon, 2 Mar 2026 11:00:00 +0000")); err != nil {
		t.Fatal(err)
	}
	if ts, _, err := a.Emails(ctx, correlate.Record{}, 10, ""); err != nil || len(ts) != 1 || ts[0].MessageID != "lone@y.example" {
		t.Errorf("Emails of no record = %v, %v; want the one tracked without a record", ts, err)
	}
}

// creatorFunc records the requests it was given.
type creator struct {
	mu   sync.Mutex
	reqs []actions.RecordRequest
	rec  correlate.Record
	err  error
}

func (c *creator) CreateRecord(_ context.Context, req actions.RecordRequest) (correlate.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, req)
	return c.rec, c.err
}

func TestConvert(t *testing.T) {
	cas1, newCase := rec("incident:CAS-1"), rec("incident:CAS-05001")
	body := "The printer on floor 3\r\nprints   blank pages.\r\n\r\n> quoted line\r\nThanks, Jane\r\n\r\n-----Original Message-----\r\nFrom: support\r\nold text\r\n"
	fresh := func(t *testing.T) *correlate.Message {
		return msg(t, body, "From: Jane Doe <jane@contoso.example>", "To: support@fabrikam.example",
			"Subject: RE: AW: Printer prints blank pages CRM:0001001", "Date: Mon, 2 Mar 2026 12:00:00 +0000",
			"Message-ID: <conv-1@contoso.example>")
	}
	tests := []struct {
		name       string
		tracked    correlate.Record // the email is first linked here; zero: untracked
		creator    *creator
		wantErr    error
		wantRecord correlate.Record // where the email is afterwards; zero: untracked
	}{
		{"an untracked email is filed under the new record", correlate.Record{}, &creator{rec: newCase}, nil, newCase},
		{"a tracked email moves to the new record", cas1, &creator{rec: newCase}, nil, newCase},
		{"a creator that declines leaves the email untouched", cas1, &creator{}, actions.ErrNoRecord, cas1},
		{"a creator that fails leaves an untracked email untracked", correlate.Record{}, &creator{err: errors.New("CRM down")}, nil, correlate.Record{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newActions(t, nil)
			if !tt.tracked.IsZero() {
				if _, err := a.Link(ctx, fresh(t), tt.tracked, "crm"); err != nil {
					t.Fatal(err)
				}
			}
			f, err := a.Convert(ctx, fresh(t), tt.creator, "incident", "alice")
			switch {
			case tt.creator.err != nil:
				if !errors.Is(err, tt.creator.err) {
					t.Fatalf("Convert error = %v, want the creator's", err)
				}
			case !errors.Is(err, tt.wantErr):
				t.Fatalf("Convert error = %v, want %v", err, tt.wantErr)
			}
			if len(tt.creator.reqs) != 1 {
				t.Fatalf("the creator was called %d times, want once", len(tt.creator.reqs))
			}
			req := tt.creator.reqs[0]
			if req.Type != "incident" || req.Title != "Printer prints blank pages" || req.Sender.Address != "jane@contoso.example" ||
				req.Sender.Name != "Jane Doe" || req.Actor != "alice" || req.Previous != tt.tracked || req.MessageID != "conv-1@contoso.example" {
				t.Errorf("request = %+v", req)
			}
			if want := "The printer on floor 3 prints blank pages. Thanks, Jane"; req.Excerpt != want {
				t.Errorf("excerpt = %q, want %q (no quoted line, no original)", req.Excerpt, want)
			}
			got, lerr := a.Lookup(ctx, "conv-1@contoso.example")
			if tt.wantRecord.IsZero() {
				if !errors.Is(lerr, correlate.ErrNotFound) {
					t.Errorf("Lookup = %+v, %v; want untracked", got, lerr)
				}
				return
			}
			if lerr != nil || got.Record != tt.wantRecord {
				t.Fatalf("the email is under %s (%v), want %s", got.Record, lerr, tt.wantRecord)
			}
			if err != nil {
				return
			}
			if f.Change == nil || f.Change.From != tt.tracked || f.Change.To != newCase || f.Change.Cause != store.CauseConvert || f.Change.Actor != "alice" {
				t.Errorf("change = %+v, want %s → %s, convert, alice", f.Change, tt.tracked, newCase)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name, text string
		n          int
		want       string
	}{
		{"white space runs become one space", "a  b\r\n\tc\n", 10, "a b c"},
		{"a text that fits is whole", "hello world", 11, "hello world"},
		{"a cut text ends with an ellipsis within the limit", "hello world", 8, "hello w…"},
		{"the cut never leaves a space before the ellipsis", "hello world", 7, "hello…"},
		{"characters, not bytes, are counted", "héllo wörld", 8, "héllo w…"},
		{"quoted lines are left out", "new\n> old\n>> older\nend", 20, "new end"},
		{"the text stops at Outlook's quoted original", "new\n________________________________\nFrom: x", 50, "new"},
		{"the text stops at an attribution line", "new\nOn Mon, 2 Mar 2026, Jane wrote:\nold", 50, "new"},
		{"no limit, no excerpt", "text", 0, ""},
		{"invalid UTF-8 is dropped, not passed on", "a\xffb", 10, "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := actions.Excerpt(tt.text, tt.n); got != tt.want {
				t.Errorf("Excerpt(%q, %d) = %q, want %q", tt.text, tt.n, got, tt.want)
			}
		})
	}
}

// directory returns a directory where jane is a known contact, contoso owns
// its domain, and two contacts share one address (ambiguous when the
// resolver is told to leave such addresses unresolved).
func directory(t testing.TB) *party.MemDirectory {
	d := party.NewMemDirectory(nil)
	for _, e := range []party.Entry{
		{Address: "jane@contoso.example", Record: rec("contact:jane"), Active: true},
		{Address: "@contoso.example", Record: rec("account:contoso"), Active: true},
		{Address: "shared@contoso.example", Record: rec("contact:s1"), Active: true},
		{Address: "shared@contoso.example", Record: rec("contact:s2"), Active: true},
		{Address: "gone@contoso.example", Record: rec("contact:gone"), Active: false},
	} {
		if err := d.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestContacts(t *testing.T) {
	res := party.NewResolver(directory(t), &party.Options{UnresolveAmbiguous: true})
	a := newActions(t, &actions.Options{Resolver: res, OwnAddresses: []string{"@fabrikam.example", "ceo@partner.example"}})
	m := msg(t, "body\r\n",
		"From: Ann One <a1@contoso.example>, Bo Two <a2@other.example>",
		"To: Jane Doe <jane@contoso.example>, Support <support@fabrikam.example>, shared@contoso.example",
		"Cc: Gone <gone@contoso.example>, CEO <ceo@partner.example>, New Guy <New.Guy@Other.Example>, bad@@x, a1@contoso.example",
		"Bcc: secret@other.example",
		"Subject: hello", "Message-ID: <c-1@contoso.example>", "Date: Mon, 2 Mar 2026 12:00:00 +0000")
	got, err := a.Contacts(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, fmt.Sprintf("%s %s %q %v", c.Field, c.Address, c.Name, c.Accounts))
	}
	want := []string{
		`From a1@contoso.example "Ann One" [account:contoso]`, // unknown sender at a known customer
		`From a2@other.example "Bo Two" []`,                   // the second From address is offered too
		`Cc gone@contoso.example "Gone" [account:contoso]`,    // only an inactive record: unresolved
		`Cc new.guy@other.example "New Guy" []`,               // normalized; a1 again is not repeated
		// Not offered: jane (a contact), support@ (own domain), shared@
		// (ambiguous: known), ceo@ (own address), bad@@x (no address),
		// the Bcc (not a From, To or Cc).
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("candidates:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	if _, err := newActions(t, nil).Contacts(ctx, m); !errors.Is(err, actions.ErrNoDirectory) {
		t.Errorf("Contacts without a directory: %v, want ErrNoDirectory", err)
	}
}

func TestCreateContacts(t *testing.T) {
	dir := directory(t)
	var calls []party.Party
	var mu sync.Mutex
	hook := func(ctx context.Context, m *correlate.Message, p party.Party) (correlate.Record, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, p)
		if p.Address == "declined@other.example" {
			return correlate.Record{}, nil
		}
		r := correlate.Record{Type: "contact", ID: fmt.Sprint("new-", len(calls))}
		return r, dir.Add(party.Entry{Address: p.Address, Record: r, Active: true})
	}
	a := newActions(t, &actions.Options{Resolver: party.NewResolver(dir, nil), NewContact: hook})
	m := msg(t, "body\r\n", "From: Ann One <a1@contoso.example>", "To: jane@contoso.example, declined@other.example",
		"Cc: b2@other.example", "Subject: hello", "Message-ID: <c-1@contoso.example>", "Date: Mon, 2 Mar 2026 12:00:00 +0000")

	// A chosen address that is not a candidate fails the whole call before
	// anything is created.
	for _, bad := range []string{"jane@contoso.example", "stranger@other.example", "not an address"} {
		_, err := a.CreateContacts(ctx, m, []actions.Candidate{{Address: "a1@contoso.example"}, {Address: bad}})
		if !errors.Is(err, actions.ErrNotCandidate) {
			t.Errorf("choosing %q: %v, want ErrNotCandidate", bad, err)
		}
	}
	if len(calls) != 0 {
		t.Fatalf("the hook was called %d times for refused choices", len(calls))
	}

	got, err := a.CreateContacts(ctx, m, []actions.Candidate{
		{Address: "A1@contoso.example", Name: "Ann O. One"}, // a person corrects the name
		{Address: "a1@contoso.example"},                     // chosen twice, created once
		{Address: "declined@other.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Created || got[0].Record != rec("contact:new-1") || got[1].Created || !got[1].Record.IsZero() {
		t.Errorf("created = %+v", got)
	}
	if len(calls) != 2 || calls[0].Name != "Ann O. One" || calls[0].Field != party.FieldFrom ||
		len(calls[0].Accounts) != 1 || calls[0].Accounts[0] != rec("account:contoso") {
		t.Errorf("hook calls = %+v", calls)
	}
	// The new contact resolves now: it is no candidate any more.
	left, err := a.Contacts(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, c := range left {
		addrs = append(addrs, c.Address)
	}
	if got := strings.Join(addrs, " "); got != "declined@other.example b2@other.example" {
		t.Errorf("candidates after creating = %s", got)
	}

	if _, err := newActions(t, &actions.Options{Resolver: party.NewResolver(dir, nil)}).CreateContacts(ctx, m,
		[]actions.Candidate{{Address: "b2@other.example"}}); !errors.Is(err, actions.ErrNoDirectory) {
		t.Errorf("CreateContacts without a hook: %v, want ErrNoDirectory", err)
	}
}

// TestTrackedContacts reads candidates back from the store, which keeps
// participants without fields or names.
func TestTrackedContacts(t *testing.T) {
	a := newActions(t, &actions.Options{Resolver: party.NewResolver(directory(t), nil), NewContact: func(ctx context.Context, m *correlate.Message, p party.Party) (correlate.Record, error) {
		if m.MessageID != "c-1@contoso.example" || p.Field != party.FieldTo {
			return correlate.Record{}, fmt.Errorf("hook got message %q, party %+v", m.MessageID, p)
		}
		return rec("contact:x"), nil
	}})
	m := msg(t, "body\r\n", "From: Ann One <a1@contoso.example>", "To: jane@contoso.example", "Cc: b2@other.example",
		"Subject: hello", "Message-ID: <c-1@contoso.example>", "Date: Mon, 2 Mar 2026 12:00:00 +0000")
	if _, _, err := a.TrackedContacts(ctx, "c-1@contoso.example"); !errors.Is(err, correlate.ErrNotFound) {
		t.Errorf("TrackedContacts of an untracked email: %v, want ErrNotFound", err)
	}
	if _, err := a.Track(ctx, m); err != nil {
		t.Fatal(err)
	}
	_, got, err := a.TrackedContacts(ctx, "c-1@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Field != "From" || got[0].Address != "a1@contoso.example" || got[0].Name != "" ||
		got[1].Field != "" || got[1].Address != "b2@other.example" {
		t.Errorf("candidates = %+v; want a1 as From, b2 without a field, no names", got)
	}
	made, err := a.CreateTrackedContacts(ctx, "c-1@contoso.example", []actions.Candidate{{Address: "b2@other.example", Name: "Bea"}})
	if err != nil || len(made) != 1 || !made[0].Created {
		t.Errorf("CreateTrackedContacts = %+v, %v", made, err)
	}
}

func TestNew(t *testing.T) {
	eng, err := mailcorrelate.New(memstore.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := actions.New(eng, &actions.Options{OwnAddresses: []string{"not an address"}}); err == nil {
		t.Error("a bad own address was accepted")
	}
	if _, err := actions.New(nil, nil); err == nil {
		t.Error("a nil engine was accepted")
	}
	plain := correlate.NewEngine(plainStore{memstore.New()}, nil, nil)
	if _, err := actions.New(plain, nil); err == nil || !strings.Contains(err.Error(), "not a store.Store") {
		t.Errorf("an engine over a plain correlate.Store: %v, want an error saying so", err)
	}
}

// plainStore hides the store.Store methods of a memstore.
type plainStore struct{ correlate.Store }
