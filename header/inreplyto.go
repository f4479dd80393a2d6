package header

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// InReplyTo correlates an email with the tracked email whose Message-ID it
// names: Dynamics' InReplyTo method (correlationmethod 3), extended to
// References, provider-preserved ids and ancestor memory. See the package
// documentation for the order of lookups and the confidence of each.
//
// It is also a [correlate.Indexer]: it keys tracked emails under their
// provider-preserved original ids (correlate.KindMessageID) and their
// ancestors (KindAncestor).
//
// An InReplyTo is safe for concurrent use if its Lookuper is.
type InReplyTo struct {
	idx Lookuper
	cfg config
}

var (
	_ correlate.Correlator = (*InReplyTo)(nil)
	_ correlate.Indexer    = (*InReplyTo)(nil)
)

// NewInReplyTo returns an InReplyTo strategy that looks tracked emails up in
// idx (usually the Engine's correlate.Store). A nil opts means the defaults.
func NewInReplyTo(idx Lookuper, opts *Options) *InReplyTo {
	return &InReplyTo{idx: idx, cfg: newConfig(opts)}
}

// String returns "header.InReplyTo".
func (c *InReplyTo) String() string { return "header.InReplyTo" }

// Reasons of InReplyTo matches; the wording may change.
const (
	reasonDuplicate  = "the same email is already tracked (duplicate)"
	reasonAlias      = "the same email is already tracked under its original Message-ID"
	reasonInReplyTo  = "In-Reply-To names a tracked email"
	reasonParentRef  = "References names the tracked email it replies to"
	reasonAncestor   = "References names a tracked ancestor"
	reasonDescendant = "a tracked email replies to this one"
	reasonSibling    = "shares an ancestor id with a tracked email (ancestor memory)"
	reasonConflict   = "referenced ids name tracked emails of different records"

	reasonSignedSelf      = "its own Message-ID is signed by this system for"
	reasonSignedInReplyTo = "In-Reply-To names a signed Message-ID of"
	reasonSignedRef       = "References names a signed Message-ID of"
	reasonForged          = "a referenced signed Message-ID has a bad signature (forged or altered); it names nothing"
)

// Notes of InReplyTo evidence; the wording may change.
const (
	noteNamesTracked = "names a tracked email"
	noteNoRecord     = "names a tracked email filed without a record"
	noteDescendant   = "referenced by a tracked email: its reply was tracked first"
	noteAncestor     = "also referenced by a tracked email: a shared ancestor (ranks below direct ids)"
	noteSigned       = "signature verified: names "
	noteBadSignature = "bad signature: forged or altered signed Message-ID, ignored"
)

// lookup limits: two results under a Message-ID reveal an alias collision;
// a few under an ancestor reveal siblings filed under different records.
const (
	idLookupLimit       = 2
	ancestorLookupLimit = 4
)

