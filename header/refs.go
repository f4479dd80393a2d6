package header

import (
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// DefaultMaxIDs is how many referenced ids a header strategy considers when
// Options.MaxIDs is zero: In-Reply-To first, then the newest References, 32
// in all (the bound DESIGN.md §6 and Odoo use).
const DefaultMaxIDs = 32

// Why an id is junk. The texts appear in Evidence notes; they may change.
const (
	JunkEmpty     = "empty id"
	JunkNoAt      = "no '@': a placeholder such as <yes>, not a Message-ID"
	JunkNoLocal   = "empty part before '@'"
	JunkNoDomain  = "empty part after '@'"
	JunkMalformed = "white space, angle bracket or control character inside"
	JunkTooLong   = "longer than 998 bytes"
	JunkSelf      = "the message's own Message-ID"
	JunkAddress   = "an email address of this message, not a Message-ID"
)

// Junk reports why id cannot name another email of m's conversation, or ""
// when it can. id is compared in the form of [correlate.NormalizeMessageID]:
// case-sensitive local part, case-insensitive domain, as RFC 5322 intends
// (a domain is case-insensitive everywhere; the local part is the
// generator's business, and some generators use case).
//
// The rules, each seen in real mail:
//
//   - JunkNoAt: no '@' — git send-email users answering "yes" to its
//     In-Reply-To prompt wrote <yes> into the headers of whole patch series
//     (lkml corpus), fusing unrelated threads in every program that trusts
//     it; other placeholders ("<no>", "<1>", "<none>", "<>") are caught the
//     same way;
//   - JunkNoLocal, JunkNoDomain, JunkMalformed, JunkTooLong: not an id;
//   - JunkSelf: a message listing its own id (self-references, loops);
//   - JunkAddress: nmh and exmh write "In-Reply-To: Message from Name
//     <name@example.com> of <date>", so the bracketed text is the address of
//     the person answered (spamassassin-ham corpus); an id equal to an
//     address in From, Sender, Reply-To, To or Cc (compared without regard
//     to case) is dropped.
//
// A nil m checks only the form of id.
//
// Junk allocates nothing and reads id once when it is already normal
// printable ASCII, as ParseMessage leaves nearly every id.
func Junk(id string, m *correlate.Message) string {
	id, r := normalizeAndCheck(id)
	if r != "" {
		return r
	}
	if m != nil {
		if id == normalize(m.MessageID) {
			return JunkSelf
		}
		if isAddressOf(id, m) {
			return JunkAddress
		}
	}
	return ""
}

// normalize returns correlate.NormalizeMessageID(id), without its work when
// id is already normal (as ParseMessage leaves every id): one pass over the
// bytes.
func normalize(id string) string {
	at := -1
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c <= ' ' || c == '<' || c == '>' || c >= 0x80:
			return correlate.NormalizeMessageID(id)
		case c == '@':
			at = i
		}
	}
	for i := at + 1; at >= 0 && i < len(id); i++ {
		if c := id[i]; 'A' <= c && c <= 'Z' {
			return correlate.NormalizeMessageID(id)
		}
	}
	return id
}

// normalizeAndCheck returns normalize(raw) and junkForm of it, in one pass
// over the bytes when raw is already normal and made of printable ASCII (as
// ParseMessage leaves nearly every id).
func normalizeAndCheck(raw string) (id, junk string) {
	at := -1
	upper := false // an upper-case letter after the last '@'
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c <= ' ' || c == '<' || c == '>' || c >= 0x7f:
			id = normalize(raw)
			return id, junkForm(id)
		case c == '@':
			at, upper = i, false
		case 'A' <= c && c <= 'Z':
			upper = upper || at >= 0
		}
	}
	if upper {
		id = normalize(raw)
		return id, junkForm(id)
	}
	switch {
	case raw == "":
		return raw, JunkEmpty
	case len(raw) > 998:
		return raw, JunkTooLong
	case at < 0:
		return raw, JunkNoAt
	case at == 0:
		return raw, JunkNoLocal
	case at == len(raw)-1:
		return raw, JunkNoDomain
	}
	return raw, ""
}

// junkForm checks the form of a normalized id.
func junkForm(id string) string {
	if id == "" {
		return JunkEmpty
	}
	if len(id) > 998 {
		return JunkTooLong
	}
	at := strings.LastIndexByte(id, '@')
	switch {
	case at < 0:
		return JunkNoAt
	case at == 0:
		return JunkNoLocal
	case at == len(id)-1:
		return JunkNoDomain
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c == '<' || c == '>' || c == 0x7f {
			return JunkMalformed
		}
	}
	return ""
}

// isAddressOf reports whether id equals an address of m.
func isAddressOf(id string, m *correlate.Message) bool {
	if strings.EqualFold(id, m.Sender.Address) {
		return true
	}
	for _, list := range [...][]correlate.Address{m.From, m.ReplyTo, m.To, m.Cc} {
		for _, a := range list {
			if strings.EqualFold(id, a.Address) {
				return true
			}
		}
	}
	return false
}

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
	refs, dropped := collectRefs(buf[:0], m, normalize(m.MessageID), limit, nil)
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

