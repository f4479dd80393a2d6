package subject

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// folder performs Unicode full case folding. cases.Fold returns a stateless
// Caser that is safe for concurrent use.
var folder = cases.Fold()

// Fold returns the comparison form of s: Unicode NFKC, full case folding,
// white space and control characters collapsed to single spaces and trimmed,
// format characters (soft hyphen, zero-width space, bidi marks, …) removed.
// Invalid UTF-8 becomes U+FFFD. Subjects that a reader would call equal up to
// case, width, Unicode composition and spacing have the same Fold, so
// Fold("RÉSUMÉ  2") == Fold("re\u0301sume\u0301 ２"); Fold does not remove
// accents ("resume" differs).
//
// Fold returns s itself, without allocating, when s is already folded, and
// has a fast path for ASCII. Fold is idempotent and safe for concurrent use.
func Fold(s string) string {
	folded, ascii := asciiFolded(s)
	switch {
	case folded:
		return s
	case ascii:
		return foldASCII(s)
	}
	return foldUnicode(s)
}

// asciiFolded reports whether s is ASCII and whether it is already folded.
func asciiFolded(s string) (folded, ascii bool) {
	folded = true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			return false, false
		case 'A' <= c && c <= 'Z', c < ' ', c == 0x7f:
			folded = false
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				folded = false
			}
		}
	}
	return folded, true
}

// foldEqual reports whether Fold(x) == Fold(y) without folding either,
// when both are ASCII or every rune of both is one foldSimple handles (ok
// is false otherwise, and the caller folds): their words must then be
// equal rune by rune after simple case folding.
func foldEqual(x, y string) (eq, ok bool) {
	if !simpleText(x) || !simpleText(y) {
		return false, false
	}
	i, j := 0, 0
	for {
		i, j = skipSep(x, i), skipSep(y, j)
		if i == len(x) || j == len(y) {
			return i == len(x) && j == len(y), true
		}
		for {
			rx, nx := decodeFolded(x, i)
			ry, ny := decodeFolded(y, j)
			endX, endY := nx == 0, ny == 0 // end of string or a separator
			if endX || endY {
				if endX != endY {
					return false, true // one word is longer
				}
				break
			}
			if rx != ry {
				return false, true
			}
			i += nx
			j += ny
		}
	}
}

// simpleText reports whether Fold(s) is foldASCII(s) or foldSimple(s): s is
// ASCII, or valid UTF-8 whose every rune is a separator or simple to fold.
func simpleText(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false // invalid UTF-8: Fold replaces runs of it
		}
		if !isSep(r) {
			if _, ok := simpleFoldRune(r); !ok {
				return false
			}
		}
		i += n
	}
	return true
}

// skipSep returns the index of the first rune at or after s[i] that is not
// a separator (see isSep).
func skipSep(s string, i int) int {
	for i < len(s) {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		if !isSep(r) {
			break
		}
		i += n
	}
	return i
}

