package correlate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A Correlator decides which record an email is regarding.
//
// Correlate returns the zero Match and a nil error when it has no opinion. A
// non-nil error means it could not decide (store unavailable, ctx done),
// never "no match"; malformed or hostile mail is an abstention with Evidence,
// not an error. Correlate must not modify m and must be safe for concurrent
// use.
type Correlator interface {
	Correlate(ctx context.Context, m *Message) (Match, error)
}

// Func is an adapter to allow the use of ordinary functions as Correlators.
type Func func(ctx context.Context, m *Message) (Match, error)

// Correlate calls f(ctx, m).
func (f Func) Correlate(ctx context.Context, m *Message) (Match, error) { return f(ctx, m) }

// Named returns a Correlator that behaves as c and reports name in Steps and
// in Match.Strategy.
func Named(name string, c Correlator) Correlator { return named{name, c} }

type named struct {
	name string
	c    Correlator
}

func (n named) Correlate(ctx context.Context, m *Message) (Match, error) {
	return n.c.Correlate(ctx, m)
}
func (n named) String() string { return n.name }

// Unwrap returns the wrapped Correlator.
func (n named) Unwrap() Correlator { return n.c }

// NameOf returns the name a Chain reports for c: its String method when it
// has one, else its Go type.
func NameOf(c Correlator) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", c)
}

// A StrategyError reports the strategy that failed in a [Chain].
type StrategyError struct {
	Strategy string
	Err      error
}

func (e *StrategyError) Error() string {
	return "correlate: strategy " + e.Strategy + ": " + e.Err.Error()
}

func (e *StrategyError) Unwrap() error { return e.Err }

// A Chain consults its Correlators in order; earlier ones take precedence.
//
// The first Match that names a record with Confidence >= MinConfidence wins.
// Matches below the threshold are kept in the Decision's Steps as
// suggestions. If a Correlator fails before a winner is found, the Chain stops
// and returns the steps so far with a *[StrategyError]: falling through to a
// weaker strategy could file the email under the wrong record.
//
// In Audit mode the Chain keeps consulting the Correlators after the winner
// and reports every Match that names a different record as a conflict (a
// forged token, an edited subject, a forward); a failure after the winner is
// recorded in its Step but does not fail the Decision. In every mode the
// winner's own conflicts (Match.Conflicts: other records its evidence
// named) are reported in Decision.Conflicts, first.
//
// # Guardrails
//
// The optional fields below check every Match that names a record (or asks
// for tracking), in this order, before it can win or conflict:
//
//  1. SenderPolicy, for the methods in PolicyMethods (by default
//     TrackingToken only), when the Match correlated with a tracked email:
//     a refused Match is recorded in its Step (Step.Refused) and the chain
//     goes on to the next strategy. The policy's Evidence (who the sender
//     is to the conversation) is added to the Match, and its Note to the
//     Reason of an accepted Match or to the refusal. A Match that names no
//     tracked email (a folder rule, a signed Message-ID whose email is not
//     stored) is not a claim about a conversation and is not checked.
//  2. Resolver: merged records are followed to their survivor, at most
//     MaxMergeHops merges; a deleted record, a merge loop or a longer chain
//     refuses the Match like the policy does.
//
// Then, once the winner is known:
//
//  3. OnConflict: under ConflictReview (which implies Audit) a later Match
//     naming another record with Confidence >= MinConfidence turns the
//     Decision into a review: no record, Action Review, Conflicts listing
//     every candidate, the would-be winner first.
//  4. OnClosed, when the Resolver reports the winner closed: ClosedCorrelate
//     keeps it (Decision.Closed names it), ClosedNew and ClosedReject decide
//     no record with Action OpenNew or Reject.
//
// When every Match was refused, the Decision's Match is empty but its Reason
// says what was refused and why. A Resolver failure is handled like a
// strategy failure.
//
// A Chain is itself a Correlator, so chains nest; set the guardrails on the
// outermost chain. The zero Chain matches nothing. A Chain is safe for
// concurrent use if its Correlators, SenderPolicy and Resolver are; do not
// modify it after first use.
type Chain struct {
	Correlators   []Correlator
	MinConfidence float64
	Audit         bool

	// SenderPolicy, when set, must accept the sender of every Match whose
	// Method is in PolicyMethods and that correlated with a tracked email.
	SenderPolicy SenderPolicy
	// PolicyMethods are the methods SenderPolicy applies to; nil means
	// DefaultPolicyMethods (TrackingToken).
	PolicyMethods []Method
	// OnConflict is what happens when strategies name different records;
	// the zero value is ConflictPrecedence.
	OnConflict ConflictPolicy
	// Resolver, when set, reports record states: merges are followed and
	// OnClosed applies.
	Resolver RecordResolver
	// OnClosed is what happens when the winning record is closed; the zero
	// value is ClosedCorrelate.
	OnClosed ClosedPolicy
	// MaxMergeHops bounds the merges followed from one record; 0 means
	// DefaultMaxMergeHops (10).
	MaxMergeHops int
}

