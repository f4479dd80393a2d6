package token_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/token"
)

var testKey = []byte("0123456789abcdef-test-key")

func TestFormat_Make(t *testing.T) {
	cases := []struct {
		name      string
		f         token.Format
		user, seq int64
		want      string
		reason    string
	}{
		{"default", token.Format{}, 1, 1, "CRM:0001001",
			"Dynamics docs: the default token of the first user is CRM:0001001"},
		{"kb example", token.Format{}, 1, 11, "CRM:0001011",
			"MS KB 915827 shows subject 'test 3 today CRM:0001011': user 1, 11th message"},
		{"base 500", token.Format{Base: 500}, 1, 1, "CRM:0501001",
			"Dynamics docs: 'If the value is 500, the first user would be 501'"},
		{"second user", token.Format{}, 2, 7, "CRM:0002007", "user number = base + ordinal"},
		{"offline", token.Format{Offline: true}, 1, 1, "CRM:1001001",
			"the designator digit is 1 for the legacy offline client"},
		{"digits 4 and 5", token.Format{UserDigits: 4, CounterDigits: 5}, 1, 1, "CRM:0000100001",
			"user and counter digits are the configured widths"},
		{"one digit each", token.Format{UserDigits: 1, CounterDigits: 1}, 9, 9, "CRM:099",
			"the smallest layout: designator, one user digit, one counter digit"},
		{"max digits", token.Format{UserDigits: 10, CounterDigits: 9}, 1, 1, "CRM:00000000001000000001",
			"the widest Dynamics layout: 10 user digits, 9 counter digits"},
		{"custom prefix", token.Format{Prefix: "eLogic:"}, 1, 1, "eLogic:0001001",
			"custom prefixes seen in the wild; the separator is part of the prefix"},
		{"prefix without separator", token.Format{Prefix: "#"}, 1, 1, "#0001001",
			"'#' is a prefix seen in the wild"},
		{"rollover 999", token.Format{}, 1, 999, "CRM:0001999", "the counter runs through 999"},
		{"rollover 000", token.Format{}, 1, 1000, "CRM:0001000", "then restarts at 000"},
		{"rollover repeats", token.Format{}, 1, 1001, "CRM:0001001",
			"so the 1001st token repeats the first: the roll-over duplicate of Dynamics"},
		{"widen", token.Format{Widen: true}, 1, 1000, "CRM:00011000",
			"with Widen the counter grows instead of restarting"},
		{"widen small", token.Format{Widen: true}, 1, 5, "CRM:0001005",
			"below the roll-over a widened token is identical to Dynamics'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.Make(tc.user, tc.seq)
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.want, got.String(), tc.reason)
			back, err := tc.f.Parse(got.String())
			require.NoError(t, err, "a made token parses")
			assert.Equal(t, got, back, "a made token parses to itself")
		})
	}
}

// dynamicsPreview is the token example of the Dynamics 2015/2016 settings
// page (systemsettings.aspx, updateTrackingTokenExample):
// prefix + "0" + lastN(pad(base+1), userDigits) + lastN("000000001", counterDigits).
func dynamicsPreview(prefix string, base int64, ud, cd int) string {
	pad := fmt.Sprintf("%010d", base+1)
	return prefix + "0" + pad[len(pad)-ud:] + "000000001"[9-cd:]
}

func TestFormat_Make_dynamicsPreview(t *testing.T) {
	// Every digit setting Dynamics offers, and bases of every width that
	// fit: the first token of the first user must equal the settings page's
	// preview.
	n := 0
	for ud := 1; ud <= token.MaxUserDigits; ud++ {
		for cd := 1; cd <= token.MaxCounterDigits; cd++ {
			for _, base := range []int64{0, 5, 42, 500, 7777, 123456789} {
				if len(strconv.FormatInt(base+1, 10)) > ud {
					continue
				}
				f := token.Format{Base: base, UserDigits: ud, CounterDigits: cd}
				got, err := f.Make(1, 1)
				require.NoError(t, err)
				assert.Equal(t, dynamicsPreview("CRM:", base, ud, cd), got.String(), "ud=%d cd=%d base=%d", ud, cd, base)
				n++
			}
		}
	}
	assert.Greater(t, n, 300)
}

