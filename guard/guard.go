package guard

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// The classes a Classifier reports in correlate.Classification.Class, from
// the most ordinary to the most suspicious. When several apply, a
// Classifier reports the last in this list: a bounce that also carries
// Auto-Submitted is a Bounce. Normal is the empty class, so the zero
// Classification is Normal; it prints as "normal".
const (
	// Normal is mail written by a person (or nothing says otherwise).
	Normal = ""
	// Bulk is mail sent to many: Precedence bulk, junk or list, or a
	// mailing list's List-Id with List-Unsubscribe. A reply posted through
	// a list is still a person's reply, so Bulk is tracked by default.
	Bulk = "bulk"
	// AutoReply is mail a program wrote in answer to, or instead of, a
	// person: RFC 3834 Auto-Submitted other than "no", X-Autoreply,
	// X-Autorespond, Precedence auto_reply, an out-of-office subject.
	AutoReply = "autoreply"
	// Bounce is a delivery status notification or another non-delivery
	// report: the mail system returning a message it could not deliver.
	Bounce = "bounce"
	// Loop is mail that came back to its sender (it carries this system's
	// own loop marker) or traffic that a LoopDetector flags as ping-pong.
	Loop = "loop"
)

var classNames = [...]string{Bulk, AutoReply, Bounce, Loop}

// ParseClass returns the class named s ("normal", "bulk", "autoreply",
// "bounce", "loop", case insensitive; "auto-reply" is accepted too) and
// false when s names none.
func ParseClass(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "auto-reply") {
		return AutoReply, true
	}
	if strings.EqualFold(s, "normal") {
		return Normal, true
	}
	for _, n := range classNames {
		if strings.EqualFold(n, s) {
			return n, true
		}
	}
	return "", false
}

// DefaultUntracked returns the classes a [Guard] correlates but does not
// track when Options.Untracked is nil: AutoReply, Bounce and Loop. Their
// messages are about a record, but they are not a person's reply, and
// tracked they would become correlation targets themselves: the next
// out-of-office notice would correlate with the previous one. The function
// returns a new slice on each call.
func DefaultUntracked() []string { return []string{AutoReply, Bounce, Loop} }

// ClassifierFunc is an adapter to allow the use of ordinary functions as
// the Classifier of [Options]. Classify must be pure (no I/O, no state),
// must not modify m, must never panic on hostile input and must be safe
// for concurrent use.
type ClassifierFunc func(m *correlate.Message) correlate.Classification

// Classify calls f(m).
func (f ClassifierFunc) Classify(m *correlate.Message) correlate.Classification { return f(m) }

// A LoopDetector watches the email a [Guard] correlates and flags
// ping-pong: two systems answering each other, a sender whose mail floods
// one record. Unlike a classifier it keeps state.
//
// The Guard calls Observe once per Decide, after the chain decided, for
// every message that is not already a Bounce or a Loop, with the record
// found (the zero Record when none). Observe returns a Classification of
// class Loop, with Evidence, when the traffic looks like a loop, and the
// zero Classification otherwise. It must be safe for concurrent use, and
// should count a message correlated twice (the same Message-ID) once, since
// callers retry.
type LoopDetector interface {
	Observe(m *correlate.Message, r correlate.Record) correlate.Classification
}

// A SenderPolicy decides whether the sender of m may claim the conversation
// of t, the tracked email a match correlated with. A token or a header is a
// claim: anybody can paste a token into a subject (Zammad's open hijack bug
// #5064). A [Guard] with a SenderPolicy refuses the matches it rejects and
// the chain goes on to the next strategy. A SenderPolicy must be safe for
// concurrent use; it may do I/O (an address book), and should refuse when
// that fails.
//
// It returns whether it accepts, and Evidence saying why, for programs and
// people alike: Field "From", Value the sender it judged, Note how the
// sender stands — "took part: a participant of tracked email 7", "did not
// take part: …". The Guard adds it to the Match's Evidence and its Note to
// the Reason of an accepted Match, or to the refusal (Step.Refused).
//
// token.Options.Policy takes the same functions ([ParticipantPolicy],
// party's Resolver.SenderPolicy), to try a subject's next token when the
// sender of the first is refused.
type SenderPolicy func(ctx context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool)

// DefaultPolicyMethods returns the methods a Guard's SenderPolicy applies to
// when Options.PolicyMethods is nil: TrackingToken only. A token is visible
// and copyable; a Message-ID or a conversation index is not shown by mail
// programs, so a message naming one was written by someone who received the
// email, a forwarded colleague or a new Cc included, and refusing those
// would lose real replies. The function returns a new slice on each call.
func DefaultPolicyMethods() []correlate.Method { return []correlate.Method{correlate.TrackingToken} }

