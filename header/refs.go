package header

import (
	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// DefaultMaxIDs is how many referenced ids a header strategy considers when
// Options.MaxIDs is zero: In-Reply-To first, then the newest References, 32
// in all (the bound DESIGN.md §6 and Odoo use).
const DefaultMaxIDs = 32

// Why an id is junk (see [Junk]). The texts appear in Evidence notes; they
// may change.
const (
	JunkEmpty     = correlate.JunkEmpty
	JunkNoAt      = correlate.JunkNoAt
	JunkNoLocal   = correlate.JunkNoLocal
	JunkNoDomain  = correlate.JunkNoDomain
	JunkMalformed = correlate.JunkMalformed
	JunkTooLong   = correlate.JunkTooLong
	JunkSelf      = correlate.JunkSelf
	JunkAddress   = correlate.JunkAddress
)

// Junk reports why id cannot name another email of m's conversation, or ""
// when it can: [correlate.JunkID], the rules ParseMessage applies to
// In-Reply-To and References (placeholders such as <yes>, malformed ids,
// the message's own id, an address of the message). A nil m checks only
// the form of id.
func Junk(id string, m *correlate.Message) string { return correlate.JunkID(id, m) }

// Refs is what a message says about the emails it follows, cleaned of junk.
type Refs struct {
	// Parent is the id the message replies to: its first usable In-Reply-To
	// id, else its newest usable References id; "" when it has none.
	// In-Reply-To wins because mailers that get References wrong (Debbugs
	// orders it wrongly, some clients copy a stale one) still set
	// In-Reply-To to the message answered; notmuch trusts it the same way.
	Parent string
	// IDs are the usable ids in lookup order: the In-Reply-To ids in field
	// order, then the References ids newest first, each once, at most the
	// limit given to ReadRefs.
	IDs []string
	// Dropped lists the ids rejected by [Junk], as Evidence with Field
	// "In-Reply-To" or "References", Value the id and Note the reason (the
	// first eight, then a count), and a note when ids were left out because
	// of the bound.
	Dropped []correlate.Evidence
}

// ReadRefs returns the cleaned references of m: In-Reply-To and References
// with junk dropped (see [Junk]), at most limit ids (0 means DefaultMaxIDs,
// negative means no bound). It never panics and runs in time linear in the
// number of ids.
func ReadRefs(m *correlate.Message, limit int) Refs {
	var r Refs
	if m == nil {
		return r
	}
	var buf [DefaultMaxIDs + 1]ref
	refs, dropped := readRefs(buf[:0], m, limit, nil)
	r.Dropped = dropped
	if len(refs) > 0 {
		r.IDs = make([]string, 0, len(refs))
	}
	for _, x := range refs {
		r.IDs = append(r.IDs, x.id)
		if x.parent {
			r.Parent = x.id
		}
	}
	return r
}

// A ref is one usable referenced id, in lookup order.
type ref struct {
	id     string
	field  string // "In-Reply-To" or "References"
	parent bool   // the id the message replies to
	// phrase marks an id read from a field that also holds free text
	// (see phraseField): good enough to look up, not to remember as an
	// ancestor.
	phrase bool
	// alias marks a provider-preserved original id of the message itself
	// (Options.AliasFields).
	alias bool
}

// confidence returns the confidence of a match through r: Certain for the
// id the message replies to (In-Reply-To, or the newest References id
// without a usable In-Reply-To), High for older References ids and for
// aliases.
func (r ref) confidence() float64 {
	if !r.alias && (r.field == fieldInReplyTo || r.parent) {
		return correlate.Certain
	}
	return correlate.High
}

// signedReason returns the Reason prefix of a match through r's signed id.
func (r ref) signedReason() string {
	if r.field == fieldInReplyTo {
		return reasonSignedInReplyTo
	}
	return reasonSignedRef
}

const (
	fieldInReplyTo  = "In-Reply-To"
	fieldReferences = "References"
	fieldMessageID  = "Message-ID"
)

// readRefs appends m's usable ids to dst in lookup order, at most limit
// (0 means DefaultMaxIDs, negative no bound), and appends to dropped the
// junk ParseMessage (or, for a Message built by hand, its first use)
// dropped (correlate.Message.DroppedIDs) and a note when the bound left ids
// out. It reads the Message's facts, computed once; it allocates only when
// dst's capacity is exceeded.
func readRefs(dst []ref, m *correlate.Message, limit int, dropped []correlate.Evidence) ([]ref, []correlate.Evidence) {
	if limit == 0 {
		limit = DefaultMaxIDs
	}
	ids, nirt, parent := m.LookupIDs()
	full := false
	if limit > 0 && len(ids) > limit {
		ids, full = ids[:limit], true
	}
	phraseIRT, phraseRefs := m.PhraseIDs()
	for i, id := range ids {
		r := ref{id: id, field: fieldReferences, phrase: phraseRefs}
		if i < nirt {
			r.field, r.phrase = fieldInReplyTo, phraseIRT
		}
		dst = append(dst, r)
	}
	if parent && len(ids) > 0 {
		dst[len(dst)-len(ids)].parent = true
	}
	dropped = append(dropped, m.DroppedIDs()...)
	if full {
		dropped = append(dropped, correlate.Evidence{Field: fieldReferences, Note: "older ids beyond the bound not looked up"})
	}
	return dst, dropped
}

// clip bounds a value quoted in Evidence.
func clip(s string) string {
	const most = 200
	if len(s) <= most {
		return s
	}
	// Cut on a rune boundary.
	i := most
	for i > 0 && s[i]&0xc0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
