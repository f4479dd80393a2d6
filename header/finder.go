package header

import (
	"context"
	"fmt"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/probe"
)

// A finder answers, for the keys of one message (its own id, its
// referenced ids, its aliases, in that order, then, when step 5 may need
// it, its own id as an ancestor), which tracked emails are
// under each, then the emails themselves: one path for every store. A
// probe.Prober answers for all keys in one call, reading only IDs and
// records, and the one email picked is then read with Lookup. Any other
// store is asked with Lookup, key by key as Correlate comes to them (so
// Options.FirstHit saves the rest), and the emails are kept for the
// answer. Finders are pooled: their buffers would otherwise be allocated
// anew for each message, being passed to an interface method.
type finder struct {
	ctx    context.Context
	c      *InReplyTo
	prober probe.Prober // nil: look keys up one by one
	keys   []correlate.Key
	hitBuf []probe.Hit // the Prober's answer, in key order
	ts     [][]correlate.Tracked
	looked []bool // ts[k] was looked up
	one    [idLookupLimit]probe.Hit
	// anc is the key of the message's own id under KindAncestor, -1 when
	// there is none: probed with the others, so that a message no tracked
	// email references (most of those that reach step 5) costs no lookup
	// of its own there.
	anc int
}

var finderPool = sync.Pool{New: func() any {
	return &finder{keys: make([]correlate.Key, 0, DefaultMaxIDs+5), hitBuf: make([]probe.Hit, 0, 2*(DefaultMaxIDs+5))}
}}

// start sets f up for a message's own id (when selfOK) and refs, and asks
// a Prober for all of them at once.
func (f *finder) start(ctx context.Context, c *InReplyTo, selfOK bool, self string, refs []ref) error {
	f.ctx, f.c = ctx, c
	f.prober, _ = c.idx.(probe.Prober)
	if selfOK {
		f.keys = append(f.keys, correlate.Key{Kind: correlate.KindMessageID, Value: self})
	}
	for _, r := range refs {
		f.keys = append(f.keys, correlate.Key{Kind: correlate.KindMessageID, Value: r.id})
	}
	f.anc = -1
	if selfOK && !c.cfg.NoAncestors {
		f.anc = len(f.keys)
		f.keys = append(f.keys, correlate.Key{Kind: KindAncestor, Value: self})
	}
	if f.prober == nil {
		for range f.keys {
			f.ts = append(f.ts, nil)
			f.looked = append(f.looked, false)
		}
		return nil
	}
	if len(f.keys) == 0 {
		return nil
	}
	hits, err := f.prober.Probe(ctx, f.keys, idLookupLimit, f.hitBuf[:0])
	if err != nil {
		return fmt.Errorf("header: lookup of %d ids: %w", len(f.keys), err)
	}
	f.hitBuf = hits
	return nil
}

// release clears f and returns it to the pool.
func (f *finder) release() {
	clear(f.keys)
	clear(f.ts)
	f.keys, f.hitBuf, f.ts, f.looked = f.keys[:0], f.hitBuf[:0], f.ts[:0], f.looked[:0]
	f.ctx, f.c, f.prober = nil, nil, nil
	finderPool.Put(f)
}

// unreferenced reports whether a probe found that no tracked email
// references the message's own id, sparing step 5 its lookup.
func (f *finder) unreferenced() bool {
	if f.prober == nil || f.anc < 0 {
		return false
	}
	hits, _ := f.hits(f.anc)
	return len(hits) == 0
}

// hits returns the tracked emails under key k, newest first, as hits.
func (f *finder) hits(k int) ([]probe.Hit, error) {
	if f.prober != nil {
		hits := f.hitBuf
		i := 0
		for i < len(hits) && hits[i].Key < k {
			i++
		}
		j := i
		for j < len(hits) && hits[j].Key == k {
			j++
		}
		return hits[i:j], nil
	}
	ts, err := f.emails(k)
	if err != nil {
		return nil, err
	}
	out := f.one[:0]
	for i := range ts {
		out = append(out, probe.Hit{Key: k, ID: ts[i].ID, Record: ts[i].Record})
	}
	return out, nil
}

// emails returns the tracked emails under key k, newest first, at most
// idLookupLimit; none, without asking the store, when a probe found none.
func (f *finder) emails(k int) ([]correlate.Tracked, error) {
	if f.prober != nil {
		if hits, _ := f.hits(k); len(hits) == 0 {
			return nil, nil
		}
		return f.c.lookup(f.ctx, f.keys[k], idLookupLimit)
	}
	if !f.looked[k] {
		ts, err := f.c.lookup(f.ctx, f.keys[k], idLookupLimit)
		if err != nil {
			return nil, err
		}
		f.ts[k], f.looked[k] = ts, true
	}
	return f.ts[k], nil
}

// fetch reads the tracked email id, found under key k. Should it be gone
// by now, fetch returns the newest email under k that has a record, or nil.
func (f *finder) fetch(k int, id int64) (*correlate.Tracked, error) {
	ts, err := f.emails(k)
	if err != nil {
		return nil, err
	}
	if f.prober != nil && len(ts) == 0 {
		if ts, err = f.c.lookup(f.ctx, f.keys[k], idLookupLimit); err != nil {
			return nil, err
		}
	}
	for i := range ts {
		if ts[i].ID == id {
			return &ts[i], nil
		}
	}
	return withRecord(ts), nil
}
