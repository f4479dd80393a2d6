package subject_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mailcorrelate/mailcorrelate/subject"
)

func TestFold(t *testing.T) {
	tests := []struct {
		name, in, want, reason string
	}{
		{"Empty", "", "", "nothing to fold"},
		{"Folded", "already folded", "already folded", "returned as is"},
		{"ASCIIUpper", "Hello World", "hello world", "ASCII case"},
		{"Spaces", "  RE:  Résumé \t", "re: résumé", "collapsed and trimmed"},
		{"Controls", "a\x00b\x7fc\nd", "a b c d", "control characters separate like spaces"},
		{"NFD", "Re\u0301sume\u0301", "résumé", "NFKC composes"},
		{"FullWidth", "ＲＥＳＵＭＥ２", "resume2", "NFKC maps full-width forms"},
		{"Ligature", "ﬁle", "file", "NFKC expands compatibility ligatures"},
		{"SharpS", "Straße", "strasse", "full case folding"},
		{"CapitalSharpS", "STRAẞE", "strasse", "capital sharp s folds like ß"},
		{"FinalSigma", "ΣΊΣΥΦΟΣ", "σίσυφοσ", "folding has no final sigma"},
		{"FinalSigmaLower", "σίσυφος", "σίσυφοσ", "ς folds to σ"},
		{"DottedI", "İstanbul", "i̇stanbul", "İ folds to i + combining dot (not Turkish-specific)"},
		{"Cherokee", "ꭰᎠᏸ", "ᎠᎠᏰ", "Cherokee folds to upper case (CaseFolding.txt), despite x/text"},
		{"SoftHyphen", "co\u00adoperate", "cooperate", "format characters are removed"},
		{"ZeroWidth", "a\u200bb\u200fc", "abc", "format characters are removed"},
		{"IdeographicSpace", "回复\u3000你好", "回复 你好", "U+3000 is white space"},
		{"NBSP", "a\u00a0\u00a0b", "a b", "no-break spaces collapse"},
		{"InvalidUTF8", "a\xffb", "a\ufffdb", "invalid bytes become U+FFFD"},
		{"Kelvin", "\u212a", "k", "Kelvin sign"},
		{"Han", "你好", "你好", "no case"},
		{"GreekAccent", "ΆΛΦΑ", "άλφα", "Greek with tonos"},
		{"Hebrew", "שלום", "שלום", "no case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := subject.Fold(tt.in)
			assert.Equal(t, tt.want, got, "Fold(%q): %s", tt.in, tt.reason)
			assert.Equal(t, got, subject.Fold(got), "Fold is idempotent on %q", tt.in)
		})
	}
}

func TestFoldAllocations(t *testing.T) {
	for _, s := range []string{"re: aw: angebot 42", "résumé für strasse", "回复 你好", "ответ", "σχετ: άλφα", "שלום", "회신 테스트", ""} {
		got := subject.Fold(s)
		assert.Equal(t, s, got, "Fold(%q) is already folded", s)
		allocs := testing.AllocsPerRun(100, func() { _ = subject.Fold(s) })
		assert.Zero(t, allocs, "Fold(%q) of a folded string allocates", s)
	}
	allocs := testing.AllocsPerRun(100, func() { _ = subject.Fold("RE: AW: Angebot 42") })
	assert.LessOrEqual(t, allocs, 1.0, "the ASCII path allocates only its result")
}

