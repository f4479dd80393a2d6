package smartmatch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
	// freshFactor scales the confidence of a fresh message when
	// Options.MatchFresh lets it match.
	freshFactor = 0.8
	// hubFactor scales the score of a candidate that shares only hub
	// addresses (and a specific base subject).
	hubFactor = 0.7
)

// form is a subject prepared for Improved mode.
type form struct {
	// text is the comparison form: the base subject without tracking
	// tokens, folded (subject.Fold), with every run of characters that are
	// not letters, digits or marks replaced by one space.
	text string
	// tokens are the folded tracking-token-like texts of the base subject.
	tokens []string
	// reply reports a reply or forward prefix.
	reply bool
}

// form prepares s for comparison.
func (c *Correlator) form(s string) form {
	base, info := c.norm.Base(s)
	var f form
	for _, t := range info.Tokens {
		base = strings.ReplaceAll(base, t, " ")
		f.tokens = append(f.tokens, subject.Fold(t))
	}
	f.text = canon(subject.Fold(base))
	f.reply = info.Reply || info.Forward
	return f
}

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

// tokensAgree reports whether two token lists allow the subjects to be one
// conversation: unless both have tokens and share none. A token on one side
// only (a stamped reply to an unstamped email) changes nothing.
func tokensAgree(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
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

// wordCount returns the number of words of a comparison text.
func wordCount(text string) int {
	if text == "" {
		return 0
	}
	return strings.Count(text, " ") + 1
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
}

// parties appends to dst the first limit unique normalized participants of
// m for which keep returns true, in the order of Message.Participants, with
// their sides. Its work is bounded by limit.
func parties(m *correlate.Message, dst []party, limit int, keep func(string) bool) []party {
	if limit <= 0 {
		return dst
	}
	out := m.Direction == correlate.Outgoing
	for i, list := range [...][]correlate.Address{m.From, {m.Sender}, m.To, m.Cc, m.Bcc} {
		for _, x := range list {
			a := correlate.NormalizeAddress(x.Address)
			if a == "" || !keep(a) || slices.ContainsFunc(dst, func(p party) bool { return p.addr == a }) {
				continue
			}
			dst = append(dst, party{addr: a, far: out == (i >= 2)})
			if len(dst) == limit {
				return dst
			}
		}
	}
	return dst
}

func (c *Correlator) keepAddress(mailbox string) func(string) bool {
	return func(a string) bool { return a != mailbox && !c.isOwn(a) }
}

func (c *Correlator) indexImproved(m *correlate.Message, dst []correlate.Key) []correlate.Key {
	if f := c.form(m.Subject); f.text != "" {
		dst = append(dst, signatureKey(f.text))
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
	t      *correlate.Tracked
	sim    float64
	shared int    // non-hub addresses it shares
	hubs   int    // hub addresses it shares
	first  string // the first shared address
	score  float64
	clash  bool   // tracking tokens on both sides, none shared
	why    string // why it does not qualify; "" when it does
}

// related reports whether ic shares any address with the message besides
// own addresses: such a candidate of another record makes a match ambiguous.
func (ic *icand) related() bool { return ic.shared+ic.hubs > 0 }

// correlateImproved is Improved mode; see the package documentation.
func (c *Correlator) correlateImproved(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	f := c.form(m.Subject)
	if f.text == "" {
		if len(f.tokens) > 0 {
			return correlate.Match{Reason: "subject holds nothing but tracking tokens"}, nil
		}
		return correlate.Match{Reason: "no subject words"}, nil
	}
	if !f.reply && !c.fresh {
		return correlate.Match{Reason: "subject has no reply or forward prefix: a new conversation (Options.MatchFresh)"}, nil
	}
	var pbuf, lbuf [DefaultMaxAddresses]party
	var hbuf [DefaultMaxAddresses]string
	parts := parties(m, pbuf[:0], c.maxAddrs, c.keepAddress(correlate.NormalizeAddress(m.Mailbox)))
	if len(parts) == 0 {
		return correlate.Match{Reason: "no participant besides own addresses"}, nil
	}
	var ev []correlate.Evidence
	live, hubs := lbuf[:0], hbuf[:0]
	for _, p := range parts {
		a := p.addr
		isHub, n, tot, err := c.hub(ctx, a)
		if err != nil {
			return correlate.Match{}, err
		}
		if isHub {
			hubs = append(hubs, a)
			ev = append(ev, correlate.Evidence{Field: "Participants", Value: a,
				Note: "hub address on " + strconv.Itoa(n) + " of " + strconv.FormatInt(tot, 10) + " tracked emails"})
			continue
		}
		live = append(live, p)
	}
	// A subject carried by more tracked emails than MaxCandidates is common:
	// its candidates come from the participants' emails only.
	sig := signatureKey(f.text)
	nsig, err := c.idx.Count(ctx, sig)
	if err != nil {
		return correlate.Match{}, fmt.Errorf("smartmatch: count %s %q: %w", sig.Kind, sig.Value, err)
	}
	common := nsig > c.maxC
	// A shared hub proves nothing by itself; a specific subject may.
	hubOK := !common && c.hubWords > 0 && wordCount(f.text) >= c.hubWords
	if len(live) < c.minOverlap && !(hubOK && len(hubs) > 0) {
		return correlate.Match{Strategy: c.String(), Reason: "no participant besides own and hub addresses", Evidence: ev}, nil
	}

	since, ref := c.since(m)
	var (
		cbuf  [16]icand
		sbuf  [32]int64
		cands = cbuf[:0]
		seen  = sbuf[:0]
	)
	consider := func(t *correlate.Tracked, sim float64, tokens []string) {
		ic := icand{t: t, sim: sim}
		far := false
		for _, p := range live {
			if i := slices.Index(t.Participants, p.addr); i >= 0 {
				// The address is on the far side of the message or of the
				// tracked email: its sender when incoming (the first
				// participant), a recipient when outgoing.
				pfar := p.far || (t.Direction == correlate.Outgoing) == (i > 0)
				if ic.shared == 0 || pfar && !far {
					ic.first = p.addr
				}
				ic.shared++
				far = far || pfar
			}
		}
		for _, a := range hubs {
			if slices.Contains(t.Participants, a) {
				if ic.shared+ic.hubs == 0 {
					ic.first = a
				}
				ic.hubs++
			}
		}
		ic.score = sim * c.decay(ref.Sub(t.Time))
		switch {
		case sim < c.minSim:
			ic.why = "base subject differs"
		case !tokensAgree(f.tokens, tokens):
			ic.why, ic.clash = "tracking tokens differ", true
		case ic.shared >= c.minOverlap && far:
		case ic.hubs > 0 && hubOK && sim == 1:
			ic.score *= hubFactor
		case ic.hubs > 0:
			ic.why = "shares only hub addresses, and the base subject is not specific enough"
		case ic.shared > 0:
			ic.why = "shares only near-side addresses (recipients of incoming mail, senders of outgoing mail)"
		default:
			ic.why = "no participant shared besides own addresses"
		}
		cands = append(cands, ic)
	}
	unseen := func(t *correlate.Tracked) bool {
		if m.MessageID != "" && t.MessageID == m.MessageID || slices.Contains(seen, t.ID) {
			return false
		}
		seen = append(seen, t.ID)
		return true
	}

	// Step 1: the tracked emails with the same base subject.
	var ts []correlate.Tracked
	if nsig > 0 && !common {
		ts, err = c.idx.Lookup(ctx, sig, correlate.Query{Since: since, Limit: c.maxC})
		if err != nil {
			return correlate.Match{}, fmt.Errorf("smartmatch: lookup %s %q: %w", sig.Kind, sig.Value, err)
		}
	}
	exact := false
	for i := range ts {
		t := &ts[i]
		if !unseen(t) {
			continue
		}
		sim, tokens := 1.0, []string(nil)
		if len(f.tokens) > 0 || len(f.text) > maxSignatureText {
			cf := c.form(t.Subject)
			sim, tokens = c.similarity(f.text, cf.text), cf.tokens
		}
		consider(t, sim, tokens)
		exact = exact || cands[len(cands)-1].why == ""
	}
	// Step 2: the newest tracked emails of each participant, for edited
	// subjects and for generic subjects whose newest emails are elsewhere.
	if !exact {
		budget := c.maxC
		for _, p := range live {
			if budget <= 0 {
				break
			}
			k := addressKey(p.addr)
			ts, err := c.idx.Lookup(ctx, k, correlate.Query{Since: since, Limit: budget})
			if err != nil {
				return correlate.Match{}, fmt.Errorf("smartmatch: lookup %s %q: %w", k.Kind, k.Value, err)
			}
			budget -= len(ts)
			for i := range ts {
				t := &ts[i]
				if !unseen(t) {
					continue
				}
				cf := c.form(t.Subject)
				consider(t, c.similarity(f.text, cf.text), cf.tokens)
			}
		}
	}
	return c.decide(f, cands, ev), nil
}

// decide picks the winner among the examined candidates: the best-scoring
// qualifying one, equal base subjects before similar ones, candidates with a
// record before those without; an abstention when qualifying candidates of
// the best tier name two records.
func (c *Correlator) decide(f form, cands []icand, ev []correlate.Evidence) correlate.Match {
	ok := cands[:0:0]
	exact, recorded := false, false
	for _, ic := range cands {
		if ic.why == "" {
			exact = exact || ic.sim == 1
			recorded = recorded || !ic.t.Record.IsZero()
		}
	}
	for _, ic := range cands {
		if ic.why == "" && (!exact || ic.sim == 1) && (!recorded || !ic.t.Record.IsZero()) {
			ok = append(ok, ic)
		}
	}
	better := func(a, b icand) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		case newer(a.t, b.t):
			return -1
		case newer(b.t, a.t):
			return 1
		}
		return 0
	}
	if len(ok) == 0 {
		if len(cands) == 0 {
			return correlate.Match{}
		}
		// Name the closest candidate and why it lost.
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
		ev = append(ev, correlate.Evidence{Field: "runner-up", Value: r.t.Record.String(), Note: describe(r.t) + ": " + r.why})
		return correlate.Match{Strategy: c.String(), Reason: "no tracked email qualifies; closest: " + describe(r.t) + ", " + r.why, Evidence: ev}
	}
	slices.SortFunc(ok, better)
	best := ok[0]
	id := strconv.FormatInt(best.t.ID, 10)
	// The guard against generic subjects: another record's tracked email
	// with the same (or, in the similar tier, a similar) base subject that
	// shares any address besides own addresses, hubs included.
	var rival *icand
	for i := range cands {
		r := &cands[i]
		if r.t.Record == best.t.Record || r.t.Record.IsZero() || r.clash || !r.related() ||
			r.sim < c.minSim || exact && r.sim < 1 {
			continue
		}
		if rival == nil || better(*r, *rival) < 0 {
			rival = r
		}
	}
	if rival != nil {
		ev = append(ev,
			correlate.Evidence{Field: "Subject", Value: f.text, Note: "ambiguous: tracked under two records"},
			correlate.Evidence{Field: "candidate", Value: best.t.Record.String(), Note: describe(best.t) + ", score " + fmtScore(best.score)},
			correlate.Evidence{Field: "runner-up", Value: rival.t.Record.String(), Note: describe(rival.t) + ", score " + fmtScore(rival.score)},
		)
		return correlate.Match{
			Strategy: c.String(),
			Reason:   "ambiguous: " + describe(best.t) + " and " + describe(rival.t) + " both match; not guessing",
			Evidence: ev,
		}
	}
	conf := correlate.Likely * best.score
	if !f.reply {
		conf *= freshFactor
	}
	var reason strings.Builder
	reason.Grow(96)
	subj := correlate.Evidence{Field: "Subject", Value: f.text}
	if best.sim < 1 {
		subj.Note = "similar (" + fmtScore(best.sim) + ") to the base subject of tracked email " + id
		reason.WriteString("base subject similar (")
		reason.WriteString(fmtScore(best.sim))
		reason.WriteString(") to tracked email ")
	} else {
		subj.Note = "same base subject as tracked email " + id
		reason.WriteString("same base subject as tracked email ")
	}
	reason.WriteString(id)
	part := correlate.Evidence{Field: "Participants", Value: best.first}
	if best.shared > 0 {
		reason.WriteString(", sharing ")
		reason.WriteString(best.first)
		if best.shared > 1 {
			reason.WriteString(" and ")
			reason.WriteString(strconv.Itoa(best.shared - 1))
			reason.WriteString(" more")
		}
		part.Note = strconv.Itoa(best.shared) + " shared with tracked email " + id + " besides own and hub addresses"
	} else {
		reason.WriteString(", sharing only the hub ")
		reason.WriteString(best.first)
		part.Note = "only hubs shared with tracked email " + id + "; the base subject has " +
			strconv.Itoa(wordCount(f.text)) + " words"
	}
	ev = slices.Grow(ev, 3)
	ev = append(ev, subj, part)
	// The runner-up: the closest candidate of another record.
	var ru *icand
	for i := range cands {
		r := &cands[i]
		if r.t.Record == best.t.Record || r.sim < c.minSim && r.shared == 0 {
			continue
		}
		if ru == nil || r.sim > ru.sim || r.sim == ru.sim && r.score > ru.score {
			ru = r
		}
	}
	if ru != nil {
		why := ru.why
		switch {
		case why != "":
		case ru.t.Record.IsZero():
			why = "tracked without a record"
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
		SubjectChanged: best.sim < 1,
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

func fmtScore(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
