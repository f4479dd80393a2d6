package header

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// Signed Message-IDs: the record an outgoing email is regarding, written
// into its own Message-ID with a keyed MAC, as osTicket and FreeScout do, so
// a reply names its record even when the email it answers was never tracked
// or has been deleted, and nobody without the key can make one up.
const (
	// MinIDKeyLen is the shortest key NewMessageID signs with, in bytes.
	MinIDKeyLen = 16
	// MaxMessageIDLen bounds a signed Message-ID, angle brackets included:
	// Dynamics stores messageid in 320 characters, and RFC 5322 lines must
	// stay under 998.
	MaxMessageIDLen = 320
	// SignedIDPrefix begins the local part of every signed Message-ID.
	SignedIDPrefix = "mc1."
	// idMACLen is the length of the truncated HMAC-SHA-256: 80 bits.
	idMACLen = 10
	// idNonceLen is the length of the random part that makes each id unique.
	idNonceLen = 8
)

var (
	// ErrNotSigned is wrapped by VerifyMessageID for an id that is not a
	// signed Message-ID at all (another system's id): no claim to check.
	ErrNotSigned = errors.New("header: not a signed message id")
	// ErrBadSignature is wrapped by VerifyMessageID for an id that has the
	// form of a signed Message-ID but does not verify under any key: forged,
	// altered, or signed with a key that was retired.
	ErrBadSignature = errors.New("header: bad signature")
	// ErrIDTooLong is wrapped by NewMessageID when the record and domain do
	// not fit in MaxMessageIDLen.
	ErrIDTooLong = errors.New("header: signed message id too long")
)

// idDomain separates the MACs of signed Message-IDs from any other use of
// the same key.
const idDomain = "mailcorrelate/msgid/v1\x00"

// idEncoding is base32 with the lower-case Crockford alphabet (digits and
// letters without i, l, o and u), no padding: it is valid in a dot-atom, and
// it survives a relay or a client that changes the case of Message-IDs.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// IDOptions tunes [NewMessageID]. A nil *IDOptions means the defaults.
type IDOptions struct {
	// Rand supplies the random bytes that make each id unique; nil means
	// crypto/rand.Reader.
	Rand io.Reader
}

// NewMessageID returns a new Message-ID, in angle brackets, for an outgoing
// email regarding rec: "<mc1.NONCE.RECORD.MAC@domain>", where NONCE is 8
// random bytes, RECORD the record's type and id, and MAC the first 80 bits
// of HMAC-SHA-256 under keys[0] of both, each written in lower-case base32.
// Any bytes may appear in the record's type and id; the encoding keeps the
// id a valid RFC 5322 dot-atom. Write it as the email's Message-ID, and give
// the same keys to the InReplyTo strategy (Options.IDKeys): a reply naming
// it in In-Reply-To or References then finds rec even when no tracked email
// has the id.
//
// It fails when rec is zero, keys is empty or keys[0] is shorter than
// MinIDKeyLen, domain is not a host name, the whole id would be longer than
// MaxMessageIDLen ([ErrIDTooLong]: the record's type and id may take about
// 160 bytes with a short domain), or the random source fails.
//
// To rotate keys, put the new key first: new ids are signed with it, and
// VerifyMessageID accepts ids signed with any key of the list.
func NewMessageID(rec correlate.Record, domain string, keys [][]byte, opts *IDOptions) (string, error) {
	if rec.IsZero() {
		return "", errors.New("header: signed message id: zero record")
	}
	if len(keys) == 0 || len(keys[0]) < MinIDKeyLen {
		return "", fmt.Errorf("header: signed message id: need a key of at least %d bytes", MinIDKeyLen)
	}
	dom, err := idDomainPart(domain)
	if err != nil {
		return "", err
	}
	payload := encodeRecord(rec)
	n := 2 + len(SignedIDPrefix) + idEncoding.EncodedLen(idNonceLen) + 1 + idEncoding.EncodedLen(len(payload)) +
		1 + idEncoding.EncodedLen(idMACLen) + 1 + len(dom)
	if n > MaxMessageIDLen {
		return "", fmt.Errorf("%w: %d characters for record %.40q", ErrIDTooLong, n, rec.String())
	}
	var r io.Reader = rand.Reader
	if opts != nil && opts.Rand != nil {
		r = opts.Rand
	}
	var nonce [idNonceLen]byte
	if _, err := io.ReadFull(r, nonce[:]); err != nil {
		return "", fmt.Errorf("header: signed message id: random source: %w", err)
	}
	mac := idMAC(keys[0], nonce[:], payload)
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('<')
	b.WriteString(SignedIDPrefix)
	b.WriteString(idEncoding.EncodeToString(nonce[:]))
	b.WriteByte('.')
	b.WriteString(idEncoding.EncodeToString(payload))
	b.WriteByte('.')
	b.WriteString(idEncoding.EncodeToString(mac))
	b.WriteByte('@')
	b.WriteString(dom)
	b.WriteByte('>')
	return b.String(), nil
}