// Correlate returns the winning Match of [Chain.Decide].
func (c *Chain) Correlate(ctx context.Context, m *Message) (Match, error) {
	d, err := c.Decide(ctx, m)
	return d.Match, err
}

// String returns "chain".
func (c *Chain) String() string { return "chain" }

// Decide runs the chain on m and returns the whole Decision.
func (c *Chain) Decide(ctx context.Context, m *Message) (Decision, error) {
	// The steps are gathered on the stack and copied once, at their size.
	var buf [8]Step
	var d Decision
	steps, err := c.decide(ctx, m, &d, buf[:0])
	d.Steps = make([]Step, len(steps))
	copy(d.Steps, steps)
	return d, err
}

// decide is Decide, with the steps appended to steps and returned apart
// from d.
func (c *Chain) decide(ctx context.Context, m *Message, d *Decision, steps []Step) ([]Step, error) {
	audit := c.Audit || c.OnConflict == ConflictReview
	won := false
	var win checked
	refused := -1 // the first refused step
	for _, cr := range c.Correlators {
		if err := ctx.Err(); err != nil {
			if won {
				break
			}
			return steps, err
		}
		name := NameOf(cr)
		got, err := cr.Correlate(ctx, m)
		if got.Strategy == "" && (got.Found() || got.Track || len(got.Evidence) > 0) {
			got.Strategy = name
		}
		steps = append(steps, Step{Strategy: name, Match: got, Err: err})
		step := &steps[len(steps)-1]
		var ck checked
		if err == nil && (got.Found() || got.Track) && c.guards(&got) {
			ck, err = c.check(ctx, m, got)
			step.Err = err
			if ck.refused != "" {
				step.Refused = ck.refused
				step.Match = ck.match // with the policy's evidence
				step.Match.Track = false
				if refused < 0 {
					refused = len(steps) - 1
				}
			}
			got = ck.match
		}
		if err != nil {
			if won {
				continue
			}
			return steps, &StrategyError{Strategy: name, Err: err}
		}
		if step.Refused != "" {
			continue
		}
		if won {
			if got.Found() && got.Record != d.Match.Record {
				d.Conflicts = append(d.Conflicts, got)
			}
			continue
		}
		if got.Found() && got.Confidence+epsilon >= c.MinConfidence {
			d.Match = got
			for _, x := range got.Conflicts {
				if x.Strategy == "" {
					x.Strategy = name
				}
				d.Conflicts = append(d.Conflicts, x)
			}
			win = ck
			won = true
			if !audit {
				break
			}
		}
	}
	if !won {
		if refused >= 0 && d.Match.Reason == "" {
			s := &steps[refused]
			d.Match.Reason = s.Strategy + " match refused: " + s.Refused
		}
		return steps, nil
	}
	d.Merged = win.merged
	if c.OnConflict == ConflictReview && c.review(d) {
		return steps, nil
	}
	if win.state.Closed {
		c.closed(d)
	}
	return steps, nil
}

// guards reports whether a guardrail applies to mt: the sender policy (for
// its methods, when mt names a tracked email) or the record resolver (when
// mt names a record). A Match no guardrail applies to passes unchanged.
func (c *Chain) guards(mt *Match) bool {
	return c.SenderPolicy != nil && mt.CorrelatedWith != nil && c.policyApplies(mt.Method) ||
		c.Resolver != nil && mt.Found()
}

// checked is the outcome of the guardrails for one Match.
type checked struct {
	match   Match  // the Match, with its record resolved
	refused string // why it was refused, "" when accepted
	state   RecordState
	merged  []Record
}

