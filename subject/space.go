// Step (1) of base: truncation and white space.

package subject

import (
	"strings"
	"unicode/utf8"
)

// truncate returns the longest prefix of s of at most max bytes that does not
// end inside a UTF-8 sequence.
func truncate(s string, max int) string {
	cut := max
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(s[cut]) {
		cut = max // invalid UTF-8: cut anywhere
	}
	return s[:cut]
}

// isWS reports whether r is converted to a space by step 1.
func isWS(r rune, ext bool) bool {
	switch r {
	case ' ', '\t', '\r', '\n':
		return true
	}
	return ext && isSpaceRune(r)
}

// isInvisible reports whether Extended mode drops r in step 1: bidi marks and
// embeddings, zero-width space, word joiner and byte-order mark.
func isInvisible(r rune) bool {
	switch {
	case r == 0x200B, r == 0x200E, r == 0x200F, r == 0x2060, r == 0xFEFF:
		return true
	case 0x202A <= r && r <= 0x202E, 0x2066 <= r && r <= 0x2069:
		return true
	}
	return false
}

// needsSpaceNorm reports whether step 1 would change s.
func needsSpaceNorm(s string, ext bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ' ' < c && c < utf8.RuneSelf {
			continue
		}
		switch {
		case c == ' ':
			if i+1 < len(s) && s[i+1] == ' ' {
				return true
			}
		case c < ' ':
			if c == '\t' || c == '\r' || c == '\n' || ext && (c == '\v' || c == '\f') {
				return true
			}
		case ext:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError && (isSpaceRune(r) || isInvisible(r)) {
				return true
			}
			i += size - 1
		}
	}
	return false
}

// normSpace performs step 1: every run of white space becomes one space
// (leading and trailing ones too; later steps remove those).
func normSpace(s string, ext bool) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false // the last byte written is a space
	start := 0     // s[start:i] is pending, unchanged text
	for i := 0; i < len(s); {
		c := s[i]
		if ' ' < c && c < utf8.RuneSelf {
			i++
			space = false
			continue
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || !isWS(r, ext) && !(ext && isInvisible(r)) {
				i += size
				space = false
				continue
			}
		} else if !isWS(r, ext) {
			i++
			space = false
			continue
		}
		if c == ' ' && !space {
			i++ // a single space stays
			space = true
			continue
		}
		b.WriteString(s[start:i])
		if isWS(r, ext) && !space {
			b.WriteByte(' ')
			space = true
		}
		i += size
		start = i
	}
	b.WriteString(s[start:])
	return b.String()
}
