package smartmatch

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agnivade/levenshtein"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

const (
	// maxSignatureText is the longest signature kept as text in a
	// KindSubject key; longer ones are hashed.
	maxSignatureText = 128
	// maxFuzzyRunes bounds the subjects compared by edit distance (the
	// comparison is quadratic); longer subjects must be equal.
	maxFuzzyRunes = 256
	// freshFactor scales the confidence of a fresh message.
	freshFactor = 0.8
	// hubFactor and orgFactor scale the confidence of a candidate that
	// shares only a hub, or only an organization.
	hubFactor = 0.7
	orgFactor = 0.85
	// againAfter is the age from which a fresh message from the author of
	// a tracked email with its subject is a new message (the next "New
	// Hire", a daily report) rather than the author continuing their own
	// message (a correction, a forgotten attachment).
	againAfter = time.Hour
)

// form is a subject prepared for Improved mode.
type form struct {
	// text is the comparison form: the base subject without tracking
	// tokens, folded (subject.Fold), with every run of characters that are
	// not letters, digits or marks replaced by one space.
	text string
	// tokens reports tracking-token-like texts in the base subject, set
	// aside: the token strategy, ahead in the chain, resolves them, and
	// Dynamics stamps a new token on every email it sends, so two emails of
	// one conversation often carry different ones.
	tokens bool
	// reply reports a reply or forward prefix.
	reply bool
	// was is the subject a "(was: …)" trailer named, as written.
	was string
}

// form prepares s for comparison.
func (c *Correlator) form(s string) form {
	base, info := c.norm.Base(s)
	var f form
	for _, t := range info.Tokens {
		base = strings.ReplaceAll(base, t, " ")
		f.tokens = true
	}
	f.text = canon(subject.Fold(base))
	f.reply = info.Reply || info.Forward
	f.was = info.Was
	return f
}

// formOf returns the form of m's subject, prepared once per message
// (correlate.Message.SubjectMemo) for Correlate and Index alike.
func (c *Correlator) formOf(m *correlate.Message) form {
	return m.SubjectMemo(c, c.deriveForm).(form)
}

func (c *Correlator) deriveForm(s string) any { return c.form(s) }