// VerifyMessageID returns the record a signed Message-ID (see
// [NewMessageID]) names, when its MAC verifies under one of keys. id may be
// written with or without angle brackets and in any case. The error wraps
// [ErrNotSigned] when id is not a signed Message-ID (its local part does
// not begin with SignedIDPrefix), and [ErrBadSignature] when it has the
// prefix but is malformed or verifies under none of keys. VerifyMessageID
// never panics and runs in time linear in len(id) times len(keys).
func VerifyMessageID(id string, keys [][]byte) (correlate.Record, error) {
	id = strings.TrimSpace(id)
	if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
		id = id[1 : len(id)-1]
	}
	at := strings.LastIndexByte(id, '@')
	if at < 0 {
		return correlate.Record{}, ErrNotSigned
	}
	local := id[:at]
	if len(local) < len(SignedIDPrefix) || !strings.EqualFold(local[:len(SignedIDPrefix)], SignedIDPrefix) {
		return correlate.Record{}, ErrNotSigned
	}
	if len(id) > 998 {
		return correlate.Record{}, fmt.Errorf("%w: longer than 998 bytes", ErrBadSignature)
	}
	parts := strings.Split(strings.ToLower(local[len(SignedIDPrefix):]), ".")
	if len(parts) != 3 {
		return correlate.Record{}, fmt.Errorf("%w: want 3 dot-separated parts after %q, have %d", ErrBadSignature, SignedIDPrefix, len(parts))
	}
	nonce, ok1 := decodeCanonical(parts[0], idNonceLen)
	payload, ok2 := decodeCanonical(parts[1], -1)
	mac, ok3 := decodeCanonical(parts[2], idMACLen)
	if !ok1 || !ok2 || !ok3 {
		return correlate.Record{}, fmt.Errorf("%w: not the base32 of a signed id", ErrBadSignature)
	}
	rec, ok := decodeRecord(payload)
	if !ok {
		return correlate.Record{}, fmt.Errorf("%w: unreadable record", ErrBadSignature)
	}
	if len(keys) == 0 {
		return correlate.Record{}, fmt.Errorf("%w: no key to verify with", ErrBadSignature)
	}
	for _, k := range keys {
		if hmac.Equal(mac, idMAC(k, nonce, payload)) {
			return rec, nil
		}
	}
	return correlate.Record{}, fmt.Errorf("%w: verifies under none of %d keys", ErrBadSignature, len(keys))
}

// idMAC returns the truncated HMAC-SHA-256 of a signed id.
func idMAC(key, nonce, payload []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(idDomain))
	h.Write(nonce)
	h.Write(payload)
	var sum [sha256.Size]byte
	return h.Sum(sum[:0])[:idMACLen]
}

// encodeRecord returns uvarint(len(type)) || type || id.
func encodeRecord(r correlate.Record) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(r.Type)+len(r.ID))
	b = binary.AppendUvarint(b, uint64(len(r.Type)))
	b = append(b, r.Type...)
	return append(b, r.ID...)
}

func decodeRecord(b []byte) (correlate.Record, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return correlate.Record{}, false
	}
	rec := correlate.Record{Type: string(b[k : k+int(n)]), ID: string(b[k+int(n):])}
	return rec, !rec.IsZero()
}

// decodeCanonical decodes s, which must be the canonical encoding of its
// bytes (so an id cannot be altered into another spelling that still
// verifies) and, when want >= 0, of want bytes.
func decodeCanonical(s string, want int) ([]byte, bool) {
	if s == "" || (want >= 0 && len(s) != idEncoding.EncodedLen(want)) || len(s) > 998 {
		return nil, false
	}
	b, err := idEncoding.DecodeString(s)
	if err != nil || (want >= 0 && len(b) != want) {
		return nil, false
	}
	if idEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// idDomainPart checks and lower-cases the domain of a signed id: a host
// name of letters, digits, hyphens and dots.
func idDomainPart(d string) (string, error) {
	d = strings.ToLower(strings.TrimSpace(d))
	bad := d == "" || len(d) > 253 || d[0] == '.' || d[len(d)-1] == '.' || strings.Contains(d, "..")
	for i := 0; i < len(d) && !bad; i++ {
		c := d[i]
		bad = !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.')
	}
	if bad {
		return "", fmt.Errorf("header: signed message id: domain %.60q is not a host name", d)
	}
	return d, nil
}
