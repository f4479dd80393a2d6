package correlate

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// DefaultMaxHeaderBytes bounds the header ParseMessage reads when
// ParseOptions.MaxHeaderBytes is zero.
const DefaultMaxHeaderBytes = 1 << 20

// DefaultMaxBodyBytes bounds the body ParseMessage reads for
// ParseOptions.Text and ParseOptions.KeepBody when MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

var (
	// ErrNoHeader is returned by ParseMessage when the input has no header
	// field at all (empty input, or text that is not a message).
	ErrNoHeader = errors.New("correlate: no header fields")
	// ErrHeaderTooLarge is returned by ParseMessage when the header is longer
	// than ParseOptions.MaxHeaderBytes.
	ErrHeaderTooLarge = errors.New("correlate: header too large")
)

// ParseOptions tunes [ParseMessage]. A nil *ParseOptions is equivalent to the
// zero value, and zero fields mean the documented defaults.
type ParseOptions struct {
	// MaxHeaderBytes bounds the header block. 0 means DefaultMaxHeaderBytes
	// (1 MiB); -1 means no limit.
	MaxHeaderBytes int64
	// MaxReferences is how many References ids are kept, newest first.
	// 0 means DefaultMaxReferences (32); -1 keeps them all.
	MaxReferences int
	// Text asks ParseMessage to read the body and set Message.Text to the
	// first text/plain part, decoded to UTF-8.
	Text bool
	// KeepBody asks ParseMessage to keep the raw body in Message.Body.
	KeepBody bool
	// MaxBodyBytes bounds the body read for Text and KeepBody. 0 means
	// DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
}

// A Problem is one thing ParseMessage found wrong in a message it could
// still read.
type Problem struct {
	Field string // canonical field name ("Cc"), or "" for the header block
	Value string // the offending text, truncated to 120 bytes
	Err   error
}

func (p Problem) Error() string {
	if p.Field == "" {
		return p.Err.Error()
	}
	return p.Field + ": " + p.Err.Error()
}

func (p Problem) Unwrap() error { return p.Err }

// A ParseError lists the problems of a message that ParseMessage could read
// anyway; ParseMessage returns it together with the Message. Use [errors.As]
// to get at it and decide whether the message is good enough.
type ParseError struct {
	Problems []Problem
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("correlate: ")
	if len(e.Problems) == 1 {
		b.WriteString("1 problem in message: ")
	} else {
		fmt.Fprintf(&b, "%d problems in message: ", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems' errors, so errors.Is sees through a ParseError.
func (e *ParseError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p.Err
	}
	return errs
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8192) }}
	bufPool    = sync.Pool{New: func() any { b := make([]byte, 0, 8192); return &b }}
)