// Correlate implements correlate.Correlator. In order, the first that names
// a tracked email with a record wins:
//
//  1. the message's own Message-ID (the same email, synchronized from another
//     mailbox: Dynamics' duplicate check), Certain; with Options.IDKeys,
//     when no tracked email has it, its own id signed by this system (see
//     [NewMessageID]: an email sent here, synchronized before it was
//     tracked), Certain;
//  2. its In-Reply-To ids, Certain, then its References ids newest to
//     oldest, High (Certain for the newest when In-Reply-To is absent or
//     junk: it names the parent); the rest are still looked up to report
//     ids that name another record (unless Options.FirstHit);
//  3. its provider-preserved original ids (Options.AliasFields): the same
//     email tracked under its original id, High;
//  4. with Options.IDKeys, the referenced ids of step 2 that are signed
//     Message-IDs, in the same order and with the same confidences: the
//     signed record, although no tracked email has the id; such a Match has
//     no CorrelatedWith. Ids with a bad signature are reported in Evidence
//     (and in the Reason when nothing matches) and name nothing;
//  5. ancestor memory (unless Options.NoAncestors): a tracked email whose
//     references name this message, High; then a tracked email that
//     references one of the same ids, newest first, Likely.
//
// Junk ids (see [Junk]) are dropped and reported in Evidence. Parent is the
// tracked email a step-2 id names (the nearest tracked ancestor, as notmuch
// shows it when intermediate messages are missing); duplicates, aliases and
// ancestor-memory matches have no Parent.
func (c *InReplyTo) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	if m == nil {
		return correlate.Match{}, nil
	}
	if err := ctx.Err(); err != nil {
		return correlate.Match{}, fmt.Errorf("header: %w", err)
	}
	if skip, ok := c.cfg.skip(m); ok {
		return skip, nil
	}
	var ev []correlate.Evidence

	// The referenced ids (2) and aliases (3) are read first, their junk
	// kept apart until step 2, so that a Prober can answer for every id at
	// once.
	self := normalize(m.MessageID)
	selfOK := false
	if self != "" {
		if r := junkForm(self); r != "" {
			ev = append(ev, correlate.Evidence{Field: fieldMessageID, Value: clip(self), Note: r + ": not looked up"})
		} else {
			selfOK = true
		}
	}
	var buf [DefaultMaxIDs + 3]ref
	refs, refEv := collectRefs(buf[:0], m, self, c.cfg.maxIDs, nil)
	nrefs := len(refs)
	refs, refEv = c.aliases(refs, m, self, refEv)
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	hits, probed, err := c.probe(ctx, selfOK, self, refs, sc)
	if err != nil {
		return correlate.Match{}, err
	}
	refBase := 0 // the key of refs[0] in hits
	if selfOK {
		refBase = 1
	}

	// 1. Duplicate check.
	if selfOK {
		k := correlate.Key{Kind: correlate.KindMessageID, Value: self}
		var t *correlate.Tracked
		if probed {
			if h := hitWithRecord(hitsOf(hits, 0)); h != nil {
				if t, err = c.fetch(ctx, k, h.ID); err != nil {
					return correlate.Match{}, err
				}
			}
		} else {
			ts, err := c.lookup(ctx, k, idLookupLimit)
			if err != nil {
				return correlate.Match{}, err
			}
			t = withRecord(ts)
		}
		if t != nil {
			ev = append(ev, correlate.Evidence{Field: fieldMessageID, Value: self, Note: "already tracked"})
			return c.match(m, t, nil, correlate.Certain, reasonDuplicate, ev), nil
		}
	}
	forged := false
	if selfOK && len(c.cfg.IDKeys) > 0 {
		var mt correlate.Match
		var ok bool
		if mt, ok, ev = c.signed(self, fieldMessageID, correlate.Certain, reasonSignedSelf, ev, &forged); ok {
			return mt, nil
		}
	}

	// 2, 3. Referenced ids, then aliases.
	ev = append(ev, refEv...)
	var (
		win      *correlate.Tracked // nil until fetched when probed
		winID    int64
		winRec   correlate.Record
		winRef   ref
		found    bool
		conflict bool
	)
	consider := func(r ref, id int64, rec correlate.Record, t *correlate.Tracked) {
		switch {
		case rec.IsZero():
			ev = append(ev, correlate.Evidence{Field: r.field, Value: r.id, Note: noteNoRecord})
		case !found:
			found, win, winID, winRec, winRef = true, t, id, rec, r
			ev = append(ev, correlate.Evidence{Field: r.field, Value: r.id, Note: noteNamesTracked})
		case rec != winRec:
			conflict = true
			ev = append(ev, correlate.Evidence{Field: r.field, Value: r.id,
				Note: "names a tracked email of record " + rec.String() + ": conflict with " + winRec.String()})
		}
	}
	for i, r := range refs {
		if probed {
			for _, h := range hitsOf(hits, refBase+i) {
				consider(r, h.ID, h.Record, nil)
			}
		} else {
			ts, err := c.lookup(ctx, correlate.Key{Kind: correlate.KindMessageID, Value: r.id}, idLookupLimit)
			if err != nil {
				return correlate.Match{}, err
			}
			for j := range ts {
				consider(r, ts[j].ID, ts[j].Record, &ts[j])
			}
		}
		if found && c.cfg.FirstHit {
			break
		}
	}
	if found && conflict && c.cfg.AbstainOnConflict {
		return correlate.Match{Reason: reasonConflict, Evidence: ev}, nil
	}
	if found && win == nil {
		// Probed: read the one email the match names.
		if win, err = c.fetch(ctx, correlate.Key{Kind: correlate.KindMessageID, Value: winRef.id}, winID); err != nil {
			return correlate.Match{}, err
		}
	}
	if win != nil {
		isAlias := false
		for _, r := range refs[nrefs:] {
			if r.id == winRef.id {
				isAlias = true
			}
		}
		switch {
		case isAlias:
			return c.match(m, win, nil, correlate.High, reasonAlias, ev), nil
		case winRef.field == fieldInReplyTo:
			return c.match(m, win, win, correlate.Certain, reasonInReplyTo, ev), nil
		case winRef.parent:
			return c.match(m, win, win, correlate.Certain, reasonParentRef, ev), nil
		default:
			return c.match(m, win, win, correlate.High, reasonAncestor, ev), nil
		}
	}

	// Signed ids of emails that are not (or no longer) tracked.
	if len(c.cfg.IDKeys) > 0 {
		for _, r := range refs[:nrefs] {
			conf, reason := correlate.High, reasonSignedRef
			switch {
			case r.field == fieldInReplyTo:
				conf, reason = correlate.Certain, reasonSignedInReplyTo
			case r.parent:
				conf = correlate.Certain
			}
			var mt correlate.Match
			var ok bool
			if mt, ok, ev = c.signed(r.id, r.field, conf, reason, ev, &forged); ok {
				return mt, nil
			}
		}
	}

	// 4. Ancestor memory.
	if !c.cfg.NoAncestors {
		if selfOK {
			mt, done, err := c.ancestors(ctx, m, self, fieldMessageID, noteDescendant, correlate.High, reasonDescendant, ev)
			if err != nil || done {
				return mt, err
			}
		}
		for _, r := range refs[:nrefs] {
			if r.phrase {
				continue
			}
			mt, done, err := c.ancestors(ctx, m, r.id, r.field, noteAncestor, correlate.Likely, reasonSibling, ev)
			if err != nil || done {
				return mt, err
			}
		}
	}
	if len(ev) == 0 {
		return correlate.Match{}, nil
	}
	if forged {
		return correlate.Match{Reason: reasonForged, Evidence: ev}, nil
	}
	return correlate.Match{Evidence: ev}, nil
}

