package guard_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// chainT is a chain with the guardrails of a Guard, spelled as one
// literal: the tables below read like the configuration they test.
type chainT struct {
	Correlators   []correlate.Correlator
	MinConfidence float64
	Audit         bool
	SenderPolicy  guard.SenderPolicy
	PolicyMethods []correlate.Method
	OnConflict    guard.ConflictPolicy
	Resolver      guard.RecordResolver
	OnClosed      guard.ClosedPolicy
	MaxMergeHops  int
}

func (c chainT) Decide(ctx context.Context, m *correlate.Message) (correlate.Decision, error) {
	g := guard.Wrap(&correlate.Chain{Correlators: c.Correlators, MinConfidence: c.MinConfidence, Audit: c.Audit},
		&guard.Options{SenderPolicy: c.SenderPolicy, PolicyMethods: c.PolicyMethods, OnConflict: c.OnConflict,
			Records: c.Resolver, OnClosed: c.OnClosed, MaxMergeHops: c.MaxMergeHops})
	return g.Decide(ctx, m)
}

// fixed is a strategy that always names rec (nothing when rec is "").
func fixed(rec string, method correlate.Method, conf float64) correlate.Correlator {
	return correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		if rec == "" {
			return correlate.Match{}, nil
		}
		r, _ := correlate.ParseRecord(rec)
		return correlate.Match{Record: r, Method: method, Confidence: conf, Reason: "fixed"}, nil
	})
}

// claim is a strategy whose match correlated with a tracked email that
// lists participants.
func claim(name, rec string, method correlate.Method, conf float64, participants ...string) correlate.Correlator {
	r, _ := correlate.ParseRecord(rec)
	return correlate.Named(name, correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		return correlate.Match{Record: r, Method: method, Confidence: conf, Reason: name + " matched",
			CorrelatedWith: &correlate.Tracked{ID: 7, Record: r, Participants: participants}}, nil
	}))
}

// tookPart accepts senders listed in the tracked email. It gives no
// Evidence, as a policy written before policies explained themselves.
func tookPart(_ context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
	s := m.SenderAddress()
	for _, p := range t.Participants {
		if p == s {
			return correlate.Evidence{}, true
		}
	}
	return correlate.Evidence{}, false
}

// explained is tookPart with Evidence that says how the sender stands.
func explained(_ context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
	s := m.SenderAddress()
	for _, p := range t.Participants {
		if p == s {
			return correlate.Evidence{Field: "From", Value: s, Note: "took part: a participant"}, true
		}
	}
	return correlate.Evidence{Field: "From", Value: s, Note: "did not take part: a stranger"}, false
}

// states is a map-backed RecordResolver for these tests.
type states map[correlate.Record]guard.RecordState

func (s states) Resolve(ctx context.Context, r correlate.Record) (guard.RecordState, error) {
	return s[r], ctx.Err()
}

