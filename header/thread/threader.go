package thread

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// A Threader threads messages added one at a time, as a mailbox sync
// meets them. Adding a message updates only the part of the forest it
// touches; Roots returns the forest, the same as [Thread] of every message
// added (in RealMail mode, whatever the order of the Add calls; in the RFC
// 5256 modes, Add order is the mailbox order).
//
// There is no removal: when messages leave the mailbox (an IMAP expunge),
// thread the remaining ones again with Thread or a new Threader. Adding the
// same message twice adds it twice, as two copies of one Message-ID.
//
// A Threader is safe for concurrent use. It keeps pointers to the added
// messages: do not modify a message after adding it.
type Threader struct {
	mu sync.Mutex
	threader
}

// NewThreader returns an empty Threader configured by opts (nil means the
// defaults).
func NewThreader(opts *Options) *Threader {
	t := &Threader{threader: *newThreader(opts, 0)}
	t.track = t.mode == RealMail
	return t
}

// Add adds m to the forest. A nil m is ignored. m's Index in the forest is
// the number of messages added before it.
//
// Add's work is proportional to the number of ids m names (bounded by
// Options.MaxReferences), except in RealMail mode when m's headers
// contradict what earlier messages said (a different parent for the same
// message, a loop, or an older copy of a known Message-ID): the conversation
// concerned is then rebuilt, in time linear in its size.
func (t *Threader) Add(m *correlate.Message) {
	if m == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(m, t.n)
}

// Len returns the number of messages added.
func (t *Threader) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ents)
}

// Roots returns the forest of the messages added so far, built afresh: the
// nodes belong to the caller. It takes time O(n log n) in the number of
// messages and dummies.
func (t *Threader) Roots() []*Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.roots()
}

// none marks an absent container or entry.
const none = -1

// Edge classes of RealMail mode: a message's own parent (In-Reply-To, else
// References) and a link presumed from another message's References chain.
const (
	edgeOwn int8 = iota
	edgeChain
)

// threader is the unlocked state shared by Thread and Threader.
type threader struct {
	mode    Mode
	group   bool // merge roots by subject
	date    func(*correlate.Message) stamp
	norm    *subject.Normalizer
	maxRefs int
	track   bool // keep components for conflict repair (incremental RealMail)
	n       int  // next Index

	ents  []entry
	conts []container
	byID  map[string]int32
	chain []int32 // arena of entry chains

	// Components (track only): union-find over containers, and the entries
	// of each component at its root.
	uf      []int32
	members [][]int32
}

// stamp is a sent date reduced to comparable integers.
type stamp struct {
	sec  int64
	nsec int32
}

// An entry is one added message.
type entry struct {
	m     *correlate.Message
	date  stamp
	index int
	// self is the container holding the message; idNode the container of
	// its Message-ID (none when it has no usable id). They differ for a
	// duplicate, which sits in an anonymous container.
	self, idNode int32
	// parent is the container of the message's own parent id (RealMail).
	parent int32
	// chainOff and chainLen locate the containers of its usable References
	// ids, oldest first, in threader.chain (RealMail).
	chainOff, chainLen int32
}

// A container is a node of the id graph: a message, or a ghost standing
// for an id that messages name.
type container struct {
	id     string
	msg    int32 // entry, none for a ghost
	parent int32
	// Children form a doubly linked list; their order does not matter.
	first, next, prev int32
	// junk marks an id that is not a Message-ID by form (header.Junk with
	// no message), decided once per id.
	junk bool
	// The accepted parent edge (RealMail): its class, the entry whose
	// headers gave it and its position among that entry's chain links.
	eclass int8
	ekey   int32
	epos   int32
}