// signed checks id as a signed Message-ID: when it verifies, it returns the
// Match for its record (ok = true); when it has the signed form but does not
// verify, it reports the bad signature in ev and sets *forged.
func (c *InReplyTo) signed(id, field string, conf float64, reason string, ev []correlate.Evidence, forged *bool) (correlate.Match, bool, []correlate.Evidence) {
	rec, err := VerifyMessageID(id, c.cfg.IDKeys)
	switch {
	case err == nil:
		ev = append(ev, correlate.Evidence{Field: field, Value: id, Note: noteSigned + rec.String() + "; no tracked email has it"})
		return correlate.Match{
			Record:     rec,
			Method:     correlate.InReplyTo,
			Confidence: conf,
			Strategy:   c.String(),
			Reason:     reason + " " + rec.String() + " (no tracked email has it)",
			Evidence:   ev,
		}, true, ev
	case errors.Is(err, ErrBadSignature):
		*forged = true
		ev = append(ev, correlate.Evidence{Field: field, Value: clip(id), Note: noteBadSignature + ": " + strings.TrimPrefix(err.Error(), ErrBadSignature.Error()+": ")})
	}
	return correlate.Match{}, false, ev
}

// ancestors looks id up under KindAncestor and, when it names tracked emails
// with a record, returns the match with the newest of them (done = true).
func (c *InReplyTo) ancestors(ctx context.Context, m *correlate.Message, id, field, note string,
	conf float64, reason string, ev []correlate.Evidence) (correlate.Match, bool, error) {
	ts, err := c.lookup(ctx, correlate.Key{Kind: KindAncestor, Value: id}, ancestorLookupLimit)
	if err != nil {
		return correlate.Match{}, false, err
	}
	win := withRecord(ts)
	if win == nil {
		return correlate.Match{}, false, nil
	}
	ev = append(ev, correlate.Evidence{Field: field, Value: id, Note: note})
	conflict := false
	for j := range ts {
		if t := &ts[j]; !t.Record.IsZero() && t.Record != win.Record {
			conflict = true
			ev = append(ev, correlate.Evidence{Field: field, Value: id,
				Note: "also referenced by a tracked email of record " + t.Record.String() + ": conflict with " + win.Record.String()})
		}
	}
	if conflict && c.cfg.AbstainOnConflict {
		return correlate.Match{Reason: reasonConflict, Evidence: ev}, true, nil
	}
	return c.match(m, win, nil, conf, reason, ev), true, nil
}

// aliases appends the message's provider-preserved original ids to refs.
func (c *InReplyTo) aliases(refs []ref, m *correlate.Message, self string, ev []correlate.Evidence) ([]ref, []correlate.Evidence) {
	if m.Header == nil {
		return refs, ev
	}
	for _, f := range c.cfg.aliases {
		vs := m.Header[f.key]
		if len(vs) == 0 || vs[0] == "" {
			continue
		}
		v := vs[0]
		ids, _ := correlate.ParseMessageIDs(v, 1)
		for _, id := range ids {
			if id == self {
				continue // providers that keep the id repeat it; nothing to add
			}
			if r := junkForm(id); r != "" {
				ev = append(ev, correlate.Evidence{Field: f.name, Value: clip(id), Note: r})
				continue
			}
			dup := false
			for _, x := range refs {
				dup = dup || x.id == id
			}
			if !dup {
				refs = append(refs, ref{id: id, field: f.name})
			}
		}
	}
	return refs, ev
}

