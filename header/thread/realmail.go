// RealMail mode: registering a message's own parent and References chain, and reading the In-Reply-To field's form.

package thread

import (
	"slices"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
)

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
	lastRef, lastOK := int32(none), false
	for i, id := range refs {
		c, ok := usable(id)
		if ok {
			t.chainAdd(e.chainOff, &seen, c)
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
		t.chainAdd(e.chainOff, &seen, parent)
	}
	e.chainLen = int32(len(t.chain)) - e.chainOff
	if e.parent == none && e.chainLen > 0 {
		e.parent = t.chain[e.chainOff+e.chainLen-1]
	}
	return ei
}

// chainAdd appends container c to the chain that starts at off in t.chain
// (the last one), unless it holds c already: each id once (the first
// occurrence), as correlate.ParseMessageIDs leaves them; a Message built by
// hand may repeat one. Long chains are checked through *seen, which
// chainAdd makes when the chain reaches 64 ids.
func (t *threader) chainAdd(off int32, seen *map[int32]struct{}, c int32) {
	own := t.chain[off:]
	if *seen == nil && len(own) >= 64 {
		*seen = make(map[int32]struct{}, 2*len(own))
		for _, x := range own {
			(*seen)[x] = struct{}{}
		}
	}
	if *seen != nil {
		if _, dup := (*seen)[c]; dup {
			return
		}
		(*seen)[c] = struct{}{}
	} else if slices.Contains(own, c) {
		return
	}
	t.chain = append(grow(t.chain), c)
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
