package party_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/party"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want, reason string
	}{
		{"Plain", "anna@contoso.example", "anna@contoso.example", "already normal: returned as is"},
		{"Case", "Anna.Smith@Contoso.EXAMPLE", "anna.smith@contoso.example", "domains are case-insensitive, and CRMs compare local parts case-insensitively too"},
		{"DisplayName", `"Smith, Anna" <Anna@contoso.example>`, "anna@contoso.example", "the display name plays no part; the angle-addr is the address"},
		{"AngleOnly", "  <anna@contoso.example>  ", "anna@contoso.example", "angle brackets and surrounding space are not part of the address"},
		{"NameWithAngle", `"a <b>" <anna@contoso.example>`, "anna@contoso.example", "the last angle brackets hold the address, a quoted name may contain '<'"},
		{"SourceRoute", "<@relay.example:anna@contoso.example>", "anna@contoso.example", "an obsolete source route (RFC 5322 obs-route) is dropped"},
		{"TrailingDot", "anna@contoso.example.", "anna@contoso.example", "a fully qualified domain's trailing dot names the same domain"},
		{"TagKept", "anna+crm@contoso.example", "anna+crm@contoso.example", "tags are kept by default: Dynamics compares whole addresses"},
		{"GmailDotsKept", "a.n.n.a@gmail.com", "a.n.n.a@gmail.com", "provider rules are off by default"},
		{"IDN", "info@Bücher.Example", "info@xn--bcher-kva.example", "IDNA lookup rules: lower-cased, then Punycode"},
		{"Punycode", "info@XN--BCHER-KVA.example", "info@xn--bcher-kva.example", "the ASCII form of the same IDN normalizes to the same key"},
		{"CyrillicDomain", "ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai", "a Latin local part with an all-Cyrillic domain mixes nothing inside one label"},
		{"FullwidthDomain", "anna@ｃｏｎｔｏｓｏ.example", "anna@contoso.example", "UTS #46 maps fullwidth letters to ASCII"},
		{"UnicodeLocal", "JÖRG@contoso.example", "jörg@contoso.example", "RFC 6531 allows UTF-8 local parts; lower-cased like ASCII"},
		{"UnicodeLocalNFC", "jo\u0308rg@contoso.example", "jörg@contoso.example", "a decomposed ö is put in NFC, so both spellings match"},
		{"DottedCapitalI", "\u0130\u0330@contoso.example", "\u1e2d\u0307@contoso.example", "İ with a tilde below: NFC first, so the key equals that of its NFC form Ḭ + dot above (found by FuzzNormalize)"},
		{"Japanese", "山田太郎@例え.jp", "山田太郎@xn--r8jz45g.jp", "Han in the local part and Han+Hiragana in a label are one writing system"},
		{"JapaneseMixedLatin", "taro@ドメイン名例.jp", "taro@xn--eckwd4c7cu47r2wf.jp", "Katakana with Han is normal Japanese"},
		{"QuotedPlain", `"anna"@contoso.example`, "anna@contoso.example", "a quoted dot-atom is the same address unquoted (RFC 5321 §4.1.2)"},
		{"QuotedSpace", `"Anna Smith"@contoso.example`, `"anna smith"@contoso.example`, "a quoted local part that needs quotes stays quoted"},
		{"QuotedEscape", `"a\"b"@contoso.example`, `"a\"b"@contoso.example`, "a quoted pair is kept escaped"},
		{"QuotedNeedless", `"a\b"@contoso.example`, "ab@contoso.example", "a needless quoted pair is decoded, and the result is a dot-atom"},
		{"DoubleDot", "a..b@docomo.example", "a..b@docomo.example", "some carriers issued addresses with doubled dots; accepted leniently"},
		{"LeadingDot", ".anna@contoso.example", ".anna@contoso.example", "as lenient as doubled dots"},
		{"IPv4Literal", "anna@[192.0.2.1]", "anna@[192.0.2.1]", "a domain literal holding an IP address is valid"},
		{"IPv6Literal", "anna@[IPv6:2001:DB8:0::1]", "anna@[IPv6:2001:db8::1]", "IPv6 literals print in canonical form"},
		{"SingleLabel", "root@localhost", "root@localhost", "a single-label domain is legal in a directory"},
		{"Atext", "o'brien!#$%&*/=?^_`{|}~-@contoso.example", "o'brien!#$%&*/=?^_`{|}~-@contoso.example", "every RFC 5322 atext character is allowed unquoted"},
		{"Max", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 59) + ".e", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 59) + ".e", "254 octets, 64 in the local part: the RFC 5321 maximum is accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := party.Normalize(tt.in)
			require.NoError(t, err, tt.reason)
			assert.Equal(t, tt.want, got, "Normalize(%q): %s", tt.in, tt.reason)
			again, err := party.Normalize(got)
			require.NoError(t, err, "a normalized address must normalize again")
			assert.Equal(t, got, again, "Normalize is idempotent")
		})
	}
}

func TestNormalizeOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   party.NormalizeOptions
		in     string
		want   string
		reason string
	}{
		{"KeepCase", party.NormalizeOptions{KeepLocalCase: true}, "Anna@Contoso.Example", "Anna@contoso.example", "the local part keeps its case; the domain never does"},
		{"KeepCaseQuoted", party.NormalizeOptions{KeepLocalCase: true}, `"Anna"@x.example`, "Anna@x.example", "unquoting keeps the case too"},
		{"StripTag", party.NormalizeOptions{StripTags: true}, "Anna+CRM@contoso.example", "anna@contoso.example", "RFC 5233 subaddress: the tag names the same mailbox"},
		{"StripTagOnlyFirst", party.NormalizeOptions{StripTags: true}, "a+b+c@x.example", "a@x.example", "everything from the first separator is the tag"},
		{"StripTagEmpty", party.NormalizeOptions{StripTags: true}, "+tag@x.example", "+tag@x.example", "a local part that starts with the separator would become empty: kept"},
		{"StripTagDash", party.NormalizeOptions{StripTags: true, TagSeparators: "-"}, "anna-lists@x.example", "anna@x.example", "Postfix/qmail sites use '-' as recipient delimiter"},
		{"StripTagDashKeepsPlus", party.NormalizeOptions{StripTags: true, TagSeparators: "-"}, "anna+x@x.example", "anna+x@x.example", "only the configured separators start a tag"},
		{"StripTagQuoted", party.NormalizeOptions{StripTags: true}, `"a b+c"@x.example`, `"a b+c"@x.example`, "tags are not stripped from quoted local parts"},
		{"GmailDots", party.NormalizeOptions{Providers: party.DefaultProviders()}, "A.N.N.A@gmail.com", "anna@gmail.com", "Gmail ignores dots in the local part"},
		{"GmailTag", party.NormalizeOptions{Providers: party.DefaultProviders()}, "anna+crm@gmail.com", "anna@gmail.com", "Gmail ignores +tags"},
		{"Googlemail", party.NormalizeOptions{Providers: party.DefaultProviders()}, "a.nna@GoogleMail.com", "anna@gmail.com", "googlemail.com is an alias of gmail.com"},
		{"ProviderOtherDomain", party.NormalizeOptions{Providers: party.DefaultProviders()}, "a.nna+x@contoso.example", "a.nna+x@contoso.example", "provider rules apply to the provider's domains only"},
		{"MixedAllowed", party.NormalizeOptions{AllowMixedScripts: true}, "x@pаypal.com", "x@xn--pypal-4ve.com", "AllowMixedScripts accepts a homograph domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := party.NewNormalizer(&tt.opts)
			got, err := n.Normalize(tt.in)
			require.NoError(t, err, tt.reason)
			assert.Equal(t, tt.want, got, "Normalize(%q): %s", tt.in, tt.reason)
			again, err := n.Normalize(got)
			require.NoError(t, err)
			assert.Equal(t, got, again, "Normalize is idempotent under %+v", tt.opts)
		})
	}
}