func newThreader(opts *Options, n int) *threader {
	var o Options
	if opts != nil {
		o = *opts
	}
	t := &threader{mode: o.Mode, group: o.GroupBySubject, norm: o.Subject, maxRefs: o.MaxReferences}
	switch t.mode {
	case References, OrderedSubject:
		t.group = t.mode == References
		if t.norm == nil {
			t.norm = rfcNormalizer()
		}
	default:
		t.mode = RealMail
		if t.norm == nil && t.group {
			t.norm = extendedNormalizer()
		}
	}
	if t.maxRefs == 0 {
		t.maxRefs = header.DefaultMaxIDs
	}
	if o.Date != nil {
		hook := o.Date
		t.date = func(m *correlate.Message) stamp {
			if !m.Date.IsZero() {
				return stamp{m.Date.Unix(), int32(m.Date.Nanosecond())}
			}
			d := hook(m)
			return stamp{d.Unix(), int32(d.Nanosecond())}
		}
	} else {
		t.date = func(m *correlate.Message) stamp {
			return stamp{m.Date.Unix(), int32(m.Date.Nanosecond())}
		}
	}
	if n > 0 {
		t.ents = make([]entry, 0, n)
		t.conts = make([]container, 0, 2*n)
		t.byID = make(map[string]int32, 2*n)
		t.chain = make([]int32, 0, 2*n)
	} else {
		t.byID = make(map[string]int32)
	}
	return t
}

// The default normalizers, built once (a Normalizer takes tens of
// microseconds to build and is immutable afterwards).
var (
	rfcNormalizer = sync.OnceValue(func() *subject.Normalizer {
		return subject.New(&subject.Options{Mode: subject.RFC5256})
	})
	extendedNormalizer = sync.OnceValue(func() *subject.Normalizer { return subject.New(nil) })
)

// grow returns s with room for one more element, doubling its capacity
// when full (append grows large slices by a quarter, copying them far more
// often as a mailbox grows).
func grow[S ~[]E, E any](s S) S {
	if len(s) < cap(s) {
		return s
	}
	return slices.Grow(s, max(len(s), 64))
}

// add threads m, the message at position index of the input.
func (t *threader) add(m *correlate.Message, index int) {
	switch t.mode {
	case References:
		t.addRFC(m, index)
	case OrderedSubject:
		t.newEntry(m, index)
	default:
		t.addReal(m, index)
	}
	t.n = index + 1
}

// newEntry appends an entry for m and returns its number.
func (t *threader) newEntry(m *correlate.Message, index int) int32 {
	t.ents = grow(t.ents)
	t.ents = append(t.ents, entry{m: m, date: t.date(m), index: index, self: none, idNode: none, parent: none})
	return int32(len(t.ents) - 1)
}

// newCont appends a container for id ("" for an anonymous one).
func (t *threader) newCont(id string) int32 {
	t.conts = grow(t.conts)
	t.conts = append(t.conts, container{id: id, msg: none, parent: none, first: none, next: none, prev: none, ekey: none})
	c := int32(len(t.conts) - 1)
	if t.track {
		t.uf = append(grow(t.uf), c)
		t.members = append(grow(t.members), nil)
	}
	return c
}

// node returns the container of id, creating a ghost for an unknown id.
func (t *threader) node(id string) int32 {
	if c, ok := t.byID[id]; ok {
		return c
	}
	c := t.newCont(id)
	t.conts[c].junk = header.Junk(id, nil) != ""
	t.byID[id] = c
	return c
}

// link makes p the parent of c, which has none.
func (t *threader) link(c, p int32) {
	cc := &t.conts[c]
	cc.parent = p
	cc.prev = none
	cc.next = t.conts[p].first
	if cc.next != none {
		t.conts[cc.next].prev = c
	}
	t.conts[p].first = c
}

// unlink detaches c from its parent.
func (t *threader) unlink(c int32) {
	cc := &t.conts[c]
	if cc.parent == none {
		return
	}
	if cc.prev != none {
		t.conts[cc.prev].next = cc.next
	} else {
		t.conts[cc.parent].first = cc.next
	}
	if cc.next != none {
		t.conts[cc.next].prev = cc.prev
	}
	cc.parent, cc.next, cc.prev = none, none, none
}

