package correlate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// replyLookup is a minimal header strategy: In-Reply-To names a tracked
// email's Message-ID. It also indexes each email's subject, to show that the
// Engine collects keys from the chain's Indexers.
type replyLookup struct{ s correlate.Store }

func (r replyLookup) String() string { return "test.InReplyTo" }

func (r replyLookup) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	for _, id := range m.InReplyTo {
		ts, err := r.s.Lookup(ctx, correlate.MessageIDKey(id), correlate.Query{Limit: 1})
		if err != nil {
			return correlate.Match{}, err
		}
		if len(ts) == 1 {
			return correlate.Match{Record: ts[0].Record, Method: correlate.InReplyTo, Confidence: correlate.Certain,
				CorrelatedWith: &ts[0], Parent: &ts[0], Reason: "In-Reply-To names a tracked email"}, nil
		}
	}
	return correlate.Match{}, nil
}

func (r replyLookup) Index(m *correlate.Message, t *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	return append(dst, correlate.Key{Kind: "test.subject", Value: strings.ToLower(m.Subject)})
}

func msg(id, inReplyTo, subject string) *correlate.Message {
	m := &correlate.Message{MessageID: id, Subject: subject, Date: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		From: []correlate.Address{{Address: "Customer@Example.com"}}}
	if inReplyTo != "" {
		m.InReplyTo = []string{inReplyTo}
	}
	return m
}

func TestEngine(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	strategy := replyLookup{s}
	e := correlate.NewEngine(s, &correlate.Chain{Correlators: []correlate.Correlator{strategy}}, nil)
	caseRec := correlate.Record{Type: "incident", ID: "CAS-1"}

	first, err := e.Track(ctx, msg("a@crm.example", "", "Printer"), correlate.Match{Record: caseRec})
	require.NoError(t, err)
	assert.Equal(t, correlate.None, first.Method, "filed by hand")
	assert.Equal(t, []string{"customer@example.com"}, first.Participants)

	n, err := s.Count(ctx, correlate.Key{Kind: "test.subject", Value: "printer"})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the chain's Indexer contributed its key")

	reply := msg("b@customer.example", "a@crm.example", "Re: Printer")
	d, err := e.Correlate(ctx, reply)
	require.NoError(t, err)
	require.True(t, d.Found())
	assert.Equal(t, caseRec, d.Match.Record)
	assert.Equal(t, "test.InReplyTo", d.Match.Strategy)
	st, _ := s.Stats(ctx)
	assert.EqualValues(t, 1, st.Emails, "Correlate never writes")

	second, err := e.Track(ctx, reply, d.Match)
	require.NoError(t, err)
	assert.Equal(t, correlate.InReplyTo, second.Method)
	assert.Equal(t, first.ID, second.CorrelatedWith)
	assert.Equal(t, first.ID, second.Parent)

	again, err := e.Track(ctx, reply, correlate.Match{Record: correlate.Record{Type: "incident", ID: "OTHER"}})
	require.NoError(t, err, "tracking the same Message-ID again is not an error")
	assert.Equal(t, second.ID, again.ID, "Track is idempotent for the same Message-ID")
	assert.Equal(t, caseRec, again.Record)

	got, err := e.Lookup(ctx, "<b@CUSTOMER.example>")
	require.NoError(t, err)
	assert.Equal(t, second.ID, got.ID, "Lookup normalizes the id it is given")
	_, err = e.Lookup(ctx, "nobody@x")
	assert.ErrorIs(t, err, correlate.ErrNotFound)

	moved := correlate.Record{Type: "incident", ID: "CAS-2"}
	require.NoError(t, e.Relink(ctx, first.ID, moved))
	d, err = e.Correlate(ctx, msg("c@customer.example", "a@crm.example", "Re: Printer"))
	require.NoError(t, err)
	assert.Equal(t, moved, d.Match.Record, "replies follow a relinked email")

	require.NoError(t, e.Untrack(ctx, first.ID))
	d, err = e.Correlate(ctx, msg("d@customer.example", "a@crm.example", "Re: Printer"))
	require.NoError(t, err)
	assert.False(t, d.Found(), "an untracked email no longer correlates")
	assert.ErrorIs(t, e.Untrack(ctx, first.ID), correlate.ErrNotFound)
}

func TestEngineNoDateUsesNow(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e := correlate.NewEngine(memstore.New(), nil, &correlate.EngineOptions{Now: func() time.Time { return now }})
	tr, err := e.Track(context.Background(), &correlate.Message{MessageID: "x@y"}, correlate.Match{})
	require.NoError(t, err)
	assert.True(t, tr.Time.Equal(now))
	assert.True(t, tr.Record.IsZero(), "tracking without a record is allowed (track-only folders)")
}

func TestEngineConcurrentTrack(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	e := correlate.NewEngine(s, &correlate.Chain{Correlators: []correlate.Correlator{replyLookup{s}}}, nil)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				m := msg("same@x", "", "s")
				_, err := e.Track(ctx, m, correlate.Match{Record: correlate.Record{Type: "t", ID: "1"}})
				assert.NoError(t, err)
				_, err = e.Correlate(ctx, msg("r@x", "same@x", "s"))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Emails, "concurrent tracking of one email stores it once")
}