// ParseMessage reads an RFC 5322 message and returns the fields correlators
// use. It is lenient, as mail demands:
//
//   - a leading mbox "From " line is skipped;
//   - header lines that are not fields are skipped and reported;
//   - RFC 2047 encoded words are decoded in every charset of
//     golang.org/x/text (ISO-8859-*, windows-125x, KOI8-R, GB2312/GBK/GB18030,
//     Big5, Shift_JIS, ISO-2022-JP, EUC-KR …); undeclared 8-bit text that is
//     not UTF-8 is read as windows-1252;
//   - address lists are parsed with net/mail, and when a list is malformed
//     every address that can still be recognized is kept (a broken Cc never
//     loses the From);
//   - Message-ID lists are read by [ParseMessageIDs]; the ids of In-Reply-To
//     and References that cannot name an earlier email ([JunkID]) are
//     dropped and reported, as problems and in [Message.DroppedIDs];
//   - Thread-Index is base64-decoded, tolerating missing padding.
//
// When the message has problems, ParseMessage returns the Message it could
// read and a *[ParseError] listing them. It fails outright, with a nil
// Message, only when there is no header field at all ([ErrNoHeader]), when the
// header exceeds the size bound ([ErrHeaderTooLarge]) or when r fails. It
// never panics. The body is not read unless opts asks for it.
func ParseMessage(r io.Reader, opts *ParseOptions) (*Message, error) {
	var o ParseOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxReferences == 0 {
		o.MaxReferences = DefaultMaxReferences
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()

	raw, err := readHeaderBlock(br, o.MaxHeaderBytes)
	if err != nil {
		return nil, err
	}
	p := parser{}
	m := &Message{}
	if err := p.parseHeader(m, raw, &o); err != nil {
		return nil, err
	}
	m.own.build(m, &p)
	m.f = &m.own
	if o.Text || o.KeepBody {
		body, err := io.ReadAll(io.LimitReader(br, o.MaxBodyBytes))
		if err != nil {
			p.add("", "", fmt.Errorf("reading body: %w", err))
		}
		if o.KeepBody {
			m.Body = body
		}
		if o.Text {
			m.Text = p.extractText(m.Header, body)
		}
	}
	if len(p.problems) > 0 {
		return m, &ParseError{Problems: p.problems}
	}
	return m, nil
}

// readHeaderBlock returns the header lines up to (not including) the blank
// line that ends them, with a leading mbox "From " line removed. It reads
// what br has buffered in bulk, finding line ends with IndexByte, and never
// asks br for more than the current line needs, so a reader that delivers
// a message in pieces is not waited on beyond the header. The header, its
// blank line included, must not exceed max bytes (max < 0: no bound).
func readHeaderBlock(br *bufio.Reader, max int64) (string, error) {
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 256<<10 {
			*bp = buf[:0]
			bufPool.Put(bp)
		}
	}()
	if err := skipMboxLine(br, max); err != nil {
		return "", err
	}
	lineStart := true // the next byte begins a line
	crEOF := false    // a lone CR ends the input: it is text, not a line end
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if err != io.EOF {
					return "", fmt.Errorf("correlate: reading header: %w", err)
				}
				if len(buf) == 0 {
					return "", ErrNoHeader
				}
				return string(buf), nil
			}
		}
		data, _ := br.Peek(br.Buffered())
		i := 0 // data[:i] is read
		needMore := false
		for i < len(data) {
			if lineStart {
				switch {
				case data[i] == '\n':
					return endHeader(br, buf, data[:i], 1, max)
				case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
					return endHeader(br, buf, data[:i], 2, max)
				case data[i] == '\r' && i+1 == len(data) && !crEOF:
					needMore = true // is it "\r\n"? The next byte says.
				}
				if needMore {
					break
				}
			}
			j := bytes.IndexByte(data[i:], '\n')
			if j < 0 {
				i, lineStart = len(data), false
				break
			}
			i += j + 1
			lineStart = true
		}
		buf = append(buf, data[:i]...)
		if _, err := br.Discard(i); err != nil {
			return "", fmt.Errorf("correlate: reading header: %w", err)
		}
		if max >= 0 && int64(len(buf)) > max {
			return "", ErrHeaderTooLarge
		}
		if needMore {
			if _, err := br.Peek(2); err == io.EOF {
				crEOF = true
			} else if err != nil {
				return "", fmt.Errorf("correlate: reading header: %w", err)
			}
		}
	}
}

// endHeader ends the header at the blank line of n bytes that follows
// rest, the part of the last buffered bytes before it.
func endHeader(br *bufio.Reader, buf, rest []byte, n int, max int64) (string, error) {
	buf = append(buf, rest...)
	if max >= 0 && int64(len(buf)+n) > max {
		return "", ErrHeaderTooLarge
	}
	if len(buf) == 0 {
		return "", ErrNoHeader // blank line before any field
	}
	if _, err := br.Discard(len(rest) + n); err != nil {
		return "", fmt.Errorf("correlate: reading header: %w", err)
	}
	return string(buf), nil
}

// skipMboxLine reads past a leading mbox separator line ("From " and the
// rest of the line), if there is one; the line counts against max.
func skipMboxLine(br *bufio.Reader, max int64) error {
	if p, _ := br.Peek(5); string(p) != "From " {
		return nil
	}
	var n int64
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		if max >= 0 && n > max {
			return ErrHeaderTooLarge
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == nil, err == io.EOF:
			return nil
		}
		return fmt.Errorf("correlate: reading header: %w", err)
	}
}

// isMboxFromValue reports the value of an mbox separator line whose "From "
// some tool turned into "From:" ("list-admin@example.org  Fri Sep  6
// 11:34:24 2002"): an address, two spaces and an asctime date. Left in, it
// would read as a second From field.
//
// QUIRK: 1,110 files of the SpamAssassin ham corpus as stored by
// gatherstars-com/jwz carry such a line, first or after "Replied:" lines.
func isMboxFromValue(v string) bool {
	addr, date, ok := strings.Cut(v, "  ")
	if !ok || strings.ContainsAny(addr, " <>\"") || !strings.Contains(addr, "@") {
		return false
	}
	_, err := time.Parse("Mon Jan _2 15:04:05 2006", strings.TrimSpace(date))
	return err == nil
}

