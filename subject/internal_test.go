package subject

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// TestNFSafe checks nfSafe's claim for every rune: a rune it calls safe is a
// starter that does not combine backward and is unchanged by NFC and NFKC.
func TestNFSafe(t *testing.T) {
	bad := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) || !nfSafe(r) {
			continue
		}
		s := string(r)
		ok := norm.NFC.IsNormalString(s) && norm.NFKC.IsNormalString(s) &&
			norm.NFKC.PropertiesString(s).BoundaryBefore() && norm.NFC.PropertiesString(s).BoundaryBefore()
		if !ok && bad < 20 {
			t.Errorf("nfSafe(%U %q) = true, but norm disagrees", r, s)
			bad++
		}
	}
}

// TestFoldStable checks foldStable's claim for every rune of the planes
// that have case (0 to 3; 14): case folding leaves a rune it calls stable
// unchanged. Planes 4 to 13 are unassigned and 15 and 16 are private use.
func TestFoldStable(t *testing.T) {
	bad := 0
	for r := rune(0); r <= 0xEFFFF; r++ {
		if r == 0x40000 {
			r = 0xE0000
		}
		if !utf8.ValidRune(r) || !foldStable(r) {
			continue
		}
		s := string(r)
		if got := folder.String(s); got != s && bad < 20 {
			t.Errorf("foldStable(%U %q) = true, but it folds to %q", r, s, got)
			bad++
		}
	}
}

// TestStopRunesAreNotKeys makes sure that no table key contains a rune that
// ends a prefix word (such keys could never match).
func TestStopRunesAreNotKeys(t *testing.T) {
	for _, tab := range []*prefixTable{defaultNormalizer.refwd, defaultNormalizer.auto} {
		for key := range tab.keys {
			for _, r := range key {
				assert.False(t, isStop(r) && r != ' ', "key %q contains stop rune %q", key, r)
			}
			assert.Equal(t, norm.NFC.String(key), key, "key %q is NFC", key)
		}
	}
}

func TestIsSpaceRune(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if isSpaceRune(r) != unicode.IsSpace(r) {
			t.Errorf("isSpaceRune(%U) = %v, unicode.IsSpace says %v", r, isSpaceRune(r), unicode.IsSpace(r))
		}
	}
}

// TestSimpleFoldRune checks simpleFoldRune against cases.Fold for every rune.
func TestSimpleFoldRune(t *testing.T) {
	n := 0
	for r := rune(0x80); r <= utf8.MaxRune; r++ {
		f, ok := simpleFoldRune(r)
		if !ok {
			continue
		}
		n++
		if got := folder.String(string(r)); got != string(f) {
			t.Errorf("simpleFoldRune(%U %q) = %q, cases.Fold gives %q", r, r, f, got)
		}
	}
	t.Logf("%d runes fold without package norm and cases", n)
}

func TestIsSepIsFormat(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if want := unicode.IsSpace(r) || unicode.IsControl(r); isSep(r) != want {
			t.Errorf("isSep(%U) = %v, want %v", r, !want, want)
		}
		if want := unicode.Is(unicode.Cf, r); isFormat(r) != want {
			t.Errorf("isFormat(%U) = %v, want %v", r, !want, want)
		}
	}
}

// referenceFold is Fold written the slow, obvious way. Cherokee is mapped
// by hand because cases.Fold swaps its case (see cherokeeFold in fold.go).
func referenceFold(s string) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	for range 4 {
		t := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
		var b strings.Builder
		for _, r := range t {
			switch {
			case unicode.IsSpace(r) || unicode.IsControl(r):
				b.WriteRune(' ')
			case unicode.Is(unicode.Cf, r):
			case unicode.In(r, unicode.Cherokee):
				b.WriteRune(unicode.ToUpper(r))
			default:
				b.WriteRune(r)
			}
		}
		t = strings.Join(strings.Fields(b.String()), " ")
		if t == s {
			break
		}
		s = t
	}
	return s
}

// TestFoldMatchesReference compares Fold with referenceFold for every rune
// that can take one of Fold's fast paths (the others take the reference's
// path), alone, between letters and after a space.
func TestFoldMatchesReference(t *testing.T) {
	bad := 0
	for r := rune(0); r <= utf8.MaxRune && bad < 20; r++ {
		if !utf8.ValidRune(r) || !(r < utf8.RuneSelf || nfSafe(r) || isSep(r)) {
			continue
		}
		for _, s := range []string{string(r), "A" + string(r) + "b", "a " + string(r)} {
			if got, want := Fold(s), referenceFold(s); got != want {
				t.Errorf("Fold(%q) = %q, want %q (%U)", s, got, want, r)
				bad++
			}
		}
	}
}
