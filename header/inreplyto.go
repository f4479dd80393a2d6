package header

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	// The referenced ids (2) and aliases (3) are read first, their junk
	// kept apart until step 2, so that a Prober can answer for every id at
	// once. The buffer stays here, on the stack: the steps take the ids as
	// an argument.
	r := reading{c: c, m: m, f: finderPool.Get().(*finder)}
	defer r.f.release()
	var buf [DefaultMaxIDs + 3]ref
	refs, refEv := r.readIDs(buf[:0])
	if err := r.f.start(ctx, c, r.selfOK, r.self, refs); err != nil {
		return correlate.Match{}, err
	}
	if mt, done, err := r.duplicate(); done || err != nil {
		return mt, err
	}
	r.ev = append(r.ev, refEv...)
	if mt, done, err := r.referenced(refs); done || err != nil {
		return mt, err
	}
	if mt, done := r.signedRefs(refs[:r.nrefs]); done {
		return mt, nil
	}
	if mt, done, err := r.ancestorMemory(ctx, refs[:r.nrefs]); done || err != nil {
		return mt, err
	}
	if len(r.ev) == 0 {
		return correlate.Match{}, nil
	}
	if r.forged {
		return withCollision(correlate.Match{Reason: reasonForged, Evidence: r.ev}, r.collision), nil
	}
	return withCollision(correlate.Match{Evidence: r.ev}, r.collision), nil
}

// A reading is the state of one InReplyTo.Correlate call, shared by its
// steps. It holds no pointer to the caller's stack: the ids, read into a
// buffer there, are passed to the steps that need them.
type reading struct {
	c         *InReplyTo
	m         *correlate.Message
	f         *finder
	ev        []correlate.Evidence
	self      string             // the message's own id
	selfOK    bool               // self is usable: it is key 0 of f
	refBase   int                // the key of the first referenced id
	nrefs     int                // referenced ids; the aliases follow
	collision *correlate.Tracked // the other email that has the message's own id
	forged    bool               // a referenced signed id has a bad signature

	// The winner of steps 2 and 3 and the records that conflict with it.
	found    bool
	win      *correlate.Tracked // nil until fetched
	winID    int64
	winKey   int // the key the winner was found under
	winRec   correlate.Record
	winRef   ref
	conflict []correlate.Match
}

// readIDs reads the message's own id and appends its referenced ids, then
// its aliases, to buf; the junk of the referenced ids is returned apart.
func (r *reading) readIDs(buf []ref) ([]ref, []correlate.Evidence) {
	c, m := r.c, r.m
	self, selfJunk := m.OwnID()
	if self != "" {
		if selfJunk != "" {
			r.ev = append(r.ev, correlate.Evidence{Field: fieldMessageID, Value: clip(self), Note: selfJunk + ": not looked up"})
		} else {
			r.selfOK = true
			r.refBase = 1
		}
	}
	r.self = self
	refs, refEv := readRefs(buf, m, c.cfg.maxIDs, nil)
	r.nrefs = len(refs)
	return c.aliases(refs, m, self, refEv)
}

// duplicate is step 1, the duplicate check: the tracked email with the
// message's own id, or, with Options.IDKeys, its own id signed by this
// system. A tracked email with the id that is another email is recorded as
// the collision.
func (r *reading) duplicate() (correlate.Match, bool, error) {
	if !r.selfOK {
		return correlate.Match{}, false, nil
	}
	c, m := r.c, r.m
	ts, err := r.f.emails(0)
	if err != nil {
		return correlate.Match{}, true, err
	}
	dup, other, why := c.sameEmail(m, ts)
	switch {
	case dup != nil && !dup.Record.IsZero():
		r.ev = append(r.ev, correlate.Evidence{Field: fieldMessageID, Value: r.self, Note: "already tracked"})
		return c.match(m, dup, nil, correlate.Certain, reasonDuplicate, r.ev), true, nil
	case dup == nil && other != nil:
		r.collision = other
		r.ev = append(r.ev, correlate.Evidence{Field: fieldMessageID, Value: r.self, Note: noteCollision(other)})
		r.ev = append(r.ev, why...)
	}
	if r.collision == nil && len(c.cfg.IDKeys) > 0 {
		var mt correlate.Match
		var ok bool
		if mt, ok, r.ev = c.signed(r.self, fieldMessageID, correlate.Certain, reasonSignedSelf, r.ev, &r.forged); ok {
			return mt, true, nil
		}
	}
	return correlate.Match{}, false, nil
}

// consider weighs tracked email id of record rec (t when already read),
// found through r at key k, against the winner so far.
func (r *reading) consider(rf *ref, k int, id int64, rec correlate.Record, t *correlate.Tracked) {
	switch {
	case rec.IsZero():
		r.ev = append(r.ev, correlate.Evidence{Field: rf.field, Value: rf.id, Note: noteNoRecord})
	case !r.found:
		r.found, r.win, r.winID, r.winKey, r.winRec, r.winRef = true, t, id, k, rec, *rf
		r.ev = append(r.ev, correlate.Evidence{Field: rf.field, Value: rf.id, Note: noteNamesTracked})
	case rec != r.winRec:
		e := correlate.Evidence{Field: rf.field, Value: rf.id,
			Note: "names a tracked email of record " + rec.String() + ": conflict with " + r.winRec.String()}
		r.ev = append(r.ev, e)
		r.conflict = r.c.addConflict(r.conflict, rec, rf.confidence(), rf.field+" names tracked email "+strconv.FormatInt(id, 10), e)
	}
}

