package thread

import (
	"slices"

	"github.com/mailcorrelate/mailcorrelate/subject"
)

// roots builds the forest from the containers: steps 2 to 6 of RFC 5256
// REFERENCES (root set, pruning of dummies, sorting, subject grouping), or
// ORDEREDSUBJECT.
func (t *threader) roots() []*Node {
	if t.mode == OrderedSubject {
		return t.orderedSubject()
	}
	live := 0
	for i := range t.conts {
		if c := &t.conts[i]; c.msg != none || c.first != none {
			live++
		}
	}
	if live == 0 {
		return nil
	}
	roots, order := t.forest(live)
	top := pruneDummies(roots, order)
	// Step 4 (and 6 below the top): sort every set of siblings, then the
	// top level, where a dummy sorts as its first child.
	for _, n := range order {
		if len(n.Children) > 1 {
			slices.SortFunc(n.Children, t.cmpNode)
		}
	}
	slices.SortFunc(top, t.cmpNode)
	if t.group {
		top = t.groupBySubject(top)
	}
	return top
}

// forest is step 2 of RFC 5256 REFERENCES: it builds the Nodes of the
// live containers (those with a message or a child; there are live of
// them) in one slab, and returns the roots and every node in pre-order.
func (t *threader) forest(live int) (roots, order []*Node) {
	slab := make([]Node, live)
	kids := make([]*Node, live)
	order = make([]*Node, 0, live) // pre-order
	type item struct {
		c int32
		n *Node
	}
	stack := make([]item, 0, 64)
	used := 0
	newNode := func(c int32, parent *Node) *Node {
		n := &slab[used]
		used++
		cc := &t.conts[c]
		n.ID, n.Parent, n.Index, n.ent = cc.id, parent, -1, cc.msg
		if cc.msg != none {
			e := &t.ents[cc.msg]
			n.Message, n.Index = e.m, e.index
		}
		return n
	}
	kidsUsed := 0
	for i := range t.conts {
		c := &t.conts[i]
		if c.parent != none || (c.msg == none && c.first == none) {
			continue
		}
		r := newNode(int32(i), nil)
		roots = append(roots, r)
		stack = append(stack[:0], item{int32(i), r})
		for len(stack) > 0 {
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			order = append(order, it.n)
			k := 0
			for x := t.conts[it.c].first; x != none; x = t.conts[x].next {
				if xc := &t.conts[x]; xc.msg != none || xc.first != none {
					k++
				}
			}
			if k == 0 {
				continue
			}
			it.n.Children = kids[kidsUsed : kidsUsed : kidsUsed+k]
			kidsUsed += k
			for x := t.conts[it.c].first; x != none; x = t.conts[x].next {
				if xc := &t.conts[x]; xc.msg != none || xc.first != none {
					child := newNode(x, it.n)
					it.n.Children = append(it.n.Children, child)
					stack = append(stack, item{x, child})
				}
			}
		}
	}
	return roots, order
}

// pruneDummies is step 3 of RFC 5256 REFERENCES: it prunes dummies,
// children before parents (order is pre-order): a dummy is replaced by its
// children, except at the top (a root), where it stays when it holds two or
// more. It returns the top level.
func pruneDummies(roots, order []*Node) []*Node {
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		hasDummy := false
		for _, c := range n.Children {
			if c.Message == nil {
				hasDummy = true
				break
			}
		}
		if !hasDummy {
			continue
		}
		var out []*Node
		for _, c := range n.Children {
			if c.Message != nil {
				out = append(out, c)
				continue
			}
			for _, g := range c.Children {
				g.Parent = n
				out = append(out, g)
			}
		}
		n.Children = out
	}
	top := roots[:0:0]
	for _, r := range roots {
		if r.Message == nil {
			switch len(r.Children) {
			case 0:
				continue
			case 1:
				r.Children[0].Parent = nil
				top = append(top, r.Children[0])
				continue
			}
		}
		top = append(top, r)
	}
	return top
}

// first returns the message node a node sorts and is named by: itself, or
// the first child of a dummy.
func first(n *Node) *Node {
	for n.Message == nil && len(n.Children) > 0 {
		n = n.Children[0]
	}
	return n
}

