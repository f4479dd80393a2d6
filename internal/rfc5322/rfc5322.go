// Package rfc5322 holds the pieces of RFC 5322 address syntax that the
// message parser (correlate) and the address normalizer (party) share.
package rfc5322

// IsAtext reports RFC 5322 atext: a letter, a digit or one of
// !#$%&'*+-/=?^_`{|}~.
func IsAtext(c byte) bool { return atext[c] }

var atext = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-/=?^_`{|}~" {
		t[c] = true
	}
	return t
}()

// IsDotAtom reports an RFC 5322 dot-atom of ASCII atext: atoms separated by
// single dots, none at either end.
func IsDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if s[i-1] == '.' {
				return false
			}
			continue
		}
		if !atext[c] {
			return false
		}
	}
	return true
}
