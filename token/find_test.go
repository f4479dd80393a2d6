package token_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/token"
)

// tokens returns the canonical texts of the tokens f finds in s.
func tokens(f token.Format, s string) []string {
	var out []string
	for _, fd := range f.Find(s) {
		out = append(out, fd.Token.String())
	}
	return out
}

func TestFormat_Find(t *testing.T) {
	hist := token.Format{Prefix: "NEW:", History: []string{"CRM:", "Tracking#"}}
	hash := token.Format{Prefix: "#"}
	signed := token.Format{Keys: [][]byte{testKey}}
	cases := []struct {
		name    string
		f       token.Format
		subject string
		want    []string
		reason  string
	}{
		// What Dynamics writes and mail programs do to it.
		{"stamped", token.Format{}, "Printer offline CRM:0001001", []string{"CRM:0001001"}, "Stamp appends the token after a space"},
		{"kb example", token.Format{}, "test 3 today CRM:0001011", []string{"CRM:0001011"}, "the subject of MS KB 915827"},
		{"reply", token.Format{}, "RE: Printer offline CRM:0001001", []string{"CRM:0001001"}, "a reply prefix does not matter"},
		{"lower case", token.Format{}, "re: printer offline crm:0001001", []string{"CRM:0001001"},
			"some programs lower-case subjects; the token comes back with the configured prefix"},
		{"upper case", token.Format{Prefix: "eLogic:"}, "RE: PRINTER OFFLINE ELOGIC:0001001", []string{"eLogic:0001001"},
			"and some upper-case them"},
		{"moved after prefix", token.Format{}, "AW: CRM:0001001 Printer offline", []string{"CRM:0001001"},
			"clients that move the token after the reply prefix"},
		{"no space after prefix", token.Format{}, "RE:CRM:0001001", []string{"CRM:0001001"}, "':' before the prefix is punctuation"},
		{"bracketed", token.Format{}, "Printer [CRM:0001001]", []string{"CRM:0001001"}, "brackets are punctuation"},
		{"parenthesized", token.Format{}, "Printer (CRM:0001001).", []string{"CRM:0001001"}, "stray punctuation around the token"},
		{"quoted", token.Format{}, `Fwd: "Printer CRM:0001001"`, []string{"CRM:0001001"}, "quotes from forwards"},
		{"trailing comma", token.Format{}, "CRM:0001001, CRM:0002001;", []string{"CRM:0001001", "CRM:0002001"},
			"several tokens, in order, punctuation after each"},
		{"chinese", token.Format{}, "回复：请看CRM:0001001的问题", []string{"CRM:0001001"},
			"Chinese is written without spaces; Han letters are not word characters for the boundary"},
		{"japanese", token.Format{}, "Re: 見積もりCRM:0001001について", []string{"CRM:0001001"}, "neither is Japanese"},
		{"history old prefix", hist, "RE: Printer CRM:0001001", []string{"CRM:0001001"},
			"a reply to mail sent before the prefix changed carries the old prefix"},
		{"history several", hist, "NEW:0001002 tracking#0001003", []string{"NEW:0001002", "Tracking#0001003"},
			"every prefix of the history, each spelled as configured"},
		{"unicode prefix", token.Format{Prefix: "Заявка#"}, "RE: ЗАЯВКА#0001001", []string{"Заявка#0001001"},
			"prefixes compare under Unicode case folding"},
		{"greek prefix fold", token.Format{Prefix: "Σ:"}, "ς:0001001 σ:0001002", []string{"Σ:0001001", "Σ:0001002"},
			"the whole fold orbit of the first letter (Σ σ ς) begins a prefix"},
		{"offline digit", token.Format{}, "CRM:1001001", []string{"CRM:1001001"}, "1 is the offline designator"},
		{"old digit settings", token.Format{CounterDigits: 6, MinDigits: 7}, "CRM:0001001 CRM:0001000002",
			[]string{"CRM:0001001", "CRM:0001000002"}, "MinDigits keeps tokens issued before the counter was widened"},
		{"layout history", token.Format{CounterDigits: 4, LayoutHistory: []token.Layout{{}}}, "RE: CRM:0001005 CRM:00010006",
			[]string{"CRM:0001005", "CRM:00010006"}, "a token issued before the counter grew to four digits is still a token (issue 17 #12)"},
		{"layout history widened", token.Format{UserDigits: 4, LayoutHistory: []token.Layout{{Widen: true}}}, "CRM:00011000 CRM:00001001",
			[]string{"CRM:00011000", "CRM:00001001"}, "an earlier widened counter and the current four user digits"},
		{"layout history lengths only", token.Format{CounterDigits: 4, LayoutHistory: []token.Layout{{}}}, "CRM:000100 CRM:000100001",
			nil, "only the lengths of the current layout and of the history are tokens"},
		{"widened", token.Format{Widen: true}, "CRM:00011000", []string{"CRM:00011000"}, "Widen accepts longer counters"},
		{"signed", signed, "RE: x crm:0001001-a3jc49jv", []string{"CRM:0001001-A3JC49JV"},
			"a signature is read in any case and canonicalized"},
		{"signed crockford", signed, "CRM:0001001-A3JC49JV CRM:0001002-o1ILAAAA", []string{"CRM:0001001-A3JC49JV", "CRM:0001002-0111AAAA"},
			"Crockford decoding reads O as 0 and I, L as 1"},

		{"signing off", token.Format{}, "RE: x CRM:0001001-A3JC49JV CRM:0001002-Reviewed", []string{"CRM:0001001", "CRM:0001002"},
			"without keys a signature is not read: the digits are the token, and '-Reviewed' is just text"},

		// What must not be read as ours.
		{"none", token.Format{}, "Printer offline on the 3rd floor", nil, "no prefix, no token"},
		{"prefix alone", token.Format{}, "CRM: new release", nil, "the prefix needs digits"},
		{"glued before", token.Format{}, "XCRM:0001001 ACRM:0001001 _CRM:0001001 7CRM:0001001", nil,
			"the prefix must not continue a word"},
		{"glued after", token.Format{}, "CRM:0001001abc CRM:0001001_x CRM:0001001é", nil,
			"the digits must not run into a letter"},
		{"too short", token.Format{}, "CRM:001001", nil, "six digits: not the 7 of the layout"},
		{"too long", token.Format{}, "CRM:00010010", nil, "eight digits without Widen"},
		{"huge run", token.Format{Widen: true}, "CRM:" + strings.Repeat("0", 40), nil, "beyond MaxDigits"},
		{"designator", token.Format{}, "CRM:5551234", nil, "the designator digit is only ever 0 or 1"},
		{"non-ascii digits", token.Format{}, "CRM:０００１００１ CRM:٠٠٠١٠٠١", nil, "only ASCII digits"},
		{"otrs hook", hash, "[Ticket#2021080410000011] Printer", nil,
			"with prefix '#', OTRS/Zammad's Ticket# hook is glued to a word and not ours"},
		{"freshdesk", hash, "Re: [#123] Printer", nil, "with prefix '#', [#123] is too short to be a token"},
		{"freescout pile-up", hash, "Ticket Received - [#117904] Ticket Received - [#117896]", nil,
			"other helpdesks' numbers (FreeScout #2445) are not ours"},
		{"salesforce", token.Format{}, "Case ref:_00D1gEW._5001Yktl:ref [ ref:_00Dxx1gEW._500xxYktl:ref ]", nil,
			"Salesforce thread ids are not ours"},
		{"rt tag", token.Format{}, "[rt.example.com #1234] Printer", nil, "RT tags are not ours"},
		{"hash inside word", hash, "C#0001001 issue", nil, "'C#' continues a word"},
		{"hash token", hash, "Printer #0001001", []string{"#0001001"}, "but a real '#' token after a space is"},
		{"foreign prefix", token.Format{}, "ABC:0001001", nil, "only configured prefixes count"},
		{"half signature", signed, "CRM:0001001-ABC", []string{"CRM:0001001"},
			"'-ABC' is not a signature of 8 characters; the digits alone are an unsigned token"},
		{"long signature", signed, "CRM:0001001-ABCDEFGHJ", []string{"CRM:0001001"},
			"nine characters are not a signature either"},
		{"invalid utf8", token.Format{}, "\xffCRM:0001001\xfe", []string{"CRM:0001001"},
			"invalid bytes are not word characters; Find never fails"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tokens(tc.f, tc.subject), tc.reason)
		})
	}
}

