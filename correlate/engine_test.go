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
