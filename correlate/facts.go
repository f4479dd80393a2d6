package correlate

import (
	"net/mail"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// facts are what a Message's fields say once cleaned: the ids it names, its
// participants. ParseMessage computes them while it reads the message; a
// Message built by hand gets them at their first use. They are kept with
// the Message and used while the fields they come from hold the values
// they were computed from (see factSource), so every strategy, the
// guardrails and Track read one computation instead of repeating it.
//
// A facts value is immutable once a Message points to it.
type facts struct {
	src factSource

	self     string // the normalized own Message-ID
	selfJunk string // why self cannot be looked up; "" when it can

	// ids are the usable ids of In-Reply-To and References in lookup
	// order: In-Reply-To's in field order, then References' newest first,
	// each once; ids[:nirt] come from In-Reply-To.
	ids   []string
	nirt  int
	flags uint8
	// dropped lists the junk ids: the first maxDropped distinct ones, then
	// a count.
	dropped []Evidence

	// parts are the normalized distinct addresses of From, Sender, To, Cc
	// and Bcc, in that order; parts[:nsend] come from From and Sender.
	parts []string
	nsend int

	// fields is a Bloom filter of the Header's keys: a field whose bits
	// are not set is absent, without a map lookup.
	fields [4]uint64

	// memo holds the values SubjectMemo keeps, each an immutable
	// *memoEntry, read and written atomically.
	memo [memoSlots]unsafe.Pointer

	idBuf   [4]string
	partBuf [4]string
}

// memoSlots is how many derivations of one message's subject are kept: a
// chain has few strategies that prepare the subject their own way.
const memoSlots = 3

// memoEntry is one value SubjectMemo keeps: what key derived from the
// subject it names.
type memoEntry struct {
	key     any
	subject ident
	val     any
}

// SubjectMemo returns derive(m.Subject), computed once per message and key
// and kept with the message while its Subject keeps its value: for a
// strategy that prepares the subject in Correlate and again in Index
// (smartmatch's comparison form), which an Engine calls on the same
// Message. key identifies the derivation, usually the strategy itself (a
// pointer, or another comparable value); derive must depend on nothing
// but the subject and what key stands for. A Message keeps a few derivations; beyond them, and when
// the Subject is assigned anew, derive runs again. SubjectMemo is safe for
// concurrent use: callers racing on a new Message may each run derive,
// and one result is kept.
func (m *Message) SubjectMemo(key any, derive func(subject string) any) any {
	if m == nil {
		return derive("")
	}
	f := m.facts(0)
	subj := strIdent(m.Subject)
	free, was := -1, unsafe.Pointer(nil)
	for i := range f.memo {
		p := atomic.LoadPointer(&f.memo[i])
		e := (*memoEntry)(p)
		switch {
		case e == nil:
			if free < 0 {
				free, was = i, nil
			}
		case e.key == key:
			if e.subject == subj {
				return e.val
			}
			free, was = i, p // stale: the subject changed
		}
	}
	v := derive(m.Subject)
	if free >= 0 {
		atomic.CompareAndSwapPointer(&f.memo[free], was, unsafe.Pointer(&memoEntry{key: key, subject: subj, val: v}))
	}
	return v
}

// fieldBits returns the two bits of a field name in a facts.fields filter,
// from its length and four of its bytes: a few instructions, inlined, for
// every field ParseMessage reads and every field Field is asked for. With
// two bits of 256 a message of 20 fields answers 1.5 % of the questions
// about absent fields with a map lookup.
func fieldBits(key string) (uint, uint) {
	n := len(key)
	if n == 0 {
		return 0, 1
	}
	h := uint32(n)*0x9e3779b1 ^ uint32(key[0])<<8 ^ uint32(key[n-1]) ^ uint32(key[n/2])<<16 ^ uint32(key[n/3])<<24
	h *= 0x85ebca6b
	h ^= h >> 15
	return uint(h & 255), uint(h>>8) & 255
}

// addField sets the bits of key in the filter f.
func addField(f *[4]uint64, key string) {
	a, b := fieldBits(key)
	f[a>>6] |= 1 << (a & 63)
	f[b>>6] |= 1 << (b & 63)
}

// mayHave reports whether key may be a field of the filter f.
func mayHave(f *[4]uint64, key string) bool {
	a, b := fieldBits(key)
	return f[a>>6]&(1<<(a&63)) != 0 && f[b>>6]&(1<<(b&63)) != 0
}

// fieldFilter returns m's filter of field names.
func (m *Message) fieldFilter() *[4]uint64 {
	f := (*facts)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(&m.f))))
	if f == nil || f.src.header != mapIdent(m.Header) {
		f = m.facts(srcHeader)
	}
	return &f.fields
}

// HasAnyField reports whether m may have one of the fields keys (canonical
// names): false means it has none, true that a map lookup should tell (it
// has one, or, rarely, a field that shares their bits). A classifier asking
// about a dozen rare fields answers most messages with this one call.
func (m *Message) HasAnyField(keys ...string) bool {
	if m == nil || len(m.Header) == 0 {
		return false
	}
	f := m.fieldFilter()
	for _, k := range keys {
		a, b := fieldBits(k) // mayHave, inlined
		if f[a>>6]&(1<<(a&63)) != 0 && f[b>>6]&(1<<(b&63)) != 0 {
			return true
		}
	}
	return false
}

