// Unicode scripts, for mixed-script (homograph) addresses.

package party

import (
	"unicode"
	"unicode/utf8"
)

// commonScripts are tried first when finding a rune's script; other
// scripts are found by searching unicode.Scripts.
var commonScripts = [...]struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin}, {"Cyrillic", unicode.Cyrillic}, {"Greek", unicode.Greek},
	{"Han", unicode.Han}, {"Hiragana", unicode.Hiragana}, {"Katakana", unicode.Katakana},
	{"Hangul", unicode.Hangul}, {"Arabic", unicode.Arabic}, {"Hebrew", unicode.Hebrew},
	{"Thai", unicode.Thai}, {"Devanagari", unicode.Devanagari}, {"Armenian", unicode.Armenian},
	{"Georgian", unicode.Georgian}, {"Bopomofo", unicode.Bopomofo},
}

// scriptOf returns the script of r, or "" for Common and Inherited runes
// (digits, punctuation, combining marks), which go with any script.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	for _, s := range commonScripts {
		if unicode.Is(s.table, r) {
			return s.name
		}
	}
	best := ""
	for name, t := range unicode.Scripts {
		// Scripts are disjoint, so the first hit is the only one; the
		// comparison keeps the answer independent of map order should a
		// future table overlap.
		if unicode.Is(t, r) && (best == "" || name < best) {
			best = name
		}
	}
	return best
}

// cjk lists the scripts that may mix with each other and with Latin.
func cjk(s string) bool {
	switch s {
	case "Latin", "Han", "Hiragana", "Katakana", "Hangul", "Bopomofo":
		return true
	}
	return false
}

// mixedScripts reports the first two scripts that may not share one label:
// at most one script, or Latin with Han and Japanese kana, Latin with Han
// and Bopomofo, or Latin with Han and Hangul (UTS #39 highly restrictive).
func mixedScripts(s string) (string, string, bool) {
	var seen []string
	last := ""
	for _, r := range s {
		sc := scriptOf(r)
		if sc == "" || sc == last {
			continue
		}
		last = sc
		dup := false
		for _, x := range seen {
			if x == sc {
				dup = true
				break
			}
		}
		if !dup {
			seen = append(seen, sc)
		}
	}
	if len(seen) <= 1 {
		return "", "", false
	}
	kana, hangul, bopo := false, false, false
	for _, sc := range seen {
		if !cjk(sc) {
			other := seen[0]
			if other == sc {
				other = seen[1]
			}
			return other, sc, true
		}
		switch sc {
		case "Hiragana", "Katakana":
			kana = true
		case "Hangul":
			hangul = true
		case "Bopomofo":
			bopo = true
		}
	}
	switch {
	case kana && hangul:
		return "Hangul", "Japanese kana", true
	case kana && bopo:
		return "Bopomofo", "Japanese kana", true
	case hangul && bopo:
		return "Hangul", "Bopomofo", true
	}
	return "", "", false
}
