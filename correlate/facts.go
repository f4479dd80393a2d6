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

	idBuf   [4]string
	partBuf [4]string
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
// assigned a new value (another string, slice or map) makes them stale.
type factSource struct {
	msgID, sender              string
	irt, refs                  unsafe.Pointer
	nirt, nrefs                int
	from, replyTo, to, cc, bcc unsafe.Pointer
	nfrom, nreplyTo, nto       int
	ncc, nbcc                  int
	header                     unsafe.Pointer
}

func mapPointer(h mail.Header) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&h)) }

func sourceOf(m *Message) factSource {
	return factSource{
		msgID: m.MessageID, sender: m.Sender.Address,
		irt: unsafe.Pointer(unsafe.SliceData(m.InReplyTo)), nirt: len(m.InReplyTo),
		refs: unsafe.Pointer(unsafe.SliceData(m.References)), nrefs: len(m.References),
		from: unsafe.Pointer(unsafe.SliceData(m.From)), nfrom: len(m.From),
		replyTo: unsafe.Pointer(unsafe.SliceData(m.ReplyTo)), nreplyTo: len(m.ReplyTo),
		to: unsafe.Pointer(unsafe.SliceData(m.To)), nto: len(m.To),
		cc: unsafe.Pointer(unsafe.SliceData(m.Cc)), ncc: len(m.Cc),
		bcc: unsafe.Pointer(unsafe.SliceData(m.Bcc)), nbcc: len(m.Bcc),
		header: mapPointer(m.Header),
	}
}

// same reports whether m's fields still hold the values s was taken from.
// Strings compare by content (equal pointers short-cut the comparison).
func (s *factSource) same(m *Message) bool {
	return s.msgID == m.MessageID && s.sender == m.Sender.Address &&
		s.irt == unsafe.Pointer(unsafe.SliceData(m.InReplyTo)) && s.nirt == len(m.InReplyTo) &&
		s.refs == unsafe.Pointer(unsafe.SliceData(m.References)) && s.nrefs == len(m.References) &&
		s.from == unsafe.Pointer(unsafe.SliceData(m.From)) && s.nfrom == len(m.From) &&
		s.replyTo == unsafe.Pointer(unsafe.SliceData(m.ReplyTo)) && s.nreplyTo == len(m.ReplyTo) &&
		s.to == unsafe.Pointer(unsafe.SliceData(m.To)) && s.nto == len(m.To) &&
		s.cc == unsafe.Pointer(unsafe.SliceData(m.Cc)) && s.ncc == len(m.Cc) &&
		s.bcc == unsafe.Pointer(unsafe.SliceData(m.Bcc)) && s.nbcc == len(m.Bcc) &&
		s.header == mapPointer(m.Header)
}

// facts returns m's facts, computing them when m has none or its fields
// changed since. Concurrent callers may each compute them; one result is
// kept, and all are equal.
func (m *Message) facts() *facts {
	f := (*facts)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(&m.f))))
	if f != nil && f.src.same(m) {
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
	} else {
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
