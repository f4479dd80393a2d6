package correlate

import (
	"context"
	"fmt"
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
// recorded in its Step but does not fail the Decision.
//
// A Chain is itself a Correlator, so chains nest. The zero Chain matches
// nothing. A Chain is safe for concurrent use if its Correlators are; do not
// modify it after first use.
type Chain struct {
	Correlators   []Correlator
	MinConfidence float64
	Audit         bool
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
	var d Decision
	d.Steps = make([]Step, 0, len(c.Correlators))
	won := false
	for _, cr := range c.Correlators {
		if err := ctx.Err(); err != nil {
			if won {
				return d, nil
			}
			return d, err
		}
		name := NameOf(cr)
		got, err := cr.Correlate(ctx, m)
		if got.Strategy == "" && (got.Found() || got.Track || len(got.Evidence) > 0) {
			got.Strategy = name
		}
		d.Steps = append(d.Steps, Step{Strategy: name, Match: got, Err: err})
		if err != nil {
			if won {
				continue
			}
			return d, &StrategyError{Strategy: name, Err: err}
		}
		if won {
			if got.Found() && got.Record != d.Match.Record {
				d.Conflicts = append(d.Conflicts, got)
			}
			continue
		}
		if got.Found() && got.Confidence+epsilon >= c.MinConfidence {
			d.Match = got
			won = true
			if !c.Audit {
				break
			}
		}
	}
	return d, nil
}
