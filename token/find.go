package token

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Found is a token found in a subject: the token in canonical form and
// where it was written, subject[Start:End] (byte offsets).
type Found struct {
	Token
	Start, End int
}

// Find returns every token of f in subject, in order, under the current
// prefix or any prefix of the history. It tolerates what mail programs and
// people do to a subject:
//
//   - the prefix in any case ("crm:0001001", "Crm:0001001"), Unicode simple
//     case folding included, and the signature in any case;
//   - the token anywhere: at the end where Stamp puts it, moved after a reply
//     prefix ("RE: CRM:0001001 Printer"), or several in one subject;
//   - punctuation around it: "(CRM:0001001)", "[CRM:0001001]",
//     "CRM:0001001.", quotes, and text without spaces in scripts that do not
//     separate words (Chinese, Japanese, Thai).
//
// It does not read other text as a token:
//
//   - the prefix must not continue a word: "XCRM:0001001" and, with the
//     prefix "#", the "Ticket#2021…" of OTRS and Zammad are not tokens;
//   - the digits must be ASCII digits and must not run into a letter or digit
//     ("CRM:0001001abc");
//   - the run must have a length of f's current layout (7 digits by
//     default, see MinDigits and MaxDigits) or of a layout of its
//     LayoutHistory, and begin with the designator digit 0 or 1, so with
//     the prefix "#" the "[#123]" of Freshdesk or FreeScout is not a token;
//   - only configured prefixes count: Salesforce's "ref:_00D….:ref" and any
//     other system's number are ignored.
//
// When f has Keys, a signature ("-" and exactly SignatureLen Crockford
// base32 characters after the digits) is read as part of the token; when
// what follows "-" is not a signature, the token is unsigned. Whether a
// signature is genuine is for [Format.Verify] to say. Without Keys no
// signature is read: "CRM:0001001-A3JC49JV" holds the unsigned token
// CRM:0001001, so tokens signed before signing was turned off still
// correlate by their digits.
//
// Find runs in time linear in len(subject) (times the number of prefixes)
// and allocates nothing when the subject has no token. It returns every
// token; callers bound what they do with them.
func (f Format) Find(subject string) []Found { return f.find(nil, subject) }

// find is Find appending to out.
func (f Format) find(out []Found, subject string) []Found {
	var fb firstBytes
	f.firstBytes(&fb)
	lengths := f.lengths()
	if fb.n > len(fb.b) {
		// Too many distinct first bytes for IndexByte: test every byte.
		for i := 0; i < len(subject); i++ {
			c := subject[i]
			if fb.set[c>>6]&(1<<(c&63)) == 0 {
				continue
			}
			if fd, ok := f.candidate(subject, i, lengths); ok {
				out = append(out, fd)
				i = fd.End - 1
			}
		}
		return out
	}
	// Jump from one possible first byte to the next with IndexByte, which
	// is vectorized: a subject without a token costs a few scans.
	var next [len(firstBytes{}.b)]int
	for k := range fb.n {
		next[k] = indexFrom(subject, 0, fb.b[k])
	}
	for {
		i := len(subject)
		for k := range fb.n {
			i = min(i, next[k])
		}
		if i == len(subject) {
			return out
		}
		pos := i + 1
		if fd, ok := f.candidate(subject, i, lengths); ok {
			out = append(out, fd)
			pos = fd.End
		}
		for k := range fb.n {
			if next[k] < pos {
				next[k] = indexFrom(subject, pos, fb.b[k])
			}
		}
	}
}

// candidate tries to read a token at subject[i], a possible first byte of a
// prefix.
func (f *Format) candidate(subject string, i int, lengths uint64) (Found, bool) {
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(subject[:i]); isWordRune(r) {
			return Found{}, false
		}
	}
	t, end, ok := f.matchAt(subject, i, lengths)
	if !ok {
		return Found{}, false
	}
	return Found{Token: t, Start: i, End: end}, true
}

// indexFrom returns the index of the first c in s at or after from, or
// len(s).
func indexFrom(s string, from int, c byte) int {
	if from >= len(s) {
		return len(s)
	}
	if j := strings.IndexByte(s[from:], c); j >= 0 {
		return from + j
	}
	return len(s)
}

