package token_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/token"
)

// fuzzFormats are the Formats every fuzz target runs: Dynamics' default, a
// history with short, Unicode and case-folding prefixes, signing with a
// long signature, and a widened counter with old digit settings.
var fuzzFormats = []token.Format{
	{},
	{Prefix: "NEW:", History: []string{"CRM:", "#", "Заявка#", "Σ:", "k:"}},
	{Keys: [][]byte{testKey}, SignatureLen: 13},
	{Widen: true, CounterDigits: 4, MinDigits: 3},
	{UserDigits: 4, CounterDigits: 5, LayoutHistory: []token.Layout{{Widen: true}, {UserDigits: 1, CounterDigits: 1}}},
}

var fuzzSeeds = []string{
	"",
	"Printer offline CRM:0001001",
	"RE: [crm:0001001] café CRM:0002002-a3jc49jv.",
	"回复：请看CRM:0001001的问题",
	"[Ticket#2021080410000011] [#123] ref:_00D1gEW._5001Yktl:ref",
	"XCRM:0001001 CRM:0001001abc CRM:0001001- CRM:0001001-ABCDEFGHJ",
	"ЗАЯВКА#0001001 ς:0001001 K:0001001 \u212a:0001001",
	"CRM:" + strings.Repeat("0", 40),
	"\xffCRM:0001001\xfe crm:\xc3",
	"CRM:0001001-o1ILAAAAAAAAA #0001001",
}

func addCorpusSeeds(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for i, s := range corpusSubjects(f) {
		if i%20 == 0 { // a sample keeps the seed corpus fast
			f.Add(s)
			if st, err := token.Stamp(s, "CRM:0001001", 0); err == nil {
				f.Add("RE: " + st)
			}
		}
	}
}

// FuzzFind checks Find's promises on any subject: it never panics, Founds
// are in order and do not overlap, every Found re-parses to itself from the
// text as written and from its canonical form, its fields are within the
// Format's bounds, and Strip does not multiply tokens.
func FuzzFind(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		for fi, ft := range fuzzFormats {
			prefixes := ft.Prefixes()
			prev := 0
			for _, fd := range ft.Find(s) {
				if fd.Start < prev || fd.End <= fd.Start || fd.End > len(s) {
					t.Fatalf("format %d: bad span [%d,%d) after %d in %q", fi, fd.Start, fd.End, prev, s)
				}
				prev = fd.End
				raw := s[fd.Start:fd.End]
				if got, err := ft.Parse(raw); err != nil || got != fd.Token {
					t.Fatalf("format %d: Parse(%q) = %v, %v; want %v", fi, raw, got, err, fd.Token)
				}
				if got, err := ft.Parse(fd.Token.String()); err != nil || got != fd.Token {
					t.Fatalf("format %d: Parse(%q) = %v, %v; want itself", fi, fd.Token.String(), got, err)
				}
				if !slices.Contains(prefixes, fd.Prefix) {
					t.Fatalf("format %d: prefix %q is not configured", fi, fd.Prefix)
				}
				if len(fd.Digits) < 3 || len(fd.Digits) > token.MaxDigits || strings.Trim(fd.Digits, "0123456789") != "" {
					t.Fatalf("format %d: digits %q", fi, fd.Digits)
				}
				if fd.Signature != "" && strings.Trim(fd.Signature, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") != "" {
					t.Fatalf("format %d: signature %q is not canonical", fi, fd.Signature)
				}
				_ = ft.Verify(fd.Token)
				_, _ = ft.Split(fd.Token)
			}
			// Removing a token can expose at most the text glued to its end
			// ("CRM:0001001#0001002" with the prefixes "CRM:" and "#"), so
			// Strip never leaves more tokens than it removed.
			stripped := ft.Strip(s)
			if left, had := ft.Find(stripped), ft.Find(s); len(left) > len(had) {
				t.Fatalf("format %d: Strip(%q) = %q holds %v, more than %v", fi, s, stripped, left, had)
			}
		}
	})
}