// A ConflictPolicy says what a [Guard] does when strategies name different
// records.
type ConflictPolicy uint8

const (
	// ConflictPrecedence lets the winner stand; in audit mode the other
	// records are reported in Decision.Conflicts.
	ConflictPrecedence ConflictPolicy = iota
	// ConflictReview decides no record when a strategy after the winner
	// names another record with enough confidence (>= the chain's
	// MinConfidence): the Decision's Action is Review, for a person to
	// decide. It implies the chain's audit mode, since conflicts are only
	// seen when every strategy is consulted.
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

// A ClosedPolicy says what a [Guard] does when the winning record is closed
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

// The actions a Guard sets in correlate.Decision.Action: what the caller
// should do with a message besides filing it.
const (
	// Proceed (the empty Action): file the message under
	// Decision.Match.Record when it names one (subject to Decision.Track),
	// else handle it as new mail.
	Proceed = ""
	// OpenNew: the record found is closed and the ClosedPolicy is ClosedNew;
	// open a new record for the message.
	OpenNew = "open-new"
	// Reject: the record found is closed and the ClosedPolicy is
	// ClosedReject; neither file the message nor open a record.
	Reject = "reject"
	// Review: strategies named different records and the ConflictPolicy is
	// ConflictReview; a person decides (Decision.Conflicts lists the
	// candidates, the would-be winner first).
	Review = "review"
)

// A RecordState is what a [RecordResolver] knows about a record. The zero
// RecordState is an open record that exists.
type RecordState struct {
	// MergedInto is the record this one was merged into; zero when it was
	// not merged. The survivor may itself have been merged again.
	MergedInto correlate.Record
	// Closed reports a closed record (resolved, cancelled, won or lost).
	Closed bool
	// Deleted reports a record that no longer exists.
	Deleted bool
}

// A RecordResolver reports the state of CRM records, so a [Guard] can
// follow merged records to their survivor and apply its ClosedPolicy.
// Resolve returns an error only when it cannot tell (the CRM is
// unreachable, ctx is done); a record it does not know is Deleted. It must
// be safe for concurrent use.
type RecordResolver interface {
	Resolve(ctx context.Context, r correlate.Record) (RecordState, error)
}

// ResolverFunc is an adapter to allow the use of ordinary functions as
// RecordResolvers.
type ResolverFunc func(ctx context.Context, r correlate.Record) (RecordState, error)

// Resolve calls f(ctx, r).
func (f ResolverFunc) Resolve(ctx context.Context, r correlate.Record) (RecordState, error) {
	return f(ctx, r)
}

// DefaultMaxMergeHops is how many merges a Guard follows from the record a
// strategy named when Options.MaxMergeHops is zero (KIX follows up to 10).
const DefaultMaxMergeHops = 10

// A Guard is a decorator around a [correlate.Chain]: the guardrails.
//
// Before the chain runs, the Classifier (if any) classifies the message; a
// Bounce whose returned message could be read (Classification.Original)
// is correlated through that message — its own Message-ID is normally
// tracked — and Decision.OfOriginal says so; when the original names no
// record the bounce itself is correlated.
//
// While the chain runs, every Match that names a record (or asks for
// tracking) is checked, in this order, before it can win or conflict:
//
//  1. SenderPolicy, for the methods in PolicyMethods (by default
//     TrackingToken only), when the Match correlated with a tracked email:
//     a refused Match is recorded in its Step (Step.Refused) and the chain
//     goes on to the next strategy. The policy's Evidence (who the sender
//     is to the conversation) is added to the Match, and its Note to the
//     Reason of an accepted Match or to the refusal. A Match that names no
//     tracked email (a folder rule, a signed Message-ID whose email is not
//     stored) is not a claim about a conversation and is not checked.
//  2. Records: merged records are followed to their survivor, at most
//     MaxMergeHops merges; a deleted record, a merge loop or a longer chain
//     refuses the Match like the policy does.
//
// Then, once the winner is known:
//
//  3. OnConflict: under ConflictReview (which implies audit mode) a later
//     Match naming another record with Confidence >= MinConfidence turns
//     the Decision into a review: no record, Action Review, Conflicts
//     listing every candidate, the would-be winner first.
//  4. OnClosed, when Records reports the winner closed: ClosedCorrelate
//     keeps it (Decision.Closed names it), ClosedNew and ClosedReject decide
//     no record with Action OpenNew or Reject.
//  5. Loops observes every message that is not a Bounce or a Loop with the
//     record found; flagged ping-pong turns its class to Loop.
//  6. A message of an Untracked class gets Decision.NoTrack, so
//     Decision.Track reports false: it is correlated (the caller learns
//     which record it is about) but never filed, and never becomes a
//     correlation target itself.
//
// A Guard is a Correlator and returns whole Decisions (Decide), so
// correlate.NewEngine runs it in place of the chain. It is safe for
// concurrent use if its chain and hooks are.
type Guard struct {
	chain     correlate.Chain // a copy of the chain, with Check set
	o         Options
	untracked []string
}

// Wrap returns a Guard around chain with the guardrails of opts (nil means
// none: the Guard then decides as the chain does). The Guard keeps a copy
// of chain; do not modify chain afterwards. No default is filled in: the
// root package's New sets the Classifier, the rate window and the sender
// policy.
func Wrap(chain *correlate.Chain, opts *Options) *Guard {
	g := &Guard{}
	if chain != nil {
		g.chain = *chain
	}
	if opts != nil {
		g.o = *opts
	}
	g.untracked = g.o.Untracked
	if g.untracked == nil {
		g.untracked = DefaultUntracked()
	}
	if g.o.OnConflict == ConflictReview {
		g.chain.Audit = true
	}
	if g.o.SenderPolicy != nil || g.o.Records != nil {
		g.chain.Check = g.check
	}
	return g
}

// String returns "guard".
func (g *Guard) String() string { return "guard" }

// Unwrap returns the chain the Guard runs (a copy of the one given to Wrap).
func (g *Guard) Unwrap() correlate.Correlator { return &g.chain }

// Correlate returns the winning Match of [Guard.Decide].
func (g *Guard) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	d, err := g.Decide(ctx, m)
	return d.Match, err
}

