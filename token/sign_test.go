package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/token"
)

// referenceSignature computes a signature independently of the package:
// HMAC-SHA-256 over the domain string and the digits, Crockford base32 by
// encoding/base32, first n characters.
func referenceSignature(key []byte, digits string, n int) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("mailcorrelate/token/v1\x00" + digits))
	enc := base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)
	return enc.EncodeToString(mac.Sum(nil))[:n]
}

func TestSigned(t *testing.T) {
	oldKey := []byte("an-old-signing-key-of-2025")
	f := token.Format{Keys: [][]byte{testKey}}

	tok, err := f.Make(1, 1)
	require.NoError(t, err)
	assert.Equal(t, "CRM:0001001", tok.Prefix+tok.Digits, "signing keeps the Dynamics digits")
	assert.Equal(t, referenceSignature(testKey, "0001001", 8), tok.Signature, "HMAC-SHA-256, truncated, Crockford base32")
	assert.Len(t, tok.String(), 20, "CRM: + 7 digits + '-' + 8 characters")
	require.NoError(t, f.Verify(tok), "an issued token verifies")

	long := token.Format{Keys: [][]byte{testKey}, SignatureLen: 13}
	tl, err := long.Make(1, 1)
	require.NoError(t, err)
	assert.Equal(t, referenceSignature(testKey, "0001001", 13), tl.Signature, "SignatureLen sets the length")

	cases := []struct {
		name   string
		f      token.Format
		tok    token.Token
		want   error
		reason string
	}{
		{"lower-cased", f, mustParse(t, f, strings.ToLower(tok.String())), nil,
			"a mail program that lower-cases the subject does not break the signature"},
		{"other digits", f, token.Token{Prefix: "CRM:", Digits: "0001002", Signature: tok.Signature}, token.ErrBadSignature,
			"a signature does not carry over to another token"},
		{"guessed", f, mustParse(t, f, "CRM:0001001-ABCDEFGH"), token.ErrBadSignature, "a guessed signature fails"},
		{"unsigned", f, mustParse(t, f, "CRM:0001001"), token.ErrUnsigned, "signing on, no signature"},
		{"prefix changed", token.Format{Prefix: "NEW:", History: []string{"CRM:"}, Keys: [][]byte{testKey}},
			token.Token{Prefix: "NEW:", Digits: tok.Digits, Signature: tok.Signature}, nil,
			"the prefix is not signed, so a prefix change keeps signatures valid"},
		{"rotated, old still accepted", token.Format{Keys: [][]byte{[]byte("the-new-signing-key-of-2026"), testKey}}, tok, nil,
			"after rotation the old key still verifies"},
		{"old key dropped", token.Format{Keys: [][]byte{[]byte("the-new-signing-key-of-2026"), oldKey}}, tok, token.ErrBadSignature,
			"once the key is dropped its tokens fail"},
		{"signing off", token.Format{}, mustParse(t, f, "CRM:0001001-ABCDEFGH"), nil,
			"without keys nothing is checked (Dynamics-compatible mode)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Verify(tc.tok)
			if tc.want == nil {
				assert.NoError(t, err, tc.reason)
			} else {
				assert.ErrorIs(t, err, tc.want, tc.reason)
			}
		})
	}

	rotated := token.Format{Keys: [][]byte{[]byte("the-new-signing-key-of-2026"), testKey}}
	nt, err := rotated.Make(1, 1)
	require.NoError(t, err)
	assert.Equal(t, referenceSignature([]byte("the-new-signing-key-of-2026"), "0001001", 8), nt.Signature, "the first key signs")
}

func mustParse(t *testing.T, f token.Format, s string) token.Token {
	t.Helper()
	tok, err := f.Parse(s)
	require.NoError(t, err)
	return tok
}
