package smartmatch_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
)

// regexDefault is DefaultHashFilterKeywords written differently, so that a
// Correlator built with it runs the translated regular expression instead
// of the hand-written matcher of the default.
const regexDefault = smartmatch.DefaultHashFilterKeywords + `(?:)`

func TestCompileFilter(t *testing.T) {
	tests := []struct {
		pattern, in, want string
		reason            string
	}{
		{smartmatch.DefaultHashFilterKeywords, "RE: FW: Hello", "Hello", "stacked English prefixes"},
		{smartmatch.DefaultHashFilterKeywords, "AW: Angebot", "Angebot", "German"},
		{smartmatch.DefaultHashFilterKeywords, "ΑΠ: Προσφορά", "Προσφορά", `Greek letters are .NET \w`},
		{smartmatch.DefaultHashFilterKeywords, "Ответ: Счёт", "Счёт", "Cyrillic"},
		{smartmatch.DefaultHashFilterKeywords, "RE :x", "x", `one \s before the colon`},
		{smartmatch.DefaultHashFilterKeywords, "RE  : x", "RE  : x", `two spaces before the colon: \s? allows one, so nothing matches`},
		{smartmatch.DefaultHashFilterKeywords, "  Re:\u00a0x", "x", `NBSP is \p{Z}, so .NET \s`},
		{smartmatch.DefaultHashFilterKeywords, "Re: : x", ": x", `a colon without a word before it ends the match`},
		{smartmatch.DefaultHashFilterKeywords, "回复：x", "回复：x", "a full-width colon is not ':'"},
		{smartmatch.DefaultHashFilterKeywords, "Re_1: x", "x", `underscore (Pc) and digits are \w`},
		{smartmatch.DefaultHashFilterKeywords, "Ⅻ: x", "Ⅻ: x", `a Roman numeral is Nl, not .NET \w (which has Nd only)`},
		{smartmatch.DefaultHashFilterKeywords, "Meeting at 10:30", "Meeting at 10:30", "anchored at the start"},
		{smartmatch.DefaultHashFilterKeywords, "Economist: the week", "the week", "Dynamics removes any leading word and colon, topic words included"},
		{`[\d]+`, "abc ١٢٣ 45", "abc  ", `\d inside brackets is \p{Nd}: Arabic-Indic digits too`},
		{`\W+`, "a, b", "ab", `\W outside brackets is the complement of .NET \w`},
		{`[^\s]+`, "a b", " ", `negated class with \s`},
		{`[]x]`, "a]x", "a", "a ']' first in brackets is a literal"},
		{`[[:alpha:]]+`, "ab1", "1", "POSIX classes inside brackets are copied"},
		{`\\w`, `a\wb`, "ab", "an escaped backslash is not a class"},
		{`$^`, "RE: x", "RE: x", "the documented filter that removes nothing"},
	}
	for _, tt := range tests {
		re, err := smartmatch.CompileFilter(tt.pattern)
		require.NoError(t, err, "%s", tt.pattern)
		assert.Equal(t, tt.want, re.ReplaceAllString(tt.in, ""), "%q on %q: %s", tt.pattern, tt.in, tt.reason)
	}
	for _, bad := range []string{`[\W]`, `[\S]`, `x\`, `(?<=x)y`, `(a)\1`, `(`} {
		_, err := smartmatch.CompileFilter(bad)
		assert.Error(t, err, "%q has no RE2 translation", bad)
	}
}

// TestFilterDefault checks that the hand-written matcher of the default
// pattern agrees with the translated regular expression.
func TestFilterDefault(t *testing.T) {
	fast := smartmatch.New(nil, &smartmatch.Options{Mode: smartmatch.Dynamics})
	slow := smartmatch.New(nil, &smartmatch.Options{Mode: smartmatch.Dynamics, HashFilterKeywords: regexDefault})
	for _, s := range []string{
		"", " ", "RE:", "RE: ", "RE:x", "RE :x", "RE  :x", " \t RE:\tFW:  x y", "a:b:c: d", "x", ":x",
		"Re: : x", "ΑΠ: x", "Re\u00a0: x", "Re\u2028: x", "Re:\u0085x", "\xff: x", "R\xffE: x", "a\u0301: x",
		"Ⅻ: x", "١: x", "_: x", "Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re:Re: x",
	} {
		m := &correlate.Message{Subject: s}
		assert.Equal(t, slow.Hash(m).Words, fast.Hash(m).Words, "%q", s)
	}
}