func TestChainSenderPolicy(t *testing.T) {
	stranger := &correlate.Message{From: []correlate.Address{{Address: "Mallory@Evil.example"}}}
	jane := &correlate.Message{From: []correlate.Address{{Address: "jane@contoso.example"}}}
	cases := []struct {
		name    string
		chain   chainT
		msg     *correlate.Message
		want    string
		refused []string // strategies refused
		reason  string   // in Decision.Match.Reason
		why     string
	}{
		{"token refused, header wins", chainT{SenderPolicy: tookPart, Correlators: []correlate.Correlator{
			claim("token", "incident:1", correlate.TrackingToken, correlate.High, "jane@contoso.example"),
			claim("hdr", "incident:2", correlate.InReplyTo, correlate.Certain, "jane@contoso.example"),
		}}, stranger, "incident:2", []string{"token"}, "hdr matched",
			"a refused match is recorded and the chain continues to the next strategy"},
		{"header not checked by default", chainT{SenderPolicy: tookPart, Correlators: []correlate.Correlator{
			claim("hdr", "incident:2", correlate.InReplyTo, correlate.Certain, "jane@contoso.example"),
		}}, stranger, "incident:2", nil, "hdr matched",
			"DefaultPolicyMethods is TrackingToken only: Message-IDs are not visible to strangers"},
		{"header checked when asked", chainT{SenderPolicy: tookPart, PolicyMethods: []correlate.Method{correlate.InReplyTo},
			Correlators: []correlate.Correlator{claim("hdr", "incident:2", correlate.InReplyTo, correlate.Certain, "jane@contoso.example")}},
			stranger, "", []string{"hdr"}, "hdr match refused: sender policy: mallory@evil.example did not take part in tracked email 7 (incident:2, InReplyTo)",
			"PolicyMethods widens the policy; with nothing left the Decision says why"},
		{"participant accepted", chainT{SenderPolicy: tookPart, Correlators: []correlate.Correlator{
			claim("token", "incident:1", correlate.TrackingToken, correlate.High, "jane@contoso.example"),
		}}, jane, "incident:1", nil, "token matched", "the customer herself may use her token"},
		{"no sender", chainT{SenderPolicy: tookPart, Correlators: []correlate.Correlator{
			claim("token", "incident:1", correlate.TrackingToken, correlate.High, "jane@contoso.example"),
		}}, &correlate.Message{}, "", []string{"token"}, "the message names no sender", "nobody cannot have taken part"},
		{"no tracked email", chainT{SenderPolicy: tookPart, PolicyMethods: []correlate.Method{correlate.FolderTracking},
			Correlators: []correlate.Correlator{correlate.Named("folder", fixed("account:9", correlate.FolderTracking, 1))}},
			stranger, "account:9", nil, "fixed", "a folder rule names no conversation: nothing to check"},
		{"accepted with evidence", chainT{SenderPolicy: explained, Correlators: []correlate.Correlator{
			claim("token", "incident:1", correlate.TrackingToken, correlate.High, "jane@contoso.example"),
		}}, jane, "incident:1", nil, "token matched; sender jane@contoso.example took part: a participant",
			"the policy's note says which sender was accepted, and as what"},
		{"refused with evidence", chainT{SenderPolicy: explained, Correlators: []correlate.Correlator{
			claim("token", "incident:1", correlate.TrackingToken, correlate.High, "jane@contoso.example"),
		}}, stranger, "", []string{"token"}, "token match refused: sender policy: mallory@evil.example did not take part: a stranger (incident:1, TrackingToken)",
			"the refusal quotes the policy's note"},
		{"refused not a conflict", chainT{Audit: true, SenderPolicy: tookPart, Correlators: []correlate.Correlator{
			claim("hdr", "incident:2", correlate.InReplyTo, correlate.Certain),
			claim("token", "incident:1", correlate.TrackingToken, correlate.High, "jane@contoso.example"),
		}}, stranger, "incident:2", []string{"token"}, "hdr matched", "a hijack attempt after the winner is refused, not reported as a conflict"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.chain.Decide(context.Background(), tc.msg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, d.Match.Record.String(), tc.why)
			var refused []string
			for _, s := range d.Steps {
				if s.Refused != "" {
					refused = append(refused, s.Strategy)
					assert.Contains(t, s.String(), "[refused: ", "Step.String shows the refusal")
				}
			}
			assert.Equal(t, tc.refused, refused, tc.why)
			assert.Contains(t, d.Match.Reason, tc.reason, tc.why)
			assert.Empty(t, d.Conflicts, tc.why)
			if strings.HasSuffix(tc.name, "with evidence") {
				ev := d.Match.Evidence // accepted: in the winning Match
				if d.Steps[0].Refused != "" {
					ev = d.Steps[0].Match.Evidence // refused: in the refused Step's Match
				}
				require.NotEmpty(t, ev, tc.why)
				assert.Equal(t, "From", ev[len(ev)-1].Field, tc.why)
				assert.Equal(t, tc.msg.SenderAddress(), ev[len(ev)-1].Value, tc.why)
			}
		})
	}
}

