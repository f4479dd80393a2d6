package header

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/probe"
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
// An InReplyTo is safe for concurrent use if its correlate.Lookuper is.
type InReplyTo struct {
	idx correlate.Lookuper
	cfg config
}

var (
	_ correlate.Correlator = (*InReplyTo)(nil)
	_ correlate.Indexer    = (*InReplyTo)(nil)
)

// NewInReplyTo returns an InReplyTo strategy that looks tracked emails up in
// idx (usually the Engine's correlate.Store). A nil opts means the defaults.
func NewInReplyTo(idx correlate.Lookuper, opts *Options) *InReplyTo {
	return &InReplyTo{idx: idx, cfg: newConfig(opts)}
}

// String returns "inreplyto".
func (c *InReplyTo) String() string { return "inreplyto" }

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
//     mailbox: Dynamics' duplicate check), Certain, when the tracked email
//     is the same email ([correlate.SameEmail]: sender, Date and base
//     subject agree). A tracked email that is another email is a collision
//     (a stranger reusing an id read in References): it is reported in
//     Evidence and the Reason, and the message is correlated by the steps
//     below without its own id (no signed own id, no descendant). With
//     Options.IDKeys, when no tracked email has the id, its own id signed by
//     this system (see [NewMessageID]: an email sent here, synchronized
//     before it was tracked), Certain;
//  2. its In-Reply-To ids, Certain, then its References ids newest to
//     oldest, High (Certain for the newest when In-Reply-To is absent or
//     junk: it names the parent); the rest are still looked up to report
//     ids that name another record (unless Options.FirstHit);
//  3. its provider-preserved original ids (Options.AliasFields): the same
//     email tracked under its original id, High, when it is the same email
//     (a collision is reported as in step 1 and names nothing);
//  4. with Options.IDKeys, the referenced ids of step 2 that are signed
//     Message-IDs, in the same order and with the same confidences: the
//     signed record, although no tracked email has the id; such a Match has
//     no CorrelatedWith. Ids with a bad signature are reported in Evidence
//     (and in the Reason when nothing matches) and name nothing;
//  5. ancestor memory (unless Options.NoAncestors): a tracked email whose
//     references name this message, High; then a tracked email that
//     references one of the same ids, newest first, Likely.
//
// When the ids of step 2 and 3, or the tracked emails of one ancestor id in
// step 5, name tracked emails of different records, the first in that
// order wins one step lower on the confidence scale (Certain → High → Likely
// → Weak), each other record is reported in Match.Conflicts (one Match per
// record, at the confidence its id would have had), and the Reason says so;
// with Options.AbstainOnConflict the strategy abstains instead.
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
	self, selfJunk := m.OwnID()
	selfOK := false
	if self != "" {
		if selfJunk != "" {
			ev = append(ev, correlate.Evidence{Field: fieldMessageID, Value: clip(self), Note: selfJunk + ": not looked up"})
		} else {
			selfOK = true
		}
	}
	var buf [DefaultMaxIDs + 3]ref
	refs, refEv := readRefs(buf[:0], m, c.cfg.maxIDs, nil)
	nrefs := len(refs)
	refs, refEv = c.aliases(refs, m, self, refEv)
	f := finderPool.Get().(*finder)
	defer f.release()
	if err := f.start(ctx, c, selfOK, self, refs); err != nil {
		return correlate.Match{}, err
	}
	refBase := 0 // the key of refs[0]
	if selfOK {
		refBase = 1
	}

	// 1. Duplicate check.
	var collision *correlate.Tracked // the other email that has the message's own id
	if selfOK {
		ts, err := f.emails(0)
		if err != nil {
			return correlate.Match{}, err
		}
		dup, other, why := c.sameEmail(m, ts)
		switch {
		case dup != nil && !dup.Record.IsZero():
			ev = append(ev, correlate.Evidence{Field: fieldMessageID, Value: self, Note: "already tracked"})
			return c.match(m, dup, nil, correlate.Certain, reasonDuplicate, ev), nil
		case dup == nil && other != nil:
			collision = other
			ev = append(ev, correlate.Evidence{Field: fieldMessageID, Value: self, Note: noteCollision(other)})
			ev = append(ev, why...)
		}
	}
	forged := false
	if selfOK && collision == nil && len(c.cfg.IDKeys) > 0 {
		var mt correlate.Match
		var ok bool
		if mt, ok, ev = c.signed(self, fieldMessageID, correlate.Certain, reasonSignedSelf, ev, &forged); ok {
			return mt, nil
		}
	}

	// 2, 3. Referenced ids, then aliases.
	ev = append(ev, refEv...)
	var (
		win      *correlate.Tracked // nil until fetched
		winID    int64
		winKey   int // the key the winner was found under
		winRec   correlate.Record
		winRef   ref
		found    bool
		conflict []correlate.Match
	)
	consider := func(r ref, k int, id int64, rec correlate.Record, t *correlate.Tracked) {
		switch {
		case rec.IsZero():
			ev = append(ev, correlate.Evidence{Field: r.field, Value: r.id, Note: noteNoRecord})
		case !found:
			found, win, winID, winKey, winRec, winRef = true, t, id, k, rec, r
			ev = append(ev, correlate.Evidence{Field: r.field, Value: r.id, Note: noteNamesTracked})
		case rec != winRec:
			e := correlate.Evidence{Field: r.field, Value: r.id,
				Note: "names a tracked email of record " + rec.String() + ": conflict with " + winRec.String()}
			ev = append(ev, e)
			conflict = c.addConflict(conflict, rec, r.confidence(), r.field+" names tracked email "+strconv.FormatInt(id, 10), e)
		}
	}
	for i, r := range refs[:nrefs] {
		hits, err := f.hits(refBase + i)
		if err != nil {
			return correlate.Match{}, err
		}
		for _, h := range hits {
			consider(r, refBase+i, h.ID, h.Record, nil)
		}
		if found && c.cfg.FirstHit {
			break
		}
	}
	// Aliases claim to be this very email: only a tracked email that is
	// the same email counts.
	for i, r := range refs[nrefs:] {
		if found && c.cfg.FirstHit {
			break
		}
		k := refBase + nrefs + i
		ts, err := f.emails(k)
		if err != nil {
			return correlate.Match{}, err
		}
		dup, other, why := c.sameEmail(m, ts)
		if dup == nil && other != nil {
			ev = append(ev, correlate.Evidence{Field: r.field, Value: r.id, Note: noteCollision(other)})
			ev = append(ev, why...)
			continue
		}
		for j := range ts {
			if same, _ := correlate.SameEmail(m, &ts[j], c.cfg.sameEmailSubject); same {
				consider(r, k, ts[j].ID, ts[j].Record, &ts[j])
			}
		}
	}
	if found && len(conflict) > 0 && c.cfg.AbstainOnConflict {
		return correlate.Match{Reason: reasonConflict, Evidence: ev}, nil
	}
	if found && win == nil {
		// Read the one email the match names.
		var err error
		if win, err = f.fetch(winKey, winID); err != nil {
			return correlate.Match{}, err
		}
	}
	if win != nil {
		var mt correlate.Match
		switch {
		case winRef.alias:
			mt = c.match(m, win, nil, correlate.High, reasonAlias, ev)
		case winRef.field == fieldInReplyTo:
			mt = c.match(m, win, win, correlate.Certain, reasonInReplyTo, ev)
		case winRef.parent:
			mt = c.match(m, win, win, correlate.Certain, reasonParentRef, ev)
		default:
			mt = c.match(m, win, win, correlate.High, reasonAncestor, ev)
		}
		return withCollision(withConflicts(mt, conflict), collision), nil
	}

	// Signed ids of emails that are not (or no longer) tracked.
	if len(c.cfg.IDKeys) > 0 {
		for _, r := range refs[:nrefs] {
			var mt correlate.Match
			var ok bool
			if mt, ok, ev = c.signed(r.id, r.field, r.confidence(), r.signedReason(), ev, &forged); ok {
				return withCollision(mt, collision), nil
			}
		}
	}

	// 4. Ancestor memory.
	if !c.cfg.NoAncestors {
		if selfOK && collision == nil {
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
				return withCollision(mt, collision), err
			}
		}
	}
	if len(ev) == 0 {
		return correlate.Match{}, nil
	}
	if forged {
		return withCollision(correlate.Match{Reason: reasonForged, Evidence: ev}, collision), nil
	}
	return withCollision(correlate.Match{Evidence: ev}, collision), nil
}

