// Incremental RealMail: placing a new message's links in place, or relinking its component when they conflict.

package thread

import (
	"cmp"
	"slices"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

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
