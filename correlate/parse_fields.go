package correlate

import (
	"errors"
	"net/mail"
	"net/textproto"
	"strings"
)

var errNotAField = errors.New("line is not a header field")

// parseHeader splits raw into fields, fills m.Header and decodes the fields
// correlators use.
func (p *parser) parseHeader(m *Message, raw string, o *ParseOptions) error {
	n := strings.Count(raw, "\n") + 1
	h := make(mail.Header, n/2+8)
	backing := make([]string, 0, n)
	var fields int
	for len(raw) > 0 {
		// One field: its first line plus continuation lines.
		end, folded := 0, false
		for {
			nl := strings.IndexByte(raw[end:], '\n')
			if nl < 0 {
				end = len(raw)
				break
			}
			end += nl + 1
			if end >= len(raw) || (raw[end] != ' ' && raw[end] != '\t') {
				break
			}
			folded = true
		}
		line := raw[:end]
		raw = raw[end:]
		colon := strings.IndexByte(line, ':')
		name := ""
		if colon > 0 {
			name = line[:colon]
			if c := name[len(name)-1]; c == ' ' || c == '\t' {
				name = strings.TrimRight(name, " \t")
			}
		}
		key, ok := fieldKey(name)
		if !ok {
			if strings.TrimSpace(line) != "" {
				p.add("", strings.TrimSpace(line), errNotAField)
			}
			continue
		}
		var value string
		if folded {
			value = unfold(line[colon+1:])
		} else {
			value = trimValue(line[colon+1:])
		}
		if key == "From" && isMboxFromValue(value) {
			continue
		}
		fields++
		if vs, ok := h[key]; ok {
			h[key] = append(vs, value)
		} else {
			backing = append(backing, value)
			h[key] = backing[len(backing)-1 : len(backing) : len(backing)]
			addField(&p.fields, key)
		}
		p.field(m, key, value, o)
	}
	if fields == 0 {
		return ErrNoHeader
	}
	m.Header = h
	return nil
}

// trimValue returns strings.TrimSpace(v) for the value of a field on one
// line, which ends in a line break and usually begins with one space: it
// trims those bytes first and calls TrimSpace only for the rest.
func trimValue(v string) string {
	if len(v) > 0 && v[len(v)-1] == '\n' {
		v = v[:len(v)-1]
		if len(v) > 0 && v[len(v)-1] == '\r' {
			v = v[:len(v)-1]
		}
	}
	if len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	if len(v) == 0 {
		return v
	}
	if c := v[0]; c <= ' ' || c >= 0x80 {
		v = strings.TrimSpace(v)
	} else if c := v[len(v)-1]; c <= ' ' || c >= 0x80 {
		v = strings.TrimSpace(v)
	}
	if strings.IndexByte(v, '\r') >= 0 {
		return unfold(v) // a bare CR inside, which unfolding removes
	}
	return v
}

// fieldKey returns the canonical form of a field name (as
// textproto.CanonicalMIMEHeaderKey writes it) and whether name is a valid
// field name at all: 1 to 200 bytes of printable ASCII without ':'.
func fieldKey(name string) (string, bool) {
	if name == "" || len(name) > 200 {
		return "", false
	}
	upper, canon, token := true, true, true
	for i := 0; i < len(name); i++ {
		switch nameByte[name[i]] {
		case nameInvalid:
			return "", false
		case nameLower:
			canon = canon && !upper
			upper = false
		case nameUpper:
			canon = canon && upper
			upper = false
		case nameToken:
			upper = name[i] == '-'
		default: // nameOther
			token, upper = false, false
		}
	}
	if canon || !token {
		return name, true // textproto leaves a name that is not a token as it is
	}
	return canonicalSlow(name), true
}

// nameByte classifies the bytes of a field name for fieldKey.
var nameByte = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c <= ' ' || c >= 0x7f || c == ':':
			t[c] = nameInvalid
		case 'a' <= c && c <= 'z':
			t[c] = nameLower
		case 'A' <= c && c <= 'Z':
			t[c] = nameUpper
		case tokenByte[c]:
			t[c] = nameToken
		default:
			t[c] = nameOther
		}
	}
	return t
}()

const (
	nameInvalid = iota
	nameLower
	nameUpper
	nameToken // digits and the punctuation of RFC 7230 tokens
	nameOther // printable, but not in a token
)

// tokenByte marks the bytes of an RFC 7230 token, the bytes textproto
// canonicalizes field names of.
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// canonicalSlow canonicalizes a valid token name that is not canonical:
// a constant for the usual spellings of the fields correlators read
// ("Message-ID", "MIME-Version"), a new string otherwise.
func canonicalSlow(name string) string {
	var buf [32]byte
	if len(name) > len(buf) {
		return textproto.CanonicalMIMEHeaderKey(name)
	}
	b := buf[:len(name)]
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	switch string(b) { // no allocation: the compiler compares in place
	case "Message-Id":
		return "Message-Id"
	case "Mime-Version":
		return "Mime-Version"
	case "In-Reply-To":
		return "In-Reply-To"
	case "Content-Type":
		return "Content-Type"
	case "Content-Transfer-Encoding":
		return "Content-Transfer-Encoding"
	case "Content-Id":
		return "Content-Id"
	case "Thread-Index":
		return "Thread-Index"
	case "Thread-Topic":
		return "Thread-Topic"
	case "Reply-To":
		return "Reply-To"
	case "Return-Path":
		return "Return-Path"
	case "X-Ms-Exchange-Message-Is-Ndr":
		return "X-Ms-Exchange-Message-Is-Ndr"
	}
	return string(b)
}

// unfold removes the line breaks of a folded value (RFC 5322 §2.2.3) and
// trims it. A value on one line comes back as a substring, without copying.
func unfold(v string) string {
	v = strings.TrimSpace(v)
	i := indexCRLF(v)
	if i < 0 {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i >= 0 {
		b.WriteString(v[:i])
		v = v[i+1:]
		i = indexCRLF(v)
	}
	b.WriteString(v)
	return b.String()
}

// indexCRLF returns the index of the first CR or LF in v, or -1: two
// vectorized scans, where strings.IndexAny tests byte by byte.
func indexCRLF(v string) int {
	i := strings.IndexByte(v, '\n')
	if i < 0 {
		return strings.IndexByte(v, '\r')
	}
	if j := strings.IndexByte(v[:i], '\r'); j >= 0 {
		return j
	}
	return i
}