// decodeFolded returns the folded rune at s[i] of a simpleText string and
// its length, or a length of 0 at the end of s or at a separator.
func decodeFolded(s string, i int) (rune, int) {
	if i >= len(s) {
		return 0, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		if c <= ' ' || c == 0x7f {
			return 0, 0
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return rune(c), 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if isSep(r) {
		return 0, 0
	}
	f, _ := simpleFoldRune(r)
	return f, n
}

// foldASCII folds an ASCII string.
func foldASCII(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// foldUnicode folds a string that is not ASCII.
func foldUnicode(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if unicodeFolded(s) {
		return s
	}
	if t, ok := foldSimple(s); ok {
		return t
	}
	// One step is enough for all but contrived input (a format character
	// between a letter and a combining mark, say); the loop reaches the
	// fixed point that keeps Fold idempotent.
	for range 4 {
		t := foldStep(s)
		if t == s {
			break
		}
		s = t
	}
	return s
}

// foldSimple folds s without package norm and cases when every rune is
// ASCII, white space, a control character or a rune that simpleFoldRune
// handles, which covers most subjects; ok is false otherwise.
func foldSimple(s string) (string, bool) {
	for _, r := range s {
		if r >= utf8.RuneSelf && !isSep(r) {
			if _, ok := simpleFoldRune(r); !ok {
				return "", false
			}
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if isSep(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		f, _ := simpleFoldRune(r)
		b.WriteRune(f)
	}
	return b.String(), true
}

// simpleFoldRune returns the case folding of a non-ASCII rune r when NFKC
// leaves r and its folding alone and the folding is one rune; ok is false
// otherwise. TestSimpleFoldRune checks it against cases.Fold for every rune.
func simpleFoldRune(r rune) (f rune, ok bool) {
	if !nfSafe(r) || isFormat(r) {
		return 0, false
	}
	if foldStable(r) {
		return r, true
	}
	switch r {
	case 0xDF, 0x130, 0x149, 0x1F0, 0x390, 0x3B0: // full foldings
		return 0, false
	}
	f = unicode.ToLower(unicode.ToUpper(r))
	if !nfSafe(f) || !foldStable(f) {
		return 0, false
	}
	return f, true
}

// foldStep applies NFKC, case folding, NFKC and the white-space rules once.
func foldStep(s string) string {
	s = norm.NFKC.String(s)
	s = folder.String(s)
	s = norm.NFKC.String(s)

	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case isSep(r):
			space = b.Len() > 0
			continue
		case isFormat(r):
			continue
		}
		r = cherokeeFold(r)
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cherokeeFold maps Cherokee letters to upper case, as CaseFolding.txt does.
//
// QUIRK: cases.Fold in golang.org/x/text v0.44.0 swaps the case of Cherokee
// letters (ꭰ → Ꭰ but also Ꭰ → ꭰ), which is neither Unicode folding nor
// idempotent; Fold repairs its output with this mapping.
func cherokeeFold(r rune) rune {
	switch {
	case 0xAB70 <= r && r <= 0xABBF:
		return r - 0xAB70 + 0x13A0
	case 0x13F8 <= r && r <= 0x13FD:
		return r - 8
	}
	return r
}

// isSep reports whether Fold turns r into a space.
func isSep(r rune) bool {
	if r < utf8.RuneSelf {
		return r <= ' ' || r == 0x7f
	}
	return r < 0xA0 || isSpaceRune(r) // C1 controls, white space
}

// isFormat reports whether r is a format character (category Cf), which Fold
// removes.
func isFormat(r rune) bool {
	if 0x2070 <= r && r < 0xFEFF {
		return false // none in this range; skip the table search
	}
	return unicode.Is(unicode.Cf, r)
}

// unicodeFolded reports whether Fold(s) == s for valid UTF-8 s, without
// allocating. It may report false for some folded strings (then Fold does
// the work and finds no change), never true for an unfolded one.
func unicodeFolded(s string) bool {
	prevSpace := true // no leading space
	for _, r := range s {
		if isSep(r) {
			if r != ' ' || prevSpace {
				return false
			}
			prevSpace = true
			continue
		}
		prevSpace = false
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				return false
			}
			continue
		}
		if !nfSafe(r) || !foldStable(r) || isFormat(r) {
			return false
		}
	}
	return !prevSpace || s == "" // no trailing space
}

// nfSafe reports, conservatively, that r is a starter that NFC and NFKC leave
// alone and that never combines with the rune before it, so a string of such
// runes is in NFC and NFKC. It covers the letters of the scripts in the prefix
// tables and the dashes, quotation marks and CJK punctuation common in
// subjects ("Order 4711 – new date"); TestNFSafe checks it against package
// norm for every rune.
func nfSafe(r rune) bool {
	switch {
	case r < 0x80:
		return true
	case r < 0x300:
		switch {
		case r == 0xA0, r == 0xA8, r == 0xAA, r == 0xAF, 0xB2 <= r && r <= 0xB5,
			r == 0xB8, r == 0xB9, r == 0xBA, 0xBC <= r && r <= 0xBE,
			r == 0x132, r == 0x133, r == 0x13F, r == 0x140, r == 0x149, r == 0x17F,
			0x1C4 <= r && r <= 0x1CC, 0x1F1 <= r && r <= 0x1F3, r >= 0x2B0:
			return false // compatibility decompositions, modifier letters
		}
		return true
	case 0x388 <= r && r <= 0x3CE: // Greek
		return true
	case 0x400 <= r && r <= 0x45F: // Cyrillic
		return true
	case 0x5D0 <= r && r <= 0x5EA: // Hebrew
		return true
	case 0x621 <= r && r <= 0x63A, 0x641 <= r && r <= 0x64A: // Arabic
		return true
	case 0x2010 <= r && r <= 0x2027: // dashes, quotation marks, bullets
		return r != 0x2011 && r != 0x2017 && (r < 0x2024 || r > 0x2026) // not ‑ ‗ ․ ‥ …
	case 0x3001 <= r && r <= 0x3011: // CJK punctuation and brackets
		return true
	case 0x3041 <= r && r <= 0x3096, 0x30A1 <= r && r <= 0x30FA, r == 0x30FC: // kana
		return true
	case 0x3400 <= r && r <= 0x4DBF, 0x4E00 <= r && r <= 0x9FFF: // Han
		return true
	case 0xAC00 <= r && r <= 0xD7A3: // Hangul syllables
		return true
	}
	return false
}

// foldStable reports, conservatively, that case folding leaves r unchanged.
// TestFoldStable checks the claim against cases.Fold for every rune.
func foldStable(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 'A' || r > 'Z'
	}
	if r < 0x100 { // Latin-1: upper-case letters, micro sign, sharp s
		return (r < 0xC0 || r > 0xDE || r == 0xD7) && r != 0xB5 && r != 0xDF
	}
	if 0x2E80 <= r && r <= 0x9FFF || 0xAC00 <= r && r <= 0xD7A3 {
		return true // CJK and Hangul syllables have no case
	}
	switch {
	case r == 0xDF, r == 0x130, r == 0x149, r == 0x1F0, r == 0x390, r == 0x3B0, r == 0x587,
		0x1E96 <= r && r <= 0x1E9E, // ẖ ẗ ẘ ẙ ẚ ẛ … ẞ: full foldings
		0x1F00 <= r && r <= 0x1FFF, // Greek extended: many full foldings
		0xFB00 <= r && r <= 0xFB17, // ligatures ﬀ … ﬗ
		0x13A0 <= r && r <= 0x13FF, // Cherokee folds to upper case
		0xAB70 <= r && r <= 0xABBF:
		return false
	}
	if unicode.SimpleFold(r) == r {
		return true // no case at all: Han, Arabic, digits, symbols
	}
	return unicode.ToLower(r) == r && unicode.ToLower(unicode.ToUpper(r)) == r
}

// Words returns the words of s in folded form (see [Fold]), in order: runs of
// letters, digits and combining marks. Chinese and Japanese text (Han,
// Hiragana, Katakana, Bopomofo), which has no spaces between words, becomes
// overlapping character bigrams, as in CJK search engines: "打印机故障"
// gives "打印", "印机", "机故", "故障"; a lone CJK character is a word by
// itself. Korean is written with spaces and is split like Latin text. Other
// characters separate words. Words never panics.
func Words(s string) []string { return AppendWords(nil, s) }

// AppendWords appends the words of s (see [Words]) to dst and returns the
// extended slice. The words are substrings of Fold(s), so AppendWords does not
// allocate when s is already folded and dst has room.
func AppendWords(dst []string, s string) []string {
	f := Fold(s)
	for i := 0; i < len(f); {
		if c := f[i]; c < utf8.RuneSelf {
			if isWordASCII(c) {
				j := wordEnd(f, i+1)
				dst = append(dst, f[i:j])
				i = j
			} else {
				i++
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(f[i:])
		switch {
		case isCJK(r):
			dst, i = appendBigrams(dst, f, i)
		case isWordRune(r):
			j := wordEnd(f, i+size)
			dst = append(dst, f[i:j])
			i = j
		default:
			i += size
		}
	}
	return dst
}

// wordEnd returns the end of the non-CJK word that continues at f[j].
func wordEnd(f string, j int) int {
	for j < len(f) {
		if c := f[j]; c < utf8.RuneSelf {
			if !isWordASCII(c) {
				break
			}
			j++
			continue
		}
		r, size := utf8.DecodeRuneInString(f[j:])
		if !isWordRune(r) || isCJK(r) {
			break
		}
		j += size
	}
	return j
}

// appendBigrams appends the bigrams of the CJK run that starts at f[i] and
// returns the index after the run. Combining marks stay with their character.
func appendBigrams(dst []string, f string, i int) ([]string, int) {
	prev := i // start of the previous character
	_, size := utf8.DecodeRuneInString(f[i:])
	j := i + size
	chars := 1
	for j < len(f) {
		r, sz := utf8.DecodeRuneInString(f[j:])
		if unicode.IsMark(r) {
			j += sz
			continue
		}
		if !isCJK(r) {
			break
		}
		dst = append(dst, f[prev:j+sz])
		prev = j
		j += sz
		chars++
	}
	if chars == 1 {
		dst = append(dst, f[i:j])
	}
	return dst, j
}

func isWordASCII(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z'
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

// isCJK reports whether r belongs to a script written without spaces between
// words that Words splits into bigrams.
func isCJK(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return r == 0x30FC || // prolonged sound mark (Common script)
		unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Bopomofo, r)
}
