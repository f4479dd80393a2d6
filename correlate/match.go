package correlate

import (
	"strconv"
	"strings"
)

// Named points of the 0..1 confidence scale. Strategies may use any value in
// between; these make thresholds readable.
const (
	Certain = 1.0 // the email names the record itself (folder rule, signed token, own Message-ID)
	High    = 0.9 // an exact identifier that a person could have edited (plain token)
	Likely  = 0.7 // strong circumstantial evidence (conversation root, ancestor id)
	Weak    = 0.4 // similarity only
)

// epsilon is the tolerance when comparing a confidence against a threshold.
const epsilon = 1e-9

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
	// Strategy names the strategy that produced the match ("inreplyto").
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
	// Conflicts are the other records the strategy's own evidence named,
	// each as the Match it would have made (References naming tracked
	// emails of different records). A strategy that reports conflicts
	// lowers its Confidence and says by how much in its documentation. A
	// Chain copies the winner's Conflicts into Decision.Conflicts.
	Conflicts []Match
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
	// Refused says why the Chain refused Match although it named a record
	// (the sender policy, a deleted record, a merge loop); the chain went on
	// to the next strategy. A refused Match keeps its Record and Evidence,
	// for the audit, but never its Track flag.
	Refused string
}

// String returns "strategy: match", "strategy: match [refused: why]" or
// "strategy: error: …".
func (s Step) String() string {
	if s.Err != nil {
		return s.Strategy + ": error: " + s.Err.Error()
	}
	if s.Refused != "" {
		return s.Strategy + ": " + s.Match.String() + " [refused: " + s.Refused + "]"
	}
	return s.Strategy + ": " + s.Match.String()
}

// A Decision is the outcome of running a chain on one message: the winning
// Match (zero when none), every step taken, and the conflicts: the other
// records the winning strategy's own evidence named (its Match.Conflicts)
// and, in audit mode, the strategies after the winner that named a
// different record.
//
// The guardrails (package guard, a decorator around the chain) add what the
// message is (Classification), what the caller should do (Action), whether
// the message may be tracked (NoTrack) and how the record was reached
// (Merged, Closed). Their zero values describe an ordinary decision.
type Decision struct {
	Match Match
	// Steps are the strategies consulted, in order. A Step's Match.Evidence
	// and the Evidence of Match (or of a Conflict) that a Chain's Check
	// extended may share their first elements: read them, append to them,
	// but do not modify their elements in place.
	Steps     []Step
	Conflicts []Match

	// Classification is what the message is (normal, bulk, autoreply,
	// bounce, loop) and why; the zero value when no guard classified it.
	Classification Classification
	// OfOriginal reports that Match was found for the message a bounce
	// returned (Classification.Original), not for the bounce itself: the
	// bounce is about the record of the message that could not be delivered.
	OfOriginal bool
	// Action is what the caller should do besides filing: "" to proceed,
	// or one of package guard's actions: "open-new" or "reject" for a
	// closed record, "review" for conflicting strategies.
	Action string
	// Merged lists the records the winning strategy named before the
	// guard's record resolver followed merges, in order; the survivor is
	// Match.Record (or Closed, when the closed policy refused it).
	Merged []Record
	// Closed is the winning record when it is closed, under every closed
	// policy (Match still names it when the policy correlates anyway); zero
	// when it is open or the guard has no record resolver.
	Closed Record
	// NoTrack, when not empty, says why the message must not be tracked even
	// though Match may name a record: its class is untracked (an auto-reply,
	// a bounce, a loop), its record is closed and takes no follow-ups, or it
	// awaits review.
	NoTrack string
}

// Found reports whether the decision names a record.
func (d Decision) Found() bool { return d.Match.Found() }

// Class returns d.Classification.Class: "" for mail written by a person
// (or not classified), else "bulk", "autoreply", "bounce" or "loop".
func (d Decision) Class() string { return d.Classification.Class }

// Track reports whether the message should be filed: NoTrack is empty and a
// record was found, or a strategy asked for tracking without one (and was
// not refused).
func (d Decision) Track() bool {
	if d.NoTrack != "" {
		return false
	}
	if d.Match.Found() || d.Match.Track {
		return true
	}
	for _, s := range d.Steps {
		if s.Match.Track && s.Refused == "" {
			return true
		}
	}
	return false
}

// String returns the winner on the first line, then one indented line each
// for the class (unless normal), the action (unless proceed), merges, a
// closed record, a reason not to track, every step and every conflict.
func (d Decision) String() string {
	var b strings.Builder
	b.WriteString(d.Match.String())
	if c := d.Classification; c.Class != "" || c.Reason != "" {
		b.WriteString("\n  class ")
		b.WriteString(c.String())
		if d.OfOriginal && c.Original != nil {
			b.WriteString("; correlated through the returned message <")
			b.WriteString(c.Original.MessageID)
			b.WriteByte('>')
		}
	}
	if d.Action != "" {
		b.WriteString("\n  action ")
		b.WriteString(d.Action)
	}
	if len(d.Merged) > 0 {
		b.WriteString("\n  merged ")
		for _, r := range d.Merged {
			b.WriteString(r.String())
			b.WriteString(" → ")
		}
		if d.Match.Found() {
			b.WriteString(d.Match.Record.String())
		} else {
			b.WriteString(d.Closed.String())
		}
	}
	if !d.Closed.IsZero() {
		b.WriteString("\n  closed ")
		b.WriteString(d.Closed.String())
	}
	if d.NoTrack != "" {
		b.WriteString("\n  not tracked: ")
		b.WriteString(d.NoTrack)
	}
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
