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
