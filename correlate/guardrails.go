package correlate

import (
	"context"
	"strconv"
	"strings"
)

// A Class says what kind of email a message is, decided before correlation
// by a [Classifier] (and, for ping-pong, a [LoopDetector]). The zero Class is
// Normal.
//
// The class does not change which record a message is regarding; it changes
// what a caller does with it: an [Engine] does not track the classes in
// EngineOptions.Untracked (by default auto-replies, bounces and loops), so
// they never become correlation targets, and no class but Normal should be
// answered automatically (RFC 3834 §2).
type Class uint8

// The classes, from the most ordinary to the most suspicious. When several
// apply, a Classifier reports the last in this list: a bounce that also
// carries Auto-Submitted is a Bounce.
const (
	// Normal is mail written by a person (or nothing says otherwise).
	Normal Class = iota
	// Bulk is mail sent to many: Precedence bulk, junk or list, or a
	// mailing list's List-Id with List-Unsubscribe. A reply posted through
	// a list is still a person's reply, so Bulk is tracked by default.
	Bulk
	// AutoReply is mail a program wrote in answer to, or instead of, a
	// person: RFC 3834 Auto-Submitted other than "no", X-Autoreply,
	// X-Autorespond, Precedence auto_reply, an out-of-office subject.
	AutoReply
	// Bounce is a delivery status notification or another non-delivery
	// report: the mail system returning a message it could not deliver.
	Bounce
	// Loop is mail that came back to its sender (it carries this system's
	// own loop marker) or traffic that a LoopDetector flags as ping-pong.
	Loop
)

var classNames = [...]string{Normal: "normal", Bulk: "bulk", AutoReply: "autoreply", Bounce: "bounce", Loop: "loop"}

// String returns "normal", "bulk", "autoreply", "bounce", "loop", or
// "class(n)" for other values.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ParseClass returns the Class named s (as printed by String, case
// insensitive; "auto-reply" is accepted too) and false when s names none.
func ParseClass(s string) (Class, bool) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "auto-reply") {
		return AutoReply, true
	}
	for i, n := range classNames {
		if strings.EqualFold(n, s) {
			return Class(i), true
		}
	}
	return Normal, false
}

// MarshalText implements [encoding.TextMarshaler] with [Class.String].
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseClass].
func (c *Class) UnmarshalText(b []byte) error {
	got, ok := ParseClass(string(b))
	if !ok {
		return &classError{string(b)}
	}
	*c = got
	return nil
}

type classError struct{ s string }

func (e *classError) Error() string { return "correlate: unknown class " + strconv.Quote(e.s) }

// DefaultUntracked returns the classes an [Engine] correlates but does not
// track when EngineOptions.Untracked is nil: AutoReply, Bounce and Loop.
// Their messages are about a record, but they are not a person's reply,
// and tracked they would become correlation targets themselves: the next
// out-of-office notice would correlate with the previous one. The function
// returns a new slice on each call.
func DefaultUntracked() []Class { return []Class{AutoReply, Bounce, Loop} }

// A Classification is a [Classifier]'s verdict on one message. The zero
// Classification is Normal without evidence.
type Classification struct {
	Class Class
	// Reason is a one-line explanation for people; its wording may change.
	Reason string
	// Evidence lists the header fields and body parts the verdict rests on.
	Evidence []Evidence
	// NoAutoResponse reports that the message must not be answered
	// automatically (no acknowledgement, no out-of-office notice): it is not
	// Normal, or it asks so itself (X-Auto-Response-Suppress).
	NoAutoResponse bool
	// Original is the message a Bounce returned, read from its
	// message/rfc822 or text/rfc822-headers part (headers only); nil when
	// the bounce carries none or its body was not kept. An Engine correlates
	// it in place of the bounce, so the bounce lands on the record of the
	// message that failed.
	Original *Message
}

// String returns "class: reason", or "normal".
func (c Classification) String() string {
	if c.Reason == "" {
		return c.Class.String()
	}
	return c.Class.String() + ": " + c.Reason
}

// A Classifier decides the [Class] of a message before it is correlated.
// Classify must be pure (no I/O, no state), must not modify m, must never
// panic on hostile input and must be safe for concurrent use.
type Classifier interface {
	Classify(m *Message) Classification
}

// ClassifierFunc is an adapter to allow the use of ordinary functions as
// Classifiers.
type ClassifierFunc func(m *Message) Classification

// Classify calls f(m).
func (f ClassifierFunc) Classify(m *Message) Classification { return f(m) }

// A LoopDetector watches the email an [Engine] correlates and flags
// ping-pong: two systems answering each other, a sender whose mail floods
// one record. Unlike a Classifier it keeps state.
//
// The Engine calls Observe once per Correlate, after the chain decided, for
// every message that is not already a Bounce or a Loop, with the record
// found (the zero Record when none). Observe returns a Classification of
// class Loop, with Evidence, when the traffic looks like a loop, and the
// zero Classification otherwise. It must be safe for concurrent use, and
// should count a message correlated twice (the same Message-ID) once, since
// callers retry.
type LoopDetector interface {
	Observe(m *Message, r Record) Classification
}

