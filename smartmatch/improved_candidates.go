package smartmatch

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// icand is a tracked email examined in Improved mode.
type icand struct {
	t     *correlate.Tracked
	sim   float64
	level level
	via   string  // the address or organization that set the level
	rank  float64 // similarity × recency: orders qualifying candidates
	score float64 // the evidence in bits (see the package documentation)
	// The parts of the score: the subject's specificity (NaN when the
	// participants carried the candidate without it), the age and the
	// missing reply prefix.
	subjBits, ageBits float64
	subjPartial       bool // words left unread: the subject carries at least subjBits
	fresh             bool
	again             bool   // a fresh message from the author of the tracked email
	was               bool   // found by the subject a "(was: …)" trailer names
	why               whyNot // why it does not qualify; qualifies when zero
}

// A subj is a comparison text looked up: the message's base subject, or
// the one a "(was: …)" trailer names.
type subj struct {
	text  string
	sig   correlate.Key
	nsig  int // tracked emails with the same comparison text
	words wordStats
	was   bool // named by a "(was: …)" trailer
}

// query is one message being correlated in Improved mode.
type query struct {
	c     *Correlator
	m     *correlate.Message
	f     form
	parts []party // participants besides own addresses, hubs marked
	main  subj
	ref   time.Time
	since time.Time // tracked emails before it are not looked up
	from  string    // the message's sender
	// noRecipients reports an incoming message without To, Cc or Bcc.
	noRecipients bool
	// viaList reports a message that came through a mailing list (List-Id
	// or List-Post).
	viaList bool
}

// level returns how closely t's participants tie it to the message, and the
// address or organization that shows it.
func (q *query) level(t *correlate.Tracked) (level, string) {
	c := q.c
	// A shared address counts as the same person on the far side of either
	// email (the sender of incoming mail, a recipient of outgoing mail),
	// or anywhere when the organization's own addresses are known (a
	// customer on Cc): a recipient of both incoming emails may be a service
	// rep when OwnAddresses does not say who the reps are, or the list both
	// came through when the message came through a list.
	counts := func(t *correlate.Tracked, i int) bool {
		return (t.Direction == correlate.Outgoing) == (i > 0) || c.ownKnown && !q.viaList
	}
	best, via := levelNone, ""
	for _, p := range q.parts {
		i := slices.Index(t.Participants, p.addr)
		if i < 0 {
			continue
		}
		switch {
		case p.hub:
			if best < levelHub {
				best, via = levelHub, p.addr
			}
		case p.far || counts(t, i):
			return levelAddress, p.addr
		case best < levelHub:
			// The same recipient of two incoming emails: the mailbox or
			// list both came through.
			best, via = levelHub, p.addr
		}
	}
	if best >= levelOrg {
		return best, via
	}
	// An incoming email that lists no recipient (an archive, Bcc) came
	// through the mailbox by a route it does not name; when the own
	// addresses are unknown, it shares that route with the incoming tracked
	// emails, as two emails to the same recipient do.
	if best == levelNone && q.noRecipients && !c.ownKnown && t.Direction == correlate.Incoming {
		best, via = levelHub, "(no recipient listed)"
	}
	tbox := ""
	for k := range q.parts {
		p := &q.parts[k]
		if p.hub || !(p.far || c.ownKnown && !q.viaList) || q.org(p) == "" {
			continue
		}
		if tbox == "" && t.Mailbox != "" {
			tbox = correlate.NormalizeAddress(t.Mailbox)
		}
		for i, x := range t.Participants {
			if counts(t, i) && x != tbox && inOrg(x, p.org) && !c.isOwn(x) {
				return levelOrg, p.org
			}
		}
	}
	return best, via
}

// org returns the organization of p, computed once: "" for a freemail
// address and for the organization's own domains (OwnAddresses, the
// mailbox's).
func (q *query) org(p *party) string {
	if p.orgDone {
		return p.org
	}
	p.orgDone = true
	o := orgOf(p.addr)
	if o != "" && (q.c.isOwnDomain(o) || q.m.Mailbox != "" && inOrg(correlate.NormalizeAddress(q.m.Mailbox), o)) {
		o = ""
	}
	p.org = o
	return o
}

