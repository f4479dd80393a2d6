package thread

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// Format writes a forest in the syntax of the IMAP THREAD response (RFC 5256
// section 4): each thread in parentheses, a chain of single replies as
// numbers separated by spaces, several replies as nested parenthesized
// lists, a dummy as nothing. For example "(3 2)(1)", "(1 (2 4)(3))" and
// "((1)(2))" (a missing parent with two replies).
//
// seqOf numbers the messages; nil means Node.Index+1, the IMAP sequence
// number of a message passed to [Thread] in mailbox order.
func Format(nodes []*Node, seqOf func(m *correlate.Message) int) string {
	seq := func(n *Node) int { return n.Index + 1 }
	if seqOf != nil {
		seq = func(n *Node) int { return seqOf(n.Message) }
	}
	var b strings.Builder
	for _, n := range nodes {
		if n == nil {
			continue
		}
		b.WriteByte('(')
		writeMembers(&b, n, seq)
		b.WriteByte(')')
	}
	return b.String()
}

// writeMembers writes the members of the thread list that starts at n.
func writeMembers(b *strings.Builder, n *Node, seq func(*Node) int) {
	wrote := false
	for {
		if n.Message != nil {
			if wrote {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(seq(n)))
			wrote = true
		}
		switch len(n.Children) {
		case 0:
			return
		case 1:
			n = n.Children[0]
			continue
		}
		if wrote {
			b.WriteByte(' ')
		}
		for _, c := range n.Children {
			b.WriteByte('(')
			writeMembers(b, c, seq)
			b.WriteByte(')')
		}
		return
	}
}

// FormatTree writes a forest as an indented tree, one node per line, two
// spaces per level, for tests and debugging. label names a node; nil means
// [Label]. Line breaks and other control characters in labels are written
// as spaces, so each node stays on one line.
func FormatTree(nodes []*Node, label func(n *Node) string) string {
	if label == nil {
		label = Label
	}
	var b strings.Builder
	Walk(nodes, func(n *Node, depth int) bool {
		for range depth {
			b.WriteString("  ")
		}
		l := label(n)
		if strings.ContainsFunc(l, unicode.IsControl) {
			l = strings.Map(func(r rune) rune {
				if unicode.IsControl(r) {
					return ' '
				}
				return r
			}, l)
		}
		b.WriteString(l)
		b.WriteByte('\n')
		return true
	})
	return b.String()
}

// Label is the default label of FormatTree: the sequence number (Index+1),
// the Message-ID and the subject of a message, as in
//
//	3 <b@example.com> Re: Lunch
//
// and for a dummy "- <id>" (a missing message) or "- (subject)" (roots
// grouped by subject).
func Label(n *Node) string {
	if n.Message == nil {
		if n.ID == "" {
			return "- (subject)"
		}
		return "- <" + n.ID + ">"
	}
	id := n.Message.MessageID
	if id == "" {
		id = "(no id)"
	} else {
		id = "<" + id + ">"
	}
	return strconv.Itoa(n.Index+1) + " " + id + " " + n.Message.Subject
}