func TestSameEmail(t *testing.T) {
	date := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tracked := correlate.Tracked{ID: 1, MessageID: "a@crm.example", Subject: "Printer jams",
		Participants: []string{"anna@contoso.example", "support@fabrikam.example"}, Time: date}
	m := func(from, subject string, d time.Time) *correlate.Message {
		return &correlate.Message{MessageID: "a@crm.example", Subject: subject, Date: d,
			From: []correlate.Address{{Address: from}}, To: []correlate.Address{{Address: "support@fabrikam.example"}}}
	}
	listTag := func(a, b string) bool {
		return strings.TrimPrefix(a, "[list] ") == strings.TrimPrefix(b, "[list] ")
	}
	cases := []struct {
		name        string
		msg         *correlate.Message
		t           correlate.Tracked
		sameSubject func(a, b string) bool
		fields      []string // the fields that disagree; none for the same email
		why         string
	}{
		{"synchronized again", m("Anna@Contoso.example", "Printer jams", date), tracked, nil, nil,
			"the same sender, Date and subject: the same email"},
		{"copy without Date", m("anna@contoso.example", "Printer jams", time.Time{}), tracked, nil, nil,
			"an absent Date says nothing"},
		{"tracked at its tracking time", m("anna@contoso.example", "Printer jams", date.Add(-time.Hour)), tracked, nil, nil,
			"a tracked copy without Date carries the later time it was tracked"},
		{"within a second", m("anna@contoso.example", "Printer jams", date.Add(500*time.Millisecond)), tracked, nil, nil,
			"the Date field has a resolution of one second"},
		{"case and spaces", m("anna@contoso.example", "  printer   JAMS ", date), tracked, nil, nil,
			"the default subject comparison ignores case and runs of white space"},
		{"list copy", m("anna@contoso.example", "[list] Printer jams", date), tracked, listTag, nil,
			"the caller's comparison decides what a base subject is"},
		{"hijack", m("mallory@evil.example", "Refund now", date.Add(48*time.Hour)), tracked, nil, []string{"From", "Date", "Subject"},
			"a stranger reusing the id: every field disagrees"},
		{"same sender, other subject", m("anna@contoso.example", "Invoice", date), tracked, nil, []string{"Subject"},
			"a client that reused an id for another email"},
		{"dated later", m("anna@contoso.example", "Printer jams", date.Add(time.Hour)), tracked, nil, []string{"Date"},
			"no copy of an email is dated after the email itself"},
		{"tracked without participants", m("anna@contoso.example", "Printer jams", date),
			correlate.Tracked{Subject: "Printer jams", Time: date}, nil, nil, "a sender that cannot be compared says nothing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			same, ev := correlate.SameEmail(tc.msg, &tc.t, tc.sameSubject)
			assert.Equal(t, len(tc.fields) == 0, same, tc.why)
			var fields []string
			for _, e := range ev {
				fields = append(fields, e.Field)
				assert.NotEmpty(t, e.Note, "each disagreement says what the tracked email has")
			}
			assert.Equal(t, tc.fields, fields, tc.why)
		})
	}
	same, _ := correlate.SameEmail(nil, &tracked, nil)
	assert.False(t, same, "no message is no email")
}

// TestEngineTrackCollision is the defect of issue 17 #1 on the tracking
// side: a message reusing a tracked email's Message-ID was taken for that
// email (Put reported ErrExists and Track returned the other email).
func TestEngineTrackCollision(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	e := correlate.NewEngine(s, nil, nil)
	caseA, caseB := correlate.Record{Type: "incident", ID: "A"}, correlate.Record{Type: "incident", ID: "B"}

	orig := msg("a@crm.example", "", "Printer")
	first, err := e.Track(ctx, orig, correlate.Match{Record: caseA})
	require.NoError(t, err)

	copyOf := msg("a@crm.example", "", "Printer")
	copyOf.Mailbox = "second@fabrikam.example"
	again, err := e.Track(ctx, copyOf, correlate.Match{Record: caseB})
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID, "a copy from a second mailbox is the same email: Track stays idempotent")
	assert.Equal(t, caseA, again.Record)

	hijack := msg("a@crm.example", "", "Refund")
	hijack.From = []correlate.Address{{Address: "mallory@evil.example"}}
	hijack.Date = orig.Date.Add(24 * time.Hour)
	got, err := e.Track(ctx, hijack, correlate.Match{Record: caseB})
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, got.ID, "a collision is tracked as its own email")
	assert.Equal(t, caseB, got.Record, "under the record it was correlated with")
	assert.Equal(t, correlate.FingerprintID(hijack), got.MessageID, "under its fingerprint")
	assert.Equal(t, "Refund", got.Subject)

	ts, err := s.Lookup(ctx, correlate.MessageIDKey("a@crm.example"), correlate.Query{})
	require.NoError(t, err)
	require.Len(t, ts, 1, "the colliding email does not take the Message-ID key")
	assert.Equal(t, first.ID, ts[0].ID, "replies naming the id still reach the email that had it first")
	looked, err := e.Lookup(ctx, "a@crm.example")
	require.NoError(t, err)
	assert.Equal(t, first.ID, looked.ID)

	twice, err := e.Track(ctx, hijack, correlate.Match{Record: caseA})
	require.NoError(t, err)
	assert.Equal(t, got.ID, twice.ID, "tracking the colliding message again is idempotent too")
	assert.Equal(t, caseB, twice.Record)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, st.Emails, "the original and the collision, once each")
}

func TestEngineTrackCollisionSameSubjectHook(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	base := func(a, b string) bool { return strings.TrimPrefix(a, "[list] ") == strings.TrimPrefix(b, "[list] ") }
	e := correlate.NewEngine(s, nil, &correlate.EngineOptions{SameSubject: base})
	first, err := e.Track(ctx, msg("a@crm.example", "", "Printer"), correlate.Match{})
	require.NoError(t, err)
	listCopy, err := e.Track(ctx, msg("a@crm.example", "", "[list] Printer"), correlate.Match{})
	require.NoError(t, err)
	assert.Equal(t, first.ID, listCopy.ID, "EngineOptions.SameSubject decides what a base subject is: a list's copy is the same email")
}
