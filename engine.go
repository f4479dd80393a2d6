package mailcorrelate

import (
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/subject"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// A Preset selects the strategies a real deployment can use.
type Preset int

const (
	// ServerSideSync is Dynamics' server-side synchronization with Exchange:
	// every strategy has its data (folders, headers, tokens).
	ServerSideSync Preset = iota
	// EmailRouter is the legacy Email Router (POP3/SMTP): no folders and no
	// reliable headers reach it, so only tokens and smart matching run.
	EmailRouter
)

// A Strategy names one stage of the chain.
type Strategy string

// The strategies, in the precedence of the default chain.
const (
	Folder       Strategy = "folder"       // folder-level tracking (FolderTracking)
	InReplyTo    Strategy = "inreplyto"    // In-Reply-To and References (InReplyTo, 3)
	Token        Strategy = "token"        // tracking token in the subject (TrackingToken, 4)
	Conversation Strategy = "conversation" // Exchange Thread-Index (ConversationIndex, 5)
	Smart        Strategy = "smart"        // smart matching (SmartMatching, 6)
)

// DefaultStrategies returns the chain of a preset, in precedence order.
func DefaultStrategies(p Preset) []Strategy {
	if p == EmailRouter {
		return []Strategy{Token, Smart}
	}
	return []Strategy{Folder, InReplyTo, Token, Conversation, Smart}
}

// A SmartMode selects smart matching.
type SmartMode int

const (
	// SmartOff leaves smart matching out of the chain: Dynamics' default
	// (enablesmartmatching = false), because its similarity rule files
	// unrelated mail together.
	SmartOff SmartMode = iota
	// SmartImproved is this library's smart matching: base subjects compared
	// across languages, participants that are not the organization's own,
	// abstention on generic subjects.
	SmartImproved
	// SmartDynamics reproduces Dynamics' hash matching exactly, for
	// deployments migrating from it.
	SmartDynamics
)

// Options configures the engine New builds. A nil *Options is the zero
// value: the ServerSideSync chain with Dynamics' default settings — folder
// rules (none until added), In-Reply-To, tracking tokens in Dynamics' format
// (CRM:0001001), conversation index, smart matching off.
type Options struct {
	// Preset chooses the default chain; ServerSideSync by default.
	Preset Preset
	// Strategies overrides the chain: the stages, in precedence order.
	// Empty means DefaultStrategies(Preset). Smart is skipped when Smart is
	// SmartOff.
	Strategies []Strategy
	// Smart enables smart matching (Dynamics: enablesmartmatching, off).
	Smart SmartMode
	// SmartOptions tunes smart matching; its Mode is set from Smart.
	SmartOptions smartmatch.Options
	// Folders are the folder-level tracking rules (Dynamics:
	// mailboxtrackingfolder rows). nil means none; the folder stage then
	// matches nothing but costs nothing either.
	Folders *folder.Rules
	// Token describes tracking tokens (Dynamics: trackingprefix,
	// trackingtokenidbase, trackingtokeniddigits, maximumtrackingnumber);
	// the zero Format is Dynamics' default. Set Token.Keys for signed tokens.
	// After changing the digit settings, keep the old ones in
	// Token.LayoutHistory (and an old prefix in Token.History): every token
	// already sent stays recognizable.
	Token token.Format
	// TokenPolicy, when set, must accept the sender of a token match inside
	// the token strategy, which then tries the subject's next token. It
	// takes the same functions as SenderPolicy (token.SenderPolicy is
	// correlate.SenderPolicy), guard.ParticipantPolicy first; SenderPolicy
	// alone, the default, is usually enough.
	TokenPolicy token.SenderPolicy
	// Header tunes the In-Reply-To and conversation-index strategies
	// (Dynamics: DoNotCorrelateForwardedEmailsAsReplies is
	// Header.SkipForwards). Its subject hooks default to the subject package.
	Header header.Options
	// IgnoreHeaders drops the In-Reply-To and conversation-index stages, as
	// Dynamics' IgnoreConversationIndexAndInReplyToForCorrelation does.
	IgnoreHeaders bool
	// Audit keeps consulting every stage after the winner and reports the
	// stages that name a different record as conflicts.
	Audit bool
	// MinConfidence is the lowest confidence that wins; 0 accepts any match.
	MinConfidence float64

	// Guardrails (package guard). The zero Options turns them on: messages
	// are classified (auto-replies, bulk mail, bounces, loops), auto-replies,
	// bounces and loops are correlated but not tracked, token matches must
	// come from a participant of the tracked conversation, and a rate
	// window flags ping-pong. Signed Message-IDs are on when Header.IDKeys
	// holds keys (see header.NewMessageID). Messages need their body for a
	// bounce to find the message it returns: parse with
	// correlate.ParseOptions{KeepBody: true}.

	// Unguarded turns the default guardrails off — classification, the
	// sender policy and the rate window — for Dynamics' behaviour exactly.
	// Guardrails set explicitly in the fields below still apply.
	Unguarded bool
	// Classifier classifies every message before it is correlated; nil
	// means guard.New(&Guard).
	Classifier correlate.Classifier
	// Guard configures the default Classifier: this system's loop marker
	// (Guard.Marker, validated by New), subject detection.
	Guard guard.Options
	// Untracked are the classes correlated but not tracked
	// (Decision.Track reports false, Decision.NoTrack says why); nil means
	// correlate.DefaultUntracked(): AutoReply, Bounce and Loop. Bulk is
	// tracked: a reply posted through a mailing list is still a person's
	// reply. An empty non-nil slice tracks every class.
	Untracked []correlate.Class
	// SenderPolicy must accept the sender of the matches whose method is in
	// PolicyMethods (the chain then tries the next strategy); nil means
	// guard.ParticipantPolicy: a sender (any From address, or Sender) took
	// part in the tracked email, or is a colleague of a participant at the
	// same organization (registrable domain, not a freemail domain, not the
	// organization's own), or the email is outgoing; strangers and
	// colleagues of other customers are refused. The Decision says which:
	// the policy's Evidence is in the Match (or the refused Step) and its
	// note in the Reason. Add an address book with guard.AnyOf
	// (guard.ParticipantPolicy, resolver.SenderPolicy()): party's Resolver
	// also counts the colleagues a directory places at the same customer
	// account, whatever their domain. TokenPolicy, an older option, checks
	// inside the token strategy only; both may be set.
	SenderPolicy correlate.SenderPolicy
	// PolicyMethods are the methods SenderPolicy applies to; nil means
	// TrackingToken only. Header matches are not checked by default: a
	// Message-ID or Thread-Index is not shown by mail programs, so a reply
	// naming one comes from someone who received the email (a forwarded
	// colleague, a new Cc), and refusing it would lose the reply; against
	// forged ids, sign them (Header.IDKeys). Add correlate.InReplyTo and
	// correlate.ConversationIndex when your Message-IDs are guessable.
	PolicyMethods []correlate.Method
	// Loops watches correlated traffic for ping-pong; nil means
	// guard.NewRateWindow(&RateWindow), one window per Engine.
	Loops correlate.LoopDetector
	// RateWindow configures the default Loops: by default more than 20
	// messages from one sender about one record within two hours.
	RateWindow guard.RateOptions
	// OnConflict is what happens when strategies name different records:
	// the winner stands (correlate.ConflictPrecedence, the default), or a
	// person reviews (correlate.ConflictReview, which implies Audit).
	OnConflict correlate.ConflictPolicy
	// Records reports merged, closed and deleted records (guard.States
	// keeps them in memory); nil means every record is open.
	Records correlate.RecordResolver
	// OnClosed is what happens when the record found is closed:
	// correlate.ClosedCorrelate (the default), ClosedNew or ClosedReject.
	OnClosed correlate.ClosedPolicy
	// MaxMergeHops bounds the merges followed from one record; 0 means
	// correlate.DefaultMaxMergeHops (10).
	MaxMergeHops int
}

// New returns an Engine over store with the default chain, configured by
// opts. It fails only on invalid options (an unknown strategy, a repeated
// one, an invalid token format, an invalid loop marker).
func New(store correlate.Store, opts *Options) (*correlate.Engine, error) {
	chain, err := NewChain(store, opts)
	if err != nil {
		return nil, err
	}
	return correlate.NewEngine(store, chain, EngineOptions(opts)), nil
}

// EngineOptions returns the Engine options New uses: the Classifier, the
// untracked classes and the loop detector of opts, with their defaults, and
// a subject comparison (base subjects, tracking tokens of opts.Token
// removed) to tell a copy of a tracked email from a Message-ID collision
// (correlate.SameEmail).
// Each call builds a new rate window. Use it with NewChain to build an
// Engine by hand.
func EngineOptions(opts *Options) *correlate.EngineOptions {
	var o Options
	if opts != nil {
		o = *opts
	}
	// Track tells a copy of a tracked email from another email reusing its
	// Message-ID by the base subject, as the InReplyTo strategy does.
	eo := &correlate.EngineOptions{Classifier: o.Classifier, Untracked: o.Untracked, Loops: o.Loops, SameSubject: sameEmailSubject(o.Token)}
	if !o.Unguarded {
		if eo.Classifier == nil {
			g := o.Guard
			eo.Classifier = guard.New(&g)
		}
		if eo.Loops == nil {
			r := o.RateWindow
			eo.Loops = guard.NewRateWindow(&r)
		}
	}
	return eo
}

// sameEmailSubject compares two subjects of one email met twice: base
// subjects (prefixes, list tags and case aside) with the tracking tokens of
// f removed, since the copy in a Sent folder or a client's retry lacks the
// token stamped on the way out.
func sameEmailSubject(f token.Format) func(a, b string) bool {
	return func(a, b string) bool {
		return subject.SameKey(a, b) || subject.SameKey(f.Strip(a), f.Strip(b))
	}
}

// NewChain returns the chain New wires, for callers that build their own
// Engine or nest it in a larger chain. The chain carries the guardrails
// that act on matches (the sender policy, the conflict policy, record
// states); classification and loop detection are Engine options (see
// EngineOptions).
func NewChain(store correlate.Store, opts *Options) (*correlate.Chain, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.Token.Validate(); err != nil {
		return nil, fmt.Errorf("mailcorrelate: %w", err)
	}
	if o.Guard.Marker != nil {
		if err := o.Guard.Marker.Validate(); err != nil {
			return nil, fmt.Errorf("mailcorrelate: %w", err)
		}
	}
	strategies := o.Strategies
	if len(strategies) == 0 {
		strategies = DefaultStrategies(o.Preset)
	}
	// A nil Header.SubjectKey is the header package's default, subject.Key,
	// which it compares without allocating (subject.SameKey).
	hopts := o.Header
	if hopts.SameEmailSubject == nil {
		hopts.SameEmailSubject = sameEmailSubject(o.Token)
	}
	subjectChanged := func(a, b string) bool { return !subject.SameKey(a, b) }
	chain := &correlate.Chain{
		Audit:         o.Audit,
		MinConfidence: o.MinConfidence,
		SenderPolicy:  o.SenderPolicy,
		PolicyMethods: o.PolicyMethods,
		OnConflict:    o.OnConflict,
		Resolver:      o.Records,
		OnClosed:      o.OnClosed,
		MaxMergeHops:  o.MaxMergeHops,
	}
	if chain.SenderPolicy == nil && !o.Unguarded {
		chain.SenderPolicy = guard.ParticipantPolicy
	}
	seen := map[Strategy]bool{}
	for _, s := range strategies {
		if seen[s] {
			return nil, fmt.Errorf("mailcorrelate: strategy %q listed twice", s)
		}
		seen[s] = true
		var c correlate.Correlator
		switch s {
		case Folder:
			c = folder.New(store, &folder.Options{Rules: o.Folders})
		case InReplyTo:
			if o.IgnoreHeaders {
				continue
			}
			c = header.NewInReplyTo(store, &hopts)
		case Token:
			c = token.New(store, &token.Options{Format: o.Token, Policy: o.TokenPolicy, SubjectChanged: subjectChanged})
		case Conversation:
			if o.IgnoreHeaders {
				continue
			}
			c = header.NewConversationIndex(store, &hopts)
		case Smart:
			if o.Smart == SmartOff {
				continue
			}
			sopts := o.SmartOptions
			sopts.Mode = smartmatch.Improved
			if o.Smart == SmartDynamics {
				sopts.Mode = smartmatch.Dynamics
			}
			c = smartmatch.New(store, &sopts)
		default:
			return nil, fmt.Errorf("mailcorrelate: unknown strategy %q", s)
		}
		chain.Correlators = append(chain.Correlators, c)
	}
	return chain, nil
}
