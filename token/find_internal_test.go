package token

import (
	"strings"
	"testing"
)

// FuzzSingleSpaced checks singleSpaced, ASCII fast path included, against
// its definition.
func FuzzSingleSpaced(f *testing.F) {
	for _, s := range []string{"", "a", "a b", "a  b", " a", "a ", "a\tb", "a\u00a0b", "ä b", "ä  b", "a\u0085b", "\v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := singleSpaced(s), strings.Join(strings.Fields(s), " ") == s; got != want {
			t.Fatalf("singleSpaced(%q) = %v, want %v", s, got, want)
		}
	})
}