func TestChainRefusedTrackOnly(t *testing.T) {
	trackOnly := correlate.Named("token", correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		return correlate.Match{Track: true, Method: correlate.TrackingToken, CorrelatedWith: &correlate.Tracked{ID: 3}}, nil
	}))
	c := chainT{SenderPolicy: tookPart, Correlators: []correlate.Correlator{trackOnly}}
	d, err := c.Decide(context.Background(), &correlate.Message{From: []correlate.Address{{Address: "x@y.example"}}})
	require.NoError(t, err)
	assert.NotEmpty(t, d.Steps[0].Refused)
	assert.False(t, d.Steps[0].Match.Track, "a refused match loses its Track flag, so no consumer files it")
	assert.False(t, d.Track(), "a refused track-only match does not ask for tracking")
}

func TestChainRecordStates(t *testing.T) {
	boom := errors.New("crm down")
	st := states{
		rec("incident:1"): {MergedInto: rec("incident:2"), Closed: true},
		rec("incident:2"): {MergedInto: rec("incident:3"), Closed: true},
		rec("incident:5"): {Closed: true},
		rec("incident:6"): {Deleted: true},
		rec("incident:7"): {MergedInto: rec("incident:8")},
		rec("incident:8"): {MergedInto: rec("incident:7")},
		rec("incident:9"): {MergedInto: rec("incident:9")},
	}
	chainOf := func(c chainT, cs ...correlate.Correlator) chainT {
		c.Correlators = cs
		if c.Resolver == nil {
			c.Resolver = st
		}
		return c
	}
	cases := []struct {
		name    string
		chain   chainT
		want    string
		action  string
		merged  []string
		closed  string
		refused bool
		track   bool
		reason  string
		err     error
		why     string
	}{
		{"open", chainOf(chainT{}, claim("a", "incident:4", correlate.InReplyTo, 1)), "incident:4", guard.Proceed, nil, "", false, true, "a matched",
			nil, "a record the resolver knows nothing about is open"},
		{"merged twice", chainOf(chainT{}, claim("a", "incident:1", correlate.InReplyTo, 1)), "incident:3", guard.Proceed,
			[]string{"incident:1", "incident:2"}, "", false, true, "incident:1 merged into incident:3",
			nil, "replies follow merges to the survivor (Zammad #377, #983)"},
		{"hop limit", chainOf(chainT{MaxMergeHops: 1}, claim("a", "incident:1", correlate.InReplyTo, 1)), "", guard.Proceed,
			nil, "", true, false, "merged more than 1 times", nil, "a chain of merges longer than the bound is refused, not followed forever"},
		{"merge loop", chainOf(chainT{}, claim("a", "incident:7", correlate.InReplyTo, 1), claim("b", "incident:4", correlate.TrackingToken, 0.9)),
			"incident:4", guard.Proceed, nil, "", true, true, "b matched", nil, "a merge loop is refused and the next strategy decides"},
		{"self merge", chainOf(chainT{}, claim("a", "incident:9", correlate.InReplyTo, 1)), "incident:9", guard.Proceed, nil, "", false, true, "",
			nil, "merged into itself is no merge"},
		{"deleted", chainOf(chainT{}, claim("a", "incident:6", correlate.InReplyTo, 1)), "", guard.Proceed, nil, "", true, false,
			"record incident:6 no longer exists", nil, "Odoo checks the record exists before routing to it"},
		{"closed correlate", chainOf(chainT{}, claim("a", "incident:5", correlate.InReplyTo, 1)), "incident:5", guard.Proceed, nil, "incident:5", false, true,
			"a matched", nil, "ClosedCorrelate, the default: filed on the closed record, which Decision.Closed names"},
		{"closed new", chainOf(chainT{OnClosed: guard.ClosedNew}, claim("a", "incident:5", correlate.InReplyTo, 1)), "", guard.OpenNew, nil, "incident:5", false, false,
			"is closed: open a new record", nil, "OTRS/Zammad 'new ticket' policy"},
		{"closed reject", chainOf(chainT{OnClosed: guard.ClosedReject}, claim("a", "incident:5", correlate.InReplyTo, 1)), "", guard.Reject, nil, "incident:5", false, false,
			"takes no follow-ups", nil, "OTRS 'reject' policy"},
		{"merged into closed survivor", chainOf(chainT{OnClosed: guard.ClosedNew}, claim("a", "incident:2", correlate.InReplyTo, 1)), "incident:3", guard.Proceed,
			[]string{"incident:2"}, "", false, true, "", nil, "the survivor's state decides, and incident:3 is open"},
		{"resolver fails", chainOf(chainT{Resolver: guard.ResolverFunc(func(context.Context, correlate.Record) (guard.RecordState, error) {
			return guard.RecordState{}, boom
		})}, claim("a", "incident:4", correlate.InReplyTo, 1)), "", guard.Proceed, nil, "", false, false, "", boom,
			"a state that cannot be checked stops the chain like a failing strategy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.chain.Decide(context.Background(), &correlate.Message{})
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, tc.why)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, d.Match.Record.String(), "%s: %s", tc.why, d)
			assert.Equal(t, tc.action, d.Action, tc.why)
			var merged []string
			for _, r := range d.Merged {
				merged = append(merged, r.String())
			}
			assert.Equal(t, tc.merged, merged, tc.why)
			assert.Equal(t, tc.closed, d.Closed.String(), tc.why)
			refused := false
			for _, s := range d.Steps {
				refused = refused || s.Refused != ""
			}
			assert.Equal(t, tc.refused, refused, tc.why)
			assert.Equal(t, tc.track, d.Track(), tc.why)
			assert.Contains(t, d.Match.Reason, tc.reason, tc.why)
		})
	}
}

