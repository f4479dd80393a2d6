package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// signDomain separates the MACs of this package from any other use of the
// same key.
const signDomain = "mailcorrelate/token/v1\x00"

// crockford is the Crockford base32 alphabet: digits and upper-case letters
// without I, L, O and U, so a signature survives case changes and is hard to
// misread.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// sign returns the first n Crockford base32 characters of
// HMAC-SHA-256(key, signDomain || digits).
func sign(key []byte, digits string, n int) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signDomain))
	mac.Write([]byte(digits))
	var sum [sha256.Size]byte
	s := mac.Sum(sum[:0])
	out := make([]byte, n)
	for i := range out {
		bit := 5 * i
		// the 5 bits at bit offset `bit`, most significant first; n <= 20
		// characters use at most 100 of the 256 bits.
		v := uint16(s[bit/8])<<8 | uint16(s[bit/8+1])
		out[i] = crockford[(v>>(11-bit%8))&31]
	}
	return string(out)
}

// canonSigByte returns the canonical form of one signature character:
// letters upper-cased, I and L read as 1, O as 0 (Crockford's decoding
// rules); ok is false for characters outside the alphabet.
func canonSigByte(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c, true
	case c >= 'a' && c <= 'z':
		c -= 'a' - 'A'
	case c >= 'A' && c <= 'Z':
	default:
		return 0, false
	}
	switch c {
	case 'I', 'L':
		return '1', true
	case 'O':
		return '0', true
	case 'U':
		return 0, false
	}
	return c, true
}

// canonSig returns s in canonical form, s itself when it already is;
// ok is false when s holds a character outside the alphabet.
func canonSig(s string) (string, bool) {
	same := true
	for i := 0; i < len(s); i++ {
		c, ok := canonSigByte(s[i])
		if !ok {
			return "", false
		}
		if c != s[i] {
			same = false
		}
	}
	if same {
		return s, true
	}
	b := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		b[i], _ = canonSigByte(s[i])
	}
	return string(b), true
}

// Verify checks t's signature. It returns nil when one of f.Keys produced
// it, an error wrapping ErrUnsigned when t has no signature, and one
// wrapping ErrBadSignature when no key produced it. When f has no Keys,
// signing is off and Verify returns nil for every token, signed or not.
//
// The comparison takes the same time whatever the signature, so timing
// tells an attacker nothing about how close a guess was.
func (f Format) Verify(t Token) error {
	if len(f.Keys) == 0 {
		return nil
	}
	if t.Signature == "" {
		return fmt.Errorf("%w: %s", ErrUnsigned, t)
	}
	n := f.signatureLen()
	ok := false
	for _, k := range f.Keys {
		want := sign(k, t.Digits, n)
		if hmac.Equal([]byte(want), []byte(t.Signature)) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrBadSignature, t)
	}
	return nil
}