func TestNormalizeHostile(t *testing.T) {
	tests := []struct {
		name, in string
		mixed    bool
		reason   string
	}{
		{"Empty", "", false, "nothing to normalize"},
		{"Spaces", "   ", false, "only white space"},
		{"NoAt", "anna.contoso.example", false, "an address needs an @"},
		{"TwoAts", "anna@b@contoso.example", false, "an unquoted local part cannot hold an @"},
		{"EmptyLocal", "@contoso.example", false, "no local part"},
		{"EmptyQuotedLocal", `""@contoso.example`, false, "an empty quoted string is no mailbox"},
		{"EmptyDomain", "anna@", false, "no domain"},
		{"DotDomain", "anna@.", false, "a lone dot is no domain"},
		{"EmptyLabel", "anna@contoso..example", false, "empty label"},
		{"Long2000", strings.Repeat("a", 2000) + "@contoso.example", false, "2,000 characters: far beyond RFC 5321's 254"},
		{"Huge", strings.Repeat("x", 1<<20), false, "a megabyte is refused before it is scanned"},
		{"Len255", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 60) + ".e", false, "one octet over RFC 5321's 254"},
		{"LongLocal", strings.Repeat("a", 65) + "@contoso.example", false, "RFC 5321: a local part is at most 64 octets"},
		{"LongerWhenLowered", strings.Repeat("Ⱥ", 32) + "@contoso.example", false, "64 octets as written, 96 lower-cased (ⱥ takes 3 bytes): the key would break the limit"},
		{"LongLabel", "a@" + strings.Repeat("b", 64) + ".example", false, "a DNS label is at most 63 octets"},
		{"LongIDNAscii", strings.Repeat("a", 60) + "@" + strings.Repeat("ü", 60) + "." + strings.Repeat("ü", 60) + ".example", false, "the ASCII (Punycode) form exceeds the limits"},
		{"NUL", "an\x00na@contoso.example", false, "control characters are never part of an address"},
		{"CRLF", "anna@contoso.example\r\nBcc: x@evil.example", false, "header injection: CR LF refused"},
		{"Tab", "an\tna@contoso.example", false, "white space inside an unquoted address"},
		{"DEL", "anna\x7f@contoso.example", false, "DEL is a control character"},
		{"C1", "anna\u0085@contoso.example", false, "C1 controls are control characters too"},
		{"ZeroWidth", "an\u200bna@contoso.example", false, "an invisible zero-width space would make a look-alike key"},
		{"BidiOverride", "anna@\u202econtoso.example", false, "a right-to-left override makes the address display reversed"},
		{"PrivateUse", "anna\ue000@contoso.example", false, "private-use characters have no agreed meaning"},
		{"BadUTF8", "an\xffna@contoso.example", false, "not UTF-8"},
		{"Specials", "an(na)@contoso.example", false, "comments and specials are not atext"},
		{"Comma", "anna,bob@contoso.example", false, "a list is not an address"},
		{"Underscore", "anna@con_toso.example", false, "STD3: host names use letters, digits and hyphens"},
		{"LeadingHyphen", "anna@-contoso.example", false, "a label cannot start with a hyphen"},
		{"BadPunycode", "anna@xn--zz-.example", false, "invalid Punycode"},
		{"UnbalancedAngle", "Anna <anna@contoso.example", false, "an opening angle bracket without its closing one"},
		{"AngleWithoutOpen", "anna@contoso.example>", false, "a closing angle bracket without its opening one"},
		{"UnterminatedQuote", `"anna@contoso.example`, false, "the quoted local part never ends"},
		{"QuoteThenNoAt", `"anna"contoso.example`, false, "no @ after the quoted string"},
		{"BadLiteral", "anna@[not.an.ip]", false, "a domain literal must hold an IP address"},
		{"LiteralV6WithoutTag", "anna@[2001:db8::1]", false, "RFC 5321 requires the IPv6: tag"},
		{"UnterminatedLiteral", "anna@[192.0.2.1", false, "the literal never ends"},
		{"GreekQuestionMark", "a;b@contoso.example", false, "NFC turns U+037E into ';', which no unquoted local part may hold (found by FuzzNormalize)"},
		{"NBSPLocal", "an\u00a0na@contoso.example", false, "a no-break space is white space"},
		{"MixedDomain", "service@pаypal.com", true, "Cyrillic а among Latin letters: a homograph of paypal.com"},
		{"MixedPunycode", "service@xn--pypal-4ve.com", true, "the same homograph written in Punycode is caught too"},
		{"MixedLocal", "аdmin@contoso.example", true, "a Cyrillic а in a Latin local part"},
		{"MixedGreek", "anna@cοntoso.example", true, "a Greek omicron among Latin letters"},
		{"KanaHangul", "x@カ한.example", true, "Japanese kana with Hangul is not one writing system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := party.Normalize(tt.in)
			require.Error(t, err, "Normalize(%q) = %q, want an error: %s", tt.in, got, tt.reason)
			assert.Empty(t, got)
			assert.ErrorIs(t, err, party.ErrBadAddress, tt.reason)
			assert.Equal(t, tt.mixed, errors.Is(err, party.ErrMixedScripts), "ErrMixedScripts: %s", tt.reason)
			var ae *party.AddressError
			require.ErrorAs(t, err, &ae)
			assert.LessOrEqual(t, len(ae.Address), 104, "the error quotes at most 100 bytes of hostile input")
			assert.NotEmpty(t, ae.Reason)
		})
	}
}

