package correlate

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
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
	readerPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8192) }}
	scratchPool = sync.Pool{New: func() any { return &headerScratch{buf: make([]byte, 0, 8192)} }}
)

// headerScratch is the reusable memory of one ParseMessage call: the
// header block as read, then rewritten in place, and its field spans.
type headerScratch struct {
	buf   []byte
	spans []fieldSpan
}

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
	var err error
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()

	sc := scratchPool.Get().(*headerScratch)
	defer func() {
		if cap(sc.buf) <= 256<<10 && cap(sc.spans) <= 4<<10 {
			scratchPool.Put(sc)
		}
	}()
	sc.buf, err = readHeaderBlock(br, o.MaxHeaderBytes, sc.buf)
	if err != nil {
		return nil, err
	}
	p := parser{}
	m := &Message{}
	sc.spans, err = p.parseHeader(m, sc.buf, sc.spans, &o)
	if err != nil {
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

// A parser is the state of one header being decoded: the problems found,
// and what the fields read say for the message's facts.
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

// add reports a problem with field, its value clipped to 120 bytes.
func (p *parser) add(field, value string, err error) {
	if len(value) > 120 {
		value = value[:120]
	}
	p.problems = append(p.problems, Problem{Field: field, Value: value, Err: err})
}

// decoder returns the encoded-word decoder, made on first use.
func (p *parser) decoder() *headerDecoder {
	if p.dec == nil {
		p.dec = newHeaderDecoder()
	}
	return p.dec
}

// text decodes the encoded words of an unstructured field value; the
// decoder is made only for a value that has some.
func (p *parser) text(s string) (string, string) {
	if !strings.Contains(s, "=?") {
		return plainText(s)
	}
	return p.decoder().text(s)
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
		s, problem := p.text(value)
		if problem != "" {
			p.add(key, value, errors.New(problem))
		}
		m.Subject = s
	case "Thread-Topic":
		if m.ThreadTopic != "" {
			return
		}
		s, problem := p.text(value)
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
