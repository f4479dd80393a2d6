package header

import (
	"net/textproto"
	"slices"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// Key kinds the header strategies index, besides [correlate.KindMessageID]
// (the Engine indexes every tracked email's own Message-ID under it; the
// InReplyTo Indexer adds the provider-preserved original ids of the email
// under the same kind).
const (
	// KindAncestor keys a tracked email under each id it references
	// (In-Reply-To and References, junk dropped), normalized by
	// correlate.NormalizeMessageID: ancestor memory.
	KindAncestor = "hdr.anc"
	// KindConversation keys a tracked email under its whole conversation
	// index, as lower-case hexadecimal (hex, not raw bytes, so SQL stores
	// can keep it in a text column: raw indexes contain NUL bytes).
	KindConversation = "hdr.ci"
	// KindConversationRoot keys a tracked email under the 22-byte header of
	// its conversation index, as lower-case hexadecimal.
	KindConversationRoot = "hdr.cir"
)

// DefaultAliasFields are the fields read for a message's provider-preserved
// original Message-ID when Options.AliasFields is nil:
//
//   - X-Google-Original-Message-ID: Gmail replaces a Message-ID it finds
//     broken with its own (…SMTPIN_ADDED_BROKEN@mx.google.com) and keeps the
//     original here (Odoo issue 40461);
//   - X-Microsoft-Original-Message-ID: Exchange Online does the same for
//     mail its users submit (usrp-users corpus).
//
// The function returns a new slice on each call.
func DefaultAliasFields() []string {
	return []string{"X-Google-Original-Message-ID", "X-Microsoft-Original-Message-ID"}
}

// Options configures the header strategies. A nil *Options is equivalent to
// the zero value, and zero fields mean the documented defaults. Fields that
// concern only one strategy say so.
type Options struct {
	// MaxIDs bounds how many referenced ids InReplyTo looks up: In-Reply-To
	// first, then References newest to oldest. 0 means DefaultMaxIDs (32);
	// negative means no bound.
	MaxIDs int

	// NoAncestors turns ancestor memory off (InReplyTo). By default the
	// InReplyTo Indexer keys every tracked email under the ids it references
	// (KindAncestor), and InReplyTo, when no referenced id names a tracked
	// email, correlates an email that shares such an ancestor with a
	// tracked email (a sibling reply to a message the CRM never saw) or
	// that a tracked email references (a message whose reply was tracked
	// first), at lower confidence.
	NoAncestors bool

	// FirstHit makes InReplyTo stop at the first referenced id that names a
	// tracked email. By default it looks up the remaining ids too and
	// reports, in Evidence, those that name a tracked email of another
	// record: more store lookups per reply in exchange for conflicts made
	// visible.
	FirstHit bool

	// AbstainOnConflict makes InReplyTo abstain, with the conflicting ids in
	// Evidence, when referenced ids name tracked emails of different records
	// (RT's CheckMessageId refuses such mail). By default the id first in
	// precedence order wins (In-Reply-To, then the newest References): after
	// a user moves part of a thread to another record, replies should follow
	// the part they answer.
	AbstainOnConflict bool

	// AliasFields are the header fields that carry a message's original
	// Message-ID when a provider replaced it. The InReplyTo Indexer keys a
	// tracked email under these ids too (so replies to the original reach
	// it), and InReplyTo looks them up last, as another copy of the same
	// email. nil means DefaultAliasFields(); an empty non-nil slice turns
	// aliases off.
	AliasFields []string

	// SkipForwards makes both strategies ignore forwarded email, as Dynamics
	// does when DoNotCorrelateForwardedEmailsAsReplies is set: a forward
	// keeps the headers of the email it forwards but may start another
	// matter. The default (false) correlates forwards like replies, which is
	// Dynamics' default.
	SkipForwards bool

	// IsForward decides, from the subject, whether an email is a forward
	// (used when SkipForwards is set). nil means subject.IsForward: the
	// outermost decoration is a forward prefix in any language the subject
	// package knows (Fwd:, WG:, TR:, RV:, I:, ENC:, 转发: …), a "(fwd)"
	// trailer or a "[fwd: …]" wrapper; "Re: Fwd: x" is a reply.
	IsForward func(subject string) bool

	// SubjectKey returns the comparison form of a subject, for
	// Match.SubjectChanged (Dynamics' correlatedsubjectchanged) and the
	// Thread-Topic evidence. nil means subject.Key: the multilingual base
	// subject, folded.
	SubjectKey func(subject string) string
	// SameEmailSubject compares the subjects of a message and of a tracked
	// email with its Message-ID, to tell the same email met again from a
	// Message-ID collision (see correlate.SameEmail). nil means the
	// SubjectKey comparison. The mailcorrelate package sets it to compare
	// base subjects with tracking tokens removed, so a copy that lacks the
	// token stamped on its way out is still the same email.
	SameEmailSubject func(a, b string) bool

	// NoRoot makes ConversationIndex match only on the exact parent index,
	// never on the conversation root alone.
	NoRoot bool

	// IDKeys verify signed Message-IDs (see NewMessageID) for InReplyTo:
	// when no referenced id names a tracked email, an In-Reply-To or
	// References id (or the message's own Message-ID) whose signature
	// verifies under one of the keys names its record, even though the
	// email it identifies was never tracked or has been deleted. An id that
	// has the signed form but does not verify (forged, altered, or signed
	// with a retired key) is reported in Evidence as a bad signature and
	// names nothing. nil turns signed ids off. A tracked email that has the
	// id still wins: its record may have been changed since (relinked).
	IDKeys [][]byte
}

// config is Options with defaults applied.
type config struct {
	Options
	maxIDs    int
	aliases   []aliasField
	aliasKeys []string // the aliases' keys, for Message.HasAnyField
}

// aliasField is an alias field: its name as configured (for Evidence) and
// its canonical key in a mail.Header.
type aliasField struct{ name, key string }

func newConfig(opts *Options) config {
	var c config
	if opts != nil {
		c.Options = *opts
	}
	c.maxIDs = c.MaxIDs
	if c.maxIDs == 0 {
		c.maxIDs = DefaultMaxIDs
	}
	fields := c.AliasFields
	if fields == nil {
		fields = DefaultAliasFields()
	}
	c.AliasFields = nil // not used after this point; the caller's slice is not kept
	c.IDKeys = slices.Clone(c.IDKeys)
	for _, f := range fields {
		c.aliases = append(c.aliases, aliasField{name: f, key: textproto.CanonicalMIMEHeaderKey(f)})
		c.aliasKeys = append(c.aliasKeys, c.aliases[len(c.aliases)-1].key)
	}
	return c
}

// isForward applies the configured forward check.
func (c *config) isForward(s string) bool {
	if c.IsForward != nil {
		return c.IsForward(s)
	}
	return subject.IsForward(s)
}

// sameSubject reports whether two subjects name the same matter.
func (c *config) sameSubject(a, b string) bool {
	if c.SubjectKey != nil {
		return c.SubjectKey(a) == c.SubjectKey(b)
	}
	return subject.SameKey(a, b) // subject.Key(a) == subject.Key(b), without allocating
}

// sameEmailSubject is the subject comparison of the duplicate check.
func (c *config) sameEmailSubject(a, b string) bool {
	if c.SameEmailSubject != nil {
		return c.SameEmailSubject(a, b)
	}
	return c.sameSubject(a, b)
}

// skip returns the abstention for a forward when SkipForwards is set.
func (c *config) skip(m *correlate.Message) (correlate.Match, bool) {
	if !c.SkipForwards || !c.isForward(m.Subject) {
		return correlate.Match{}, false
	}
	return correlate.Match{
		Reason:   "a forward: not correlated by headers (SkipForwards)",
		Evidence: []correlate.Evidence{{Field: "Subject", Value: clip(m.Subject), Note: "forward"}},
	}, true
}