func TestChainConflictReview(t *testing.T) {
	st := states{rec("incident:1"): {MergedInto: rec("incident:2")}}
	cases := []struct {
		name      string
		chain     chainT
		want      string
		action    string
		conflicts []string
		why       string
	}{
		{"precedence", chainT{Audit: true, Correlators: []correlate.Correlator{
			claim("hdr", "incident:2", correlate.InReplyTo, 1), claim("tok", "incident:3", correlate.TrackingToken, 0.9)}},
			"incident:2", guard.Proceed, []string{"tok"}, "the default: the winner stands, the conflict is reported"},
		{"review", chainT{OnConflict: guard.ConflictReview, Correlators: []correlate.Correlator{
			claim("hdr", "incident:2", correlate.InReplyTo, 1), claim("tok", "incident:3", correlate.TrackingToken, 0.9)}},
			"", guard.Review, []string{"hdr", "tok"}, "review implies audit; every candidate is listed, the would-be winner first"},
		{"review agreement", chainT{OnConflict: guard.ConflictReview, Correlators: []correlate.Correlator{
			claim("hdr", "incident:2", correlate.InReplyTo, 1), claim("tok", "incident:2", correlate.TrackingToken, 0.9)}},
			"incident:2", guard.Proceed, nil, "strategies that agree need no person"},
		{"review weak conflict", chainT{OnConflict: guard.ConflictReview, MinConfidence: 0.5, Correlators: []correlate.Correlator{
			claim("hdr", "incident:2", correlate.InReplyTo, 1), claim("smart", "incident:3", correlate.SmartMatching, 0.4)}},
			"incident:2", guard.Proceed, []string{"smart"}, "a conflict below MinConfidence could not have won: reported, not reviewed"},
		{"merge is no conflict", chainT{OnConflict: guard.ConflictReview, Resolver: st, Correlators: []correlate.Correlator{
			claim("hdr", "incident:2", correlate.InReplyTo, 1), claim("tok", "incident:1", correlate.TrackingToken, 0.9)}},
			"incident:2", guard.Proceed, nil, "a token of the merged record names the survivor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.chain.Decide(context.Background(), &correlate.Message{})
			require.NoError(t, err)
			assert.Equal(t, tc.want, d.Match.Record.String(), tc.why)
			assert.Equal(t, tc.action, d.Action, tc.why)
			var conflicts []string
			for _, c := range d.Conflicts {
				conflicts = append(conflicts, c.Strategy)
			}
			assert.Equal(t, tc.conflicts, conflicts, tc.why)
			if tc.action == guard.Review {
				assert.False(t, d.Track(), "nothing is filed while a person decides")
				assert.Contains(t, d.Match.Reason, "hdr names incident:2, tok names incident:3")
				assert.Contains(t, d.String(), "action review")
			}
		})
	}
}