// phraseField reports whether the named field of h holds text outside
// angle brackets: the RFC 822 "phrase" form of In-Reply-To that old mailers
// write ("Message from Name <name@example.com> of <date>" in nmh,
// "name@example.com's message of <date>" in Gnus). The ids of such a field
// may be addresses; they are looked up (an address never equals a tracked
// Message-ID) but never used for ancestor memory, where one address shared
// by every reply to a person would link unrelated threads (spamassassin-ham
// corpus).
func phraseField(h map[string][]string, name string) bool {
	for _, v := range h[name] {
		if plainIDList(v) {
			continue
		}
		depth := 0
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == '<':
				depth++
			case c == '>':
				if depth > 0 {
					depth--
				}
			case depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',':
				return true
			}
		}
	}
	return false
}

// plainIDList reports whether v is only bracketed ids without nested
// brackets, separated by white space and commas (as nearly every field is):
// then it holds no phrase. It skips each id with IndexByte.
func plainIDList(v string) bool {
	for i := 0; i < len(v); {
		switch v[i] {
		case ' ', '\t', '\r', '\n', ',':
			i++
		case '<':
			end := strings.IndexByte(v[i+1:], '>')
			if end < 0 || strings.IndexByte(v[i+1:i+1+end], '<') >= 0 {
				return false // unclosed or nested: let the full scan decide
			}
			i += end + 2
		default:
			return false
		}
	}
	return true
}

const (
	fieldInReplyTo  = "In-Reply-To"
	fieldReferences = "References"
	fieldMessageID  = "Message-ID"
)

// linearDedup is how many ids collectRefs compares pairwise before it
// switches to a set; maxDropped is how many junk ids it reports one by one.
const (
	linearDedup = 64
	maxDropped  = 8
)

// collectRefs appends m's usable ids to dst in lookup order and appends the
// junk it drops to dropped; self is normalize(m.MessageID), which callers
// have computed already. It allocates only when dst's capacity is exceeded
// or junk is found.
func collectRefs(dst []ref, m *correlate.Message, self string, limit int, dropped []correlate.Evidence) ([]ref, []correlate.Evidence) {
	if limit == 0 {
		limit = DefaultMaxIDs
	}
	start := len(dst)
	full := false
	phrase := false
	var seen map[string]struct{}
	dstart, moreJunk := len(dropped), 0
	add := func(raw, field string) {
		if limit > 0 && len(dst)-start >= limit {
			full = true
			return
		}
		id, reason := normalizeAndCheck(raw)
		if reason == "" && id == self {
			reason = JunkSelf
		}
		if reason == "" && isAddressOf(id, m) {
			reason = JunkAddress
		}
		if reason != "" {
			if v := clip(id); len(dropped)-dstart < maxDropped && !droppedAlready(dropped[dstart:], v) {
				dropped = append(dropped, correlate.Evidence{Field: field, Value: v, Note: reason})
			} else if len(dropped)-dstart >= maxDropped {
				moreJunk++
			}
			return
		}
		if seen != nil {
			if _, dup := seen[id]; dup {
				return
			}
			seen[id] = struct{}{}
		} else {
			for _, x := range dst[start:] {
				if x.id == id {
					return
				}
			}
			if len(dst)-start >= linearDedup {
				// Beyond a few dozen ids (no bound was set), a set keeps the
				// work linear.
				seen = make(map[string]struct{}, 2*linearDedup)
				for _, x := range dst[start:] {
					seen[x.id] = struct{}{}
				}
				seen[id] = struct{}{}
			}
		}
		dst = append(dst, ref{id: id, field: field, phrase: phrase})
	}
	phrase = phraseField(m.Header, fieldInReplyTo)
	for _, id := range m.InReplyTo {
		add(id, fieldInReplyTo)
	}
	nirt := len(dst) - start
	phrase = phraseField(m.Header, fieldReferences)
	for i := len(m.References) - 1; i >= 0 && !full; i-- {
		add(m.References[i], fieldReferences)
	}
	switch {
	case nirt > 0:
		dst[start].parent = true
	case len(dst) > start:
		// No usable In-Reply-To: the newest References id is the parent,
		// unless it was junk (then the parent is unknown).
		if n := len(m.References); n > 0 && normalize(m.References[n-1]) == dst[start].id {
			dst[start].parent = true
		}
	}
	if moreJunk > 0 {
		dropped = append(dropped, correlate.Evidence{Field: fieldReferences, Note: fmt.Sprintf("%d more junk ids dropped", moreJunk)})
	}
	if full {
		dropped = append(dropped, correlate.Evidence{Field: fieldReferences, Note: "older ids beyond the bound not looked up"})
	}
	return dst, dropped
}

func droppedAlready(dropped []correlate.Evidence, v string) bool {
	for _, e := range dropped {
		if e.Value == v {
			return true
		}
	}
	return false
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
