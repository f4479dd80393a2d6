package rfc5322

import "testing"

func TestIsAtext(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		want := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		for _, s := range []byte("!#$%&'*+-/=?^_`{|}~") {
			want = want || b == s
		}
		if got := IsAtext(b); got != want {
			t.Errorf("IsAtext(%q) = %v, want %v", b, got, want)
		}
	}
}

func TestIsDotAtom(t *testing.T) {
	for s, want := range map[string]bool{
		"jane":         true,
		"jane.doe":     true,
		"o'hara+tag":   true,
		"a.b.c":        true,
		"":             false, // empty
		".jane":        false, // leading dot
		"jane.":        false, // trailing dot
		"jane..doe":    false, // two dots in a row
		"jane doe":     false, // space is not atext
		"jane@x":       false, // neither is @
		"jos\xc3\xa9":  false, // nor non-ASCII
		"a(comment)":   false, // nor parentheses
		"\"quoted\"":   false, // a quoted string is no dot-atom
		"x.example.co": true,
	} {
		if got := IsDotAtom(s); got != want {
			t.Errorf("IsDotAtom(%q) = %v, want %v", s, got, want)
		}
	}
}