// Decide classifies m, runs the chain with the guardrails and returns the
// whole Decision.
func (g *Guard) Decide(ctx context.Context, m *correlate.Message) (correlate.Decision, error) {
	if m == nil {
		return g.chain.Decide(ctx, m)
	}
	var cls correlate.Classification
	if g.o.Classifier != nil {
		cls = g.o.Classifier.Classify(m)
	}
	var d correlate.Decision
	var err error
	if cls.Class == Bounce && cls.Original != nil {
		d, err = g.decide(ctx, cls.Original)
		if err == nil && (d.Found() || d.Action != Proceed) {
			d.OfOriginal = true
		} else if err == nil {
			d, err = g.decide(ctx, m)
		}
	} else {
		d, err = g.decide(ctx, m)
	}
	d.Classification = cls
	if err != nil {
		return d, err
	}
	if g.o.Loops != nil && cls.Class != Bounce && cls.Class != Loop {
		if lc := g.o.Loops.Observe(m, d.Match.Record); lc.Class == Loop {
			lc.Evidence = append(slices.Clip(lc.Evidence), cls.Evidence...)
			lc.NoAutoResponse = true
			if cls.Class != Normal {
				lc.Reason += " (also " + cls.String() + ")"
			}
			d.Classification = lc
		}
	}
	if c := d.Classification; d.NoTrack == "" && slices.Contains(g.untracked, c.Class) {
		d.NoTrack = c.Name() + ": correlated but not tracked (guard.Options.Untracked)"
	}
	return d, nil
}

// decide runs the chain on m and applies the guardrails that act on its
// winner: merges, conflicts and closed records.
func (g *Guard) decide(ctx context.Context, m *correlate.Message) (correlate.Decision, error) {
	d, err := g.chain.Decide(ctx, m)
	if err != nil || !d.Found() {
		return d, err
	}
	if g.o.Records != nil {
		d.Merged = mergedOf(d.Match)
	}
	if g.o.OnConflict == ConflictReview && g.review(&d) {
		return d, nil
	}
	if g.o.Records == nil {
		return d, nil
	}
	st, err := g.o.Records.Resolve(ctx, d.Match.Record)
	if err != nil {
		return d, &resolveError{d.Match.Record, err}
	}
	if st.Closed {
		g.closed(&d)
	}
	return d, nil
}

type resolveError struct {
	r   correlate.Record
	err error
}

func (e *resolveError) Error() string { return "guard: resolve " + e.r.String() + ": " + e.err.Error() }
func (e *resolveError) Unwrap() error { return e.err }

// mergedOf returns the records check followed from the one the strategy
// named, read back from the Evidence it added to the Match.
func mergedOf(mt correlate.Match) []correlate.Record {
	var out []correlate.Record
	for _, ev := range mt.Evidence {
		if ev.Field != fieldRecord || !strings.HasPrefix(ev.Note, noteMerged) {
			continue
		}
		if r, err := correlate.ParseRecord(ev.Value); err == nil {
			out = append(out, r)
		}
	}
	return out
}