// sameEmail compares m with the tracked emails that have one of its own
// ids (newest first): dup is the first that is the same email, preferring
// one filed under a record; other, when none is, the newest, with the
// disagreements why.
func (c *InReplyTo) sameEmail(m *correlate.Message, ts []correlate.Tracked) (dup, other *correlate.Tracked, why []correlate.Evidence) {
	for i := range ts {
		same, ev := correlate.SameEmail(m, &ts[i], c.cfg.sameEmailSubject)
		switch {
		case same && (dup == nil || dup.Record.IsZero() && !ts[i].Record.IsZero()):
			dup = &ts[i]
		case !same && other == nil:
			other, why = &ts[i], ev
		}
	}
	return dup, other, why
}

// noteCollision is the Evidence note of an own id that another email has.
func noteCollision(t *correlate.Tracked) string {
	return "collision: tracked email " + strconv.FormatInt(t.ID, 10) + " is another email with this id; not correlated by it"
}

// withCollision adds the collision, when there was one, to the Reason of
// mt.
func withCollision(mt correlate.Match, other *correlate.Tracked) correlate.Match {
	if other == nil {
		return mt
	}
	r := "its Message-ID collides with another email, tracked email " + strconv.FormatInt(other.ID, 10) + ": not correlated by it"
	if mt.Reason == "" {
		mt.Reason = r
	} else {
		mt.Reason += "; " + r
	}
	return mt
}

