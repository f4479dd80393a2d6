package correlate

import (
	"context"
	"fmt"
	"slices"
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

// A strategyError reports the strategy that failed in a [Chain]; the
// Decision's last Step names it too.
type strategyError struct {
	strategy string
	err      error
}

func (e *strategyError) Error() string {
	return "correlate: strategy " + e.strategy + ": " + e.err.Error()
}

func (e *strategyError) Unwrap() error { return e.err }

// A Chain consults its Correlators in order; earlier ones take precedence.
//
// The first Match that names a record with Confidence >= MinConfidence wins.
// Matches below the threshold are kept in the Decision's Steps as
// suggestions. If a Correlator fails before a winner is found, the Chain stops
// and returns the steps so far with an error naming the strategy: falling
// through to a weaker strategy could file the email under the wrong record.
//
// In Audit mode the Chain keeps consulting the Correlators after the winner
// and reports every Match that names a different record as a conflict (a
// forged token, an edited subject, a forward); a failure after the winner is
// recorded in its Step but does not fail the Decision. In every mode the
// winner's own conflicts (Match.Conflicts: other records its evidence
// named) are reported in Decision.Conflicts, first.
//
// Check, when set, vets every Match that names a record or asks for
// tracking before it can win or conflict: package guard's sender policy and
// record states use it. It returns the Match to use instead (with evidence
// added, a merged record followed) and, when the Match must not count, why
// not: the refusal is recorded in the Step (Step.Refused) and the chain goes
// on to the next strategy. When every Match was refused, the Decision's
// Match is empty but its Reason says what was refused and why. A Check
// failure is handled like a strategy failure.
//
// The Match a Correlator returns is the Chain's, Evidence included: Check
// may append to mt.Evidence in place, so a Correlator must not return a
// slice with spare capacity that it keeps or shares (slices.Clip it). The
// Step keeps the strategy's own Evidence, clipped, and the Match Check
// returned may extend the same array: the two share their first elements
// (see [Decision]).
//
// A Chain is itself a Correlator, so chains nest. The zero Chain matches
// nothing. A Chain is safe for concurrent use if its Correlators and Check
// are; do not modify it after first use.
type Chain struct {
	Correlators   []Correlator
	MinConfidence float64
	Audit         bool
	// Check, when set, vets each Match that names a record or asks for
	// tracking; see the type's documentation.
	Check func(ctx context.Context, m *Message, mt Match) (Match, string, error)
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
	won := false
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
		// Clipped, so that an append to the Step's Evidence never writes
		// where Check's append to got.Evidence put its own.
		step.Match.Evidence = slices.Clip(step.Match.Evidence)
		if err == nil && c.Check != nil && (got.Found() || got.Track) {
			var why string
			got, why, err = c.Check(ctx, m, got)
			step.Err = err
			if why != "" {
				step.Refused = why
				step.Match = got // with the check's evidence
				step.Match.Track = false
				if refused < 0 {
					refused = len(steps) - 1
				}
			}
		}
		if err != nil {
			if won {
				continue
			}
			return steps, &strategyError{strategy: name, err: err}
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
			won = true
			if !c.Audit {
				break
			}
		}
	}
	if !won && refused >= 0 && d.Match.Reason == "" {
		s := &steps[refused]
		d.Match.Reason = s.Strategy + " match refused: " + s.Refused
	}
	return steps, nil
}