// A SenderPolicy decides whether the sender of m may claim the conversation
// of t, the tracked email a match correlated with. A token or a header is a
// claim: anybody can paste a token into a subject (Zammad's open hijack bug
// #5064). A [Chain] with a SenderPolicy refuses the matches it rejects and
// goes on to the next strategy. A SenderPolicy must be safe for concurrent
// use; it may do I/O (an address book), and should refuse when that fails.
//
// It returns whether it accepts, and Evidence saying why, for programs and
// people alike: Field "From", Value the sender it judged, Note how the
// sender stands — "took part: a participant of tracked email 7", "did not
// take part: …". The Chain adds it to the Match's Evidence and its Note to
// the Reason of an accepted Match, or to the refusal (Step.Refused).
//
// token.SenderPolicy is this type, so the same functions
// (guard.ParticipantPolicy, party's Resolver.SenderPolicy) serve both the
// Chain and the token strategy.
type SenderPolicy func(ctx context.Context, m *Message, t Tracked) (Evidence, bool)

// DefaultPolicyMethods returns the methods a Chain's SenderPolicy applies to
// when Chain.PolicyMethods is nil: TrackingToken only. A token is visible
// and copyable; a Message-ID or a conversation index is not shown by mail
// programs, so a message naming one was written by someone who received the
// email, a forwarded colleague or a new Cc included, and refusing those
// would lose real replies (see the package documentation, "Guardrails").
// The function returns a new slice on each call.
func DefaultPolicyMethods() []Method { return []Method{TrackingToken} }

// A ConflictPolicy says what a [Chain] does when strategies name different
// records.
type ConflictPolicy uint8

const (
	// ConflictPrecedence lets the winner stand; in audit mode the other
	// records are reported in Decision.Conflicts.
	ConflictPrecedence ConflictPolicy = iota
	// ConflictReview decides no record when a strategy after the winner
	// names another record with enough confidence (>= MinConfidence): the
	// Decision's Action is Review, for a person to decide. It implies audit
	// mode, since conflicts are only seen when every strategy is consulted.
	ConflictReview
)

// String returns "precedence" or "review".
func (p ConflictPolicy) String() string {
	switch p {
	case ConflictPrecedence:
		return "precedence"
	case ConflictReview:
		return "review"
	}
	return "conflictpolicy(" + strconv.Itoa(int(p)) + ")"
}

// A ClosedPolicy says what a [Chain] does when the winning record is closed
// (OTRS and Zammad offer the same three choices per queue or group).
type ClosedPolicy uint8

const (
	// ClosedCorrelate correlates with the closed record anyway; the
	// Decision names it in Closed so the caller can reopen it.
	ClosedCorrelate ClosedPolicy = iota
	// ClosedNew decides no record and Action OpenNew: the caller opens a new
	// record (and should strip the old tracking token from the subject, as
	// OTRS does, so later replies do not find the closed record again).
	ClosedNew
	// ClosedReject decides no record and Action Reject: follow-ups to closed
	// records are refused.
	ClosedReject
)

// String returns "correlate", "new" or "reject".
func (p ClosedPolicy) String() string {
	switch p {
	case ClosedCorrelate:
		return "correlate"
	case ClosedNew:
		return "new"
	case ClosedReject:
		return "reject"
	}
	return "closedpolicy(" + strconv.Itoa(int(p)) + ")"
}

// An Action tells the caller what to do with a message besides filing it.
type Action uint8

const (
	// Proceed: file the message under Decision.Match.Record when it names
	// one (subject to Decision.Track), else handle it as new mail.
	Proceed Action = iota
	// OpenNew: the record found is closed and the ClosedPolicy is ClosedNew;
	// open a new record for the message.
	OpenNew
	// Reject: the record found is closed and the ClosedPolicy is
	// ClosedReject; neither file the message nor open a record.
	Reject
	// Review: strategies named different records and the ConflictPolicy is
	// ConflictReview; a person decides (Decision.Conflicts lists the
	// candidates, the would-be winner first).
	Review
)

// String returns "proceed", "open-new", "reject" or "review".
func (a Action) String() string {
	switch a {
	case Proceed:
		return "proceed"
	case OpenNew:
		return "open-new"
	case Reject:
		return "reject"
	case Review:
		return "review"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// A RecordState is what a [RecordResolver] knows about a record. The zero
// RecordState is an open record that exists.
type RecordState struct {
	// MergedInto is the record this one was merged into; zero when it was
	// not merged. The survivor may itself have been merged again.
	MergedInto Record
	// Closed reports a closed record (resolved, cancelled, won or lost).
	Closed bool
	// Deleted reports a record that no longer exists.
	Deleted bool
}

// A RecordResolver reports the state of CRM records, so a [Chain] can follow
// merged records to their survivor and apply its ClosedPolicy. Resolve
// returns an error only when it cannot tell (the CRM is unreachable, ctx is
// done); a record it does not know is Deleted. It must be safe for
// concurrent use.
type RecordResolver interface {
	Resolve(ctx context.Context, r Record) (RecordState, error)
}

// ResolverFunc is an adapter to allow the use of ordinary functions as
// RecordResolvers.
type ResolverFunc func(ctx context.Context, r Record) (RecordState, error)

// Resolve calls f(ctx, r).
func (f ResolverFunc) Resolve(ctx context.Context, r Record) (RecordState, error) { return f(ctx, r) }

// DefaultMaxMergeHops is how many merges a Chain follows from the record a
// strategy named when Chain.MaxMergeHops is zero (KIX follows up to 10).
const DefaultMaxMergeHops = 10
