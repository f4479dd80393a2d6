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

// A Stage is one strategy of the chain: Build returns its Correlator over
// the engine's store, configured by the engine's options. A Correlator that
// is also a correlate.Indexer contributes index keys when an email is
// tracked, built-in or not. Its String method names its Steps and matches
// (correlate.NameOf; wrap it in correlate.Named to name it).
//
// The built-in strategies are Strategy values; any other strategy is a
// StageFunc, or Use for a Correlator already built.
type Stage interface {
	Build(store correlate.Store, opts *Options) (correlate.Correlator, error)
}

// StageFunc is an adapter to allow the use of ordinary functions as Stages.
type StageFunc func(store correlate.Store, opts *Options) (correlate.Correlator, error)

// Build calls f(store, opts).
func (f StageFunc) Build(store correlate.Store, opts *Options) (correlate.Correlator, error) {
	return f(store, opts)
}

// Use returns a Stage for a Correlator already built: a custom strategy.
func Use(c correlate.Correlator) Stage {
	return StageFunc(func(correlate.Store, *Options) (correlate.Correlator, error) { return c, nil })
}

// A Strategy names a built-in stage; it is the name of its Steps too.
type Strategy string

// The built-in strategies, in the precedence of the default chain.
const (
	Folder       Strategy = "folder"       // folder-level tracking (FolderTracking)
	InReplyTo    Strategy = "inreplyto"    // In-Reply-To and References (InReplyTo, 3)
	Token        Strategy = "token"        // tracking token in the subject (TrackingToken, 4)
	Conversation Strategy = "conversation" // Exchange Thread-Index (ConversationIndex, 5)
	Smart        Strategy = "smart"        // smart matching (SmartMatching, 6), Options.Smart.Mode
)

// builtins returns the constructors of the built-in strategies: a new
// built-in strategy is its own package and one line here (and a constant
// above for its name).
func builtins() map[Strategy]func(s correlate.Store, o *Options) correlate.Correlator {
	return map[Strategy]func(s correlate.Store, o *Options) correlate.Correlator{
		Folder: func(s correlate.Store, o *Options) correlate.Correlator {
			return folder.New(s, &folder.Options{Rules: o.Folders})
		},
		InReplyTo: func(s correlate.Store, o *Options) correlate.Correlator { return header.NewInReplyTo(s, o.header()) },
		Token:     func(s correlate.Store, o *Options) correlate.Correlator { return token.New(s, o.token()) },
		Conversation: func(s correlate.Store, o *Options) correlate.Correlator {
			return header.NewConversationIndex(s, o.header())
		},
		Smart: func(s correlate.Store, o *Options) correlate.Correlator { return smartmatch.New(s, &o.Smart) },
	}
}