func TestEngineClassification(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	original := &correlate.Message{MessageID: "orig@crm.example", Subject: "Printer"}
	byID := correlate.Named("byid", correlate.Func(func(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
		ts, err := s.Lookup(ctx, correlate.MessageIDKey(m.MessageID), correlate.Query{Limit: 1})
		if err != nil || len(ts) == 0 {
			return correlate.Match{}, err
		}
		return correlate.Match{Record: ts[0].Record, Method: correlate.InReplyTo, Confidence: 1, CorrelatedWith: &ts[0]}, nil
	}))
	classify := guard.ClassifierFunc(func(m *correlate.Message) correlate.Classification {
		switch {
		case strings.HasPrefix(m.Subject, "Undelivered"):
			return correlate.Classification{Class: guard.Bounce, Reason: "test bounce", Original: original}
		case strings.HasPrefix(m.Subject, "Lost bounce"):
			return correlate.Classification{Class: guard.Bounce, Original: &correlate.Message{MessageID: "unknown@x"}}
		case strings.HasPrefix(m.Subject, "Out of Office"):
			return correlate.Classification{Class: guard.AutoReply, Reason: "test auto-reply"}
		case strings.HasPrefix(m.Subject, "Newsletter"):
			return correlate.Classification{Class: guard.Bulk}
		}
		return correlate.Classification{}
	})
	var observed []string
	loops := loopFunc(func(m *correlate.Message, r correlate.Record) correlate.Classification {
		observed = append(observed, m.MessageID+"→"+r.String())
		if m.MessageID == "flood@x" {
			return correlate.Classification{Class: guard.Loop, Reason: "too many", Evidence: []correlate.Evidence{{Field: "From"}}}
		}
		return correlate.Classification{}
	})
	eng := correlate.NewEngine(s, guard.Wrap(&correlate.Chain{Correlators: []correlate.Correlator{byID}},
		&guard.Options{Classifier: classify, Loops: loops}), nil)
	_, err := eng.Track(ctx, original, correlate.Match{Record: rec("incident:1")})
	require.NoError(t, err)
	_, err = eng.Track(ctx, &correlate.Message{MessageID: "flood@x"}, correlate.Match{Record: rec("incident:1")})
	require.NoError(t, err)

	cases := []struct {
		name       string
		msg        *correlate.Message
		class      string
		want       string
		ofOriginal bool
		track      bool
		why        string
	}{
		{"normal", &correlate.Message{MessageID: "orig@crm.example"}, guard.Normal, "incident:1", false, true, "ordinary mail is tracked"},
		{"bounce", &correlate.Message{MessageID: "b1@mx", Subject: "Undelivered Mail"}, guard.Bounce, "incident:1", true, false,
			"the bounce is correlated through its original and never tracked"},
		{"lost bounce", &correlate.Message{MessageID: "orig@crm.example", Subject: "Lost bounce"}, guard.Bounce, "incident:1", false, false,
			"when the original names nothing, the bounce itself is correlated"},
		{"autoreply", &correlate.Message{MessageID: "orig@crm.example", Subject: "Out of Office"}, guard.AutoReply, "incident:1", false, false,
			"auto-replies correlate but are not tracked by default"},
		{"bulk", &correlate.Message{MessageID: "orig@crm.example", Subject: "Newsletter"}, guard.Bulk, "incident:1", false, true,
			"bulk mail is tracked when it correlates"},
		{"loop", &correlate.Message{MessageID: "flood@x"}, guard.Loop, "incident:1", false, false,
			"the loop detector turns ping-pong into a Loop, not tracked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := eng.Correlate(ctx, tc.msg)
			require.NoError(t, err)
			assert.Equal(t, tc.class, d.Class(), tc.why)
			assert.Equal(t, tc.want, d.Match.Record.String(), tc.why)
			assert.Equal(t, tc.ofOriginal, d.OfOriginal, tc.why)
			assert.Equal(t, tc.track, d.Track(), "%s: %s", tc.why, d)
			if !tc.track {
				assert.Contains(t, d.NoTrack, tc.class, "NoTrack names the class")
				assert.Contains(t, d.String(), "not tracked: ")
			}
		})
	}
	assert.NotContains(t, strings.Join(observed, " "), "b1@mx", "bounces are not counted by the loop detector")
	assert.Contains(t, observed, "orig@crm.example→incident:1", "the detector sees the record found")
}