func TestFormat_Make_errors(t *testing.T) {
	cases := []struct {
		name      string
		f         token.Format
		user, seq int64
		want      error
		reason    string
	}{
		{"user zero", token.Format{}, 0, 1, token.ErrUserRange, "ordinals start at 1 (the first user is base+1)"},
		{"user too big", token.Format{}, 1000, 1, token.ErrUserRange, "user 1000 does not fit 3 digits"},
		{"base plus user too big", token.Format{Base: 999}, 1, 1, token.ErrUserRange,
			"Dynamics would truncate 1000 to 000 and collide with another user; we refuse"},
		{"seq zero", token.Format{}, 1, 0, token.ErrCounterRange, "sequences start at 1"},
		{"widen past MaxDigits", token.Format{Widen: true, MaxDigits: 8}, 1, 12345, token.ErrCounterRange,
			"a widened counter must stay within the digit range Find accepts"},
		{"invalid format", token.Format{UserDigits: 11}, 1, 1, token.ErrInvalidFormat, "Make validates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.Make(tc.user, tc.seq)
			assert.ErrorIs(t, err, tc.want, tc.reason)
		})
	}
}

func TestFormat_Validate(t *testing.T) {
	cases := []struct {
		name   string
		f      token.Format
		errs   []string // substrings; nil means valid
		reason string
	}{
		{"zero", token.Format{}, nil, "the zero Format is Dynamics' default"},
		{"full", token.Format{Prefix: "Tracking#", History: []string{"CRM:", "#"}, Base: 500, UserDigits: 4,
			CounterDigits: 6, Widen: true, MinDigits: 7, Keys: [][]byte{testKey}, SignatureLen: 10}, nil,
			"every option set within range"},
		{"base too wide", token.Format{Base: 1000}, []string{"Base 1000 has 4 digits, more than the 3 user digits"},
			"Dynamics' rule: len(str(base)) <= user digits"},
		{"base fits wider digits", token.Format{Base: 1000, UserDigits: 4}, nil, "4 digits hold base 1000"},
		{"negative base", token.Format{Base: -1}, []string{"Base -1 outside"}, "TrackingTokenIdBase is 0–2147483647"},
		{"base too large", token.Format{Base: 1 << 31, UserDigits: 10}, []string{"outside 0–2147483647"}, "an int32 in Dynamics"},
		{"user digits", token.Format{UserDigits: 11}, []string{"UserDigits 11 outside 1–10"}, "Dynamics allows 1–10"},
		{"counter digits", token.Format{CounterDigits: 10}, []string{"CounterDigits 10 outside 1–9"}, "Dynamics allows 1–9"},
		{"prefix space", token.Format{Prefix: "Ticket #"}, []string{`prefix "Ticket #"`, "white space"},
			"a prefix with white space would not survive folding and could not be found reliably"},
		{"prefix digit", token.Format{Prefix: "CRM1"}, []string{"ends in a digit"},
			"the boundary between prefix and digits would be ambiguous"},
		{"prefix too long", token.Format{Prefix: strings.Repeat("x", 21)}, []string{"longer than 20"}, "Dynamics allows 1–20 characters"},
		{"prefix invalid utf8", token.Format{Prefix: "C\xffM:"}, []string{"UTF-8"}, "prefixes are text"},
		{"history entry", token.Format{History: []string{"OK:", ""}}, []string{`history entry 1 ""`, "empty"},
			"an empty history entry would match nothing; say so"},
		{"too many prefixes", token.Format{History: make([]string, 32)}, []string{"33 prefixes"}, "bounds the work of Find"},
		{"range excludes layout", token.Format{MinDigits: 8}, []string{"does not contain the 7 digits"},
			"new tokens must be found by the same Format"},
		{"min digits", token.Format{MinDigits: 2}, []string{"MinDigits 2 outside"}, "no layout has fewer than 3 digits"},
		{"layout history", token.Format{CounterDigits: 6, LayoutHistory: []token.Layout{{CounterDigits: 4, Widen: true}, {}}}, nil,
			"earlier layouts, the zero Layout being Dynamics' default"},
		{"layout history digits", token.Format{LayoutHistory: []token.Layout{{UserDigits: 11}, {CounterDigits: 10}}},
			[]string{"layout history entry 0: UserDigits 11", "layout history entry 1: CounterDigits 10"}, "the same bounds as the current layout"},
		{"too many layouts", token.Format{LayoutHistory: make([]token.Layout, 17)}, []string{"17 earlier layouts"}, "bounds the work of Find"},
		{"short key", token.Format{Keys: [][]byte{[]byte("short")}}, []string{"key 0 has 5 bytes"}, "short HMAC keys are guessable"},
		{"signature length", token.Format{SignatureLen: 4}, []string{"SignatureLen 4 outside 6–20"}, "20 bits is too easy to guess"},
		{"several", token.Format{UserDigits: 11, CounterDigits: -1}, []string{"UserDigits", "CounterDigits"},
			"every problem is reported at once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			if tc.errs == nil {
				assert.NoError(t, err, tc.reason)
				return
			}
			require.Error(t, err, tc.reason)
			assert.ErrorIs(t, err, token.ErrInvalidFormat)
			for _, s := range tc.errs {
				assert.Contains(t, err.Error(), s, tc.reason)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "token: invalid format: "), "errors carry the package prefix")
		})
	}
}