// addConflict adds a Match for rec to cs unless cs names rec already: the
// first id naming a record, in precedence order, speaks for it.
func (c *InReplyTo) addConflict(cs []correlate.Match, rec correlate.Record, conf float64, reason string, e correlate.Evidence) []correlate.Match {
	for _, x := range cs {
		if x.Record == rec {
			return cs
		}
	}
	return append(cs, correlate.Match{Record: rec, Method: correlate.InReplyTo, Confidence: conf,
		Strategy: c.String(), Reason: reason, Evidence: []correlate.Evidence{e}})
}

// withConflicts lowers mt's confidence one step when cs names other
// records, and reports them.
func withConflicts(mt correlate.Match, cs []correlate.Match) correlate.Match {
	if len(cs) == 0 {
		return mt
	}
	mt.Confidence = lower(mt.Confidence)
	mt.Conflicts = cs
	var b strings.Builder
	b.WriteString(mt.Reason)
	b.WriteString("; conflict: other ids name ")
	for i, x := range cs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x.Record.String())
	}
	b.WriteString(" (confidence lowered)")
	mt.Reason = b.String()
	return mt
}

// lower returns the named confidence one step below conf: Certain → High →
// Likely → Weak, and half of conf below Weak.
func lower(conf float64) float64 {
	for _, c := range [...]float64{correlate.High, correlate.Likely, correlate.Weak} {
		if c < conf-1e-9 {
			return c
		}
	}
	return conf / 2
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
	var conflict []correlate.Match
	for j := range ts {
		if t := &ts[j]; !t.Record.IsZero() && t.Record != win.Record {
			e := correlate.Evidence{Field: field, Value: id,
				Note: "also referenced by a tracked email of record " + t.Record.String() + ": conflict with " + win.Record.String()}
			ev = append(ev, e)
			conflict = c.addConflict(conflict, t.Record, conf, "tracked email "+strconv.FormatInt(t.ID, 10)+" also references "+field+" "+clip(id), e)
		}
	}
	if len(conflict) > 0 && c.cfg.AbstainOnConflict {
		return correlate.Match{Reason: reasonConflict, Evidence: ev}, true, nil
	}
	return withConflicts(c.match(m, win, nil, conf, reason, ev), conflict), true, nil
}

// aliases appends the message's provider-preserved original ids to refs.
func (c *InReplyTo) aliases(refs []ref, m *correlate.Message, self string, ev []correlate.Evidence) ([]ref, []correlate.Evidence) {
	if !m.HasAnyField(c.cfg.aliasKeys...) {
		return refs, ev // most mail: no provider rewrote its id
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
			if r := correlate.JunkID(id, nil); r != "" {
				ev = append(ev, correlate.Evidence{Field: f.name, Value: clip(id), Note: r})
				continue
			}
			dup := false
			for _, x := range refs {
				dup = dup || x.id == id
			}
			if !dup {
				refs = append(refs, ref{id: id, field: f.name, alias: true})
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
	self, _ := m.OwnID()
	var buf [DefaultMaxIDs + 3]ref
	refs, _ := readRefs(buf[:0], m, c.cfg.maxIDs, nil)
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

// A finder answers, for the keys of one message (its own id, its
// referenced ids, its aliases, in that order), which tracked emails are
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
}

var finderPool = sync.Pool{New: func() any {
	return &finder{keys: make([]correlate.Key, 0, DefaultMaxIDs+4), hitBuf: make([]probe.Hit, 0, 2*(DefaultMaxIDs+4))}
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
		return fmt.Errorf("header: lookup %s of %d ids: %w", correlate.KindMessageID, len(f.keys), err)
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