func TestNormalizeDomain(t *testing.T) {
	gmail := party.NewNormalizer(&party.NormalizeOptions{Providers: party.DefaultProviders()})
	tests := []struct {
		name    string
		n       *party.Normalizer
		in      string
		want    string
		wantErr bool
		reason  string
	}{
		{"Plain", nil, "Contoso.Example", "contoso.example", false, "domains are case-insensitive"},
		{"At", nil, "@contoso.example", "contoso.example", false, "a leading @ (a domain entry key) is ignored"},
		{"IDN", nil, "Bücher.example", "xn--bcher-kva.example", false, "the same IDNA rules as Normalize"},
		{"Alias", gmail, "googlemail.com", "gmail.com", false, "provider aliases apply to domains alone too"},
		{"Empty", nil, "@", "", true, "no domain"},
		{"Control", nil, "conto\nso.example", "", true, "control characters"},
		{"Mixed", nil, "pаypal.com", "", true, "homograph"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.n
			if n == nil {
				n = &party.Normalizer{}
			}
			got, err := n.NormalizeDomain(tt.in)
			if tt.wantErr {
				assert.ErrorIs(t, err, party.ErrBadAddress, tt.reason)
				return
			}
			require.NoError(t, err, tt.reason)
			assert.Equal(t, tt.want, got, tt.reason)
		})
	}
}

// TestNormalizerZeroValue checks that the zero Normalizer, nil options and
// the package function agree: all three are the default rules.
func TestNormalizerZeroValue(t *testing.T) {
	var zero party.Normalizer
	for _, in := range []string{"Anna+x@Contoso.Example", "a.b@GMAIL.com", "x@Bücher.example"} {
		a, errA := zero.Normalize(in)
		b, errB := party.NewNormalizer(nil).Normalize(in)
		c, errC := party.Normalize(in)
		require.NoError(t, errA)
		require.NoError(t, errB)
		require.NoError(t, errC)
		assert.Equal(t, a, b, in)
		assert.Equal(t, a, c, in)
	}
}
