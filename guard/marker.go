package guard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// DefaultMarkerField is the header field of the loop marker when
// Marker.Field is empty.
const DefaultMarkerField = "X-Mailcorrelate-Loop"

// DefaultInstance names the installation when Marker.Instance is empty.
const DefaultInstance = "mailcorrelate"

// MinKeyLen is the shortest marker key, in bytes.
const MinKeyLen = 16

// markerVersion begins every marker value.
const markerVersion = "v1"

// markerDomain separates the MACs of loop markers from any other use of the
// same key.
const markerDomain = "mailcorrelate/loop/v1\x00"

// markerMACLen is the length of the marker MAC: 80 bits.
const markerMACLen = 10

var markerEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// A Marker writes and recognizes this system's loop marker: a header field
// on the mail it sends, so that when such mail comes back (a forwarding
// rule pointing at the support mailbox, a customer address that redirects
// to another helpdesk that redirects back) it is recognized and not
// answered again. RT (X-RT-Loop-Prevention), OTRS (X-OTRS-Loop) and
// procmail (X-Loop) write markers too, but anybody can copy theirs.
//
// The field (DefaultMarkerField unless Field is set) reads
//
//	X-Mailcorrelate-Loop: v1 INSTANCE MAC
//
// where INSTANCE names the installation and MAC is the first 80 bits of
// HMAC-SHA-256 under Keys[0] of the instance and the email's own
// Message-ID, in lower-case base32. Binding the MAC to the Message-ID means
// that copying the field from one of our emails into another email does not
// make a valid marker: only the email we sent, coming back with its
// Message-ID unchanged (as forwarding and redirection keep it), carries one.
// The first key signs, every key verifies, so keys rotate.
//
// A Marker is read-only after construction and safe for concurrent use.
type Marker struct {
	// Field is the header field name; "" means DefaultMarkerField.
	Field string
	// Instance names this installation (letters, digits, '.', '-', '_'; at
	// most 64); "" means DefaultInstance. Markers of other instances are
	// reported as foreign, not as loops.
	Instance string
	// Keys sign and verify markers, each at least MinKeyLen bytes.
	Keys [][]byte
}

// Validate reports what is wrong with k's configuration.
func (k *Marker) Validate() error {
	var errs []error
	if f := k.Field; f != "" && !validToken(f, 76, false) {
		errs = append(errs, fmt.Errorf("guard: marker field %q is not a header field name", f))
	}
	if in := k.Instance; in != "" && !validToken(in, 64, true) {
		errs = append(errs, fmt.Errorf("guard: marker instance %q: want letters, digits, '.', '-', '_'", in))
	}
	if len(k.Keys) == 0 {
		errs = append(errs, errors.New("guard: marker has no key"))
	}
	for i, key := range k.Keys {
		if len(key) < MinKeyLen {
			errs = append(errs, fmt.Errorf("guard: marker key %d has %d bytes, fewer than %d", i, len(key), MinKeyLen))
		}
	}
	return errors.Join(errs...)
}

// Stamp returns the header field and value to add to an outgoing email
// whose Message-ID is messageID (with or without angle brackets). It fails
// when the Marker is invalid (see Validate) or messageID is empty.
func (k *Marker) Stamp(messageID string) (field, value string, err error) {
	if err := k.Validate(); err != nil {
		return "", "", err
	}
	id := correlate.NormalizeMessageID(messageID)
	if id == "" {
		return "", "", errors.New("guard: marker needs the email's Message-ID")
	}
	in := k.instance()
	return k.field(), markerVersion + " " + in + " " + markerEncoding.EncodeToString(markerMAC(k.Keys[0], in, id)), nil
}

func (k *Marker) field() string {
	if k.Field == "" {
		return DefaultMarkerField
	}
	return k.Field
}

func (k *Marker) instance() string {
	if k.Instance == "" {
		return DefaultInstance
	}
	return k.Instance
}

// Check reports whether m carries a marker of this instance that verifies
// (ours), with the Evidence; found is false when m carries no marker at all.
func (k *Marker) Check(m *correlate.Message) (ev correlate.Evidence, ours, found bool) {
	if m == nil {
		return correlate.Evidence{}, false, false
	}
	return k.check(m)
}

func (k *Marker) check(m *correlate.Message) (correlate.Evidence, bool, bool) {
	field := k.field()
	key := textproto.CanonicalMIMEHeaderKey(field)
	if _, ok := m.Field(key); !ok {
		return correlate.Evidence{}, false, false // most mail: no marker, no map lookup
	}
	vs := m.Header[key]
	if len(vs) == 0 {
		return correlate.Evidence{}, false, false
	}
	in := k.instance()
	id := correlate.NormalizeMessageID(m.MessageID)
	ev := correlate.Evidence{Field: field, Value: clip(vs[0]), Note: "loop marker of another system or instance"}
	for i, v := range vs {
		if i == 8 {
			break
		}
		parts := strings.Fields(v)
		if len(parts) != 3 || parts[0] != markerVersion || parts[1] != in {
			continue
		}
		ev.Value = clip(v)
		mac, err := markerEncoding.DecodeString(strings.ToLower(parts[2]))
		if err == nil && len(mac) == markerMACLen {
			for _, key := range k.Keys {
				if hmac.Equal(mac, markerMAC(key, in, id)) {
					ev.Note = "this system's own loop marker, verified"
					return ev, true, true
				}
			}
		}
		ev.Note = "names this instance but does not verify (forged, altered, a retired key, or the Message-ID changed)"
	}
	return ev, false, true
}

func markerMAC(key []byte, instance, id string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(markerDomain))
	h.Write([]byte(instance))
	h.Write([]byte{0})
	h.Write([]byte(id))
	var sum [sha256.Size]byte
	return h.Sum(sum[:0])[:markerMACLen]
}

// validToken checks a field name (printable ASCII without ':') or, with
// strict, an instance name.
func validToken(s string, max int, strict bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strict && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'):
			return false
		case c <= ' ' || c >= 0x7f || c == ':':
			return false
		}
	}
	return true
}