// check applies the sender policy and the record resolver to mt.
func (c *Chain) check(ctx context.Context, m *Message, mt Match) (checked, error) {
	ck := checked{match: mt}
	if c.SenderPolicy != nil && mt.CorrelatedWith != nil && c.policyApplies(mt.Method) {
		ev, ok := c.SenderPolicy(ctx, m, *mt.CorrelatedWith)
		if ev != (Evidence{}) {
			mt.Evidence = append(slices.Clip(mt.Evidence), ev)
			ck.match = mt
		}
		if !ok {
			ck.refused = refusal(m, mt, ev)
			return ck, nil
		}
		if ev.Note != "" {
			if ev.Value == "" { // one concatenation, one allocation
				mt.Reason = mt.Reason + "; sender " + ev.Note
			} else {
				mt.Reason = mt.Reason + "; sender " + ev.Value + " " + ev.Note
			}
			ck.match = mt
		}
	}
	if c.Resolver == nil || !mt.Found() {
		return ck, nil
	}
	max := c.MaxMergeHops
	if max <= 0 {
		max = DefaultMaxMergeHops
	}
	rec := mt.Record
	for {
		st, err := c.Resolver.Resolve(ctx, rec)
		if err != nil {
			return ck, fmt.Errorf("correlate: resolve %s: %w", rec, err)
		}
		if st.Deleted {
			ck.refused = "record " + rec.String() + " no longer exists"
			return ck, nil
		}
		next := st.MergedInto
		if next.IsZero() || next == rec {
			ck.state = st
			break
		}
		if next == mt.Record || slices.Contains(ck.merged, next) {
			ck.refused = "merge loop: " + mergePath(append(ck.merged, rec, next))
			return ck, nil
		}
		if len(ck.merged) >= max {
			ck.refused = "record " + mt.Record.String() + " was merged more than " + strconv.Itoa(max) + " times"
			return ck, nil
		}
		ck.merged = append(ck.merged, rec)
		rec = next
	}
	if len(ck.merged) > 0 {
		mt.Evidence = slices.Clip(mt.Evidence)
		for i, r := range ck.merged {
			into := rec
			if i+1 < len(ck.merged) {
				into = ck.merged[i+1]
			}
			mt.Evidence = append(mt.Evidence, Evidence{Field: "record", Value: r.String(), Note: "merged into " + into.String()})
		}
		mt.Reason += " (" + mt.Record.String() + " merged into " + rec.String() + ")"
		mt.Record = rec
		ck.match = mt
	}
	return ck, nil
}

func (c *Chain) policyApplies(m Method) bool {
	if c.PolicyMethods == nil {
		return m == TrackingToken
	}
	return slices.Contains(c.PolicyMethods, m)
}

// refusal explains a sender policy refusal, with the policy's evidence ev
// when it gave some.
func refusal(m *Message, mt Match, ev Evidence) string {
	id := strconv.FormatInt(mt.CorrelatedWith.ID, 10)
	what := " (" + mt.Record.String() + ", " + mt.Method.String() + ")"
	if ev.Note != "" {
		return "sender policy: " + standing(ev) + what
	}
	who := "the message names no sender"
	if s := m.SenderAddress(); s != "" {
		who = s + " did not take part"
	}
	return "sender policy: " + who + " in tracked email " + id + what
}

// standing renders a sender policy's evidence as "sender note".
func standing(ev Evidence) string {
	if ev.Value == "" {
		return ev.Note
	}
	return ev.Value + " " + ev.Note
}

func mergePath(rs []Record) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(" → ")
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// review turns d into a review when a conflict is confident enough, and
// reports whether it did.
func (c *Chain) review(d *Decision) bool {
	var strong *Match
	for i := range d.Conflicts {
		if d.Conflicts[i].Confidence+epsilon >= c.MinConfidence {
			strong = &d.Conflicts[i]
			break
		}
	}
	if strong == nil {
		return false
	}
	win := d.Match
	reason := "strategies disagree: " + win.Strategy + " names " + win.Record.String() + ", " +
		strong.Strategy + " names " + strong.Record.String() + "; a person must review (ConflictReview)"
	if strong.Strategy == win.Strategy {
		reason = "the evidence of " + win.Strategy + " disagrees: it names " + win.Record.String() + " and " +
			strong.Record.String() + "; a person must review (ConflictReview)"
	}
	d.Conflicts = append([]Match{win}, d.Conflicts...)
	d.Match = Match{Reason: reason}
	d.Action = Review
	d.NoTrack = "awaiting review: strategies name different records"
	return true
}

// closed applies OnClosed to a winner whose record is closed.
func (c *Chain) closed(d *Decision) {
	rec := d.Match.Record
	d.Closed = rec
	var reason string
	switch c.OnClosed {
	case ClosedNew:
		d.Action = OpenNew
		reason = "record " + rec.String() + " is closed: open a new record (ClosedNew)"
	case ClosedReject:
		d.Action = Reject
		reason = "record " + rec.String() + " is closed and takes no follow-ups (ClosedReject)"
	default:
		return
	}
	d.Match = Match{Reason: reason, Evidence: []Evidence{{Field: "record", Value: rec.String(), Note: "closed; named by " + d.Match.Strategy}}}
	d.NoTrack = reason
}