// Field returns the first value of the field key — its canonical name, as
// the keys of Header are written ("Auto-Submitted") — and whether m has the
// field at all. It is Header's first value; a field m does not have is
// usually answered without a map lookup, which makes a series of questions
// about rare fields (a classifier asking for a dozen) cheap.
func (m *Message) Field(key string) (string, bool) {
	if m == nil || len(m.Header) == 0 {
		return "", false
	}
	if !mayHave(m.fieldFilter(), key) {
		return "", false
	}
	vs, ok := m.Header[key]
	if len(vs) == 0 {
		return "", ok
	}
	return vs[0], true
}

const (
	factParent     = 1 << iota // ids[0] is the id the message replies to
	factPhraseIRT              // In-Reply-To holds text outside brackets
	factPhraseRefs             // References does
)

// Field names of the id fields, as they appear in Evidence.
const (
	fieldInReplyTo  = "In-Reply-To"
	fieldReferences = "References"
)

// maxDropped is how many junk ids are reported one by one; linearDedup is
// how many ids are compared pairwise before a set takes over.
const (
	maxDropped  = 8
	linearDedup = 32
)

// factSource identifies the field values facts were computed from: a field
// assigned a new value (another string, slice or map, or one of another
// length) makes the facts that come from it stale. Fields are compared by
// identity — data pointer and length — which costs a few instructions;
// an equal value assigned anew merely computes the facts again.
type factSource struct {
	msgID, irt, refs, replyTo ident
	sender, from, to, cc, bcc ident
	header                    ident
}

// ident is the identity of a string, slice or map: its data and length.
type ident struct {
	p unsafe.Pointer
	n int
}

func strIdent(s string) ident { return ident{unsafe.Pointer(unsafe.StringData(s)), len(s)} }

func sliceIdent[T any](s []T) ident { return ident{unsafe.Pointer(unsafe.SliceData(s)), len(s)} }

func mapIdent(h mail.Header) ident { return ident{*(*unsafe.Pointer)(unsafe.Pointer(&h)), len(h)} }

// The groups of facts, by the fields they come from.
const (
	srcAddrs  = 1 << iota // the participants: From, Sender, To, Cc, Bcc
	srcIDs                // the ids: MessageID, In-Reply-To, References, and the addresses and Header they are checked against
	srcHeader             // the field names: Header
)

func sourceOf(m *Message) factSource {
	return factSource{
		msgID: strIdent(m.MessageID), irt: sliceIdent(m.InReplyTo), refs: sliceIdent(m.References),
		replyTo: sliceIdent(m.ReplyTo), sender: strIdent(m.Sender.Address), from: sliceIdent(m.From),
		to: sliceIdent(m.To), cc: sliceIdent(m.Cc), bcc: sliceIdent(m.Bcc), header: mapIdent(m.Header),
	}
}

// same reports whether the fields of m that the facts of the groups in
// what come from still hold the values s was taken from.
func (s *factSource) same(m *Message, what uint8) bool {
	if what&(srcAddrs|srcIDs) != 0 && (s.from != sliceIdent(m.From) || s.sender != strIdent(m.Sender.Address) ||
		s.to != sliceIdent(m.To) || s.cc != sliceIdent(m.Cc) || s.bcc != sliceIdent(m.Bcc)) {
		return false
	}
	if what&srcIDs != 0 && (s.msgID != strIdent(m.MessageID) || s.irt != sliceIdent(m.InReplyTo) ||
		s.refs != sliceIdent(m.References) || s.replyTo != sliceIdent(m.ReplyTo)) {
		return false
	}
	if what&(srcIDs|srcHeader) != 0 && s.header != mapIdent(m.Header) {
		return false
	}
	return true
}

// facts returns m's facts, computing them when m has none or the fields
// the groups in what come from changed since. Concurrent callers may each
// compute them; one result is kept, and all are equal.
func (m *Message) facts(what uint8) *facts {
	f := (*facts)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(&m.f))))
	if f != nil && f.src.same(m, what) {
		return f
	}
	f = new(facts)
	f.build(m, nil)
	atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(&m.f)), unsafe.Pointer(f))
	return f
}

