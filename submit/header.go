package submit

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// The relay rewrites a message's header block itself rather than with
// go-message's textproto: that package keeps the raw bytes of the fields it
// does not touch, but it normalizes bare-LF line endings to CRLF, refuses
// header blocks with a line that is not a field (which must be relayed as
// they are, not refused), writes a field it sets at the top of the header
// with its own folding and no RFC 2047 encoding. Here every field the relay
// does not change is copied byte for byte, in place, with its own line
// ending; only Subject, Message-ID and X-CRM-Regarding are written anew, and
// the body is never read into the rewriter at all.

// errHeaderTooLarge reports a header block longer than the relay's bound.
var errHeaderTooLarge = errors.New("submit: header block too large")

// readHeaderBlock reads the header block of a message from br: every line up
// to and including the blank line that ends it (sep, "\r\n" or "\n"; nil when
// the message ends without one, so it has no body). A message that starts
// with a blank line has an empty block. Reading stops with errHeaderTooLarge
// once the block passes max bytes; read errors of br are returned as they
// are (the SMTP layer's "message too large" among them), with the lines read
// so far.
func readHeaderBlock(br *bufio.Reader, max int) (block, sep []byte, err error) {
	var buf []byte
	for {
		start := len(buf)
		for {
			chunk, err := br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if len(buf) > max {
				return buf[:start], nil, errHeaderTooLarge
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				return buf, nil, nil
			}
			if err != nil {
				return buf, nil, err
			}
			break
		}
		if line := buf[start:]; len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			return buf[:start], line, nil
		}
	}
}

// A field is one header field as written: its name ("" for a line that is
// not a field, which is kept as it is) and its raw bytes, continuation lines
// and line endings included.
type field struct {
	name string
	raw  []byte
}

// value returns the raw value of f: the bytes after the colon, folding and
// final line ending included.
func (f field) value() []byte {
	i := bytes.IndexByte(f.raw, ':')
	if i < 0 {
		return nil
	}
	return f.raw[i+1:]
}

// is reports whether f is the field name (case-insensitive).
func (f field) is(name string) bool { return strings.EqualFold(f.name, name) }

// splitFields splits a header block (without its separator line) into
// fields, by the rules correlate.ParseMessage reads them with: a field is a
// line and the lines after it that begin with a space or a tab; its name is
// what precedes the first colon, trailing blanks removed, when that is a
// valid field name (printable ASCII without colon, at most 200 bytes).
func splitFields(block []byte) []field {
	fields := make([]field, 0, 24)
	for len(block) > 0 {
		end := 0
		for {
			nl := bytes.IndexByte(block[end:], '\n')
			if nl < 0 {
				end = len(block)
				break
			}
			end += nl + 1
			if end >= len(block) || (block[end] != ' ' && block[end] != '\t') {
				break
			}
		}
		raw := block[:end:end]
		block = block[end:]
		name := ""
		if colon := bytes.IndexByte(raw, ':'); colon > 0 {
			if n := strings.TrimRight(string(raw[:colon]), " \t"); validFieldName(n) {
				name = n
			}
		}
		fields = append(fields, field{name: name, raw: raw})
	}
	return fields
}

func validFieldName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// lineEnding returns the line ending the block uses: that of its first line,
// "\r\n" when it has none.
func lineEnding(block, sep []byte) string {
	if i := bytes.IndexByte(block, '\n'); i >= 0 {
		if i > 0 && block[i-1] == '\r' {
			return "\r\n"
		}
		return "\n"
	}
	if len(sep) == 1 {
		return "\n"
	}
	return "\r\n"
}

// An edit says what rewriteHeader changes.
type edit struct {
	// subject, when not nil, replaces the first Subject field (or is added
	// when there is none); further Subject fields are dropped.
	subject []byte
	// messageID, when not "", replaces the first Message-ID field (or is
	// added at the end); further Message-ID fields are dropped.
	messageID string
	// dropRegarding removes every X-CRM-Regarding field.
	dropRegarding bool
}

// rewriteHeader appends to dst the header block with e applied and returns
// the extended slice. Every field e does not name is copied byte for byte in
// its place; a replaced field keeps its place and the spelling of its name;
// an added field goes at the end, before the separator. nl is the line
// ending of new fields.
func rewriteHeader(dst []byte, fields []field, e *edit, nl string) []byte {
	put := func(b []byte) {
		if n := len(dst); n > 0 && dst[n-1] != '\n' {
			// The block's last line had no line ending (a message without
			// a body): what follows goes on a line of its own.
			if dst[n-1] == '\r' && nl == "\r\n" {
				dst = append(dst, '\n')
			} else {
				dst = append(dst, nl...)
			}
		}
		dst = append(dst, b...)
	}
	subjectDone, idDone := e.subject == nil, e.messageID == ""
	for _, f := range fields {
		switch {
		case f.name == "":
			put(f.raw)
		case e.dropRegarding && f.is(RegardingField):
		case e.subject != nil && f.is("Subject"):
			if !subjectDone {
				put(e.subject)
				subjectDone = true
			}
		case e.messageID != "" && f.is("Message-ID"):
			if !idDone {
				put(fieldBytes(f.name, e.messageID, nl))
				idDone = true
			}
		default:
			put(f.raw)
		}
	}
	if !subjectDone {
		put(e.subject)
	}
	if !idDone {
		put(fieldBytes("Message-ID", e.messageID, nl))
	}
	return dst
}

func fieldBytes(name, value, nl string) []byte {
	b := make([]byte, 0, len(name)+2+len(value)+len(nl))
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, nl...)
}