// Parse reads s, with surrounding white space ignored, as one token of f,
// with the tolerance of [Format.Find]. It fails with an error wrapping
// ErrSyntax when s is anything else. Parse(subject[fd.Start:fd.End]) returns
// fd.Token for every Found fd, and Parse(t.String()) returns t for every
// token Find or Make returns.
func (f Format) Parse(s string) (Token, error) {
	s = strings.TrimSpace(s)
	t, end, ok := f.matchAt(s, 0, f.lengths())
	if !ok || end != len(s) {
		return Token{}, fmt.Errorf("%w: %q", ErrSyntax, truncate(s, 64))
	}
	return t, nil
}

// Strip returns subject without f's tokens, with empty brackets left behind
// removed and white space collapsed and trimmed: the form in which to
// compare the subjects of a conversation. Text glued to the end of a token
// is kept, so "CRM:0001001#0001002", with "#" a prefix too, leaves
// "#0001002", which was not a token before and is one now.
func (f Format) Strip(subject string) string { return f.strip(subject, f.Find(subject)) }

// strip is Strip with the tokens of subject, fs, found already. It returns
// subject itself, without allocating, when there are no tokens and its
// white space is already single spaces between words.
func (f Format) strip(subject string, fs []Found) string {
	if len(fs) == 0 && singleSpaced(subject) {
		return subject
	}
	if len(fs) == 1 {
		// One token at the end (as Dynamics writes it) or at the start:
		// the rest is a substring, when its white space is already single.
		start, end := fs[0].Start, fs[0].End
		if start > 0 && end < len(subject) {
			if o, c := subject[start-1], subject[end]; (o == '[' && c == ']') || (o == '(' && c == ')') {
				start, end = start-1, end+1
			}
		}
		rest, piece := "", true
		switch before, after := subject[:start], subject[end:]; {
		case blank(after):
			rest = strings.TrimFunc(before, unicode.IsSpace)
		case blank(before):
			rest = strings.TrimFunc(after, unicode.IsSpace)
		default:
			piece = false // words on both sides: built below
		}
		if piece && singleSpaced(rest) {
			return rest
		}
	}
	var b strings.Builder
	b.Grow(len(subject))
	words := func(s string) {
		for w := range strings.FieldsSeq(s) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
	}
	prev := 0
	for _, fd := range fs {
		start, end := fd.Start, fd.End
		if start > prev && end < len(subject) {
			if o, c := subject[start-1], subject[end]; (o == '[' && c == ']') || (o == '(' && c == ')') {
				start, end = start-1, end+1
			}
		}
		words(subject[prev:start])
		prev = end
	}
	words(subject[prev:])
	return b.String()
}

// blank reports whether s is only white space.
func blank(s string) bool { return strings.TrimFunc(s, unicode.IsSpace) == "" }

// singleSpaced reports whether strings.Join(strings.Fields(s), " ") == s:
// the only white space in s is single ASCII spaces between words.
func singleSpaced(s string) bool {
	space := true // at the start, as after a space
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return singleSpacedUnicode(s)
		}
		if c == ' ' {
			if space {
				return false
			}
			space = true
			continue
		}
		if c >= '\t' && c <= '\r' { // the other ASCII white space
			return false
		}
		space = false
	}
	return !space || s == ""
}

// singleSpacedUnicode is singleSpaced for text beyond ASCII.
func singleSpacedUnicode(s string) bool {
	space := true
	for _, r := range s {
		if unicode.IsSpace(r) {
			if r != ' ' || space {
				return false
			}
			space = true
			continue
		}
		space = false
	}
	return !space || s == ""
}

// firstBytes holds the bytes a recognized prefix can begin with: as a set,
// and as a list of the first few (n > len(b) means the list overflowed).
type firstBytes struct {
	set [4]uint64
	b   [8]byte
	n   int
}

func (fb *firstBytes) add(c byte) {
	if fb.set[c>>6]&(1<<(c&63)) != 0 {
		return
	}
	fb.set[c>>6] |= 1 << (c & 63)
	if fb.n < len(fb.b) {
		fb.b[fb.n] = c
	}
	fb.n++
}

