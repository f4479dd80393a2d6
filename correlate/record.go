package correlate

import (
	"errors"
	"fmt"
	"strings"
)

// A Record identifies the CRM row an email is regarding: an entity type
// ("incident", "account", "opportunity") and an id within it. The zero
// Record means "no record".
type Record struct {
	Type string
	ID   string
}

// String returns "type:id", or "" for the zero Record.
func (r Record) String() string {
	if r.IsZero() {
		return ""
	}
	return r.Type + ":" + r.ID
}

// IsZero reports whether r is the zero Record.
func (r Record) IsZero() bool { return r.Type == "" && r.ID == "" }

// ErrBadRecord is wrapped by the errors of [ParseRecord].
var ErrBadRecord = errors.New("correlate: bad record")

// ParseRecord parses the "type:id" form printed by [Record.String]. The type
// is what precedes the first colon; the id may itself contain colons. The
// empty string parses to the zero Record.
func ParseRecord(s string) (Record, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Record{}, nil
	}
	typ, id, ok := strings.Cut(s, ":")
	typ, id = strings.TrimSpace(typ), strings.TrimSpace(id)
	switch {
	case !ok:
		return Record{}, fmt.Errorf("%w %q: want type:id", ErrBadRecord, s)
	case typ == "":
		return Record{}, fmt.Errorf("%w %q: empty type", ErrBadRecord, s)
	case id == "":
		return Record{}, fmt.Errorf("%w %q: empty id", ErrBadRecord, s)
	case strings.ContainsAny(typ, " \t\r\n"):
		return Record{}, fmt.Errorf("%w %q: space in type", ErrBadRecord, s)
	}
	return Record{Type: typ, ID: id}, nil
}

// MarshalText implements [encoding.TextMarshaler] with the "type:id" form.
func (r Record) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseRecord].
func (r *Record) UnmarshalText(b []byte) error {
	rec, err := ParseRecord(string(b))
	if err != nil {
		return err
	}
	*r = rec
	return nil
}