type loopFunc func(m *correlate.Message, r correlate.Record) correlate.Classification

func (f loopFunc) Observe(m *correlate.Message, r correlate.Record) correlate.Classification {
	return f(m, r)
}

func TestClassNames(t *testing.T) {
	for name, want := range map[string]string{"normal": guard.Normal, "bulk": guard.Bulk, "autoreply": guard.AutoReply, "bounce": guard.Bounce, "loop": guard.Loop} {
		got, ok := guard.ParseClass(strings.ToUpper(name))
		assert.True(t, ok)
		assert.Equal(t, want, got)
		assert.Equal(t, name, correlate.Classification{Class: want}.Name(), "a class prints as the name it parses from")
	}
	got, ok := guard.ParseClass("auto-reply")
	assert.True(t, ok)
	assert.Equal(t, guard.AutoReply, got)
	_, ok = guard.ParseClass("spam")
	assert.False(t, ok)
	assert.Equal(t, []string{guard.AutoReply, guard.Bounce, guard.Loop}, guard.DefaultUntracked())
	assert.Equal(t, []correlate.Method{correlate.TrackingToken}, guard.DefaultPolicyMethods())
	assert.Equal(t, "review", guard.ConflictReview.String())
	assert.Equal(t, "precedence", guard.ConflictPrecedence.String())
	assert.Equal(t, "new", guard.ClosedNew.String())
	assert.Equal(t, "reject", guard.ClosedReject.String())
	assert.Equal(t, "correlate", guard.ClosedCorrelate.String())
	assert.Equal(t, "bounce: x", correlate.Classification{Class: guard.Bounce, Reason: "x"}.String())
	assert.Equal(t, "normal", correlate.Classification{}.String(), "an unclassified message is ordinary mail")
}

// TestEngineGuardAllocs: a Guard that classifies ordinary mail costs no
// allocation over the bare chain.
func TestEngineGuardAllocs(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	chain := &correlate.Chain{Correlators: []correlate.Correlator{fixed("", 0, 0)}}
	plain := correlate.NewEngine(s, chain, nil)
	normal := guard.ClassifierFunc(func(*correlate.Message) correlate.Classification { return correlate.Classification{} })
	classified := correlate.NewEngine(s, guard.Wrap(chain, &guard.Options{Classifier: normal}), nil)
	m := &correlate.Message{MessageID: "a@b"}
	base := testing.AllocsPerRun(200, func() { _, _ = plain.Correlate(ctx, m) })
	with := testing.AllocsPerRun(200, func() { _, _ = classified.Correlate(ctx, m) })
	assert.Equal(t, base, with, "classifying Normal mail adds no allocation")
}
