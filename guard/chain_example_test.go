package guard_test

import (
	"context"
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
)

// A SenderPolicy refuses a stranger's token; the chain goes on and the
// Decision says why.
func ExampleGuard_senderPolicy() {
	victim := &correlate.Tracked{ID: 1, Record: correlate.Record{Type: "incident", ID: "CAS-1"},
		Participants: []string{"support@fabrikam.example", "jane@contoso.example"}}
	token := correlate.Named("token", correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		return correlate.Match{Record: victim.Record, Method: correlate.TrackingToken, Confidence: correlate.High,
			CorrelatedWith: victim, Reason: "token CRM:0001001 names tracked email 1"}, nil
	}))
	tookPart := func(_ context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
		s := m.SenderAddress()
		for _, p := range t.Participants {
			if p == s {
				return correlate.Evidence{Field: "From", Value: s, Note: "took part: a participant"}, true
			}
		}
		return correlate.Evidence{Field: "From", Value: s, Note: "did not take part: not a participant"}, false
	}
	g := guard.Wrap(&correlate.Chain{Correlators: []correlate.Correlator{token}}, &guard.Options{SenderPolicy: tookPart})
	for _, from := range []string{"jane@contoso.example", "m.allory@freemail.example"} {
		d, _ := g.Decide(context.Background(), &correlate.Message{From: []correlate.Address{{Address: from}}})
		fmt.Println(d.Match)
	}
	// Output:
	// incident:CAS-1 by TrackingToken (0.90): token CRM:0001001 names tracked email 1; sender jane@contoso.example took part: a participant
	// no record: token match refused: sender policy: m.allory@freemail.example did not take part: not a participant (incident:CAS-1, TrackingToken)
}

// A Classifier runs before the chain; an auto-reply is correlated but not
// tracked.
func ExampleGuard_classifier() {
	ctx := context.Background()
	rec := correlate.Record{Type: "incident", ID: "CAS-1"}
	found := correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		return correlate.Match{Record: rec, Method: correlate.InReplyTo, Confidence: correlate.Certain}, nil
	})
	oof := guard.ClassifierFunc(func(m *correlate.Message) correlate.Classification {
		if m.Header.Get("Auto-Submitted") == "auto-replied" {
			return correlate.Classification{Class: guard.AutoReply, Reason: "Auto-Submitted: auto-replied", NoAutoResponse: true}
		}
		return correlate.Classification{}
	})
	engine := correlate.NewEngine(nil, guard.Wrap(&correlate.Chain{Correlators: []correlate.Correlator{found}},
		&guard.Options{Classifier: oof}), nil)
	m := &correlate.Message{Header: map[string][]string{"Auto-Submitted": {"auto-replied"}}}
	d, _ := engine.Correlate(ctx, m)
	fmt.Println(d.Class(), d.Match.Record, d.Track())
	fmt.Println(d.NoTrack)
	// Output:
	// autoreply incident:CAS-1 false
	// autoreply: correlated but not tracked (guard.Options.Untracked)
}