// Build implements Stage: the built-in strategy s, or an error when s
// names none.
func (s Strategy) Build(store correlate.Store, opts *Options) (correlate.Correlator, error) {
	build, ok := builtins()[s]
	if !ok {
		return nil, fmt.Errorf("mailcorrelate: unknown strategy %q", string(s))
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	return build(store, &o), nil
}

// ServerSideSync returns the stages of Dynamics' server-side
// synchronization with Exchange, in its precedence: every strategy has its
// data (folders, headers, tokens). Smart matching is off, as in Dynamics
// (enablesmartmatching = false): append Smart to turn it on. Leaving out
// InReplyTo and Conversation does what Dynamics'
// IgnoreConversationIndexAndInReplyToForCorrelation does. It returns a new
// slice on each call.
func ServerSideSync() []Stage { return []Stage{Folder, InReplyTo, Token, Conversation} }

// EmailRouter returns the stages of the legacy Email Router (POP3/SMTP): no
// folders and no reliable headers reach it, so only tokens (and, appended,
// smart matching) run. It returns a new slice on each call.
func EmailRouter() []Stage { return []Stage{Token} }

// Options configures the engine New builds. A nil *Options is the zero
// value: the ServerSideSync stages with Dynamics' default settings — folder
// rules (none until added), In-Reply-To, tracking tokens in Dynamics'
// format (CRM:0001001), conversation index, smart matching off — and the
// guardrails on.
type Options struct {
	// Stages are the strategies of the chain, in precedence order: built-in
	// ones (Folder, InReplyTo, Token, Conversation, Smart) and custom ones
	// (StageFunc, Use) alike. Empty means ServerSideSync().
	Stages []Stage
	// Folders are the folder-level tracking rules of the Folder stage
	// (Dynamics: mailboxtrackingfolder rows). nil means none; the stage
	// then matches nothing but costs nothing either.
	Folders *folder.Rules
	// Token describes tracking tokens (Dynamics: trackingprefix,
	// trackingtokenidbase, trackingtokeniddigits, maximumtrackingnumber);
	// the zero Format is Dynamics' default. Set Token.Keys for signed tokens.
	// After changing the digit settings, keep the old ones in
	// Token.LayoutHistory (and an old prefix in Token.History): every token
	// already sent stays recognizable. Besides the Token stage, tracking
	// uses it to tell a copy of a tracked email (without its token) from
	// another email.
	Token token.Format
	// Header tunes the InReplyTo and Conversation stages (Dynamics:
	// DoNotCorrelateForwardedEmailsAsReplies is Header.SkipForwards). Its
	// subject hooks default to the subject package.
	Header header.Options
	// Smart tunes the Smart stage; its zero Mode is smartmatch.Improved,
	// smartmatch.Dynamics reproduces Dynamics' hash matching.
	Smart smartmatch.Options
	// Audit keeps consulting every stage after the winner and reports the
	// stages that name a different record as conflicts.
	Audit bool
	// MinConfidence is the lowest confidence that wins; 0 accepts any match.
	MinConfidence float64
	// Unguarded turns the default guardrails off — the classifier, the
	// sender policy and the rate window — for Dynamics' behaviour exactly.
	// Guardrails set explicitly in Guard still apply.
	Unguarded bool
	// Guard configures the guardrails (package guard), on by default:
	// messages are classified (auto-replies, bulk mail, bounces, loops;
	// Guard.Classifier, by default guard.New(&Guard)), auto-replies, bounces
	// and loops are correlated but not tracked (Guard.Untracked), token
	// matches must come from a participant of the tracked conversation
	// (Guard.SenderPolicy, by default guard.NewParticipantPolicy(): a sender took
	// part in the tracked email, or is a colleague of a participant at the
	// same organization, or the email is outgoing), and a rate window
	// flags ping-pong (Guard.Loops, by default
	// guard.NewRateWindow(&Guard.RateWindow)). Merged and closed records
	// are followed when Guard.Records is set. Signed Message-IDs are on
	// when Header.IDKeys holds keys (see header.NewMessageID). Messages need
	// their body for a bounce to find the message it returns: parse with
	// correlate.ParseOptions{KeepBody: true}.
	Guard guard.Options
}

// header returns the header strategies' options: a nil
// Header.SameEmailSubject compares base subjects without the tracking
// tokens of o.Token. A nil Header.SubjectKey is the header package's
// default, subject.Key, which it compares without allocating
// (subject.SameKey).
func (o *Options) header() *header.Options {
	h := o.Header
	if h.SameEmailSubject == nil {
		h.SameEmailSubject = sameEmailSubject(o.Token)
	}
	return &h
}

// token returns the token strategy's options.
func (o *Options) token() *token.Options {
	return &token.Options{Format: o.Token, SubjectChanged: func(a, b string) bool { return !subject.SameKey(a, b) }}
}

// New returns an Engine over store with the chain of opts.Stages wrapped in
// the guardrails of opts.Guard. It fails only on invalid options (an
// unknown strategy, a repeated one, an invalid token format, an invalid
// loop marker).
func New(store correlate.Store, opts *Options) (*correlate.Engine, error) {
	chain, err := NewChain(store, opts)
	if err != nil {
		return nil, err
	}
	return correlate.NewEngine(store, Guard(chain, opts), EngineOptions(opts)), nil
}

// EngineOptions returns the Engine options New uses: a subject comparison
// (base subjects, tracking tokens of opts.Token removed) to tell a copy of a
// tracked email from a Message-ID collision (correlate.SameEmail). Use it
// with NewChain and Guard to build an Engine by hand.
func EngineOptions(opts *Options) *correlate.EngineOptions {
	var o Options
	if opts != nil {
		o = *opts
	}
	return &correlate.EngineOptions{SameSubject: sameEmailSubject(o.Token)}
}

// Guard returns chain wrapped in the guardrails New sets: opts.Guard with
// its defaults filled in unless opts.Unguarded (the guard.New classifier,
// guard.NewParticipantPolicy(), a new rate window). Each call builds a new
// rate window and a new sender policy.
func Guard(chain *correlate.Chain, opts *Options) *guard.Guard {
	var o Options
	if opts != nil {
		o = *opts
	}
	g := o.Guard
	if !o.Unguarded {
		if g.Classifier == nil {
			g.Classifier = guard.New(&o.Guard)
		}
		if g.Loops == nil {
			r := g.RateWindow
			g.Loops = guard.NewRateWindow(&r)
		}
		if g.SenderPolicy == nil {
			g.SenderPolicy = guard.NewParticipantPolicy()
		}
	}
	return guard.Wrap(chain, &g)
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

// NewChain returns the chain of opts.Stages over store, without the
// guardrails (see Guard), for callers that build their own Engine or nest
// it in a larger chain.
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
	stages := o.Stages
	if len(stages) == 0 {
		stages = ServerSideSync()
	}
	chain := &correlate.Chain{Audit: o.Audit, MinConfidence: o.MinConfidence}
	seen := make(map[Strategy]bool, len(stages))
	for i, s := range stages {
		if s == nil {
			return nil, fmt.Errorf("mailcorrelate: stage %d is nil", i+1)
		}
		if b, ok := s.(Strategy); ok {
			if seen[b] {
				return nil, fmt.Errorf("mailcorrelate: strategy %q listed twice", string(b))
			}
			seen[b] = true
		}
		c, err := s.Build(store, &o)
		if _, builtin := s.(Strategy); err != nil && !builtin {
			err = fmt.Errorf("mailcorrelate: stage %d: %w", i+1, err)
		}
		if err != nil {
			return nil, err
		}
		chain.Correlators = append(chain.Correlators, c)
	}
	return chain, nil
}