// loops reports whether making p the parent of c would close a loop: whether
// c is p or an ancestor of p.
func (t *threader) loops(c, p int32) bool {
	if c == p {
		return true
	}
	if t.conts[c].first == none {
		return false // c has no descendants
	}
	for x := t.conts[p].parent; x != none; x = t.conts[x].parent {
		if x == c {
			return true
		}
	}
	return false
}

// validID reports whether id has the form of a Message-ID (RFC 5256 modes
// check nothing else).
func validID(id string) bool { return header.Junk(id, nil) == "" }

// addRFC is step 1 of RFC 5256 REFERENCES for one message, in mailbox order.
func (t *threader) addRFC(m *correlate.Message, index int) {
	ei := t.newEntry(m, index)
	refs := m.References
	if t.maxRefs > 0 && len(refs) > t.maxRefs {
		refs = refs[len(refs)-t.maxRefs:]
	}
	last := int32(none)
	useIRT := true
	for _, id := range refs {
		if c := t.node(id); !t.conts[c].junk {
			useIRT = false
			last = t.chainLink(last, c)
		}
	}
	if useIRT {
		// No valid References id: the first valid In-Reply-To id is the
		// only reference.
		for _, id := range m.InReplyTo {
			if c := t.node(id); !t.conts[c].junk {
				last = t.chainLink(none, c)
				break
			}
		}
	}
	// (B) the message itself. A duplicate Message-ID gets a unique id: only
	// the first message of the mailbox keeps it.
	self := int32(none)
	if id := m.MessageID; id != "" {
		switch c := t.node(id); {
		case t.conts[c].junk:
		case t.conts[c].msg == none:
			self = c
			// A parent presumed from other messages' References yields to
			// the message's own.
			t.unlink(c)
		}
	}
	if self == none {
		self = t.newCont("")
	}
	t.conts[self].msg = ei
	t.ents[ei].self = self
	if last != none && !t.loops(self, last) {
		t.link(self, last)
	}
}

// chainLink is step 1.A for one References id's container c: it links c
// below last unless c already has a parent or the link would close a loop,
// and returns c.
func (t *threader) chainLink(last, c int32) int32 {
	if last != none && t.conts[c].parent == none && !t.loops(c, last) {
		t.link(c, last)
	}
	return c
}