const (
	fieldRecord = "record"
	noteMerged  = "merged into "
)

func (g *Guard) policyApplies(m correlate.Method) bool {
	if g.o.PolicyMethods == nil {
		return m == correlate.TrackingToken
	}
	return slices.Contains(g.o.PolicyMethods, m)
}

// check is the chain's Check: the sender policy and the record resolver,
// applied to mt.
func (g *Guard) check(ctx context.Context, m *correlate.Message, mt correlate.Match) (correlate.Match, string, error) {
	if g.o.SenderPolicy != nil && mt.CorrelatedWith != nil && g.policyApplies(mt.Method) {
		ev, ok := g.o.SenderPolicy(ctx, m, *mt.CorrelatedWith)
		if ev != (correlate.Evidence{}) {
			// In place when the strategy left room (the token strategy
			// does): the chain's Step keeps the strategy's Evidence
			// clipped, so the two share only what they both hold.
			mt.Evidence = append(mt.Evidence, ev)
		}
		if !ok {
			return mt, refusal(m, mt, ev), nil
		}
		if ev.Note != "" {
			if ev.Value == "" { // one concatenation, one allocation
				mt.Reason = mt.Reason + "; sender " + ev.Note
			} else {
				mt.Reason = mt.Reason + "; sender " + ev.Value + " " + ev.Note
			}
		}
	}
	if g.o.Records == nil || !mt.Found() {
		return mt, "", nil
	}
	max := g.o.MaxMergeHops
	if max <= 0 {
		max = DefaultMaxMergeHops
	}
	rec := mt.Record
	var merged []correlate.Record
	for {
		st, err := g.o.Records.Resolve(ctx, rec)
		if err != nil {
			return mt, "", &resolveError{rec, err}
		}
		if st.Deleted {
			return mt, "record " + rec.String() + " no longer exists", nil
		}
		next := st.MergedInto
		if next.IsZero() || next == rec {
			break
		}
		if next == mt.Record || slices.Contains(merged, next) {
			return mt, "merge loop: " + mergePath(append(merged, rec, next)), nil
		}
		if len(merged) >= max {
			return mt, "record " + mt.Record.String() + " was merged more than " + strconv.Itoa(max) + " times", nil
		}
		merged = append(merged, rec)
		rec = next
	}
	if len(merged) > 0 {
		mt.Evidence = slices.Clip(mt.Evidence)
		for i, r := range merged {
			into := rec
			if i+1 < len(merged) {
				into = merged[i+1]
			}
			mt.Evidence = append(mt.Evidence, correlate.Evidence{Field: fieldRecord, Value: r.String(), Note: noteMerged + into.String()})
		}
		mt.Reason += " (" + mt.Record.String() + " merged into " + rec.String() + ")"
		mt.Record = rec
	}
	return mt, "", nil
}

// refusal explains a sender policy refusal, with the policy's evidence ev
// when it gave some.
func refusal(m *correlate.Message, mt correlate.Match, ev correlate.Evidence) string {
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
func standing(ev correlate.Evidence) string {
	if ev.Value == "" {
		return ev.Note
	}
	return ev.Value + " " + ev.Note
}

func mergePath(rs []correlate.Record) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(" → ")
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// epsilon absorbs float rounding in confidence comparisons, as the chain's.
const epsilon = 1e-9

// review turns d into a review when a conflict is confident enough, and
// reports whether it did.
func (g *Guard) review(d *correlate.Decision) bool {
	var strong *correlate.Match
	for i := range d.Conflicts {
		if d.Conflicts[i].Confidence+epsilon >= g.chain.MinConfidence {
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
	d.Conflicts = append([]correlate.Match{win}, d.Conflicts...)
	d.Match = correlate.Match{Reason: reason}
	d.Action = Review
	d.NoTrack = "awaiting review: strategies name different records"
	return true
}

// closed applies OnClosed to a winner whose record is closed.
func (g *Guard) closed(d *correlate.Decision) {
	rec := d.Match.Record
	d.Closed = rec
	var reason string
	switch g.o.OnClosed {
	case ClosedNew:
		d.Action = OpenNew
		reason = "record " + rec.String() + " is closed: open a new record (ClosedNew)"
	case ClosedReject:
		d.Action = Reject
		reason = "record " + rec.String() + " is closed and takes no follow-ups (ClosedReject)"
	default:
		return
	}
	d.Match = correlate.Match{Reason: reason, Evidence: []correlate.Evidence{{Field: "record", Value: rec.String(), Note: "closed; named by " + d.Match.Strategy}}}
	d.NoTrack = reason
}
