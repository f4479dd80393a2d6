package header

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// ConversationIndex correlates an email by its Exchange conversation index
// (the Thread-Index field): Dynamics' ConversationIndex method
// (correlationmethod 5). It is also a [correlate.Indexer] that keys
// tracked emails under their whole index (KindConversation) and its root
// (KindConversationRoot).
//
// Real replies sometimes start a fresh index (5 of the 122 reply pairs of
// the usrp-users corpus), and Outlook gives a reply to mail without an index
// an index of its own, so this strategy belongs after InReplyTo and the
// tracking token in precedence.
//
// A ConversationIndex is safe for concurrent use if its correlate.Lookuper is.
type ConversationIndex struct {
	idx correlate.Lookuper
	cfg config
}

var (
	_ correlate.Correlator = (*ConversationIndex)(nil)
	_ correlate.Indexer    = (*ConversationIndex)(nil)
)

// NewConversationIndex returns a ConversationIndex strategy that looks
// tracked emails up in idx (usually the Engine's correlate.Store). A nil
// opts means the defaults.
func NewConversationIndex(idx correlate.Lookuper, opts *Options) *ConversationIndex {
	return &ConversationIndex{idx: idx, cfg: newConfig(opts)}
}

// String returns "conversation".
func (c *ConversationIndex) String() string { return "conversation" }

// Reasons and notes of ConversationIndex matches; the wording may change.
const (
	reasonIndexParent = "Thread-Index extends a tracked email's index by one block: a reply to it"
	reasonIndexRoot   = "Thread-Index has the root of a tracked email's conversation"
	noteIndexParent   = "parent index names a tracked email"
	noteIndexRoot     = "conversation root names a tracked email (the newest is used)"
	noteTopicAgrees   = "agrees with the tracked email's subject"
	noteTopicDiffers  = "differs from the tracked email's subject"
)

// Correlate implements correlate.Correlator:
//
//  1. the tracked email whose index is the message's index minus its last
//     child block: the email it answers, High, with Parent set;
//  2. unless Options.NoRoot, the newest tracked email whose index has the
//     same 22-byte root: the same conversation, Likely.
//
// Thread-Topic is reported in Evidence (whether it agrees with the tracked
// email's subject) but is not a key. A malformed index is an abstention
// with Evidence.
func (c *ConversationIndex) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	if m == nil || len(m.ThreadIndex) == 0 {
		return correlate.Match{}, nil
	}
	if err := ctx.Err(); err != nil {
		return correlate.Match{}, fmt.Errorf("header: %w", err)
	}
	if skip, ok := c.cfg.skip(m); ok {
		return skip, nil
	}
	x, err := ParseIndex(m.ThreadIndex)
	if err != nil {
		return correlate.Match{Evidence: []correlate.Evidence{{Field: "Thread-Index", Value: clip(hexString(m.ThreadIndex)), Note: err.Error()}}}, nil
	}
	hx := hexString(x.Bytes())
	if p, ok := x.Parent(); ok {
		k := correlate.Key{Kind: KindConversation, Value: hx[:2*len(p.Bytes())]}
		ts, err := c.lookup(ctx, k)
		if err != nil {
			return correlate.Match{}, err
		}
		if t := withRecord(ts); t != nil {
			return c.match(m, t, t, correlate.High, reasonIndexParent, k.Value, noteIndexParent), nil
		}
	}
	if !c.cfg.NoRoot {
		k := correlate.Key{Kind: KindConversationRoot, Value: hx[:2*IndexHeaderLen]}
		ts, err := c.lookup(ctx, k)
		if err != nil {
			return correlate.Match{}, err
		}
		if t := withRecord(ts); t != nil {
			return c.match(m, t, nil, correlate.Likely, reasonIndexRoot, k.Value, noteIndexRoot), nil
		}
	}
	return correlate.Match{}, nil
}

func (c *ConversationIndex) match(m *correlate.Message, t, parent *correlate.Tracked, conf float64, reason, key, note string) correlate.Match {
	ev := make([]correlate.Evidence, 1, 2)
	ev[0] = correlate.Evidence{Field: "Thread-Index", Value: key, Note: note}
	if m.ThreadTopic != "" {
		n := noteTopicDiffers
		if c.cfg.sameSubject(m.ThreadTopic, t.Subject) {
			n = noteTopicAgrees
		}
		ev = append(ev, correlate.Evidence{Field: "Thread-Topic", Value: clip(m.ThreadTopic), Note: n})
	}
	return correlate.Match{
		Record:         t.Record,
		Method:         correlate.ConversationIndex,
		Confidence:     conf,
		Strategy:       c.String(),
		CorrelatedWith: t,
		Parent:         parent,
		SubjectChanged: !c.cfg.sameSubject(m.Subject, t.Subject),
		Reason:         reason,
		Evidence:       ev,
	}
}

// lookup returns the newest tracked email under k, or the newest few when
// the newest was filed without a record.
func (c *ConversationIndex) lookup(ctx context.Context, k correlate.Key) ([]correlate.Tracked, error) {
	ts, err := c.idx.Lookup(ctx, k, correlate.Query{Limit: 1})
	if err == nil && len(ts) == 1 && ts[0].Record.IsZero() {
		ts, err = c.idx.Lookup(ctx, k, correlate.Query{Limit: 8})
	}
	if err != nil {
		return nil, fmt.Errorf("header: lookup %s %q: %w", k.Kind, k.Value, err)
	}
	return ts, nil
}

// Index implements correlate.Indexer: a well-formed conversation index is
// keyed whole (KindConversation) and by its root (KindConversationRoot),
// both as lower-case hexadecimal. Malformed indexes are not indexed.
func (c *ConversationIndex) Index(m *correlate.Message, t *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	if m == nil || len(m.ThreadIndex) == 0 {
		return dst
	}
	x, err := ParseIndex(m.ThreadIndex)
	if err != nil {
		return dst
	}
	hx := hexString(x.Bytes())
	return append(dst,
		correlate.Key{Kind: KindConversation, Value: hx},
		correlate.Key{Kind: KindConversationRoot, Value: hx[:2*IndexHeaderLen]})
}

// IndexKey returns the KindConversation key value of a conversation index:
// its bytes in lower-case hexadecimal.
func IndexKey(x Index) string { return hexString(x.Bytes()) }

// hexString returns b in lower-case hexadecimal with one allocation.
func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	s.Grow(2 * len(b))
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}
