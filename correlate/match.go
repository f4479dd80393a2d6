package correlate

import (
	"strconv"
	"strings"
)

// Named points of the 0..1 confidence scale. Strategies may use any value in
// between; these make thresholds readable.
const (
	Certain = 1.0  // the email names the record itself (folder rule, signed token, own Message-ID)
	High    = 0.9  // an exact identifier that a person could have edited (plain token)
	Likely  = 0.7  // strong circumstantial evidence (conversation root, ancestor id)
	Weak    = 0.4  // similarity only
	epsilon = 1e-9 // tolerance when comparing against a threshold
)

// Evidence is one fact a strategy relied on or rejected, for programs to
// read: which field, what value, and a short note ("names tracked email 42",
// "junk id dropped", "bad signature").
type Evidence struct {
	Field string `json:"field"`
	Value string `json:"value,omitempty"`
	Note  string `json:"note,omitempty"`
}

// String returns "field value: note".
func (e Evidence) String() string {
	var b strings.Builder
	b.WriteString(e.Field)
	if e.Value != "" {
		b.WriteByte(' ')
		b.WriteString(e.Value)
	}
	if e.Note != "" {
		b.WriteString(": ")
		b.WriteString(e.Note)
	}
	return b.String()
}

// A Match is one strategy's answer for one message. The zero Match means
// "no opinion".
//
// A Match names a Record when the strategy found one. CorrelatedWith is the
// tracked email it correlated with (whose record the message inherits) and
// Parent the tracked email the message directly replies to (set by the
// InReplyTo and ConversationIndex methods only, as Dynamics fills
// parentactivityid). Evidence is for programs, Reason for people; the
// wording of Reason may change between versions.
type Match struct {
	Record     Record
	Method     Method
	Confidence float64
	// Strategy names the strategy that produced the match ("header.InReplyTo").
	Strategy string
	// CorrelatedWith is the tracked email this message continues; nil when
	// the match did not come from a tracked email (a folder rule, a signed id).
	CorrelatedWith *Tracked
	// Parent is the tracked email this message replies to, when known.
	Parent *Tracked
	// SubjectChanged reports that the message's base subject differs from
	// the correlated email's (Dynamics' correlatedsubjectchanged).
	SubjectChanged bool
	// Track asks for the message to be tracked even when Record is zero: a
	// track-only folder rule files the email without choosing its record.
	Track bool
	// Reason is a one-line explanation for people.
	Reason   string
	Evidence []Evidence
}

// Found reports whether m names a record.
func (m Match) Found() bool { return !m.Record.IsZero() }

// String returns a one-line description:
//
//	incident:CAS-1 by InReplyTo (1.00): In-Reply-To names a tracked email
//	no record
func (m Match) String() string {
	var b strings.Builder
	if m.Found() {
		b.WriteString(m.Record.String())
		b.WriteString(" by ")
		b.WriteString(m.Method.String())
		b.WriteString(" (")
		b.WriteString(strconv.FormatFloat(m.Confidence, 'f', 2, 64))
		b.WriteByte(')')
	} else if m.Track {
		b.WriteString("track without record")
	} else {
		b.WriteString("no record")
	}
	if m.Reason != "" {
		b.WriteString(": ")
		b.WriteString(m.Reason)
	}
	return b.String()
}

// A Step records one strategy consulted by a [Chain]: what it answered, or
// the error it failed with.
type Step struct {
	Strategy string
	Match    Match
	Err      error
}

// String returns "strategy: match" or "strategy: error: …".
func (s Step) String() string {
	if s.Err != nil {
		return s.Strategy + ": error: " + s.Err.Error()
	}
	return s.Strategy + ": " + s.Match.String()
}

// A Decision is the outcome of running a chain on one message: the winning
// Match (zero when none), every step taken, and — in audit mode — the
// conflicts: strategies after the winner that named a different record.
type Decision struct {
	Match     Match
	Steps     []Step
	Conflicts []Match
}

// Found reports whether the decision names a record.
func (d Decision) Found() bool { return d.Match.Found() }

// Track reports whether the message should be filed: a record was found, or a
// strategy asked for tracking without one.
func (d Decision) Track() bool {
	if d.Match.Found() || d.Match.Track {
		return true
	}
	for _, s := range d.Steps {
		if s.Match.Track {
			return true
		}
	}
	return false
}

// String returns the winner on the first line, then one indented line per
// step and per conflict.
func (d Decision) String() string {
	var b strings.Builder
	b.WriteString(d.Match.String())
	for _, s := range d.Steps {
		b.WriteString("\n  step ")
		b.WriteString(s.String())
	}
	for _, c := range d.Conflicts {
		b.WriteString("\n  conflict ")
		b.WriteString(c.Strategy)
		b.WriteString(": ")
		b.WriteString(c.String())
	}
	return b.String()
}