func isBlank(line []byte) bool {
	return len(line) == 0 || (len(line) == 1 && line[0] == '\n') || (len(line) == 2 && line[0] == '\r' && line[1] == '\n')
}

type parser struct {
	problems []Problem
	dec      *headerDecoder
	phrase   uint8     // factPhraseIRT, factPhraseRefs: what phraseField says of the fields read
	fields   [4]uint64 // the field names read, for facts.fields
}

// ids reads the ids of an id field, appending them to dst (a buffer of
// the caller's, which they are copied out of), and reports its problems.
func (p *parser) ids(dst []string, key, value string, max int) []string {
	ids, problems := appendMessageIDs(dst, value, max)
	if len(problems) > 0 {
		p.add(key, value, &idListError{Problems: problems})
	}
	return ids
}

func (p *parser) add(field, value string, err error) {
	if len(value) > 120 {
		value = value[:120]
	}
	p.problems = append(p.problems, Problem{Field: field, Value: value, Err: err})
}

func (p *parser) decoder() *headerDecoder {
	if p.dec == nil {
		p.dec = newHeaderDecoder()
	}
	return p.dec
}

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

// field decodes one field into m. Repeated single-valued fields keep their
// first occurrence, as net/mail's Header.Get does.
func (p *parser) field(m *Message, key, value string, o *ParseOptions) {
	switch key {
	case "Message-Id":
		if m.MessageID != "" {
			return
		}
		var buf [4]string
		ids := p.ids(buf[:0], key, value, 0)
		if len(ids) > 0 {
			m.MessageID = ids[0]
			if len(ids) > 1 {
				p.add(key, value, errors.New("more than one id; the first is used"))
			}
		}
	case "In-Reply-To":
		if phraseField([]string{value}) {
			p.phrase |= factPhraseIRT
		}
		if m.InReplyTo != nil {
			return
		}
		var buf [8]string
		if ids := p.ids(buf[:0], key, value, o.MaxReferences); len(ids) > 0 {
			m.InReplyTo = append([]string(nil), ids...)
		}
	case "References":
		if phraseField([]string{value}) {
			p.phrase |= factPhraseRefs
		}
		var buf [32]string
		read := p.ids(buf[:0], key, value, -1)
		// A second References field continues the first (seen with broken
		// list software); keep the order and the bound.
		refs := dedupe(append(m.References, read...))
		if o.MaxReferences > 0 && len(refs) > o.MaxReferences {
			refs = refs[len(refs)-o.MaxReferences:]
		}
		m.References = refs
	case "Subject":
		if m.Subject != "" {
			return
		}
		s, problem := p.decoder().text(value)
		if problem != "" {
			p.add(key, value, errors.New(problem))
		}
		m.Subject = s
	case "Thread-Topic":
		if m.ThreadTopic != "" {
			return
		}
		s, problem := p.decoder().text(value)
		if problem != "" {
			p.add(key, value, errors.New(problem))
		}
		m.ThreadTopic = s
	case "Thread-Index":
		if m.ThreadIndex != nil {
			return
		}
		b, err := decodeBase64Lenient(value)
		if err != nil {
			p.add(key, value, fmt.Errorf("not base64: %w", err))
		}
		if len(b) > 0 {
			m.ThreadIndex = b
		}
	case "Date":
		if !m.Date.IsZero() {
			return
		}
		t, err := parseDate(value)
		if err != nil {
			p.add(key, value, err)
			return
		}
		m.Date = t
	case "From":
		m.From = append(m.From, p.addresses(key, value)...)
	case "Sender":
		if m.Sender.Address != "" {
			return
		}
		if list := p.addresses(key, value); len(list) > 0 {
			m.Sender = list[0]
		}
	case "Reply-To":
		m.ReplyTo = append(m.ReplyTo, p.addresses(key, value)...)
	case "To":
		m.To = append(m.To, p.addresses(key, value)...)
	case "Cc":
		m.Cc = append(m.Cc, p.addresses(key, value)...)
	case "Bcc":
		m.Bcc = append(m.Bcc, p.addresses(key, value)...)
	}
}

