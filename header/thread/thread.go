package thread

import (
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// A Mode selects the threading algorithm. Values other than the constants
// below behave like RealMail.
type Mode int

const (
	// RealMail is the default mode (the zero value): JWZ threading made
	// independent of input order and cleaned for real mail. Junk ids are
	// dropped (see [header.Junk]: "<yes>", ids without '@', the message's
	// own id, addresses), a message's parent is its In-Reply-To, else its
	// newest usable References id, and subjects are not used unless
	// Options.GroupBySubject is set. See the package documentation.
	RealMail Mode = iota

	// References is RFC 5256 THREAD=REFERENCES, to the letter: the input
	// order is the mailbox order (IMAP sequence numbers), References wins
	// over In-Reply-To, ids are only checked for form, and roots with the
	// same RFC 5256 base subject are merged (step 5).
	References

	// OrderedSubject is RFC 5256 THREAD=ORDEREDSUBJECT: messages grouped by
	// base subject, the oldest of each group the parent of the others.
	OrderedSubject
)

// String returns "RealMail", "References" or "OrderedSubject".
func (m Mode) String() string {
	switch m {
	case References:
		return "References"
	case OrderedSubject:
		return "OrderedSubject"
	}
	return "RealMail"
}

// Options configures threading. A nil *Options is equivalent to the zero
// value: RealMail mode, no subject grouping, the default bounds.
type Options struct {
	// Mode selects the algorithm; the zero value is RealMail.
	Mode Mode

	// GroupBySubject merges thread roots that have the same base subject,
	// as step 5 of RFC 5256 REFERENCES (and JWZ) does, in RealMail mode. It
	// is off by default because it fuses unrelated threads that happen to
	// share a subject ("Question", "Invoice", a weekly report). References
	// mode always groups (the RFC requires it); OrderedSubject threads by
	// subject alone.
	GroupBySubject bool

	// Date returns the sent date of a message whose Date field is missing
	// or unreadable (correlate.Message.Date is zero). IMAP servers use the
	// INTERNALDATE (the arrival time) there, as RFC 5256 section 2.2
	// requires; a mailbox sync can return the time it received the message.
	// nil leaves such messages with the zero time, so they sort first.
	Date func(m *correlate.Message) time.Time

	// Subject extracts base subjects for subject grouping and
	// OrderedSubject. nil means subject.New(&subject.Options{Mode:
	// subject.RFC5256}) in References and OrderedSubject modes, as the RFC
	// requires, and the Extended normalizer (localized prefixes, counters,
	// list tags) in RealMail mode.
	Subject *subject.Normalizer

	// MaxReferences bounds how many References ids of each message are
	// used: the newest ones. 0 means header.DefaultMaxIDs (32), the bound
	// correlate.ParseMessage also applies; negative means no bound.
	MaxReferences int
}

// A Node is one message of a thread, or a dummy standing for a message that
// is missing (referenced but not present) or grouping roots that share a
// subject.
//
// Nodes returned by [Thread] and [Threader.Roots] belong to the caller: they
// are built for each call and never modified afterwards by this package.
type Node struct {
	// Message is the message, nil for a dummy.
	Message *correlate.Message

	// ID is the Message-ID the node answers to: replies that name ID hang
	// below it. It is the message's own id; "" when the message has no
	// usable id or is a duplicate (another message holds the id and receives
	// the replies); for a dummy, the id of the missing message, or "" for a
	// dummy that groups roots by subject.
	ID string

	// Index is the position of Message in the input of Thread (counting nil
	// entries) or the number of messages added to the Threader before it;
	// -1 for a dummy. RFC 5256 sequence numbers are Index+1.
	Index int

	// Parent is the node this one replies to, nil for a root.
	Parent *Node

	// Children are the replies, oldest first (see the package
	// documentation for the order).
	Children []*Node

	ent int32 // the threader's entry of Message
}

// Dummy reports whether n stands for no message.
func (n *Node) Dummy() bool { return n.Message == nil }

// Size returns the number of messages in the subtree of n, n included.
func (n *Node) Size() int {
	size := 0
	Walk([]*Node{n}, func(x *Node, _ int) bool {
		if x.Message != nil {
			size++
		}
		return true
	})
	return size
}

// Walk calls fn for every node of the forest, in depth-first pre-order
// (a node, then its children in order), with the node's depth (0 for the
// given nodes). When fn returns false, the node's children are skipped.
// Walk uses no recursion, so arbitrarily deep threads are safe.
func Walk(nodes []*Node, fn func(n *Node, depth int) bool) {
	type frame struct {
		n     *Node
		depth int
	}
	stack := make([]frame, 0, 16)
	for i := len(nodes) - 1; i >= 0; i-- {
		stack = append(stack, frame{nodes[i], 0})
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if f.n == nil || !fn(f.n, f.depth) {
			continue
		}
		for i := len(f.n.Children) - 1; i >= 0; i-- {
			stack = append(stack, frame{f.n.Children[i], f.depth + 1})
		}
	}
}

// Thread builds the conversation forest of msgs: the roots, oldest first,
// each with its replies below it. Every non-nil message appears exactly once;
// nil entries are skipped. Thread does not modify the messages and keeps
// pointers to them in the returned nodes.
//
// In References and OrderedSubject modes msgs is the mailbox in sequence
// order, as RFC 5256 requires (it breaks ties and chooses between duplicate
// Message-IDs by that order). In RealMail mode the forest does not depend on
// the order of msgs (see the package documentation).
//
// Thread is safe for concurrent use. Its forest is the one a [Threader]
// gives after adding the non-nil messages of msgs (in RealMail mode, in any
// order), except for Node.Index, which counts nil entries here; Thread is
// faster.
func Thread(msgs []*correlate.Message, opts *Options) []*Node {
	t := newThreader(opts, len(msgs))
	if t.mode == RealMail {
		// All messages first, then the links in one pass: no conflict
		// repair is ever needed.
		for i, m := range msgs {
			if m != nil {
				t.register(m, i)
			}
		}
		all := make([]int32, len(t.ents))
		for i := range all {
			all[i] = int32(i)
		}
		t.relink(all)
	} else {
		for i, m := range msgs {
			if m != nil {
				t.add(m, i)
			}
		}
	}
	return t.roots()
}
