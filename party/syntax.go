// Address syntax: character classes and the RFC 5322 pieces of an address.

package party

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/internal/rfc5322"
)

// Character classes of the fast path, by byte.
const (
	clsAtext = 1 << iota // RFC 5322 atext
	clsLDH               // letter, digit or hyphen
	clsUpper             // A–Z
)

// charClass is a read-only table of clsAtext, clsLDH and clsUpper by byte.
var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if rfc5322.IsAtext(b) {
			t[c] |= clsAtext
		}
		if isAlnum(b) || b == '-' {
			t[c] |= clsLDH
		}
		if 'A' <= b && b <= 'Z' {
			t[c] |= clsUpper
		}
	}
	return t
}()

// isLDHDomain reports an ASCII domain of letters, digits and hyphens whose
// labels need no IDNA processing: 1–63 characters, no leading or trailing
// hyphen, no "--" in the third and fourth positions (Punycode and other
// reserved labels go the full path), and no trailing dot.
func isLDHDomain(d string) bool {
	if len(d) > maxDomainLen {
		return false
	}
	start := 0
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			if charClass[d[i]]&clsLDH == 0 {
				return false
			}
			continue
		}
		l := d[start:i]
		if l == "" || len(l) > maxLabelLen || l[0] == '-' || l[len(l)-1] == '-' ||
			(len(l) >= 4 && l[2] == '-' && l[3] == '-') {
			return false
		}
		start = i + 1
	}
	return true
}

// checkChars refuses control characters, invisible formatting characters
// and private-use or unassigned-surrogate code points anywhere in s.
func checkChars(input, s string) error {
	for _, r := range s {
		switch {
		case r < ' ' || r == 0x7f || (0x80 <= r && r < 0xa0):
			return badAddress(input, "control character "+strconv.QuoteRune(r))
		case r == utf8.RuneError:
			return badAddress(input, "not valid UTF-8")
		case r >= utf8.RuneSelf && (unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r)):
			return badAddress(input, "invisible or private-use character "+strconv.QuoteRune(r))
		}
	}
	return nil
}

// splitAddress splits a valid UTF-8 address at its "@", handling a quoted
// local part, and checks the characters of both halves.
func splitAddress(input, s string) (local, domain string, quoted bool, err error) {
	if err := checkChars(input, s); err != nil {
		return "", "", false, err
	}
	if strings.HasPrefix(s, `"`) {
		end := -1
		for i := 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return "", "", false, badAddress(input, "unterminated quoted local part")
		}
		if end+1 >= len(s) || s[end+1] != '@' {
			return "", "", false, badAddress(input, "no @ after the quoted local part")
		}
		local, domain = s[:end+1], s[end+2:]
		quoted = true
	} else {
		at := strings.IndexByte(s, '@')
		switch {
		case at < 0:
			return "", "", false, badAddress(input, "no @")
		case at != strings.LastIndexByte(s, '@'):
			return "", "", false, badAddress(input, "more than one @")
		}
		local, domain = s[:at], s[at+1:]
	}
	if local == "" || local == `""` {
		return "", "", false, badAddress(input, "empty local part")
	}
	if domain == "" {
		return "", "", false, badAddress(input, "empty domain")
	}
	if len(local) > MaxLocalLen {
		return "", "", false, badAddress(input, "local part longer than "+strconv.Itoa(MaxLocalLen)+" octets")
	}
	return local, domain, quoted, nil
}

// unquote decodes the content of a quoted string: quoted pairs are
// unescaped; control characters were refused already.
func unquote(input, s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		if strings.IndexByte(s, '"') >= 0 {
			return "", badAddress(input, "quote inside the quoted local part")
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 >= len(s) {
				return "", badAddress(input, "dangling backslash in the quoted local part")
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return "", badAddress(input, "quote inside the quoted local part")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// quote writes s as an RFC 5322 quoted string.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
