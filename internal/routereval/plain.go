package routereval

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// KindPlainSubject is the index key kind of the plain rule: the base
// subject's comparison form, subject.Key.
const KindPlainSubject = "plain.s"

// PlainMethod is the name of the plain rule's method in a Report's
// ByMethod (its matches have method CustomCorrelation).
const PlainMethod = "PlainSubjectRule"

// plainStrategy is the plain rule's strategy name.
const plainStrategy = "plain"

// plainMaxRead bounds the tracked emails the plain rule reads per message;
// a base subject on more of them is treated as naming several records.
const plainMaxRead = 1000

// A PlainRule is the baseline smart matching is measured against: "file a
// reply under the record when its base subject names exactly one record
// among the filed emails", whether the message's subject has a reply prefix
// or not. The base subject is compared without tracking tokens (those are
// for the token strategy, ahead of it in the chain), folded. Participants,
// dates and the window play no part. Its matches have method CustomCorrelation. It is
// a correlate.Indexer: an Engine that has it in its chain indexes each
// tracked email under its base subject.
type PlainRule struct {
	idx correlate.Lookuper
}

var (
	_ correlate.Correlator = (*PlainRule)(nil)
	_ correlate.Indexer    = (*PlainRule)(nil)
)

// NewPlainRule returns the plain rule over st.
func NewPlainRule(st correlate.Store) *PlainRule { return &PlainRule{idx: st} }

// String returns "plain".
func (p *PlainRule) String() string { return plainStrategy }

// Index implements correlate.Indexer: one KindPlainSubject key.
func (p *PlainRule) Index(m *correlate.Message, _ *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	if k := plainKey(m.Subject); k != "" {
		dst = append(dst, correlate.Key{Kind: KindPlainSubject, Value: k})
	}
	return dst
}

// Correlate files m under the one record its base subject names, if it is
// a reply or forward.
func (p *PlainRule) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	if m == nil {
		return correlate.Match{}, nil
	}
	k := plainKey(m.Subject)
	if k == "" {
		return correlate.Match{Reason: "no base subject"}, nil
	}
	ts, err := p.idx.Lookup(ctx, correlate.Key{Kind: KindPlainSubject, Value: k}, correlate.Query{Limit: plainMaxRead})
	if err != nil {
		return correlate.Match{}, fmt.Errorf("routereval: plain rule: %w", err)
	}
	var with *correlate.Tracked
	for i := range ts {
		t := &ts[i]
		if t.Record.IsZero() || m.MessageID != "" && t.MessageID == m.MessageID {
			continue
		}
		if with != nil && t.Record != with.Record {
			return correlate.Match{Strategy: p.String(), Reason: "base subject names two records: " + with.Record.String() + " and " + t.Record.String()}, nil
		}
		if with == nil {
			with = t
		}
	}
	if with == nil {
		return correlate.Match{Reason: "no filed email with this base subject"}, nil
	}
	if len(ts) == plainMaxRead {
		return correlate.Match{Strategy: p.String(), Reason: "base subject on too many filed emails"}, nil
	}
	return correlate.Match{
		Record:         with.Record,
		Method:         correlate.CustomCorrelation,
		Confidence:     correlate.Weak,
		Strategy:       p.String(),
		CorrelatedWith: with,
		Reason:         "the base subject names one record among the filed emails",
	}, nil
}

// plainKey returns the base subject of s without tracking tokens, folded
// (subject.Fold), with white space collapsed.
func plainKey(s string) string {
	base, info := subject.Base(s)
	for _, t := range info.Tokens {
		base = strings.ReplaceAll(base, t, " ")
	}
	return strings.Join(strings.Fields(subject.Fold(base)), " ")
}