// register records m for RealMail threading without linking it: its
// containers, its own parent and its References chain, junk dropped (see
// header.Junk).
//
// The parent is the first usable In-Reply-To id (header.ReadRefs' Parent),
// except for the RFC 822 "phrase" form of the field that old mailers write:
//
//   - nmh and exmh write "Message from Name <address> of <date> <id>": the
//     first bracketed text is the address of the person answered, so a
//     field that also holds free text gives its last id (notmuch also takes
//     the last id);
//   - Gnus writes "name@example.com's message of <date>", without any angle
//     bracket: correlate.ParseMessageIDs then reads words containing '@',
//     which are addresses, so such a field gives no parent unless it is a
//     single word (an id whose brackets were dropped).
//
// Both forms would otherwise make one address the common parent of every
// reply to that person, fusing unrelated threads (spamassassin-ham corpus).
// Without a usable In-Reply-To id the parent is the newest usable
// References id.
//
// The chain is the usable References ids, oldest first, each once, and the
// parent after them when References does not name it: the newest
// reference is then presumed to be the parent's parent (a reply to a
// message that is missing still joins the conversation its References
// name, as in notmuch).
func (t *threader) register(m *correlate.Message, index int) int32 {
	ei := t.newEntry(m, index)
	e := &t.ents[ei]
	if id := m.MessageID; id != "" {
		if c := t.node(id); !t.conts[c].junk {
			e.idNode = c
		}
	}
	// usable returns the container of a referenced id and whether the id
	// may name another message of m's conversation, that is whether
	// header.Junk(id, m) is "": from the form verdict cached per id, the
	// message's own container, and header.Junk itself when the id could be
	// an address of m.
	longest := -1 // length of m's longest address, computed on first use
	usable := func(id string) (int32, bool) {
		c := t.node(id)
		if t.conts[c].junk || c == e.idNode {
			return c, false
		}
		if longest < 0 {
			longest = longestAddress(m)
		}
		if mayBeAddress(id, longest) && header.Junk(id, m) != "" {
			return c, false
		}
		return c, true
	}
	refs := m.References
	if t.maxRefs > 0 && len(refs) > t.maxRefs {
		refs = refs[len(refs)-t.maxRefs:]
	}
	e.chainOff = int32(len(t.chain))
	var seen map[int32]struct{}
	add := func(c int32) {
		// Each id once (the first occurrence), as correlate.ParseMessageIDs
		// leaves them; a Message built by hand may repeat one.
		own := t.chain[e.chainOff:]
		if seen == nil && len(own) >= 64 {
			seen = make(map[int32]struct{}, 2*len(own))
			for _, x := range own {
				seen[x] = struct{}{}
			}
		}
		if seen != nil {
			if _, dup := seen[c]; dup {
				return
			}
			seen[c] = struct{}{}
		} else if slices.Contains(own, c) {
			return
		}
		t.chain = append(grow(t.chain), c)
	}
	lastRef, lastOK := int32(none), false
	for i, id := range refs {
		c, ok := usable(id)
		if ok {
			add(c)
		}
		if i == len(refs)-1 {
			lastRef, lastOK = c, ok
		}
	}
	parent := int32(none)
	if len(m.InReplyTo) > 0 {
		// The field's form matters only when it has several ids, or one
		// that References does not confirm (the usual reply repeats its
		// In-Reply-To id last in References: no need to read the field,
		// nor to look the id up again).
		irt := m.InReplyTo[0]
		switch {
		case len(m.InReplyTo) == 1 && len(refs) > 0 && refs[len(refs)-1] == irt:
			if lastOK {
				parent = lastRef
			}
		default:
			form := irtPlain
			if len(m.InReplyTo) > 1 || !slices.Contains(m.References, irt) {
				form = irtForm(m)
			}
			for _, id := range m.InReplyTo {
				if form == irtProse {
					break
				}
				if c, ok := usable(id); ok {
					parent = c
					if form != irtPhrase {
						break
					}
				}
			}
		}
	}
	if parent != none {
		e.parent = parent
		add(parent)
	}
	e.chainLen = int32(len(t.chain)) - e.chainOff
	if e.parent == none && e.chainLen > 0 {
		e.parent = t.chain[e.chainOff+e.chainLen-1]
	}
	return ei
}

// longestAddress returns the length in bytes of the longest address of m
// (From, Sender, Reply-To, To, Cc or Bcc: at least the fields header.Junk
// compares ids with). It reads no address text, only lengths.
func longestAddress(m *correlate.Message) int {
	n := len(m.Sender.Address)
	for _, list := range [...][]correlate.Address{m.From, m.ReplyTo, m.To, m.Cc, m.Bcc} {
		for i := range list {
			n = max(n, len(list[i].Address))
		}
	}
	return n
}

// mayBeAddress reports whether id could equal, without regard to case
// (strings.EqualFold), an address no longer than longest bytes. EqualFold
// matches rune by rune through Unicode simple folding, where a rune and its
// fold differ at most threefold in UTF-8 length, and an ASCII rune folds
// only to runes at least as long; so an ASCII id longer than every address
// equals none, and no id longer than three times every address does.
func mayBeAddress(id string, longest int) bool {
	switch {
	case len(id) <= longest:
		return true
	case len(id) > 3*longest:
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] >= 0x80 {
			return true
		}
	}
	return false
}

// Forms of the In-Reply-To field.
const (
	irtPlain  = iota // ids only (or no field)
	irtPhrase        // ids and free text
	irtProse         // free text without angle brackets
)