// consider examines tracked email t, whose base subject has similarity sim
// to s.
func (q *query) consider(ctx context.Context, s *subj, t *correlate.Tracked, sim float64) (icand, error) {
	c := q.c
	ic := icand{t: t, sim: sim, was: s.was}
	ic.level, ic.via = q.level(t)
	age := q.ref.Sub(t.Time)
	ic.rank = sim * c.decay(age)
	// A "(was: …)" trailer says the message continues a conversation.
	fresh := !q.f.reply && !c.fresh && !s.was
	ic.again = fresh && age >= againAfter && len(t.Participants) > 0 && t.Participants[0] == q.from
	switch {
	case sim < c.minSim:
		ic.why = whyDiffers
		return ic, nil
	case ic.level == levelNone && c.ownKnown:
		// The own addresses are known, so the message's other
		// participants are its customer's: sharing none of them, nor
		// their organization, it is another customer's message.
		ic.why = whyNoneShared
		return ic, nil
	case ic.again:
		ic.why = whyAgain
		return ic, nil
	case sim < 1 && ic.level < levelAddress:
		ic.why = whySimilarOnly
		return ic, nil
	}
	ic.ageBits, ic.fresh, ic.subjBits = c.ageBits(age), fresh, math.NaN()
	ic.score = c.tune.bits(ic.level) - ic.ageBits
	if fresh {
		ic.score -= c.tune.freshBits
	}
	if ic.score >= c.tune.minScore {
		return ic, nil // participants alone carry it, whatever the subject
	}
	// The subject must carry the rest; its words are read until it does.
	need := (c.tune.minScore - ic.score) / sim
	sp, partial, err := c.specificity(ctx, &s.words, s.text, need)
	if err != nil {
		return ic, err
	}
	ic.subjBits, ic.subjPartial = sp*sim, partial
	ic.score += ic.subjBits
	if ic.score < c.tune.minScore {
		ic.why = whyScore
	}
	return ic, nil
}

// ageBits is the recency part of the score: one bit per HalfLife of age.
func (c *Correlator) ageBits(age time.Duration) float64 {
	if age <= 0 {
		return 0
	}
	return float64(age) / float64(c.halfLife)
}

// correlateImproved is Improved mode; see the package documentation.
func (c *Correlator) correlateImproved(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	f := c.formOf(m)
	if f.text == "" {
		if f.tokens {
			return correlate.Match{Reason: "subject holds nothing but tracking tokens"}, nil
		}
		return correlate.Match{Reason: "no subject words"}, nil
	}
	var pbuf [DefaultMaxAddresses]party
	q := query{c: c, m: m, f: f, from: m.SenderAddress(),
		noRecipients: m.Direction == correlate.Incoming && len(m.To)+len(m.Cc)+len(m.Bcc) == 0}
	list := listAddress(m)
	q.viaList = list != "" || len(m.Header["List-Id"]) > 0
	q.parts = parties(m, pbuf[:0], c.maxAddrs, c.keepAddress(correlate.NormalizeAddress(m.Mailbox)))
	if len(q.parts) == 0 {
		return correlate.Match{Reason: "no participant besides own addresses"}, nil
	}
	ev, err := q.markHubs(ctx, list)
	if err != nil {
		return correlate.Match{}, err
	}
	if err := c.lookUp(ctx, &q.main, f.text, false); err != nil {
		return correlate.Match{}, err
	}
	q.since, q.ref = c.since(m)
	// The buffers stay here, on the stack: the steps take and return the
	// candidates by value.
	var (
		cbuf [16]icand
		sbuf [32]int64
	)
	g, err := q.gather(ctx, gathered{cands: cbuf[:0], seen: sbuf[:0]})
	if err != nil {
		return correlate.Match{}, err
	}
	return c.decide(f, g.cands, ev), nil
}

// markHubs marks the hub addresses among the message's participants (see
// Correlator.hub) and the mailing list it came through (list), and returns
// the Evidence that names them.
func (q *query) markHubs(ctx context.Context, list string) ([]correlate.Evidence, error) {
	var ev []correlate.Evidence
	for i := range q.parts {
		p := &q.parts[i]
		isHub, n, tot, err := q.c.hub(ctx, p.addr)
		if err != nil {
			return nil, err
		}
		if isHub {
			p.hub = true
			ev = append(ev, correlate.Evidence{Field: "Participants", Value: p.addr,
				Note: "hub address on " + strconv.Itoa(n) + " of " + strconv.FormatInt(tot, 10) + " tracked emails"})
			continue
		}
		if p.addr == list {
			p.hub = true
			ev = append(ev, correlate.Evidence{Field: "Participants", Value: p.addr, Note: "hub address: the mailing list of List-Post"})
		}
	}
	return ev, nil
}

// gathered is what the steps of Improved mode have found so far: the
// examined candidates and the IDs of the tracked emails seen. The steps
// take and return it by value, so that its buffers can stay on the stack of
// correlateImproved.
type gathered struct {
	cands []icand
	seen  []int64
}

// qualified reports whether a candidate with the same base subject
// qualifies: the later steps are then skipped.
func (g *gathered) qualified() bool {
	for i := range g.cands {
		if ic := &g.cands[i]; ic.why == 0 && ic.sim == 1 {
			return true
		}
	}
	return false
}

// gather examines the candidates, step by step until one with the same
// base subject qualifies: the tracked emails with the same base subject
// (step 1), those with the subjects "(was: …)" trailers name, then the
// participants' (step 2). A subject carried by more tracked emails than
// MaxCandidates is common ("Hello"): the participants' emails are read
// first.
func (q *query) gather(ctx context.Context, g gathered) (gathered, error) {
	common := q.main.nsig > q.c.maxC
	for step := range 3 {
		if g.qualified() {
			break
		}
		var err error
		switch {
		case step == 1:
			g, err = q.wasSubjects(ctx, g)
		case step == 0 && !common, step == 2 && common:
			g, err = q.sameSubject(ctx, &q.main, g)
		default:
			g, err = q.byParticipant(ctx, g)
		}
		if err != nil {
			return g, err
		}
	}
	return g, nil
}