// FuzzParse checks Parse on any string: it never panics, a token parses to
// itself from its canonical form, and Find sees exactly that token in the
// same text.
func FuzzParse(f *testing.F) {
	addCorpusSeeds(f)
	for _, s := range []string{"CRM:0001001", " crm:0001001-abcdefgh ", "#0001001", "Σ:0001001", "CRM:0001001-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for fi, ft := range fuzzFormats {
			tok, err := ft.Parse(s)
			if err != nil {
				if !tok.IsZero() {
					t.Fatalf("format %d: error %v with token %v", fi, err, tok)
				}
				continue
			}
			if back, err := ft.Parse(tok.String()); err != nil || back != tok {
				t.Fatalf("format %d: Parse(%q) = %v, %v; want %v", fi, tok.String(), back, err, tok)
			}
			fs := ft.Find(s)
			if len(fs) != 1 || fs[0].Token != tok {
				t.Fatalf("format %d: Parse(%q) = %v but Find = %v", fi, s, tok, fs)
			}
			_ = ft.Verify(tok)
			_, _ = ft.Split(tok)
		}
	})
}

// FuzzStamp checks Stamp on any subject: it never panics, the result is
// within the limit, ends with the token, keeps valid UTF-8 valid, and a
// stamped token is the last one Find reads back.
func FuzzStamp(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "CRM:0001001", 0)
		f.Add(s, "CRM:0001001-A3JC49JV", 30)
	}
	f.Add(strings.Repeat("🙂", 200), "CRM:0001001", 255)
	f.Add("Printer", "CRM:0001001", 11)
	f.Fuzz(func(t *testing.T, subject, tok string, limit int) {
		limit %= 1000
		got, err := token.Stamp(subject, tok, limit)
		if err != nil {
			return
		}
		if limit <= 0 {
			limit = token.DefaultMaxSubjectLen
		}
		if n := u16(got); n > limit {
			t.Fatalf("Stamp(%q, %q, %d) = %q: %d units", subject, tok, limit, got, n)
		}
		if !strings.HasSuffix(got, tok) {
			t.Fatalf("Stamp(%q, %q) = %q does not end with the token", subject, tok, got)
		}
		if utf8.ValidString(subject) && !utf8.ValidString(got) {
			t.Fatalf("Stamp(%q) = %q: invalid UTF-8", subject, got)
		}
		var ft token.Format
		if want, err := ft.Parse(tok); err == nil && strings.TrimSpace(tok) == tok {
			fs := ft.Find(got)
			if len(fs) == 0 || fs[len(fs)-1].Token != want {
				t.Fatalf("Stamp(%q, %q) = %q: Find = %v", subject, tok, got, fs)
			}
		}
	})
}

// FuzzStripWords checks Strip's white space against strings.Fields: words
// joined by single spaces, whether or not the subject holds tokens.
func FuzzStripWords(f *testing.F) {
	for _, s := range []string{"", " ", "a  b", "a b", "\ta", "a\u00a0b", "Re: x [CRM:0001001]", "CRM:0001001", " (CRM:0001001) y ",
		"Re: x CRM:0001001", "CRM:0001001 x  y", "a CRM:0001001 b", "x\tCRM:0001001", "[CRM:0001001]", "a (CRM:0001001"} {
		f.Add(s)
	}
	ft := token.Format{Prefix: "CRM"}
	f.Fuzz(func(t *testing.T, s string) {
		got := ft.Strip(s)
		if want := strings.Join(strings.Fields(got), " "); got != want {
			t.Fatalf("Strip(%q) = %q, white space not single spaces (%q)", s, got, want)
		}
		// The words of s with each token (and brackets around it) replaced
		// by a space.
		var b strings.Builder
		prev := 0
		for _, fd := range ft.Find(s) {
			start, end := fd.Start, fd.End
			if start > prev && end < len(s) {
				if o, c := s[start-1], s[end]; (o == '[' && c == ']') || (o == '(' && c == ')') {
					start, end = start-1, end+1
				}
			}
			b.WriteString(s[prev:start] + " ")
			prev = end
		}
		b.WriteString(s[prev:])
		if want := strings.Join(strings.Fields(b.String()), " "); got != want {
			t.Fatalf("Strip(%q) = %q, want %q", s, got, want)
		}
	})
}