// irtForm classifies m's In-Reply-To field (see register).
func irtForm(m *correlate.Message) int {
	values := m.Header["In-Reply-To"]
	brackets, text := false, false
	for _, v := range values {
		depth := 0
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == '<':
				brackets = true
				depth++
			case c == '>':
				if depth > 0 {
					depth--
				}
			case depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',':
				text = true
			}
		}
	}
	switch {
	case !text:
		return irtPlain
	case brackets:
		return irtPhrase
	case len(values) == 1 && len(strings.Fields(values[0])) == 1:
		return irtPlain // a bare id, brackets dropped
	}
	return irtProse
}

// cmpEnt orders entries: by sent date, then (RealMail) by what the headers
// say, so the order does not depend on the input order, then by input
// order.
func (t *threader) cmpEnt(a, b int32) int {
	x, y := &t.ents[a], &t.ents[b]
	if c := cmp.Compare(x.date.sec, y.date.sec); c != 0 {
		return c
	}
	if c := cmp.Compare(x.date.nsec, y.date.nsec); c != 0 {
		return c
	}
	if t.mode == RealMail && x.m != y.m {
		mx, my := x.m, y.m
		if c := strings.Compare(mx.MessageID, my.MessageID); c != 0 {
			return c
		}
		if c := strings.Compare(mx.Subject, my.Subject); c != 0 {
			return c
		}
		if c := slices.Compare(mx.InReplyTo, my.InReplyTo); c != 0 {
			return c
		}
		if c := slices.Compare(mx.References, my.References); c != 0 {
			return c
		}
	}
	return cmp.Compare(x.index, y.index)
}

// chainOf returns the chain containers of entry ei.
func (t *threader) chainOf(ei int32) []int32 {
	e := &t.ents[ei]
	return t.chain[e.chainOff : e.chainOff+e.chainLen]
}

// relink computes the links of RealMail mode among the entries ents (all
// entries, or one component) from scratch. The result is a function of the
// set of messages, not of their order:
//
//  1. each Message-ID belongs to the oldest message carrying it (by cmpEnt);
//     the others are duplicates in anonymous containers;
//  2. own parent links, newest message first, each unless it closes a loop
//     (so in a loop of replies the oldest message becomes the root);
//  3. links presumed from References chains (id i-1 is the parent of id i),
//     oldest message first and, within a message, newest pair first, each
//     only for a container that has no parent yet and unless it closes a
//     loop.
func (t *threader) relink(ents []int32) {
	for _, ei := range ents {
		e := &t.ents[ei]
		t.reset(e.self)
		t.reset(e.idNode)
		t.reset(e.parent)
		for _, c := range t.chainOf(ei) {
			t.reset(c)
		}
	}
	slices.SortFunc(ents, t.cmpEnt)
	for _, ei := range ents {
		e := &t.ents[ei]
		if e.idNode != none && t.conts[e.idNode].msg == none {
			e.self = e.idNode
		} else if e.self == none || e.self == e.idNode {
			e.self = t.newCont("")
			if t.track {
				t.union(t.find(e.self), t.find(e.idNode))
			}
		}
		t.conts[e.self].msg = ei
	}
	for i := len(ents) - 1; i >= 0; i-- {
		ei := ents[i]
		e := &t.ents[ei]
		if e.parent != none && t.conts[e.self].parent == none && !t.loops(e.self, e.parent) {
			t.link(e.self, e.parent)
			t.setEdge(e.self, edgeOwn, ei, 0)
		}
	}
	for _, ei := range ents {
		ch := t.chainOf(ei)
		for i := len(ch) - 1; i >= 1; i-- {
			c, p := ch[i], ch[i-1]
			if t.conts[c].parent == none && !t.loops(c, p) {
				t.link(c, p)
				t.setEdge(c, edgeChain, ei, int32(len(ch)-1-i))
			}
		}
	}
}

// reset clears the links and message of container c (none is ignored).
func (t *threader) reset(c int32) {
	if c == none {
		return
	}
	cc := &t.conts[c]
	cc.msg, cc.parent, cc.first, cc.next, cc.prev = none, none, none, none, none
	cc.ekey, cc.epos, cc.eclass = none, 0, 0
}

func (t *threader) setEdge(c int32, class int8, key, pos int32) {
	cc := &t.conts[c]
	cc.eclass, cc.ekey, cc.epos = class, key, pos
}