func TestWords(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   []string
		reason string
	}{
		{"Empty", "", nil, "no words"},
		{"Punctuation", "Hello, World!", []string{"hello", "world"}, "punctuation separates; case folds"},
		{"Accents", "RE: Résumé", []string{"re", "résumé"}, "letters beyond ASCII"},
		{"Digits", "N310 UHD 4.8 x440:", []string{"n310", "uhd", "4", "8", "x440"}, "letters and digits together"},
		{"Apostrophe", "don't", []string{"don", "t"}, "apostrophes separate"},
		{"Underscore", "a52_block", []string{"a52", "block"}, "underscores separate"},
		{"CJKBigrams", "打印机故障", []string{"打印", "印机", "机故", "故障"}, "Chinese has no spaces: overlapping bigrams"},
		{"CJKAlone", "故", []string{"故"}, "a lone character is a word"},
		{"CJKMixed", "N310的问题", []string{"n310", "的问", "问题"}, "Latin and Han runs split"},
		{"Kana", "カタカナー", []string{"カタ", "タカ", "カナ", "ナー"}, "katakana with the prolonged sound mark"},
		{"HalfWidthKana", "ｶﾀｶﾅ", []string{"カタ", "タカ", "カナ"}, "NFKC widens half-width kana first"},
		{"Hangul", "한국어 테스트", []string{"한국어", "테스트"}, "Korean is written with spaces"},
		{"FullWidth", "ｆｕｌｌ　ｗｉｄｔｈ", []string{"full", "width"}, "NFKC and the ideographic space"},
		{"Combining", "Re\u0301sume\u0301", []string{"résumé"}, "marks stay in the word"},
		{"Arabic", "رد: مرحبا", []string{"رد", "مرحبا"}, "right-to-left scripts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, subject.Words(tt.in), "Words(%q): %s", tt.in, tt.reason)
		})
	}
}

func TestAppendWordsAllocations(t *testing.T) {
	buf := make([]string, 0, 16)
	for _, s := range []string{"uhd and gpus on x440", "回复 打印机故障", "résumé für strasse"} {
		allocs := testing.AllocsPerRun(100, func() { buf = subject.AppendWords(buf[:0], s) })
		assert.Zero(t, allocs, "AppendWords(buf, %q) allocates", s)
	}
	got := subject.AppendWords([]string{"keep"}, "A b")
	assert.Equal(t, []string{"keep", "a", "b"}, got, "AppendWords appends")
}

func TestSameKey(t *testing.T) {
	tests := []struct {
		a, b   string
		want   bool
		reason string
	}{
		{"Printer broken", "Printer broken", true, "equal subjects"},
		{"AW: RE: Rechnung 4711", "RE: Rechnung 4711", true, "equal base subjects"},
		{"Re: printer  BROKEN ", "Printer broken", true, "case and spacing are folded"},
		{"Re: Printer\tbroken", "printer broken", true, "a tab is a space"},
		{"Re: Printer broken", "Printer broke", false, "a shorter last word"},
		{"Re: Printer broke", "Printer broken", false, "a longer last word"},
		{"Re: Printer broken now", "Printer broken", false, "an extra word"},
		{"Re: Drucker", "Drücker", false, "an accent is not folded away"},
		{"RE: ＲＥＳＵＭＥ", "resume", true, "full width is folded (NFKC), not simple"},
		{"RE: Facture : montant ERRONÉ", "facture : montant erroné", true, "simple folding of é"},
		{"RE: Facture : montant erroné", "facture : montant errone", false, "é is not e"},
		{"Re: Straße", "STRASSE", true, "ß folds fully to ss: not simple, folded"},
		{"Re: cafe\u0301", "Café", true, "a combining accent composes (NFKC): not simple"},
		{"Re: 关于发票的问题", "回复：关于发票的问题", true, "CJK is simple"},
		{"Re: a\xffb", "a\xffb", true, "invalid UTF-8 is folded, not compared in place"},
		{"Re: foo\u200b", "foo", true, "a zero-width space is removed, not ASCII"},
		{"", "Re:", true, "both empty bases"},
		{"x\x7fy", "x y", true, "DEL is a separator like a space"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, subject.SameKey(tt.a, tt.b), "SameKey(%q, %q): %s", tt.a, tt.b, tt.reason)
		assert.Equal(t, subject.Key(tt.a) == subject.Key(tt.b), subject.SameKey(tt.a, tt.b), "SameKey(%q, %q) must agree with Key", tt.a, tt.b)
	}
}
