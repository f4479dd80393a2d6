package smartmatch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// Hashes is what Dynamics mode computes for an email: Dynamics'
// EmailHashBase rows.
type Hashes struct {
	// Words are the hashes of the first HashMaxCount words of the subject
	// after HashFilterKeywords, in order, repeats included: FNV-1a 32-bit
	// over the lower-cased word. Words are separated by white space.
	Words []uint32
	// Addresses are the first HashMaxCount unique participant addresses
	// (From, Sender, To, Cc, Bcc), normalized by correlate.NormalizeAddress.
	// Dynamics mode compares and indexes them as text.
	Addresses []string
}

// Hash returns the Dynamics-mode hashes of m (whatever c's Mode). It never
// panics; it reads at most 4 KiB of the subject and bounds its work by
// HashMaxCount.
func (c *Correlator) Hash(m *correlate.Message) Hashes {
	if m == nil {
		return Hashes{}
	}
	return Hashes{
		Words:     c.appendWordHashes(nil, m.Subject),
		Addresses: participants(m, nil, c.maxCount, nil),
	}
}

// filterSubject applies HashFilterKeywords to s.
func (c *Correlator) filterSubject(s string) string {
	if len(s) > maxSubjectBytes {
		s = cutUTF8(s, maxSubjectBytes)
	}
	if c.filter == nil {
		return filterDefault(s)
	}
	return c.filter.ReplaceAllString(s, "")
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a rune.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// appendWordHashes appends the hashes of the first HashMaxCount words of the
// filtered subject s to dst.
func (c *Correlator) appendWordHashes(dst []uint32, s string) []uint32 {
	dst, _ = c.appendWords(dst, nil, s)
	return dst
}

// appendWords is appendWordHashes that also appends the rarity of each word
// to lens when lens is not nil.
func (c *Correlator) appendWords(dst []uint32, lens []int, s string) ([]uint32, []int) {
	s = c.filterSubject(s)
	n := 0
	for i := 0; i < len(s) && n < c.maxCount; {
		if size := spaceAt(s, i); size > 0 {
			i += size
			continue
		}
		j := i + 1
		for j < len(s) && spaceAt(s, j) == 0 {
			j++
		}
		dst = append(dst, hashWord(s[i:j]))
		if lens != nil {
			lens = append(lens, rarity(s[i:j]))
		}
		n++
		i = j
	}
	return dst, lens
}

// rarity guesses how rare a word is, to count the rarest first: words with
// digits (order and invoice numbers) before others, longer before shorter.
func rarity(w string) int {
	if strings.ContainsAny(w, "0123456789") {
		return len(w) + 1000
	}
	return len(w)
}

// spaceAt returns the length of the white-space rune at s[i], or 0 when there
// is none (a word byte).
func spaceAt(s string, i int) int {
	c := s[i]
	if c < utf8.RuneSelf {
		if c == ' ' || '\t' <= c && c <= '\r' {
			return 1
		}
		return 0
	}
	if !utf8.RuneStart(c) {
		return 0
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if unicode.IsSpace(r) {
		return size
	}
	return 0
}

// hashWord returns the FNV-1a 32-bit hash of the lower-cased UTF-8 of w;
// invalid bytes count as U+FFFD.
func hashWord(w string) uint32 {
	const prime = 16777619
	h := uint32(2166136261)
	for i := 0; i < len(w); {
		if c := w[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			h = (h ^ uint32(c)) * prime
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(w[i:])
		i += size
		var b [utf8.UTFMax]byte
		for _, x := range b[:utf8.EncodeRune(b[:], unicode.ToLower(r))] {
			h = (h ^ uint32(x)) * prime
		}
	}
	return h
}

// wordKey returns the KindWord key of a word hash.
func wordKey(h uint32) correlate.Key {
	const hex = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = hex[h&15]
		h >>= 4
	}
	return correlate.Key{Kind: KindWord, Value: string(b[:])}
}

func addressKey(a string) correlate.Key { return correlate.Key{Kind: KindAddress, Value: a} }

func (c *Correlator) indexDynamics(m *correlate.Message, dst []correlate.Key) []correlate.Key {
	var buf [DefaultHashMaxCount]uint32
	words := c.appendWordHashes(buf[:0], m.Subject)
	for i, h := range words {
		if !slices.Contains(words[:i], h) {
			dst = append(dst, wordKey(h))
		}
	}
	var abuf [DefaultHashMaxCount]string
	for _, a := range participants(m, abuf[:0], c.maxCount, nil) {
		dst = append(dst, addressKey(a))
	}
	return dst
}

// subjectMatch reports whether word multisets a and b match: their counts
// differ by at most delta, they share at least one word, and each has at most
// delta words the other lacks. This is the formalization of Dynamics' rule
// ("the same count of subject hashes") in the reference notes, §3.1: at delta
// 0 the subjects have the same words; at delta 1 one word may be added,
// dropped or replaced.
func subjectMatch(a, b []uint32, delta int) bool {
	if abs(len(a)-len(b)) > delta {
		return false
	}
	shared := 0
	var buf [DefaultHashMaxCount]bool
	var used []bool
	if len(b) > len(buf) {
		used = make([]bool, len(b))
	} else {
		used = buf[:len(b)]
	}
	for _, h := range a {
		for j, x := range b {
			if x == h && !used[j] {
				used[j] = true
				shared++
				break
			}
		}
	}
	return shared >= 1 && shared >= max(len(a), len(b))-delta
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// dsrc is one key of a Dynamics-mode message and its number of tracked
// emails.
type dsrc struct {
	key correlate.Key
	n   int
}

// correlateDynamics is Dynamics' smart matching.
//
// A candidate matches when subjectMatch holds for the word hashes and it
// shares at least HashMinAddressCount addresses. Every match has at least
// n−delta of the message's distinct words, so it is found under one of the
// delta+1 rarest words; and at least HashMinAddressCount of its k addresses,
// so it is found under one of the k−HashMinAddressCount+1 rarest addresses.
// The key counts decide which of the two groups of keys to read (the words
// first: a rare word usually makes the cheaper group); their
// newest tracked emails (MaxCandidates in all, rarest key first) are
// verified, and the newest match wins: once one is found, later keys are
// read only for newer emails.
func (c *Correlator) correlateDynamics(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	var (
		wbuf [DefaultHashMaxCount]uint32
		lbuf [DefaultHashMaxCount]int
	)
	words, lens := c.appendWords(wbuf[:0], lbuf[:0], m.Subject)
	if len(words) == 0 {
		return correlate.Match{Reason: "no subject words to hash"}, nil
	}
	var abuf [DefaultHashMaxCount]string
	addrs := participants(m, abuf[:0], c.maxCount, nil)
	if len(addrs) < c.minAddr {
		return correlate.Match{Reason: "fewer addresses than HashMinAddressCount"}, nil
	}
	var sbuf [2 * DefaultHashMaxCount]dsrc
	use, err := c.cover(ctx, words, lens, addrs, sbuf[:0])
	if err != nil || total(use) == 0 {
		return correlate.Match{}, err
	}
	best, bestAddr, err := c.newestMatch(ctx, m, use, words, addrs)
	if err != nil || best == nil {
		return correlate.Match{}, err
	}
	return c.dynamicsMatch(m, words, best, bestAddr), nil
}

// cover returns the keys whose tracked emails are read, appended to buf:
// the distinct words counted, likely rarest first (see rarity), until
// delta+1 of them make a cover no larger than MaxCandidates; only when the
// words give no small cover are the addresses counted, and their
// k−HashMinAddressCount+1 rarest used when they make a smaller cover. At
// delta 0, a word no tracked email has ends the search: cover returns nil.
func (c *Correlator) cover(ctx context.Context, words []uint32, lens []int, addrs []string, buf []dsrc) ([]dsrc, error) {
	byCount := func(a, b dsrc) int { return a.n - b.n }
	var obuf [DefaultHashMaxCount]int
	order := obuf[:0]
	for i, h := range words {
		if !slices.Contains(words[:i], h) {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return lens[b] - lens[a] })
	ws := buf
	for _, i := range order {
		k := wordKey(words[i])
		n, err := c.idx.Count(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("smartmatch: count %s %s: %w", k.Kind, k.Value, err)
		}
		if n == 0 && c.delta == 0 {
			return nil, nil
		}
		ws = append(ws, dsrc{k, n})
		slices.SortFunc(ws, byCount)
		if len(ws) > c.delta && total(ws[:c.delta+1]) <= c.maxC {
			break
		}
	}
	use := ws[:min(c.delta+1, len(ws))]
	if c.minAddr > 0 && total(use) > c.maxC {
		as := ws[len(ws):]
		for _, a := range addrs {
			k := addressKey(a)
			n, err := c.idx.Count(ctx, k)
			if err != nil {
				return nil, fmt.Errorf("smartmatch: count %s %q: %w", k.Kind, k.Value, err)
			}
			as = append(as, dsrc{k, n})
		}
		slices.SortFunc(as, byCount)
		if alt := as[:len(as)-c.minAddr+1]; total(alt) < total(use) {
			use = alt
		}
	}
	return use, nil
}

// newestMatch reads the newest tracked emails of the keys of use
// (MaxCandidates in all, rarest key first) and returns the newest that
// matches, with the number of addresses it shares; nil when none does.
// Once one is found, later keys are read only for newer emails.
func (c *Correlator) newestMatch(ctx context.Context, m *correlate.Message, use []dsrc, words []uint32, addrs []string) (*correlate.Tracked, int, error) {
	since, _ := c.since(m)
	var (
		best     *correlate.Tracked
		bestAddr int
		examined int
		seen     = make([]int64, 0, min(total(use), c.maxC))
		cbuf     [DefaultHashMaxCount]uint32
	)
	for _, s := range use {
		if examined >= c.maxC {
			break
		}
		if s.n == 0 {
			continue
		}
		q := correlate.Query{Since: since, Limit: c.maxC - examined}
		if best != nil && best.Time.After(since) {
			q.Since = best.Time // only a newer email can win now
		}
		ts, err := c.idx.Lookup(ctx, s.key, q)
		if err != nil {
			return nil, 0, fmt.Errorf("smartmatch: lookup %s %q: %w", s.key.Kind, s.key.Value, err)
		}
		for i := range ts {
			t := &ts[i]
			if slices.Contains(seen, t.ID) || m.MessageID != "" && t.MessageID == m.MessageID {
				continue
			}
			seen = append(seen, t.ID)
			examined++
			if best != nil && !newer(t, best) {
				continue // the newest match wins; t cannot
			}
			shared := sharedCount(addrs, t.Participants[:min(len(t.Participants), c.maxCount)])
			if shared < c.minAddr || !subjectMatch(words, c.appendWordHashes(cbuf[:0], t.Subject), c.delta) {
				continue
			}
			best, bestAddr = t, shared
		}
	}
	return best, bestAddr, nil
}

// dynamicsMatch is the Match with best, which shares bestAddr addresses
// with m, whose subject has the word hashes words.
func (c *Correlator) dynamicsMatch(m *correlate.Message, words []uint32, best *correlate.Tracked, bestAddr int) correlate.Match {
	var cbuf [DefaultHashMaxCount]uint32
	id := strconv.FormatInt(best.ID, 10)
	mt := correlate.Match{
		Record:         best.Record,
		Method:         correlate.SmartMatching,
		Confidence:     correlate.Weak,
		Strategy:       c.String(),
		CorrelatedWith: best,
		SubjectChanged: !slices.Equal(words, c.appendWordHashes(cbuf[:0], best.Subject)) &&
			c.norm.Key(best.Subject) != c.norm.Key(m.Subject),
		Reason: "subject words and " + strconv.Itoa(bestAddr) + " addresses match tracked email " + id + " (Dynamics smart matching)",
		Evidence: []correlate.Evidence{
			{Field: "Subject", Value: c.filterSubject(m.Subject), Note: strconv.Itoa(len(words)) + " word hashes match tracked email " + id},
			{Field: "Participants", Value: strconv.Itoa(bestAddr), Note: "addresses shared with tracked email " + id},
		},
	}
	if best.Record.IsZero() {
		mt.Track = true
		mt.Reason += ", tracked without a record"
	}
	if mt.Confidence < c.minC {
		return belowThreshold(mt, c.minC)
	}
	return mt
}

func total(s []dsrc) int {
	n := 0
	for _, x := range s {
		n += x.n
	}
	return n
}

// sharedCount returns how many of addrs (unique) occur in parts.
func sharedCount(addrs, parts []string) int {
	n := 0
	for _, a := range addrs {
		if slices.Contains(parts, a) {
			n++
		}
	}
	return n
}

// belowThreshold turns mt into an abstention that names the candidate.
func belowThreshold(mt correlate.Match, minC float64) correlate.Match {
	ev := append(mt.Evidence, correlate.Evidence{
		Field: "Confidence",
		Value: strconv.FormatFloat(mt.Confidence, 'f', 2, 64),
		Note:  "below MinConfidence " + strconv.FormatFloat(minC, 'f', 2, 64) + " for " + describe(mt.CorrelatedWith),
	})
	return correlate.Match{
		Strategy: mt.Strategy,
		Reason:   "best candidate below MinConfidence: " + mt.Reason,
		Evidence: ev,
	}
}

// describe names a tracked email and its record for Evidence.
func describe(t *correlate.Tracked) string {
	var b strings.Builder
	b.WriteString("tracked email ")
	b.WriteString(strconv.FormatInt(t.ID, 10))
	if !t.Record.IsZero() {
		b.WriteString(" (")
		b.WriteString(t.Record.String())
		b.WriteString(")")
	}
	return b.String()
}
