// RFC 5256 REFERENCES mode: step 1, linking each message as it is added.

package thread

import (
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
)

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