// decodeBase64Lenient decodes base64 with or without padding, ignoring white
// space. On bad input it returns the bytes decoded before the error.
func decodeBase64Lenient(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	s = strings.TrimRight(s, "=")
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(s)))
	n, err := base64.RawStdEncoding.Decode(out, []byte(s))
	if err != nil {
		// Some writers use the URL alphabet.
		if n2, err2 := base64.RawURLEncoding.Decode(out, []byte(s)); err2 == nil {
			return out[:n2], nil
		}
	}
	return out[:n], err
}

// dateLayouts are formats seen in real mail that net/mail.ParseDate refuses.
var dateLayouts = [...]string{
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon, 2 Jan 2006 15:04:05",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339,
}

func parseDate(v string) (time.Time, error) {
	if t, ok := fastDate(v); ok {
		return t, nil
	}
	t, err := mail.ParseDate(v)
	if err == nil {
		return t, nil
	}
	s := strings.Join(strings.Fields(v), " ")
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	// "Thu, 22 Aug 2002 09:44:04 -0400 (EDT)" with odd comment spacing, or a
	// weekday with a trailing dot/comma, are the common failures.
	if i := strings.IndexByte(s, '('); i > 0 {
		if t, err2 := mail.ParseDate(strings.TrimSpace(s[:i])); err2 == nil {
			return t, nil
		}
	}
	for _, layout := range dateLayouts {
		if t, err2 := time.Parse(layout, s); err2 == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// fastDate reads the date form nearly all mail uses, "[Mon, ]2 Jan 2006
// 15:04[:05] -0700 [(comment)]", without net/mail's layout-by-layout
// attempts (which cost more than the rest of the header). Anything else
// reports ok=false and goes to net/mail.
func fastDate(s string) (time.Time, bool) {
	p := dateScanner{s: s}
	p.space()
	if len(p.s) >= 4 && p.s[3] == ',' { // day of week, not checked against the date
		p.s = p.s[4:]
		p.space()
	}
	day, ok := p.num(1, 2)
	if !ok || !p.space() {
		return time.Time{}, false
	}
	if len(p.s) < 3 {
		return time.Time{}, false
	}
	month := 0
	for i, name := range months {
		if strings.EqualFold(p.s[:3], name) {
			month = i + 1
			break
		}
	}
	p.s = p.s[3:]
	if month == 0 || !p.space() {
		return time.Time{}, false
	}
	year, ok := p.num(4, 4)
	if !ok || !p.space() {
		return time.Time{}, false
	}
	hour, ok1 := p.num(2, 2)
	ok2 := p.byte(':')
	minute, ok3 := p.num(2, 2)
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	sec := 0
	if p.byte(':') {
		if sec, ok = p.num(2, 2); !ok {
			return time.Time{}, false
		}
	}
	if !p.space() || len(p.s) < 5 || (p.s[0] != '+' && p.s[0] != '-') {
		return time.Time{}, false
	}
	sign := 1
	if p.s[0] == '-' {
		sign = -1
	}
	p.s = p.s[1:]
	zone, ok := p.num(4, 4)
	if !ok {
		return time.Time{}, false
	}
	p.space()
	if p.s != "" && p.s[0] != '(' { // only a trailing comment may follow
		return time.Time{}, false
	}
	if day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 || zone%100 > 59 {
		return time.Time{}, false
	}
	offset := sign * ((zone/100)*3600 + (zone%100)*60)
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.FixedZone("", offset))
	if t.Day() != day { // 31 Feb and friends
		return time.Time{}, false
	}
	return t, true
}

type dateScanner struct{ s string }

// space skips white space and reports whether there was any.
func (p *dateScanner) space() bool {
	n := 0
	for n < len(p.s) && (p.s[n] == ' ' || p.s[n] == '\t') {
		n++
	}
	p.s = p.s[n:]
	return n > 0
}

func (p *dateScanner) byte(c byte) bool {
	if len(p.s) > 0 && p.s[0] == c {
		p.s = p.s[1:]
		return true
	}
	return false
}

// num reads min to max decimal digits.
func (p *dateScanner) num(min, max int) (int, bool) {
	n, v := 0, 0
	for n < len(p.s) && n < max && '0' <= p.s[n] && p.s[n] <= '9' {
		v = v*10 + int(p.s[n]-'0')
		n++
	}
	if n < min {
		return 0, false
	}
	p.s = p.s[n:]
	return v, true
}
