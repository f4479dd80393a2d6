package correlate

import (
	"bytes"
	"errors"
	"net/mail"
)

var errNotAField = errors.New("line is not a header field")

// A fieldSpan locates one header line in the block parseHeader reads:
// a field's name and value (already canonicalized and unfolded in place),
// or, when name is empty, a line that is not a field.
type fieldSpan struct {
	name, value [2]int32 // [start, end) in the block
}

// parseHeader splits the header block b into fields, fills m.Header and
// decodes the fields correlators use. It works in two passes: the first
// canonicalizes each field name and unfolds each value in place in b (both
// only shorten or rewrite bytes of their own line), the second copies b
// into one string and takes every key and value as a substring of it, so
// the header costs one copy and no allocation per folded value or
// non-canonical name. b is the caller's scratch buffer, left modified;
// spans is scratch too, returned for reuse.
func (p *parser) parseHeader(m *Message, b []byte, spans []fieldSpan, o *ParseOptions) ([]fieldSpan, error) {
	spans = spans[:0]
	nfields := 0
	repeats, prev := 0, -1 // fields that repeat the field before; the last field's span
	for pos := 0; pos < len(b); {
		// One field: its first line plus continuation lines.
		end, folded := pos, false
		for {
			nl := bytes.IndexByte(b[end:], '\n')
			if nl < 0 {
				end = len(b)
				break
			}
			end += nl + 1
			if end >= len(b) || (b[end] != ' ' && b[end] != '\t') {
				break
			}
			folded = true
		}
		line := b[pos:end]
		colon := bytes.IndexByte(line, ':')
		nameEnd := 0
		if colon > 0 {
			nameEnd = colon
			if c := line[nameEnd-1]; c == ' ' || c == '\t' {
				nameEnd = len(bytes.TrimRight(line[:nameEnd], " \t"))
			}
		}
		if !canonicalizeName(line[:nameEnd]) {
			if t := bytes.TrimSpace(line); len(t) > 0 {
				i := pos + (cap(line) - cap(t)) // t is a subslice of line
				spans = append(spans, fieldSpan{value: [2]int32{int32(i), int32(i + len(t))}})
			}
			pos = end
			continue
		}
		var v []byte
		if folded {
			v = unfoldInPlace(bytes.TrimSpace(line[colon+1:]))
		} else {
			v = trimValueInPlace(line[colon+1:])
		}
		vs := pos + colon + 1
		if len(v) > 0 {
			vs = pos + (cap(line) - cap(v)) // v is a subslice of line
		}
		if prev >= 0 && bytes.Equal(b[spans[prev].name[0]:spans[prev].name[1]], line[:nameEnd]) {
			repeats++ // Received after Received: not a key of its own
		}
		prev = len(spans)
		spans = append(spans, fieldSpan{
			name:  [2]int32{int32(pos), int32(pos + nameEnd)},
			value: [2]int32{int32(vs), int32(vs + len(v))},
		})
		nfields++
		pos = end
	}
	raw := string(b)
	// At most nfields-repeats keys: a map made that large never grows
	// (growing rehashed every key, a tenth of the time of the header).
	h := make(mail.Header, nfields-repeats)
	backing := make([]string, 0, nfields)
	var fields int
	for _, sp := range spans {
		value := raw[sp.value[0]:sp.value[1]]
		if sp.name[1] == 0 {
			p.add("", value, errNotAField)
			continue
		}
		key := raw[sp.name[0]:sp.name[1]]
		if key == "From" && isMboxFromValue(value) {
			continue
		}
		fields++
		if vs, ok := h[key]; ok {
			if n := len(backing); n < cap(backing) && &vs[len(vs)-1] == &backing[n-1] {
				// The field repeats the one before (Received,
				// DKIM-Signature): its values grow in backing, in place.
				backing = append(backing, value)
				h[key] = backing[n-len(vs) : n+1 : n+1]
			} else {
				h[key] = append(vs, value)
			}
		} else {
			backing = append(backing, value)
			h[key] = backing[len(backing)-1 : len(backing) : len(backing)]
			addField(&p.fields, key)
		}
		p.field(m, key, value, o)
	}
	if fields == 0 {
		return spans, ErrNoHeader
	}
	m.Header = h
	return spans, nil
}

// trimValueInPlace returns unfoldInPlace(bytes.TrimSpace(v)) for the value
// of a field on one line, which ends in a line break and usually begins
// with one space: it trims those bytes first and calls TrimSpace only for
// the rest.
func trimValueInPlace(v []byte) []byte {
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
		v = bytes.TrimSpace(v)
	} else if c := v[len(v)-1]; c <= ' ' || c >= 0x80 {
		v = bytes.TrimSpace(v)
	}
	if bytes.IndexByte(v, '\r') >= 0 {
		return unfoldInPlace(v) // a bare CR inside, which unfolding removes
	}
	return v
}

// unfoldInPlace removes the line breaks (CR and LF) of a trimmed, folded
// value (RFC 5322 §2.2.3), moving the rest down over them, and returns the
// shortened value, a prefix of v.
func unfoldInPlace(v []byte) []byte {
	i := indexCRLF(v)
	if i < 0 {
		return v
	}
	w := i
	for r := i + 1; r < len(v); {
		j := indexCRLF(v[r:])
		if j < 0 {
			w += copy(v[w:], v[r:])
			break
		}
		w += copy(v[w:], v[r:r+j])
		r += j + 1
	}
	return v[:w]
}

// canonicalizeName reports whether name is a valid field name (1 to 200
// bytes of printable ASCII without ':') and rewrites it in place to its
// canonical form, as textproto.CanonicalMIMEHeaderKey writes it: a name
// that is a token gets its first letter and every letter after '-' upper
// case and the others lower case; any other name is left as it is.
func canonicalizeName(name []byte) bool {
	if len(name) == 0 || len(name) > 200 {
		return false
	}
	upper, canon, token := true, true, true
	for _, c := range name {
		switch nameByte[c] {
		case nameInvalid:
			return false
		case nameLower:
			canon = canon && !upper
			upper = false
		case nameUpper:
			canon = canon && upper
			upper = false
		case nameToken:
			upper = c == '-'
		default: // nameOther
			token, upper = false, false
		}
	}
	if canon || !token {
		return true
	}
	upper = true
	for i, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		name[i] = c
		upper = c == '-'
	}
	return true
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

// indexCRLF returns the index of the first CR or LF in v, or -1: two
// vectorized scans, where bytes.IndexAny tests byte by byte.
func indexCRLF(v []byte) int {
	i := bytes.IndexByte(v, '\n')
	if i < 0 {
		return bytes.IndexByte(v, '\r')
	}
	if j := bytes.IndexByte(v[:i], '\r'); j >= 0 {
		return j
	}
	return i
}