// unseen reports whether t is examined for the first time and is not the
// message itself, and records it in seen.
func (q *query) unseen(seen []int64, t *correlate.Tracked) ([]int64, bool) {
	if q.m.MessageID != "" && t.MessageID == q.m.MessageID || slices.Contains(seen, t.ID) {
		return seen, false
	}
	return append(seen, t.ID), true
}

// add examines t (see consider) and appends it to cands.
func (q *query) add(ctx context.Context, s *subj, t *correlate.Tracked, sim float64, cands []icand) ([]icand, error) {
	ic, err := q.consider(ctx, s, t, sim)
	if err != nil {
		return cands, err
	}
	return append(cands, ic), nil
}

// sameSubject is step 1: the tracked emails with the same comparison text
// as s, newest first.
func (q *query) sameSubject(ctx context.Context, s *subj, g gathered) (gathered, error) {
	if s.nsig == 0 {
		return g, nil
	}
	c := q.c
	ts, err := c.idx.Lookup(ctx, s.sig, correlate.Query{Since: q.since, Limit: c.maxC})
	if err != nil {
		return g, fmt.Errorf("smartmatch: lookup %s %q: %w", s.sig.Kind, s.sig.Value, err)
	}
	for i := range ts {
		t := &ts[i]
		var ok bool
		if g.seen, ok = q.unseen(g.seen, t); !ok {
			continue
		}
		sim := 1.0
		if len(s.text) > maxSignatureText {
			// A hashed signature: make sure the texts are equal.
			sim = c.similarity(s.text, c.form(t.Subject).text)
		}
		if g.cands, err = q.add(ctx, s, t, sim, g.cands); err != nil {
			return g, err
		}
	}
	return g, nil
}

// wasSubjects reads the tracked emails with the subjects "(was: …)"
// trailers name, innermost last: the conversation the message continues
// under a new subject.
func (q *query) wasSubjects(ctx context.Context, g gathered) (gathered, error) {
	c, f := q.c, &q.f
	was := f.was
	for range maxWas {
		if was == "" || g.qualified() {
			return g, nil
		}
		wf := c.form(was)
		if wf.text == "" || wf.text == f.text {
			return g, nil
		}
		ws := &subj{}
		if err := c.lookUp(ctx, ws, wf.text, true); err != nil {
			return g, err
		}
		var err error
		if g, err = q.sameSubject(ctx, ws, g); err != nil {
			return g, err
		}
		was = wf.was
	}
	return g, nil
}

// byParticipant is step 2: the newest tracked emails of each participant
// that is not a hub, for edited subjects and for common subjects whose
// newest emails are other conversations'.
func (q *query) byParticipant(ctx context.Context, g gathered) (gathered, error) {
	c := q.c
	budget := c.maxC
	for i := range q.parts {
		p := &q.parts[i]
		if budget <= 0 {
			break
		}
		if p.hub {
			continue
		}
		k := addressKey(p.addr)
		ts, err := c.idx.Lookup(ctx, k, correlate.Query{Since: q.since, Limit: budget})
		if err != nil {
			return g, fmt.Errorf("smartmatch: lookup %s %q: %w", k.Kind, k.Value, err)
		}
		budget -= len(ts)
		for j := range ts {
			t := &ts[j]
			var ok bool
			if g.seen, ok = q.unseen(g.seen, t); !ok {
				continue
			}
			cf := c.form(t.Subject)
			if g.cands, err = q.add(ctx, &q.main, t, c.similarity(q.f.text, cf.text), g.cands); err != nil {
				return g, err
			}
		}
	}
	return g, nil
}

// listAddress returns the address of the mailing list m came through, from
// its List-Post field ("<mailto:list@example.org>", RFC 2369), normalized;
// "" when there is none.
func listAddress(m *correlate.Message) string {
	for _, v := range m.Header["List-Post"] {
		v = strings.TrimSpace(v)
		if len(v) > 1024 {
			v = v[:1024]
		}
		i := strings.Index(strings.ToLower(v), "<mailto:")
		if i < 0 {
			continue
		}
		v = v[i+len("<mailto:"):]
		if j := strings.IndexAny(v, ">?"); j >= 0 {
			v = v[:j]
		}
		return correlate.NormalizeAddress(v)
	}
	return ""
}

// maxWas bounds the nested "(was: …)" trailers followed.
const maxWas = 3

// lookUp prepares s for comparison text text: its key and the number of
// tracked emails under it.
func (c *Correlator) lookUp(ctx context.Context, s *subj, text string, was bool) error {
	s.text, s.sig, s.was = text, signatureKey(text), was
	n, err := c.idx.Count(ctx, s.sig)
	if err != nil {
		return fmt.Errorf("smartmatch: count %s %q: %w", s.sig.Kind, s.sig.Value, err)
	}
	s.nsig = n
	return nil
}