func TestFormat_Find_positions(t *testing.T) {
	s := "RE: [crm:0001001] café CRM:0002002-a3jc49jv."
	fs := token.Format{Keys: [][]byte{testKey}}.Find(s)
	require.Len(t, fs, 2)
	assert.Equal(t, "crm:0001001", s[fs[0].Start:fs[0].End], "positions are byte offsets of the text as written")
	assert.Equal(t, "CRM:0002002-a3jc49jv", s[fs[1].Start:fs[1].End], "a signature is part of the token's text")
	assert.Equal(t, token.Token{Prefix: "CRM:", Digits: "0002002", Signature: "A3JC49JV"}, fs[1].Token)

	fs = token.Format{}.Find(s)
	require.Len(t, fs, 2)
	assert.Equal(t, "CRM:0002002", s[fs[1].Start:fs[1].End], "without keys no signature is read: the digits alone are the token")
}

func TestFormat_Parse(t *testing.T) {
	f := token.Format{History: []string{"OLD:"}}
	cases := []struct {
		in     string
		want   token.Token
		ok     bool
		reason string
	}{
		{"CRM:0001001", token.Token{Prefix: "CRM:", Digits: "0001001"}, true, "the canonical form"},
		{"  crm:0001001\t", token.Token{Prefix: "CRM:", Digits: "0001001"}, true, "surrounding white space and case are tolerated"},
		{"old:0001001", token.Token{Prefix: "OLD:", Digits: "0001001"}, true, "history prefixes parse"},
		{"CRM:0001001-abcdefgh", token.Token{}, false,
			"without keys a signature is not part of a token (see TestSigned for Parse with keys)"},
		{"", token.Token{}, false, "empty"},
		{"CRM:0001001 x", token.Token{}, false, "Parse reads one token, nothing else"},
		{"x CRM:0001001", token.Token{}, false, "not a search"},
		{"CRM:0001001-", token.Token{}, false, "a dangling dash is not part of a token"},
		{"CRM:0001001-ABC", token.Token{}, false, "nor a short signature"},
		{"CRM:000100", token.Token{}, false, "too short"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := f.Parse(tc.in)
			if !tc.ok {
				assert.ErrorIs(t, err, token.ErrSyntax, tc.reason)
				return
			}
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.want, got, tc.reason)
		})
	}
}

func TestFormat_Strip(t *testing.T) {
	f := token.Format{}
	cases := []struct{ in, want, reason string }{
		{"Printer offline CRM:0001001", "Printer offline", "the stamp goes"},
		{"RE: [CRM:0001001]  Printer   offline", "RE: Printer offline", "empty brackets go with it, spaces collapse"},
		{"AW: CRM:0001001 Printer CRM:0001002", "AW: Printer", "every token goes"},
		{"Printer offline", "Printer offline", "nothing to strip"},
		{"(CRM:0001001)", "", "a subject that was only a token"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, f.Strip(tc.in), tc.reason)
	}
}