// cmpNode orders nodes by their messages (see cmpEnt); a dummy counts as its
// first child.
func (t *threader) cmpNode(a, b *Node) int {
	a, b = first(a), first(b)
	if a.Message == nil || b.Message == nil {
		return 0 // an empty dummy: not produced by roots
	}
	return t.cmpEnt(a.ent, b.ent)
}

// groupBySubject is step 5 of RFC 5256 REFERENCES: roots (sorted) whose
// base subjects are equal are merged, and the merged sets re-sorted (step 6).
func (t *threader) groupBySubject(top []*Node) []*Node {
	type info struct {
		key   string
		refwd bool
	}
	infos := make([]info, len(top))
	for i, r := range top {
		m := first(r).Message
		base, in := t.norm.Base(m.Subject)
		infos[i] = info{subject.Fold(base), in.Reply || in.Forward}
	}
	// (B) the subject table: per subject, a dummy if there is one, else a
	// message that is not a reply or forward if there is one, else the
	// first.
	table := make(map[string]int, len(top))
	for i, r := range top {
		k := infos[i].key
		if k == "" {
			continue
		}
		j, ok := table[k]
		if !ok {
			table[k] = i
			continue
		}
		if old := top[j]; old.Message != nil && (r.Message == nil || (infos[j].refwd && !infos[i].refwd)) {
			table[k] = i
		}
	}
	// (C) merge every other root of a subject into the table's.
	holder := make(map[string]*Node, len(table))
	for k, j := range table {
		holder[k] = top[j]
	}
	var changed []*Node
	out := top[:0:0]
	for i, r := range top {
		k := infos[i].key
		if k == "" {
			out = append(out, r)
			continue
		}
		h := holder[k]
		if h == r {
			out = append(out, r)
			continue
		}
		switch {
		case h.Message == nil && r.Message == nil:
			for _, c := range r.Children {
				c.Parent = h
			}
			h.Children = append(h.Children, r.Children...)
		case h.Message == nil:
			r.Parent = h
			h.Children = append(h.Children, r)
		case infos[i].refwd && !infos[table[k]].refwd:
			r.Parent = h
			h.Children = append(h.Children, r)
		default:
			// A new dummy holds both, in the table holder's place.
			d := &Node{Index: -1}
			*d, *h = *h, Node{Index: -1}
			// d now carries the old holder's message and children; h
			// becomes the dummy, so its position in out stays valid.
			for _, c := range d.Children {
				c.Parent = d
			}
			d.Parent, r.Parent = h, h
			h.Children = []*Node{d, r}
			// The table entry is now a dummy: later roots join it. The old
			// holder may have received roots already.
			changed = append(changed, d)
		}
		changed = append(changed, h)
	}
	for _, n := range changed {
		slices.SortFunc(n.Children, t.cmpNode)
	}
	slices.SortFunc(out, t.cmpNode)
	return out
}

// orderedSubject is RFC 5256 THREAD=ORDEREDSUBJECT: messages grouped by
// base subject (an empty subject is a group too), each group sorted by sent
// date, its first message the parent of the others; groups sorted by their
// first message.
func (t *threader) orderedSubject() []*Node {
	if len(t.ents) == 0 {
		return nil
	}
	type item struct {
		key string
		e   int32
	}
	items := make([]item, len(t.ents))
	for i := range t.ents {
		base, _ := t.norm.Base(t.ents[i].m.Subject)
		items[i] = item{subject.Fold(base), int32(i)}
	}
	slices.SortFunc(items, func(a, b item) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return t.cmpEnt(a.e, b.e)
	})
	slab := make([]Node, len(items))
	var top []*Node
	var head *Node
	ids := make(map[string]struct{}, len(items))
	for i := range t.ents {
		// The id belongs to the first message of the mailbox carrying it.
		if id := t.ents[i].m.MessageID; validID(id) {
			if _, dup := ids[id]; !dup {
				ids[id] = struct{}{}
				slab[i].ID = id
			}
		}
	}
	for i, it := range items {
		e := &t.ents[it.e]
		n := &slab[it.e]
		n.Message, n.Index, n.ent = e.m, e.index, it.e
		if i > 0 && it.key == items[i-1].key {
			n.Parent = head
			head.Children = append(head.Children, n)
			continue
		}
		head = n
		top = append(top, n)
	}
	slices.SortFunc(top, t.cmpNode)
	return top
}