// build computes f from m. With a parser (ParseMessage's pass), the junk
// ids are also removed from m.InReplyTo and m.References, in place, and
// reported as problems; without one m is not modified.
func (f *facts) build(m *Message, p *parser) {
	f.self = normalizeID(m.MessageID)
	if f.self != "" {
		f.selfJunk = junkForm(f.self)
	}
	if p != nil {
		f.flags = p.phrase // read from the fields as they were parsed
		f.fields = p.fields
	} else {
		for k := range m.Header {
			addField(&f.fields, k)
		}
		if phraseField(m.Header[fieldInReplyTo]) {
			f.flags |= factPhraseIRT
		}
		if phraseField(m.Header[fieldReferences]) {
			f.flags |= factPhraseRefs
		}
	}
	c := idCleaner{f: f, m: m, ids: f.idBuf[:0]}
	if n := len(m.InReplyTo) + len(m.References); n > len(f.idBuf) {
		c.ids = make([]string, 0, n)
	}
	irt := m.InReplyTo[:0:0]
	if p != nil {
		irt = m.InReplyTo[:0]
	}
	for _, raw := range m.InReplyTo {
		if id, ok := c.add(raw, fieldInReplyTo); ok && p != nil {
			irt = append(irt, id)
		}
	}
	f.nirt = len(c.ids)
	newestOK := false
	for i := len(m.References) - 1; i >= 0; i-- {
		_, ok := c.add(m.References[i], fieldReferences)
		if i == len(m.References)-1 {
			newestOK = ok
		}
	}
	if f.nirt > 0 || (newestOK && len(c.ids) > 0) {
		f.flags |= factParent
	}
	if c.more > 0 {
		f.dropped = append(f.dropped, Evidence{Field: fieldReferences, Note: strconv.Itoa(c.more) + " more junk ids dropped"})
	}
	f.ids = c.ids
	if p != nil {
		if len(f.dropped) > 0 || c.junk > 0 {
			m.InReplyTo = irt
			m.References = keepUsable(m, m.References)
			for _, e := range f.dropped {
				p.problems = append(p.problems, Problem{Field: e.Field, Value: e.Value, Err: junkError(e.Note)})
			}
		}
		if len(m.InReplyTo) == 0 {
			m.InReplyTo = nil
		}
		if len(m.References) == 0 {
			m.References = nil
		}
	}
	f.participants(m)
	f.src = sourceOf(m)
}

// keepUsable removes, in place, the ids of refs that JunkID rejects.
func keepUsable(m *Message, refs []string) []string {
	out := refs[:0]
	for _, id := range refs {
		if JunkID(id, m) == "" {
			out = append(out, id)
		}
	}
	return out
}

// junkError is the parse problem of a junk id: its reason.
type junkError string

func (e junkError) Error() string {
	if len(e) > 0 && e[0] >= '0' && e[0] <= '9' {
		return string(e) // "12 more junk ids dropped"
	}
	return "junk id dropped: " + string(e)
}

// idCleaner collects the usable ids of a message in lookup order.
type idCleaner struct {
	f    *facts
	m    *Message
	ids  []string
	seen map[string]struct{}
	junk int // junk ids met
	more int // junk ids not reported one by one
}

// add adds raw when it is usable and new, and reports whether it was usable
// (a repeat is usable) with its normal form.
func (c *idCleaner) add(raw, field string) (string, bool) {
	id, reason := normalizeAndCheck(raw)
	if reason == "" && id == c.f.self {
		reason = JunkSelf
	}
	if reason == "" && isAddressOf(id, c.m) {
		reason = JunkAddress
	}
	if reason != "" {
		c.junk++
		c.drop(id, field, reason)
		return id, false
	}
	if c.seen != nil {
		if _, dup := c.seen[id]; dup {
			return id, true
		}
		c.seen[id] = struct{}{}
	} else {
		for _, x := range c.ids {
			if x == id {
				return id, true
			}
		}
		if len(c.ids) >= linearDedup {
			c.seen = make(map[string]struct{}, 2*linearDedup)
			for _, x := range c.ids {
				c.seen[x] = struct{}{}
			}
			c.seen[id] = struct{}{}
		}
	}
	c.ids = append(c.ids, id)
	return id, true
}

// drop reports a junk id: the first maxDropped distinct values one by
// one, the rest in a count.
func (c *idCleaner) drop(id, field, reason string) {
	d := c.f.dropped
	if len(d) >= maxDropped {
		c.more++
		return
	}
	v := clipValue(id)
	for _, e := range d {
		if e.Value == v {
			return
		}
	}
	c.f.dropped = append(d, Evidence{Field: field, Value: v, Note: reason})
}

// participants computes f.parts and f.nsend.
func (f *facts) participants(m *Message) {
	n := len(m.From) + len(m.To) + len(m.Cc) + len(m.Bcc) + 1
	out := f.partBuf[:0]
	if n > len(f.partBuf) {
		out = make([]string, 0, n)
	}
	var seen map[string]struct{}
	add := func(a string) {
		a = NormalizeAddress(a)
		if a == "" {
			return
		}
		if seen != nil {
			if _, dup := seen[a]; dup {
				return
			}
			seen[a] = struct{}{}
		} else {
			for _, x := range out {
				if x == a {
					return
				}
			}
			if len(out) >= linearDedup {
				seen = make(map[string]struct{}, 2*len(out))
				for _, x := range out {
					seen[x] = struct{}{}
				}
				seen[a] = struct{}{}
			}
		}
		out = append(out, a)
	}
	for _, a := range m.From {
		add(a.Address)
	}
	add(m.Sender.Address)
	f.nsend = len(out)
	for _, list := range [...][]Address{m.To, m.Cc, m.Bcc} {
		for _, a := range list {
			add(a.Address)
		}
	}
	if len(out) == 0 {
		out = nil
	}
	f.parts = out
}