// isWordRune reports whether r belongs to a word of a comparison text.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// canon replaces each run of characters of s that are not letters, digits or
// marks by one space and trims the ends. It returns s itself, without
// allocating, when s needs no change (folded text usually does not).
func canon(s string) string {
	clean := true
	for i := 0; i < len(s) && clean; {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', 'A' <= c && c <= 'Z':
			case c == ' ' && i > 0 && i+1 < len(s) && s[i+1] != ' ':
			default:
				clean = false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		clean = isWordRune(r)
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if !isWordRune(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// signatureKey returns the KindSubject key of a comparison text.
func signatureKey(text string) correlate.Key {
	if len(text) <= maxSignatureText {
		return correlate.Key{Kind: KindSubject, Value: text}
	}
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(text); i++ {
		h = (h ^ uint64(text[i])) * prime
	}
	const hex = "0123456789abcdef"
	var b [17]byte
	b[0] = '#'
	for i := 16; i >= 1; i-- {
		b[i] = hex[h&15]
		h >>= 4
	}
	return correlate.Key{Kind: KindSubject, Value: string(b[:])}
}

// similarity returns the normalized Levenshtein similarity of two
// comparison texts, 1 − distance/max(length) in runes, or 0 when it is
// certainly below MinSimilarity, when the texts are too long to compare, or
// when their numbers differ ("order 1234" is not "order 1235").
func (c *Correlator) similarity(a, b string) float64 {
	if a == b {
		return 1
	}
	if c.minSim >= 1 || a == "" || b == "" {
		return 0
	}
	ra, rb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	n := max(ra, rb)
	if n > maxFuzzyRunes {
		return 0
	}
	bound := func(d int) bool { return 1-float64(d)/float64(n) < c.minSim }
	if bound(abs(ra-rb)) || bound(histogramBound(a, b)) || !sameNumbers(a, b) {
		return 0
	}
	return 1 - float64(levenshtein.ComputeDistance(a, b))/float64(n)
}

// histogramBound returns a lower bound of the edit distance of a and b: each
// edit changes the rune histogram (64 buckets) by at most 2.
func histogramBound(a, b string) int {
	var h [64]int
	for _, r := range a {
		h[r&63]++
	}
	for _, r := range b {
		h[r&63]--
	}
	l1 := 0
	for _, x := range h {
		l1 += abs(x)
	}
	return (l1 + 1) / 2
}

// sameNumbers reports whether the words with digits of two comparison texts
// are the same, in the same order.
func sameNumbers(a, b string) bool {
	for {
		var x, y string
		x, a = nextNumber(a)
		y, b = nextNumber(b)
		if x != y {
			return false
		}
		if x == "" {
			return true
		}
	}
}

// nextNumber returns the first space-separated word of s that has a digit,
// and the rest of s after it.
func nextNumber(s string) (string, string) {
	for s != "" {
		w := s
		if i := strings.IndexByte(s, ' '); i >= 0 {
			w, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if strings.ContainsAny(w, "0123456789") {
			return w, s
		}
	}
	return "", ""
}

// A party is a participant address of a message and its side.
type party struct {
	addr string
	// far reports the message's far side: From or Sender of incoming
	// mail, To, Cc or Bcc of outgoing mail. The near side is the mailbox's
	// own (its organization's recipients of incoming mail, its sender of
	// outgoing mail).
	far bool
	// hub reports a hub address (see Correlator.hub).
	hub bool
	// org is the address's organization (orgOf), "" for none or an own
	// one; read by query.org, which sets orgDone.
	org     string
	orgDone bool
}

// parties appends to dst the first limit unique normalized participants of
// m for which keep returns true, in the order of Message.Participants, with
// their sides. Its work is bounded by limit.
func parties(m *correlate.Message, dst []party, limit int, keep func(string) bool) []party {
	if limit <= 0 {
		return dst
	}
	out := m.Direction == correlate.Outgoing
	ns := len(m.Senders()) // the first ns participants are From and Sender
	for i, a := range m.Participants() {
		if !keep(a) {
			continue
		}
		dst = append(dst, party{addr: a, far: out == (i >= ns)})
		if len(dst) == limit {
			return dst
		}
	}
	return dst
}

func (c *Correlator) keepAddress(mailbox string) func(string) bool {
	return func(a string) bool { return a != mailbox && !c.isOwn(a) }
}

func (c *Correlator) indexImproved(m *correlate.Message, t *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	if f := c.formOf(m); f.text != "" {
		dst = append(dst, signatureKey(f.text))
		if startsConversation(t, f.reply) {
			// The words of a conversation are counted once, on the email
			// that starts it as far as the store knows: the document
			// frequencies are among conversations.
			dst = append(dst, convKey)
			var tbuf [DefaultMaxTerms]string
			for _, w := range appendTerms(tbuf[:0], f.text, c.maxTerms) {
				dst = append(dst, termKey(w))
			}
		}
	}
	var abuf [DefaultMaxAddresses]string
	for _, a := range participants(m, abuf[:0], c.maxAddrs, c.keepAddress(correlate.NormalizeAddress(m.Mailbox))) {
		dst = append(dst, addressKey(a))
	}
	return dst
}

// totalEmails returns the number of tracked emails, cached for HubRefresh.
func (c *Correlator) totalEmails(ctx context.Context) (int64, error) {
	now := c.now().UnixNano()
	if c.hubRefresh > 0 {
		if at := c.totalAt.Load(); at != 0 && now-at >= 0 && now-at < int64(c.hubRefresh) {
			return c.total.Load(), nil
		}
	}
	st, err := c.idx.Stats(ctx)
	if err != nil {
		return 0, fmt.Errorf("smartmatch: stats: %w", err)
	}
	c.total.Store(st.Emails)
	c.totalAt.Store(max(now, 1))
	return st.Emails, nil
}

// conversations returns the number of tracked conversations (the count of
// the KindConversation key), cached for HubRefresh like totalEmails: the
// key is on a third of the tracked emails, and a database counts them.
func (c *Correlator) conversations(ctx context.Context) (int64, error) {
	now := c.now().UnixNano()
	if c.hubRefresh > 0 {
		if at := c.convsAt.Load(); at != 0 && now-at >= 0 && now-at < int64(c.hubRefresh) {
			return c.convs.Load(), nil
		}
	}
	n, err := c.idx.Count(ctx, convKey)
	if err != nil {
		return 0, fmt.Errorf("smartmatch: count %s: %w", convKey.Kind, err)
	}
	c.convs.Store(int64(n))
	c.convsAt.Store(max(now, 1))
	return int64(n), nil
}

// hub reports whether address a is a hub, with the counts that decided.
func (c *Correlator) hub(ctx context.Context, a string) (bool, int, int64, error) {
	if c.hubShare < 0 {
		return false, 0, 0, nil
	}
	n, err := c.idx.Count(ctx, addressKey(a))
	if err != nil {
		return false, 0, 0, fmt.Errorf("smartmatch: count %s %q: %w", KindAddress, a, err)
	}
	if n < c.hubMin {
		return false, n, 0, nil
	}
	tot, err := c.totalEmails(ctx)
	if err != nil {
		return false, 0, 0, err
	}
	return float64(n) > c.hubShare*float64(tot), n, tot, nil
}

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
	from  string // the message's sender
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

// A whyNot says why a candidate does not qualify; the zero value means it
// does. The text is written only for the candidate the Match names.
type whyNot int8

const (
	whyDiffers     whyNot = iota + 1 // base subject below MinSimilarity
	whyNoneShared                    // nothing shared, own addresses known
	whyAgain                         // fresh, from the tracked email's author
	whySimilarOnly                   // similar subject without a shared address
	whyScore                         // below MinScore
)

// whyText says why ic does not qualify, "" when it does.
func (c *Correlator) whyText(ic *icand) string {
	switch ic.why {
	case whyDiffers:
		return "base subject differs"
	case whyNoneShared:
		return "no participant shared besides own addresses"
	case whyAgain:
		return "its author sends the same subject again without a reply prefix: a new message"
	case whySimilarOnly:
		return "base subject only similar, and shares only " + ic.level.String() + " " + ic.via
	case whyScore:
		if ic.level == levelNone {
			return "no participant shared, and the base subject is not specific enough to match alone (" + c.explain(ic) + ")"
		}
		return "shares only " + ic.level.String() + " " + ic.via + ", and the base subject is not specific enough (" + c.explain(ic) + ")"
	}
	return ""
}

// explain spells the score of ic out: "score 21.4 bits = address 16.0 +
// subject 9.5 - fresh 4.0 - age 0.1 (MinScore 8.0)".
func (c *Correlator) explain(ic *icand) string {
	var buf [128]byte
	b := append(buf[:0], "score "...)
	b = appendBits(b, ic.score)
	b = append(b, " bits = "...)
	b = append(b, ic.level.String()...)
	b = append(b, ' ')
	b = appendBits(b, c.tune.bits(ic.level))
	if !math.IsNaN(ic.subjBits) {
		b = append(b, " + subject "...)
		if ic.subjPartial {
			b = append(b, "≥ "...)
		}
		b = appendBits(b, ic.subjBits)
	}
	if ic.fresh {
		b = append(b, " - fresh "...)
		b = appendBits(b, c.tune.freshBits)
	}
	if ic.ageBits >= 0.05 {
		b = append(b, " - age "...)
		b = appendBits(b, ic.ageBits)
	}
	b = append(b, " (MinScore "...)
	b = appendBits(b, c.tune.minScore)
	b = append(b, ')')
	return string(b)
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
	var ev []correlate.Evidence
	for i := range q.parts {
		p := &q.parts[i]
		isHub, n, tot, err := c.hub(ctx, p.addr)
		if err != nil {
			return correlate.Match{}, err
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
			continue
		}
	}
	if err := c.lookUp(ctx, &q.main, f.text, false); err != nil {
		return correlate.Match{}, err
	}
	var since time.Time
	since, q.ref = c.since(m)
	var (
		cbuf  [16]icand
		sbuf  [32]int64
		cands = cbuf[:0]
		seen  = sbuf[:0]
	)
	unseen := func(t *correlate.Tracked) bool {
		if m.MessageID != "" && t.MessageID == m.MessageID || slices.Contains(seen, t.ID) {
			return false
		}
		seen = append(seen, t.ID)
		return true
	}
	add := func(s *subj, t *correlate.Tracked, sim float64) error {
		ic, err := q.consider(ctx, s, t, sim)
		if err != nil {
			return err
		}
		cands = append(cands, ic)
		return nil
	}
	qualified := func() bool {
		for _, ic := range cands {
			if ic.why == 0 && ic.sim == 1 {
				return true
			}
		}
		return false
	}
	// Step 1: the tracked emails with the same base subject, newest first.
	sameSubject := func(s *subj) error {
		if s.nsig == 0 {
			return nil
		}
		ts, err := c.idx.Lookup(ctx, s.sig, correlate.Query{Since: since, Limit: c.maxC})
		if err != nil {
			return fmt.Errorf("smartmatch: lookup %s %q: %w", s.sig.Kind, s.sig.Value, err)
		}
		for i := range ts {
			t := &ts[i]
			if !unseen(t) {
				continue
			}
			sim := 1.0
			if len(s.text) > maxSignatureText {
				// A hashed signature: make sure the texts are equal.
				sim = c.similarity(s.text, c.form(t.Subject).text)
			}
			if err := add(s, t, sim); err != nil {
				return err
			}
		}
		return nil
	}
	// Then the subjects "(was: …)" trailers name, innermost last: the
	// conversation the message continues under a new subject.
	wasSubjects := func() error {
		was := f.was
		for range maxWas {
			if was == "" || qualified() {
				return nil
			}
			wf := c.form(was)
			if wf.text == "" || wf.text == f.text {
				return nil
			}
			ws := &subj{}
			if err := c.lookUp(ctx, ws, wf.text, true); err != nil {
				return err
			}
			if err := sameSubject(ws); err != nil {
				return err
			}
			was = wf.was
		}
		return nil
	}
	// Step 2: the newest tracked emails of each participant that is not a
	// hub, for edited subjects and for common subjects whose newest emails
	// are other conversations'.
	byParticipant := func() error {
		budget := c.maxC
		for _, p := range q.parts {
			if budget <= 0 {
				break
			}
			if p.hub {
				continue
			}
			k := addressKey(p.addr)
			ts, err := c.idx.Lookup(ctx, k, correlate.Query{Since: since, Limit: budget})
			if err != nil {
				return fmt.Errorf("smartmatch: lookup %s %q: %w", k.Kind, k.Value, err)
			}
			budget -= len(ts)
			for i := range ts {
				t := &ts[i]
				if !unseen(t) {
					continue
				}
				cf := c.form(t.Subject)
				if err := add(&q.main, t, c.similarity(f.text, cf.text)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// A subject carried by more tracked emails than MaxCandidates is common
	// ("Hello"): the participants' emails are read first.
	common := q.main.nsig > c.maxC
	for step := range 3 {
		if qualified() {
			break
		}
		var err error
		switch {
		case step == 1:
			err = wasSubjects()
		case step == 0 && !common, step == 2 && common:
			err = sameSubject(&q.main)
		default:
			err = byParticipant()
		}
		if err != nil {
			return correlate.Match{}, err
		}
	}
	return c.decide(f, cands, ev), nil
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

// decide picks the winner among the examined candidates: among the
// qualifying ones, equal base subjects before similar ones, candidates with
// a record before those without, closer participants before others, then
// similarity × recency; an abstention when another record's candidate is as
// plausible (same tier, participants as close).
func (c *Correlator) decide(f form, cands []icand, ev []correlate.Evidence) correlate.Match {
	exact, recorded := false, false
	for _, ic := range cands {
		if ic.why == 0 {
			exact = exact || ic.sim == 1
			recorded = recorded || !ic.t.Record.IsZero()
		}
	}
	better := func(a, b icand) int {
		switch {
		case a.level != b.level:
			return int(b.level) - int(a.level)
		case a.rank > b.rank:
			return -1
		case a.rank < b.rank:
			return 1
		case newer(a.t, b.t):
			return -1
		case newer(b.t, a.t):
			return 1
		}
		return 0
	}
	bi := -1
	for i, ic := range cands {
		if ic.why == 0 && (!exact || ic.sim == 1) && (!recorded || !ic.t.Record.IsZero()) &&
			(bi < 0 || better(ic, cands[bi]) < 0) {
			bi = i
		}
	}
	if bi < 0 {
		return c.noMatch(cands, ev, better)
	}
	best := cands[bi]
	id := strconv.FormatInt(best.t.ID, 10)
	// The guard against generic subjects: another record's tracked email
	// with the same (or, in the similar tier, a similar) base subject whose
	// participants are as close to the message's.
	var rival *icand
	for i := range cands {
		r := &cands[i]
		if r.t.Record == best.t.Record || r.t.Record.IsZero() || r.again || r.level == levelNone ||
			r.sim < c.minSim || exact && r.sim < 1 {
			continue
		}
		if rival == nil || better(*r, *rival) < 0 {
			rival = r
		}
	}
	if rival != nil {
		ev = append(ev,
			correlate.Evidence{Field: "Subject", Value: f.text, Note: "ambiguous: tracked under two records, participants as close (" + best.level.String() + ")"},
			correlate.Evidence{Field: "candidate", Value: best.t.Record.String(), Note: describe(best.t) + ", shares " + best.level.String() + " " + best.via},
			correlate.Evidence{Field: "runner-up", Value: rival.t.Record.String(), Note: describe(rival.t) + ", shares " + rival.level.String() + " " + rival.via},
		)
		return correlate.Match{
			Strategy: c.String(),
			Reason: "ambiguous: " + describe(best.t) + " and " + describe(rival.t) + " both match (sharing " + best.level.String() + " and " +
				rival.level.String() + "); not guessing",
			Evidence: ev,
		}
	}
	conf := correlate.Likely * best.rank
	switch best.level {
	case levelOrg:
		conf *= orgFactor
	case levelHub:
		conf *= hubFactor
	}
	if !f.reply {
		conf *= freshFactor
	}
	conf = max(conf, correlate.Weak)
	var reason strings.Builder
	reason.Grow(96)
	subj := correlate.Evidence{Field: "Subject", Value: f.text}
	switch {
	case best.was:
		subj.Note = "its \"(was: …)\" trailer names the base subject of tracked email " + id
		reason.WriteString("the subject it continues (was: …) is the base subject of tracked email ")
	case best.sim < 1:
		subj.Note = "similar (" + fmtScore(best.sim) + ") to the base subject of tracked email " + id
		reason.WriteString("base subject similar (")
		reason.WriteString(fmtScore(best.sim))
		reason.WriteString(") to tracked email ")
	default:
		subj.Note = "same base subject as tracked email " + id
		reason.WriteString("same base subject as tracked email ")
	}
	reason.WriteString(id)
	part := correlate.Evidence{Field: "Participants", Value: best.via}
	switch best.level {
	case levelAddress:
		reason.WriteString(", sharing ")
		reason.WriteString(best.via)
		part.Note = "shared with tracked email " + id + " (address)"
	case levelOrg:
		reason.WriteString(", sharing the organization ")
		reason.WriteString(best.via)
		part.Note = "organization shared with tracked email " + id
	case levelHub:
		reason.WriteString(", sharing only the hub ")
		reason.WriteString(best.via)
		part.Note = "only a hub shared with tracked email " + id
	default:
		reason.WriteString(", sharing no participant: the base subject carries it alone")
		part.Note = "nothing shared with tracked email " + id
	}
	part.Note += "; " + c.explain(&best)
	ev = slices.Grow(ev, 3)
	ev = append(ev, subj, part)
	// The runner-up: the closest candidate of another record.
	var ru *icand
	for i := range cands {
		r := &cands[i]
		if r.t.Record == best.t.Record || r.sim < c.minSim && r.level == levelNone {
			continue
		}
		if ru == nil || r.sim > ru.sim || r.sim == ru.sim && r.rank > ru.rank {
			ru = r
		}
	}
	if ru != nil {
		why := c.whyText(ru)
		switch {
		case why != "":
		case ru.t.Record.IsZero():
			why = "tracked without a record"
		case ru.level < best.level:
			why = "shares only " + ru.level.String() + " " + ru.via
		default:
			why = "its base subject is only similar (" + fmtScore(ru.sim) + ")"
		}
		ev = append(ev, correlate.Evidence{Field: "runner-up", Value: ru.t.Record.String(), Note: describe(ru.t) + ": " + why})
	}
	mt := correlate.Match{
		Record:         best.t.Record,
		Method:         correlate.SmartMatching,
		Confidence:     conf,
		Strategy:       c.String(),
		CorrelatedWith: best.t,
		SubjectChanged: best.sim < 1 || best.was,
		Reason:         reason.String(),
		Evidence:       ev,
	}
	if best.t.Record.IsZero() {
		mt.Track = true
		mt.Reason += ", tracked without a record"
	}
	if conf < c.minC {
		return belowThreshold(mt, c.minC)
	}
	return mt
}

// noMatch explains why no candidate qualified: the closest and why it lost.
func (c *Correlator) noMatch(cands []icand, ev []correlate.Evidence, better func(a, b icand) int) correlate.Match {
	if len(cands) == 0 {
		if len(ev) == 0 {
			return correlate.Match{}
		}
		return correlate.Match{Strategy: c.String(), Reason: "no tracked email with a similar base subject", Evidence: ev}
	}
	slices.SortFunc(cands, func(a, b icand) int {
		if a.sim != b.sim {
			if a.sim > b.sim {
				return -1
			}
			return 1
		}
		return better(a, b)
	})
	r := cands[0]
	if r.sim < c.minSim {
		// Nothing alike: no opinion, but say which addresses were hubs.
		if len(ev) == 0 {
			return correlate.Match{}
		}
		return correlate.Match{Strategy: c.String(), Reason: "no tracked email with a similar base subject", Evidence: ev}
	}
	why := c.whyText(&r)
	ev = append(ev, correlate.Evidence{Field: "runner-up", Value: r.t.Record.String(), Note: describe(r.t) + ": " + why})
	return correlate.Match{Strategy: c.String(), Reason: "no tracked email qualifies; closest: " + describe(r.t) + ", " + why, Evidence: ev}
}

func fmtScore(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

// appendBits appends x with one decimal.
func appendBits(b []byte, x float64) []byte {
	if math.Abs(x) < 0.05 {
		x = 0 // no "-0.0"
	}
	return strconv.AppendFloat(b, x, 'f', 1, 64)
}