// firstBytes collects the first byte of the UTF-8 form of every case
// variant of the first rune of every recognized prefix.
func (f *Format) firstBytes(fb *firstBytes) {
	for i := 0; i <= len(f.History); i++ {
		p := f.prefixAt(i)
		if p == "" {
			continue
		}
		fb.add(p[0])
		r, _ := utf8.DecodeRuneInString(p)
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				fb.add(byte(r) - 'a' + 'A')
			} else if 'A' <= r && r <= 'Z' {
				fb.add(byte(r) - 'A' + 'a')
			}
			if r != 'k' && r != 'K' && r != 's' && r != 'S' {
				continue // only k and s have non-ASCII case variants (K, ſ)
			}
		}
		var buf [utf8.UTFMax]byte
		for v := unicode.SimpleFold(r); v != r; v = unicode.SimpleFold(v) {
			utf8.EncodeRune(buf[:], v)
			fb.add(buf[0])
		}
	}
}

// matchAt reads a token of f that begins exactly at s[i], with a digit run
// of one of the lengths (f.lengths()). The caller has checked the left
// boundary. It returns the token and the offset just after
// it.
func (f *Format) matchAt(s string, i int, lengths uint64) (Token, int, bool) {
	hi := maxLength(lengths)
	for pi := 0; pi <= len(f.History); pi++ {
		p := f.prefixAt(pi)
		if p == "" {
			continue
		}
		n, ok := foldPrefix(s[i:], p)
		if !ok {
			continue
		}
		j := i + n
		k := j
		for k < len(s) && k-j <= hi && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if l := k - j; l > hi || lengths&(1<<l) == 0 || (s[j] != '0' && s[j] != '1') {
			continue
		}
		t := Token{Prefix: p, Digits: s[j:k]}
		end := k
		// With signing on, a signature: "-", exactly sl alphabet
		// characters, then a boundary.
		if sl := f.signatureLen(); len(f.Keys) > 0 && k+1+sl <= len(s) && s[k] == '-' && !wordAt(s, k+1+sl) {
			if sig, ok := canonSig(s[k+1 : k+1+sl]); ok {
				t.Signature = sig
				end = k + 1 + sl
			}
		}
		if t.Signature == "" && wordAt(s, k) {
			continue
		}
		return t, end, true
	}
	return Token{}, 0, false
}

// foldPrefix reports whether s begins with p under Unicode simple case
// folding, and how many bytes of s that prefix takes.
func foldPrefix(s, p string) (int, bool) {
	i := 0
	for _, pr := range p {
		if i >= len(s) {
			return 0, false
		}
		sr, size := rune(s[i]), 1
		if sr >= utf8.RuneSelf {
			sr, size = utf8.DecodeRuneInString(s[i:])
			if sr == utf8.RuneError && size == 1 {
				return 0, false // invalid UTF-8 never matches
			}
		}
		if sr != pr && !foldEqual(sr, pr) {
			return 0, false
		}
		i += size
	}
	return i, true
}

// foldEqual reports whether a and b are equal under simple case folding.
func foldEqual(a, b rune) bool {
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	if a == utf8.RuneError || b == utf8.RuneError {
		return false
	}
	for v := unicode.SimpleFold(a); v != a; v = unicode.SimpleFold(v) {
		if v == b {
			return true
		}
	}
	return false
}

// wordAt reports whether the rune at s[i] continues a word (false at the
// end of s).
func wordAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	if c < utf8.RuneSelf {
		return isWordByte(c)
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isWordRune(r)
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// isWordRune reports whether r is part of a word that a token must not be
// glued to: a letter, digit, mark or underscore. Letters of scripts written
// without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer,
// Myanmar) do not count, so "请看CRM:0001001的问题" holds a token.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isWordByte(byte(r))
	}
	if r == utf8.RuneError {
		return false
	}
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
		return false
	}
	return !unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai,
		unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// truncate shortens s to at most n bytes on a rune boundary, for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
