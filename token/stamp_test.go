package token_test

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/token"
)

func u16(s string) int { return len(utf16.Encode([]rune(s))) }

func TestStamp(t *testing.T) {
	const tok = "CRM:0001001"
	cases := []struct {
		name    string
		subject string
		max     int
		want    string
		reason  string
	}{
		{"append", "Printer offline", 0, "Printer offline CRM:0001001", "one space, then the token, at the end"},
		{"empty", "", 0, "CRM:0001001", "an empty subject becomes the token alone"},
		{"trailing space", "Printer offline  \t", 0, "Printer offline CRM:0001001", "white space at the end is not doubled"},
		{"exact fit", strings.Repeat("a", 243), 0, strings.Repeat("a", 243) + " " + tok,
			"243 + 1 + 11 = 255: nothing to shorten"},
		{"one over", strings.Repeat("a", 244), 0, strings.Repeat("a", 243) + " " + tok,
			"the subject is shortened, never the token"},
		{"two-byte", strings.Repeat("é", 300), 0, strings.Repeat("é", 243) + " " + tok,
			"characters, not bytes: 243 é are 486 bytes"},
		{"three-byte", "回复：" + strings.Repeat("问题", 200), 0, "回复：" + strings.Repeat("问题", 120) + " " + tok,
			"CJK characters count one each"},
		{"emoji", strings.Repeat("🙂", 200), 0, strings.Repeat("🙂", 121) + " " + tok,
			"an emoji is two UTF-16 units, as Exchange counts: 121 of them take 242"},
		{"emoji at the cut", strings.Repeat("a", 242) + "🙂🙂", 0, strings.Repeat("a", 242) + " " + tok,
			"an emoji that would straddle the limit is dropped whole"},
		{"space at the cut", strings.Repeat("a", 242) + " bbbb", 0, strings.Repeat("a", 242) + " " + tok,
			"the space left at the cut is dropped"},
		{"already stamped", "Printer offline CRM:0001001", 0, "Printer offline CRM:0001001",
			"stamping twice changes nothing"},
		{"already stamped other case", "RE: printer offline crm:0001001", 0, "RE: printer offline CRM:0001001",
			"the old copy is replaced, not doubled"},
		{"already stamped, too long", strings.Repeat("a", 250) + " " + tok, 0, strings.Repeat("a", 243) + " " + tok,
			"the existing token is kept at the end of the shortened subject"},
		{"glued is not stamped", "xCRM:0001001", 0, "xCRM:0001001 " + tok, "a token glued to a word is not the stamp"},
		{"other token kept", "Printer CRM:0001002", 0, "Printer CRM:0001002 " + tok,
			"Stamp does not remove other tokens; the newest stamp is last"},
		{"custom limit", "The quick brown fox jumps over the lazy dog", 30, "The quick brown fo " + tok,
			"maxLen other than 255: 30 - 11 - 1 leaves 18 characters, cut mid-word as Dynamics does"},
		{"token exactly the limit", "Printer", 11, tok, "no room for a space: the token alone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := token.Stamp(tc.subject, tok, tc.max)
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.want, got, tc.reason)
			limit := tc.max
			if limit == 0 {
				limit = token.DefaultMaxSubjectLen
			}
			assert.LessOrEqual(t, u16(got), limit, "within the limit")
			assert.True(t, utf8.ValidString(got), "no UTF-8 sequence is split")
			fs := token.Format{}.Find(got)
			require.NotEmpty(t, fs)
			assert.Equal(t, tok, fs[len(fs)-1].Token.String(), "Find reads the stamp back as the last token")
		})
	}
}

func TestStamp_errors(t *testing.T) {
	got, err := token.Stamp("Printer offline", "CRM:0001001", 10)
	assert.ErrorIs(t, err, token.ErrTooLong, "a token longer than the limit is an error")
	assert.Equal(t, "Printer of", got, "and, as in Dynamics, the subject is cut to the limit without a token")

	for _, bad := range []string{"", "CRM: 0001001", "CRM:0001001\r\nBcc: x", "\xff"} {
		got, err := token.Stamp("Printer", bad, 0)
		assert.ErrorIs(t, err, token.ErrSyntax, "%q cannot be stamped", bad)
		assert.Equal(t, "Printer", got, "the subject comes back unchanged")
	}
}