// addReal adds one message in RealMail mode: the links it brings are
// applied in place when the result provably equals relink of all messages,
// else its component is relinked.
//
// In place is exact because relink is a greedy pass over edges in a fixed
// order: an edge into a container without parent that closes no loop is
// accepted wherever it falls in that order and changes no other decision,
// and replacing an edge by one with the same parent that comes earlier
// changes nothing else either. Everything else (a different parent, a loop,
// an older duplicate) goes to relink.
func (t *threader) addReal(m *correlate.Message, index int) {
	ei := t.register(m, index)
	e := &t.ents[ei]
	slow := false
	switch {
	case e.idNode == none:
		e.self = t.newCont("")
	case t.conts[e.idNode].msg == none:
		e.self = e.idNode
	default:
		// A duplicate: it takes over the id if it is older than the holder.
		slow = t.cmpEnt(ei, t.conts[e.idNode].msg) < 0
		e.self = t.newCont("")
	}
	t.conts[e.self].msg = ei

	r := t.find(e.self)
	if e.idNode != none {
		r = t.union(r, t.find(e.idNode))
	}
	if e.parent != none {
		r = t.union(r, t.find(e.parent))
	}
	for _, c := range t.chainOf(ei) {
		r = t.union(r, t.find(c))
	}
	t.members[r] = append(t.members[r], ei)

	if !slow && e.parent != none {
		slow = !t.placeOwn(ei)
	}
	if !slow {
		ch := t.chainOf(ei)
		for i := len(ch) - 1; i >= 1 && !slow; i-- {
			slow = !t.placeChain(ei, ch[i], ch[i-1], int32(len(ch)-1-i))
		}
	}
	if slow {
		r = t.find(r)
		t.relink(t.members[r])
	}
}

// placeOwn applies entry ei's own parent link in place, or reports false
// when its component must be relinked.
func (t *threader) placeOwn(ei int32) bool {
	e := &t.ents[ei]
	c, p := e.self, e.parent
	cc := &t.conts[c]
	switch {
	case cc.parent == none:
		if t.loops(c, p) {
			return false
		}
		t.link(c, p)
		t.setEdge(c, edgeOwn, ei, 0)
		return true
	case cc.parent == p:
		// A presumed link said the same: it is now the message's own.
		t.setEdge(c, edgeOwn, ei, 0)
		return true
	}
	return false
}

// placeChain applies the presumed link p→c from entry ei's References (the
// pos-th pair from the newest) in place, or reports false when the
// component must be relinked.
func (t *threader) placeChain(ei, c, p, pos int32) bool {
	if c == p {
		return true // never accepted
	}
	cc := &t.conts[c]
	switch {
	case cc.parent == none:
		if t.loops(c, p) {
			return false
		}
		t.link(c, p)
		t.setEdge(c, edgeChain, ei, pos)
		return true
	case cc.eclass == edgeOwn:
		return true // the message's own parent wins
	}
	// Both presumed: the older message's (then the nearer pair) wins.
	d := t.cmpEnt(ei, cc.ekey)
	if d == 0 {
		d = cmp.Compare(pos, cc.epos)
	}
	switch {
	case d > 0:
		return true
	case cc.parent == p:
		t.setEdge(c, edgeChain, ei, pos)
		return true
	}
	return false
}

// find returns the root of c's component.
func (t *threader) find(c int32) int32 {
	r := c
	for t.uf[r] != r {
		r = t.uf[r]
	}
	for t.uf[c] != r {
		c, t.uf[c] = t.uf[c], r
	}
	return r
}

// union merges the components with roots a and b and returns the new root.
func (t *threader) union(a, b int32) int32 {
	if a == b {
		return a
	}
	if len(t.members[a]) < len(t.members[b]) {
		a, b = b, a
	}
	t.uf[b] = a
	if len(t.members[b]) > 0 {
		t.members[a] = append(t.members[a], t.members[b]...)
		t.members[b] = nil
	}
	return a
}