// referenced is steps 2 and 3: the referenced ids, then the aliases, of
// refs; the first that names a tracked email with a record wins.
func (r *reading) referenced(refs []ref) (correlate.Match, bool, error) {
	c, m := r.c, r.m
	for i := range refs[:r.nrefs] {
		hits, err := r.f.hits(r.refBase + i)
		if err != nil {
			return correlate.Match{}, true, err
		}
		for _, h := range hits {
			r.consider(&refs[i], r.refBase+i, h.ID, h.Record, nil)
		}
		if r.found && c.cfg.FirstHit {
			break
		}
	}
	if err := r.aliased(refs); err != nil {
		return correlate.Match{}, true, err
	}
	if r.found && len(r.conflict) > 0 && c.cfg.AbstainOnConflict {
		return correlate.Match{Reason: reasonConflict, Evidence: r.ev}, true, nil
	}
	if r.found && r.win == nil {
		// Read the one email the match names.
		var err error
		if r.win, err = r.f.fetch(r.winKey, r.winID); err != nil {
			return correlate.Match{}, true, err
		}
	}
	if r.win == nil {
		return correlate.Match{}, false, nil
	}
	var mt correlate.Match
	switch win := r.win; {
	case r.winRef.alias:
		mt = c.match(m, win, nil, correlate.High, reasonAlias, r.ev)
	case r.winRef.field == fieldInReplyTo:
		mt = c.match(m, win, win, correlate.Certain, reasonInReplyTo, r.ev)
	case r.winRef.parent:
		mt = c.match(m, win, win, correlate.Certain, reasonParentRef, r.ev)
	default:
		mt = c.match(m, win, win, correlate.High, reasonAncestor, r.ev)
	}
	return withCollision(withConflicts(mt, r.conflict), r.collision), true, nil
}

// aliased is step 3: the aliases of refs (after the referenced ids). They
// claim to be this very email: only a tracked email that is the same email
// counts.
func (r *reading) aliased(refs []ref) error {
	c, m := r.c, r.m
	for i := range refs[r.nrefs:] {
		if r.found && c.cfg.FirstHit {
			break
		}
		rf := &refs[r.nrefs+i]
		k := r.refBase + r.nrefs + i
		ts, err := r.f.emails(k)
		if err != nil {
			return err
		}
		dup, other, why := c.sameEmail(m, ts)
		if dup == nil && other != nil {
			r.ev = append(r.ev, correlate.Evidence{Field: rf.field, Value: rf.id, Note: noteCollision(other)})
			r.ev = append(r.ev, why...)
			continue
		}
		for j := range ts {
			if same, _ := correlate.SameEmail(m, &ts[j], c.cfg.sameEmailSubject); same {
				r.consider(rf, k, ts[j].ID, ts[j].Record, &ts[j])
			}
		}
	}
	return nil
}

// signedRefs is step 4: with Options.IDKeys, the referenced ids that are
// signed Message-IDs of emails that are not (or no longer) tracked.
func (r *reading) signedRefs(refs []ref) (correlate.Match, bool) {
	c := r.c
	if len(c.cfg.IDKeys) == 0 {
		return correlate.Match{}, false
	}
	for i := range refs {
		rf := &refs[i]
		var mt correlate.Match
		var ok bool
		if mt, ok, r.ev = c.signed(rf.id, rf.field, rf.confidence(), rf.signedReason(), r.ev, &r.forged); ok {
			return withCollision(mt, r.collision), true
		}
	}
	return correlate.Match{}, false
}

// ancestorMemory is step 5 (unless Options.NoAncestors): a tracked email
// that references this message, then one that references one of the ids of
// refs.
func (r *reading) ancestorMemory(ctx context.Context, refs []ref) (correlate.Match, bool, error) {
	c, m := r.c, r.m
	if c.cfg.NoAncestors {
		return correlate.Match{}, false, nil
	}
	if r.selfOK && r.collision == nil && !r.f.unreferenced() {
		mt, done, err := c.ancestors(ctx, m, r.self, fieldMessageID, noteDescendant, correlate.High, reasonDescendant, r.ev)
		if err != nil || done {
			return mt, true, err
		}
	}
	for i := range refs {
		rf := &refs[i]
		if rf.phrase {
			continue
		}
		mt, done, err := c.ancestors(ctx, m, rf.id, rf.field, noteAncestor, correlate.Likely, reasonSibling, r.ev)
		if err != nil || done {
			return withCollision(mt, r.collision), true, err
		}
	}
	return correlate.Match{}, false, nil
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
