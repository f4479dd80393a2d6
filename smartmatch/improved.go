package smartmatch

import (
	"context"
	"fmt"
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
	return correlate.Key{Kind: KindSubject, Value: hashText(text)}
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