func TestFormat_Split(t *testing.T) {
	cases := []struct {
		name   string
		f      token.Format
		tok    string
		want   token.Parts
		err    bool
		reason string
	}{
		{"default", token.Format{}, "CRM:0001011", token.Parts{User: 1, Counter: 11}, false, "0 | 001 | 011"},
		{"base", token.Format{Base: 500}, "CRM:1501999", token.Parts{Offline: true, User: 501, Counter: 999}, false,
			"the user number includes the base"},
		{"widened", token.Format{Widen: true}, "CRM:000112345", token.Parts{User: 1, Counter: 12345}, false,
			"a widened counter is the rest of the run"},
		{"old settings", token.Format{CounterDigits: 6, MinDigits: 7}, "CRM:0001001", token.Parts{User: 1, Counter: 1}, false,
			"a token issued before the counter was widened splits by the user digits"},
		{"earlier user digits", token.Format{UserDigits: 4, LayoutHistory: []token.Layout{{}}}, "CRM:0042007", token.Parts{User: 42, Counter: 7}, false,
			"a token of an earlier layout splits by that layout's user digits, not the current four"},
		{"current user digits", token.Format{UserDigits: 4, LayoutHistory: []token.Layout{{}}}, "CRM:00042007", token.Parts{User: 42, Counter: 7}, false,
			"a token of the current layout splits by the current digits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.f.Parse(tc.tok)
			require.NoError(t, err)
			got, err := tc.f.Split(tok)
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.want, got, tc.reason)
		})
	}
	_, err := token.Format{UserDigits: 6}.Split(token.Token{Prefix: "CRM:", Digits: "0001001"})
	assert.ErrorIs(t, err, token.ErrSyntax, "seven digits cannot hold six user digits and a counter")
	_, err = token.Format{UserDigits: 1}.Split(token.Token{Prefix: "CRM:", Digits: "01" + strings.Repeat("9", 25)})
	assert.True(t, errors.Is(err, token.ErrSyntax), "a counter beyond int64 is reported, not wrapped around")
}

func TestFormat_Prefixes(t *testing.T) {
	assert.Equal(t, []string{"CRM:"}, token.Format{}.Prefixes())
	assert.Equal(t, []string{"NEW:", "CRM:", "#"}, token.Format{Prefix: "NEW:", History: []string{"CRM:", "#"}}.Prefixes())
}
