package smartmatch

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultHashFilterKeywords is Dynamics' default "Filter Subject Keywords"
// (the organization attribute hashfilterkeywords): one or more leading
// "word:" prefixes, such as "RE:", "RE :" and "FW: RE:", with the white space
// around them.
const DefaultHashFilterKeywords = `^[\s]*([\w]+\s?:[\s]*)+`

// .NET character classes, in the RE2 syntax of package regexp. In .NET, \w is
// [\p{L}\p{Mn}\p{Nd}\p{Pc}], \s is [\f\n\r\t\v\x85\p{Z}] and \d is \p{Nd};
// RE2 gives them ASCII meanings.
const (
	netWord  = `\p{L}\p{Mn}\p{Nd}\p{Pc}`
	netSpace = `\f\n\r\t\v\x{85}\p{Z}`
	netDigit = `\p{Nd}`
)

// CompileFilter compiles a HashFilterKeywords pattern written for .NET, as
// Dynamics evaluates it, into a Go regular expression with the same meaning.
//
// .NET's \w, \s and \d are Unicode-aware: \w is [\p{L}\p{Mn}\p{Nd}\p{Pc}], \s
// is [\f\n\r\t\v\x85\p{Z}] and \d is \p{Nd}. Go's RE2 gives them ASCII meanings,
// so that "AW:" (German) or "ΑΠ:" (Greek) would not be removed; CompileFilter
// rewrites them (and \W, \S, \D) as the equivalent Unicode classes, in and
// outside brackets. It reports an error for what RE2 cannot express: \W or
// \S inside brackets, and the .NET constructs RE2 lacks (lookaround,
// backreferences, atomic groups), which regexp.Compile refuses. The word
// boundaries \b and \B keep RE2's ASCII meaning.
func CompileFilter(pattern string) (*regexp.Regexp, error) {
	tr, err := translateNET(pattern)
	if err != nil {
		return nil, fmt.Errorf("smartmatch: HashFilterKeywords %q: %w", pattern, err)
	}
	re, err := regexp.Compile(tr)
	if err != nil {
		return nil, fmt.Errorf("smartmatch: HashFilterKeywords %q: %w", pattern, err)
	}
	return re, nil
}

// translateNET rewrites the .NET shorthand classes of pattern as Unicode
// classes of RE2. It copies every other escape and character unchanged.
func translateNET(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p) + 32)
	inClass := false
	classStart := -1 // offset in p of the first character of the class body
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return "", errors.New("trailing backslash")
			}
			e := p[i+1]
			i++
			switch e {
			case 'w', 's', 'd':
				cls := netClass(e)
				if inClass {
					b.WriteString(cls)
				} else {
					b.WriteString("[" + cls + "]")
				}
			case 'W', 'S', 'D':
				if inClass {
					if e == 'D' {
						b.WriteString(`\P{Nd}`)
						continue
					}
					return "", fmt.Errorf("\\%c inside brackets has no RE2 equivalent", e)
				}
				b.WriteString("[^" + netClass(e|0x20) + "]")
			default:
				// Copy the escape whole (a multi-byte rune stays one rune).
				_, n := utf8.DecodeRuneInString(p[i:])
				b.WriteByte('\\')
				b.WriteString(p[i : i+n])
				i += n - 1
			}
		case inClass:
			switch {
			case c == '[' && strings.HasPrefix(p[i:], "[:"):
				// A POSIX class such as [:alpha:] inside brackets.
				end := strings.Index(p[i+2:], ":]")
				if end < 0 {
					b.WriteByte(c)
					continue
				}
				b.WriteString(p[i : i+2+end+2])
				i += 2 + end + 1
			case c == ']' && i > classStart:
				inClass = false
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		case c == '[':
			inClass = true
			b.WriteByte(c)
			classStart = i + 1
			if classStart < len(p) && p[classStart] == '^' {
				b.WriteByte('^')
				i++
				classStart++
			}
			// A ']' right after '[' or '[^' is a literal.
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// netClass returns the RE2 class body of .NET's \w, \s or \d.
func netClass(e byte) string {
	switch e {
	case 'w':
		return netWord
	case 's':
		return netSpace
	}
	return netDigit
}

// isNETWord reports whether r is in .NET's \w class.
func isNETWord(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r)
}

// isNETSpace reports whether r is in .NET's \s class.
func isNETSpace(r rune) bool {
	switch r {
	case ' ', '\f', '\n', '\r', '\t', '\v', 0x85:
		return true
	}
	return r > utf8.RuneSelf && unicode.Is(unicode.Z, r)
}

// filterDefault removes what DefaultHashFilterKeywords matches from s, with
// .NET's Unicode classes, without a regular expression:
//
//	^[\s]*([\w]+\s?:[\s]*)+
//
// The classes \w, \s and ':' are disjoint, so the greedy loop below finds the
// same match as a backtracking engine.
func filterDefault(s string) string {
	i := skipSpace(s, 0)
	end := -1
	for {
		j := i
		for j < len(s) {
			if c := s[j]; c < utf8.RuneSelf {
				if !isNETWord(rune(c)) {
					break
				}
				j++
				continue
			}
			r, n := utf8.DecodeRuneInString(s[j:])
			if !isNETWord(r) {
				break
			}
			j += n
		}
		if j == i {
			break // \w+ needs one word character
		}
		if j < len(s) {
			if r, n := utf8.DecodeRuneInString(s[j:]); isNETSpace(r) {
				j += n
			}
		}
		if j >= len(s) || s[j] != ':' {
			break
		}
		i = skipSpace(s, j+1)
		end = i
	}
	if end < 0 {
		return s
	}
	return s[end:]
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if !isNETSpace(rune(c)) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isNETSpace(r) {
			break
		}
		i += n
	}
	return i
}
