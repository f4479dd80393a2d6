package correlate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

func fixed(rec string, method correlate.Method, conf float64) correlate.Correlator {
	return correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		if rec == "" {
			return correlate.Match{}, nil
		}
		r, _ := correlate.ParseRecord(rec)
		return correlate.Match{Record: r, Method: method, Confidence: conf, Reason: "fixed"}, nil
	})
}

// withConflict names rec and reports other as a conflict inside the same
// strategy, as References naming emails of two records do.
func withConflict(rec, other string) correlate.Correlator {
	return correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		r, _ := correlate.ParseRecord(rec)
		o, _ := correlate.ParseRecord(other)
		return correlate.Match{Record: r, Method: correlate.InReplyTo, Confidence: correlate.High, Reason: "newest id",
			Conflicts: []correlate.Match{{Record: o, Method: correlate.InReplyTo, Confidence: correlate.High, Reason: "older id"}}}, nil
	})
}

func failing(err error) correlate.Correlator {
	return correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) { return correlate.Match{}, err })
}

func TestChain(t *testing.T) {
	boom := errors.New("store down")
	cases := []struct {
		name      string
		chain     correlate.Chain
		want      string
		steps     int
		conflicts []string
		err       error
		reason    string
	}{
		{"empty", correlate.Chain{}, "", 0, nil, nil, "the zero Chain matches nothing"},
		{"first wins", correlate.Chain{Correlators: []correlate.Correlator{
			correlate.Named("a", fixed("incident:1", correlate.InReplyTo, 1)),
			correlate.Named("b", fixed("incident:2", correlate.TrackingToken, 1)),
		}}, "incident:1", 1, nil, nil, "precedence is slice order; later strategies are not consulted"},
		{"abstain falls through", correlate.Chain{Correlators: []correlate.Correlator{
			correlate.Named("a", fixed("", 0, 0)),
			correlate.Named("b", fixed("incident:2", correlate.TrackingToken, 1)),
		}}, "incident:2", 2, nil, nil, "no opinion passes to the next strategy"},
		{"below threshold", correlate.Chain{MinConfidence: 0.5, Correlators: []correlate.Correlator{
			correlate.Named("weak", fixed("incident:9", correlate.SmartMatching, 0.3)),
			correlate.Named("b", fixed("incident:2", correlate.TrackingToken, 0.9)),
		}}, "incident:2", 2, nil, nil, "a weak match is a suggestion in Steps, not a winner"},
		{"error stops", correlate.Chain{Correlators: []correlate.Correlator{
			correlate.Named("a", failing(boom)),
			correlate.Named("b", fixed("incident:2", correlate.TrackingToken, 1)),
		}}, "", 1, nil, boom, "falling through past a failure could file the email wrongly"},
		{"audit conflicts", correlate.Chain{Audit: true, Correlators: []correlate.Correlator{
			correlate.Named("hdr", fixed("incident:1", correlate.InReplyTo, 1)),
			correlate.Named("tok", fixed("incident:7", correlate.TrackingToken, 1)),
			correlate.Named("same", fixed("incident:1", correlate.ConversationIndex, 1)),
			correlate.Named("err", failing(boom)),
		}}, "incident:1", 4, []string{"tok"}, nil, "audit keeps going, reports a different record, ignores agreement and later failures"},
		{"conflicts inside the winner", correlate.Chain{Correlators: []correlate.Correlator{
			correlate.Named("hdr", withConflict("incident:1", "incident:2")),
		}}, "incident:1", 1, []string{"hdr"}, nil, "the records a winner's own evidence named are conflicts too, without audit"},
		{"inner conflicts of a loser", correlate.Chain{MinConfidence: 0.5, Correlators: []correlate.Correlator{
			correlate.Named("weak", correlate.Func(func(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
				mt, err := withConflict("incident:1", "incident:2").Correlate(ctx, m)
				mt.Confidence = 0.3
				return mt, err
			})),
			correlate.Named("b", fixed("incident:3", correlate.TrackingToken, 0.9)),
		}}, "incident:3", 2, nil, nil, "only the winner's inner conflicts are the Decision's"},
		{"nested", correlate.Chain{Correlators: []correlate.Correlator{
			&correlate.Chain{Correlators: []correlate.Correlator{fixed("", 0, 0)}},
			&correlate.Chain{Correlators: []correlate.Correlator{fixed("account:x", correlate.CustomCorrelation, 1)}},
		}}, "account:x", 2, nil, nil, "a Chain is a Correlator"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.chain.Decide(context.Background(), &correlate.Message{})
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, tc.reason)
				assert.Contains(t, err.Error(), "strategy a: ", "the error names the strategy")
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.want, d.Match.Record.String(), tc.reason)
			assert.Len(t, d.Steps, tc.steps, tc.reason)
			var conflicts []string
			for _, c := range d.Conflicts {
				conflicts = append(conflicts, c.Strategy)
			}
			assert.Equal(t, tc.conflicts, conflicts, tc.reason)
			if d.Found() {
				assert.NotEmpty(t, d.Match.Strategy, "the chain names the winning strategy")
			}
		})
	}
}

func TestChainCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := correlate.Chain{Correlators: []correlate.Correlator{fixed("incident:1", correlate.InReplyTo, 1)}}
	_, err := c.Decide(ctx, &correlate.Message{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestDecisionTrack(t *testing.T) {
	trackOnly := correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		return correlate.Match{Track: true, Method: correlate.FolderTracking, Reason: "track-only folder"}, nil
	})
	c := correlate.Chain{Correlators: []correlate.Correlator{trackOnly, fixed("", 0, 0)}}
	d, err := c.Decide(context.Background(), &correlate.Message{})
	require.NoError(t, err)
	assert.False(t, d.Found())
	assert.True(t, d.Track(), "a track-only step asks for tracking even without a record")
	assert.Contains(t, d.String(), "track without record")
}

func TestRecordAndMethod(t *testing.T) {
	r, err := correlate.ParseRecord("incident:CAS-01042")
	require.NoError(t, err)
	assert.Equal(t, correlate.Record{Type: "incident", ID: "CAS-01042"}, r)
	r, err = correlate.ParseRecord("ext:a:b")
	require.NoError(t, err)
	assert.Equal(t, "a:b", r.ID, "ids may contain colons")
	for _, bad := range []string{"nocolon", ":id", "type:", "a b:c"} {
		_, err := correlate.ParseRecord(bad)
		assert.ErrorIs(t, err, correlate.ErrBadRecord, bad)
	}
	zero, err := correlate.ParseRecord("")
	require.NoError(t, err)
	assert.True(t, zero.IsZero())
	b, _ := r.MarshalText()
	var back correlate.Record
	require.NoError(t, back.UnmarshalText(b))
	assert.Equal(t, r, back)

	for m, want := range map[correlate.Method]string{
		correlate.None: "None", correlate.Skipped: "Skipped", correlate.XHeader: "XHeader",
		correlate.InReplyTo: "InReplyTo", correlate.TrackingToken: "TrackingToken",
		correlate.ConversationIndex: "ConversationIndex", correlate.SmartMatching: "SmartMatching",
		correlate.CustomCorrelation: "CustomCorrelation", correlate.FolderTracking: "FolderTracking",
		correlate.Method(42): "Method(42)",
	} {
		assert.Equal(t, want, m.String())
		if m != 42 {
			got, ok := correlate.ParseMethod(want)
			assert.True(t, ok)
			assert.Equal(t, m, got)
		}
	}
	assert.Equal(t, 3, correlate.InReplyTo.DynamicsCode(), "Dynamics documents 3 = InReplyTo")
	assert.Equal(t, 0, correlate.FolderTracking.DynamicsCode(), "Dynamics stores None for folder tracking")
}

// TestChainCheckEvidenceInPlace checks what Chain documents: Check may
// extend the strategy's Evidence in place, the Step keeps the strategy's
// own Evidence, and an append to either never shows in the other.
func TestChainCheckEvidenceInPlace(t *testing.T) {
	rec := correlate.Record{Type: "incident", ID: "1"}
	strategy := correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		ev := make([]correlate.Evidence, 1, 4) // room left, as the token strategy leaves it
		ev[0] = correlate.Evidence{Field: "Subject", Value: "CRM:1", Note: "names tracked email 1"}
		return correlate.Match{Record: rec, Method: correlate.TrackingToken, Confidence: correlate.High, Evidence: ev}, nil
	})
	c := correlate.Chain{
		Correlators: []correlate.Correlator{correlate.Named("token", strategy)},
		Check: func(_ context.Context, _ *correlate.Message, mt correlate.Match) (correlate.Match, string, error) {
			mt.Evidence = append(mt.Evidence, correlate.Evidence{Field: "From", Note: "took part"})
			return mt, "", nil
		},
	}
	d, err := c.Decide(context.Background(), &correlate.Message{})
	require.NoError(t, err)
	require.Len(t, d.Steps, 1)
	assert.Len(t, d.Match.Evidence, 2, "the winner carries the check's evidence")
	assert.Len(t, d.Steps[0].Match.Evidence, 1, "the step keeps the strategy's own")

	d.Steps[0].Match.Evidence = append(d.Steps[0].Match.Evidence, correlate.Evidence{Field: "x"})
	assert.Equal(t, "From", d.Match.Evidence[1].Field, "an append to the step's Evidence does not overwrite the check's")
	d.Match.Evidence = append(d.Match.Evidence, correlate.Evidence{Field: "y"})
	assert.Equal(t, "x", d.Steps[0].Match.Evidence[1].Field, "an append to the winner's Evidence does not show in the step's")
	assert.Len(t, d.Steps[0].Match.Evidence, 2)
}
