package correlate

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// FingerprintDomain is the domain of the stand-in Message-IDs of
// [FingerprintID]: a reserved name (RFC 2606) that no real Message-ID
// carries.
const FingerprintDomain = "fingerprint.mailcorrelate.invalid"

// FingerprintID returns a stand-in Message-ID for an email that has none,
// derived from its content: "fp-" and 32 hex digits of a SHA-256 over every
// header field (names canonical, fields in name order, values as read)
// and the body when the Message holds it, "@" FingerprintDomain. The same
// email read twice — from the same file, or from a server — gets the same
// id; two emails that differ in any header field (a Received line, the
// Date) get different ones.
//
// It returns "" for a Message with no header fields, no subject, sender or
// date: nothing to tell it from another.
func FingerprintID(m *Message) string {
	h := sha256.New()
	var b strings.Builder
	if len(m.Header) > 0 {
		names := make([]string, 0, len(m.Header))
		for k := range m.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			for _, v := range m.Header[k] {
				b.Reset()
				b.WriteString(k)
				b.WriteByte(0)
				b.WriteString(v)
				b.WriteByte('\n')
				h.Write([]byte(b.String()))
			}
		}
	} else {
		// A Message built by hand: what it has.
		if m.Subject == "" && len(m.From) == 0 && m.Date.IsZero() {
			return ""
		}
		b.WriteString(m.Subject)
		b.WriteByte(0)
		b.WriteString(m.Date.UTC().Format("2006-01-02T15:04:05.999999999Z"))
		for _, a := range m.Participants() {
			b.WriteByte(0)
			b.WriteString(a)
		}
		h.Write([]byte(b.String()))
	}
	h.Write([]byte{0})
	h.Write(m.Body)
	if m.Text != "" {
		h.Write([]byte{0})
		h.Write([]byte(m.Text))
	}
	sum := h.Sum(nil)
	return "fp-" + hex.EncodeToString(sum[:16]) + "@" + FingerprintDomain
}