// Index implements correlate.Indexer: the email's provider-preserved
// original ids under correlate.KindMessageID and, unless NoAncestors, the
// ids it references under KindAncestor.
func (c *InReplyTo) Index(m *correlate.Message, t *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	if m == nil {
		return dst
	}
	self := normalize(m.MessageID)
	var buf [DefaultMaxIDs + 3]ref
	refs, _ := collectRefs(buf[:0], m, self, c.cfg.maxIDs, nil)
	nrefs := len(refs)
	refs, _ = c.aliases(refs, m, self, nil)
	for _, r := range refs[nrefs:] {
		dst = append(dst, correlate.Key{Kind: correlate.KindMessageID, Value: r.id})
	}
	if !c.cfg.NoAncestors {
		for _, r := range refs[:nrefs] {
			if !r.phrase {
				dst = append(dst, correlate.Key{Kind: KindAncestor, Value: r.id})
			}
		}
	}
	return dst
}

// match builds a found Match with t as the correlated email.
func (c *InReplyTo) match(m *correlate.Message, t, parent *correlate.Tracked, conf float64, reason string, ev []correlate.Evidence) correlate.Match {
	return correlate.Match{
		Record:         t.Record,
		Method:         correlate.InReplyTo,
		Confidence:     conf,
		Strategy:       c.String(),
		CorrelatedWith: t,
		Parent:         parent,
		SubjectChanged: !c.cfg.sameSubject(m.Subject, t.Subject),
		Reason:         reason,
		Evidence:       ev,
	}
}

// scratch holds the buffers of one probe. They are pooled: passed to an
// interface method, they would otherwise be allocated anew for each message.
type scratch struct {
	keys []correlate.Key
	hits []correlate.Hit
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{keys: make([]correlate.Key, 0, DefaultMaxIDs+4), hits: make([]correlate.Hit, 0, 2*(DefaultMaxIDs+4))}
}}

// probe asks a correlate.Prober, when the Lookuper is one, for the emails
// under the message's own id (when selfOK) and its referenced ids, all at
// once, reading only their IDs and records; probed is false otherwise. The
// hits live in sc.
func (c *InReplyTo) probe(ctx context.Context, selfOK bool, self string, refs []ref, sc *scratch) (hits []correlate.Hit, probed bool, err error) {
	p, ok := c.idx.(correlate.Prober)
	if !ok {
		return nil, false, nil
	}
	keys := sc.keys[:0]
	defer func() { clear(keys); sc.keys = keys[:0] }()
	if selfOK {
		keys = append(keys, correlate.Key{Kind: correlate.KindMessageID, Value: self})
	}
	for _, r := range refs {
		keys = append(keys, correlate.Key{Kind: correlate.KindMessageID, Value: r.id})
	}
	if len(keys) == 0 {
		return nil, true, nil
	}
	hits, err = p.Probe(ctx, keys, idLookupLimit, sc.hits[:0])
	if err != nil {
		return nil, true, fmt.Errorf("header: lookup %s of %d ids: %w", correlate.KindMessageID, len(keys), err)
	}
	sc.hits = hits[:0]
	return hits, true, nil
}

// hitsOf returns the hits of key k; hits are in key order.
func hitsOf(hits []correlate.Hit, k int) []correlate.Hit {
	i := 0
	for i < len(hits) && hits[i].Key < k {
		i++
	}
	j := i
	for j < len(hits) && hits[j].Key == k {
		j++
	}
	return hits[i:j]
}

// hitWithRecord returns the first (newest) of hs that has a record, or nil.
func hitWithRecord(hs []correlate.Hit) *correlate.Hit {
	for i := range hs {
		if !hs[i].Record.IsZero() {
			return &hs[i]
		}
	}
	return nil
}

// fetch reads the tracked email id, found under k by a probe. Should it be
// gone by now, fetch returns the newest email under k that has a record,
// or nil.
func (c *InReplyTo) fetch(ctx context.Context, k correlate.Key, id int64) (*correlate.Tracked, error) {
	ts, err := c.lookup(ctx, k, idLookupLimit)
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if ts[i].ID == id {
			return &ts[i], nil
		}
	}
	return withRecord(ts), nil
}

func (c *InReplyTo) lookup(ctx context.Context, k correlate.Key, limit int) ([]correlate.Tracked, error) {
	ts, err := c.idx.Lookup(ctx, k, correlate.Query{Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("header: lookup %s %q: %w", k.Kind, k.Value, err)
	}
	return ts, nil
}

// withRecord returns the first (newest) tracked email of ts that has a
// record, or nil.
func withRecord(ts []correlate.Tracked) *correlate.Tracked {
	for i := range ts {
		if !ts[i].Record.IsZero() {
			return &ts[i]
		}
	}
	return nil
}
