package submit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// A plan is what the relay does with one message.
type plan struct {
	// header is the header block to relay, separator line included; body,
	// when not nil, the whole body, read before relaying (a message without
	// a Message-ID, whose id is derived from its content).
	header []byte
	body   []byte
	// track asks for tracked and keys to be stored before relaying.
	track   bool
	tracked correlate.Tracked
	keys    []correlate.Key
	// retry reports that an earlier attempt tracked the message (the
	// client is sending it again): it is relayed as it was, not tracked.
	retry bool
	// id is the normalized Message-ID relayed ("" when the message has
	// none and is relayed untouched); claimed is the id claimed while the
	// message is relayed (see Relay.claim), "" when none was.
	id      string
	claimed string

	record correlate.Record
	method correlate.Method
	token  string
	reason string // why the message is relayed untouched, for the log
}

// SMTP replies of the relay's own refusals.
var (
	errAuthRequired  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errEncryptFirst  = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11}, Message: "Encryption required: use STARTTLS before AUTH"}
	errTooManyAuth   = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed authentication attempts; closing connection"}
	errAuthTemporary = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}
	errHeaderSize    = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Header block too large"}
	errNoHeader      = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "The message has no header fields"}
	errTrackFailed   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not file the message in the CRM; it was not sent, try again later"}
	errInFlight      = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "The same message is being sent on another connection; try again later"}
	errNoUpstream    = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 1}, Message: "Upstream server unavailable; try again later"}
	errShuttingDown  = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down; try again later"}
	errLongLine      = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 4, 0}, Message: "Line too long"}
	errReadFailed    = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Reading the message failed; it was not sent"}
)

func badRegarding(format string, args ...any) error {
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: RegardingField + ": " + fmt.Sprintf(format, args...)}
}

func senderRefused(user, from string) error {
	return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: fmt.Sprintf("Sender <%s> not allowed for user %s", truncate(from, 100), truncate(user, 100))}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// prepare reads a message's header block (and, for a message without a
// Message-ID, its body) and decides what to relay and track. Its errors
// are SMTP replies for the client.
func (r *Relay) prepare(ctx context.Context, u *User, br *bufio.Reader) (*plan, error) {
	block, sep, err := readHeaderBlock(br, r.o.MaxHeaderBytes)
	if err != nil {
		return nil, readError(err)
	}
	fields := splitFields(block)
	nl := lineEnding(block, sep)
	m, _ := correlate.ParseMessage(bytes.NewReader(block), &correlate.ParseOptions{MaxHeaderBytes: -1})
	if m == nil {
		return nil, errNoHeader
	}
	m.Direction = correlate.Outgoing
	m.Mailbox = u.Name
	p := &plan{}
	if m.MessageID == "" {
		// The id the message gets is derived from its content, so that a
		// retry of it gets the same: the content is needed first.
		body, err := io.ReadAll(br)
		if err != nil {
			return nil, readError(err)
		}
		p.body = body
		m.Body = body
	}

	// The record: named by the client, else the engine's decision.
	match, hasExplicit, track, err := r.record(ctx, u, m, p)
	if err != nil {
		return nil, err
	}
	edit := edit{dropRegarding: hasExplicit}
	if !track {
		p.header = append(rewriteHeader(make([]byte, 0, len(block)+len(sep)), fields, &edit, nl), sep...)
		p.id = m.MessageID
		return p, nil
	}
	p.record, p.method = match.Record, match.Method

	// The Message-ID: a signed one for a message filed under a record,
	// unless it has one of ours for that record already; the client's
	// otherwise; one derived from the content when it has none.
	id := r.messageID(u, m, match.Record) // with angle brackets, when replaced
	p.id = m.MessageID
	alias := ""
	if id != "" {
		p.id = correlate.NormalizeMessageID(id)
		edit.messageID = id
		alias = m.MessageID
	}
	if !r.claim(p.id) {
		return nil, errInFlight
	}
	p.claimed = p.id

	// A retry of a message an earlier attempt tracked is relayed as it was.
	prev, err := r.previous(ctx, u, p.id, alias)
	if err != nil {
		r.log.Error("submit: looking up the message failed", "user", u.Name, "message_id", p.id, "err", err)
		return p, errTrackFailed
	}
	var tok string
	want := m.Subject
	if prev != nil {
		p.retry, p.id, p.record, p.method, p.token = true, prev.MessageID, prev.Record, prev.Method, prev.Token
		if edit.messageID != "" {
			edit.messageID = "<" + prev.MessageID + ">"
		}
		want, tok = prev.Subject, prev.Token
	} else if r.o.Tokens != nil && u.TokenUser > 0 {
		t, err := r.o.Tokens.Next(ctx, u.TokenUser)
		if err != nil {
			r.log.Error("submit: issuing a token failed", "user", u.Name, "err", err)
			return p, errTrackFailed
		}
		want, tok, err = stampSubject(r.format, m.Subject, t.String(), r.o.MaxSubjectLen)
		if err != nil {
			// A token longer than the limit: the subject is cut to the
			// limit and goes without a token, as in Dynamics.
			r.log.Warn("submit: no token stamped", "user", u.Name, "err", err)
		}
		p.token = tok
	}
	if want != m.Subject || tok != "" {
		edit.subject, err = subjectEdit(fields, m.Subject, want, tok, nl)
		if err != nil {
			r.log.Error("submit: writing the subject failed", "user", u.Name, "err", err)
			return p, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "The subject cannot be rewritten"}
		}
	}
	p.header = append(rewriteHeader(make([]byte, 0, len(block)+len(sep)+256), fields, &edit, nl), sep...)
	if p.retry {
		return p, nil
	}

	// What is tracked: the message as relayed.
	m.Subject = want
	m.MessageID = p.id
	r.tracking(p, m, match, tok, alias)
	return p, nil
}

// record decides the record m is filed under: the one the client names
// (hasExplicit), else the engine's decision. track is false, with
// p.reason saying why, when the message is relayed without tracking. Its
// errors are SMTP replies for the client.
func (r *Relay) record(ctx context.Context, u *User, m *correlate.Message, p *plan) (match correlate.Match, hasExplicit, track bool, err error) {
	explicit, hasExplicit, err := regarding(m)
	if err != nil {
		return match, false, false, err
	}
	track = true
	if hasExplicit {
		return correlate.Match{Record: explicit}, true, true, nil
	}
	d, err := r.engine.Correlate(ctx, m)
	if err != nil {
		r.log.Error("submit: correlating failed", "user", u.Name, "message_id", m.MessageID, "err", err)
		return match, false, false, errTrackFailed
	}
	switch {
	case d.NoTrack != "":
		track, p.reason = false, d.NoTrack
	case d.Found():
		match = d.Match
	case r.o.SkipUnregarded:
		track, p.reason = false, "no record (SkipUnregarded)"
	}
	return match, false, track, nil
}

// messageID returns the Message-ID, with angle brackets, that replaces
// m's when m is filed under rec, or "" to keep m's: a signed one unless m
// has one of ours for rec already, and one derived from the content when m
// has none.
func (r *Relay) messageID(u *User, m *correlate.Message, rec correlate.Record) string {
	basis := m.MessageID
	if basis == "" {
		basis = r.contentID(u, m)
	}
	var id string
	if len(r.o.IDKeys) > 0 && !rec.IsZero() {
		got, err := header.VerifyMessageID(m.MessageID, r.o.IDKeys)
		if m.MessageID == "" || err != nil || got != rec {
			id, err = header.NewMessageID(rec, r.o.Domain, r.o.IDKeys, &header.IDOptions{Rand: r.nonce(u, basis, rec)})
			if err != nil {
				// A record too long for a Message-ID: keep the client's.
				r.log.Warn("submit: no signed Message-ID", "record", rec.String(), "err", err)
				id = ""
			}
		}
	}
	if id == "" && m.MessageID == "" {
		id = "<" + basis + ">"
	}
	return id
}

// tracking sets what p tracks: m (as relayed) filed under match, its keys
// with the stamped token tok and the client's own Message-ID alias ("" for
// none).
func (r *Relay) tracking(p *plan, m *correlate.Message, match correlate.Match, tok, alias string) {
	p.tracked, p.keys = r.engine.Prepare(m, match)
	if tok != "" && p.tracked.Token == "" {
		// The engine has no token strategy: index the token anyway, so an
		// engine that has one finds it.
		p.tracked.Token = tok
		if t, err := r.format.Parse(tok); err == nil {
			p.keys = append(p.keys, t.Key())
		}
	}
	if alias != "" {
		// The client's own id (in the copy its mail program keeps in Sent
		// Items) names the email too.
		p.keys = append(p.keys, correlate.MessageIDKey(alias))
	}
	p.track = true
}

// stampSubject returns the subject to relay: subject, cleaned (see
// cleanSubject) and without the tokens of f it carries (a reply carries the
// token of the email it answers; this email gets its own), with tok stamped
// within maxLen by token.Stamp; and the token stamped. When tok is longer
// than maxLen the subject is cut to maxLen, no token is stamped (stamped is
// "") and the error says so.
func stampSubject(f token.Format, subject, tok string, maxLen int) (want, stamped string, err error) {
	base := cleanSubject(subject)
	if len(f.Find(base)) > 0 {
		base = f.Strip(base)
	}
	want, err = token.Stamp(base, tok, maxLen)
	if err != nil {
		return want, "", err
	}
	return want, tok, nil
}

// subjectEdit returns the Subject field for want (see subjectField), from
// the first Subject field of fields.
func subjectEdit(fields []field, decoded, want, tok, nl string) ([]byte, error) {
	var orig *field
	for i := range fields {
		if fields[i].is("Subject") {
			orig = &fields[i]
			break
		}
	}
	return subjectField(orig, decoded, want, tok, nl)
}

// regarding reads the record the client names in X-CRM-Regarding.
func regarding(m *correlate.Message) (correlate.Record, bool, error) {
	vs := m.Header[regardingKey]
	if len(vs) == 0 {
		return correlate.Record{}, false, nil
	}
	var rec correlate.Record
	dec := mime.WordDecoder{}
	for i, v := range vs {
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		x, err := correlate.ParseRecord(v)
		if err != nil {
			return rec, true, badRegarding("%q is not type:id", truncate(v, 100))
		}
		if x.IsZero() {
			return rec, true, badRegarding("empty; name a record as type:id")
		}
		if i > 0 && x != rec {
			return rec, true, badRegarding("names both %s and %s", truncate(rec.String(), 100), truncate(x.String(), 100))
		}
		rec = x
	}
	return rec, true, nil
}

// regardingKey is RegardingField in the canonical form of
// correlate.Message.Header keys.
const regardingKey = "X-Crm-Regarding"

// previous returns the tracked email an earlier attempt stored for this
// message, nil when there is none. When the relay replaces the client's
// Message-ID (alias), every email it tracks carries the client's id as an
// index key too, so the client's id finds an earlier attempt of this user
// whatever id that attempt gave the message; otherwise the message keeps
// its id, and the id finds it.
func (r *Relay) previous(ctx context.Context, u *User, id, alias string) (*correlate.Tracked, error) {
	key := id
	if alias != "" {
		key = alias
	}
	ts, err := r.st.Lookup(ctx, correlate.MessageIDKey(key), correlate.Query{Limit: 8})
	if err != nil {
		return nil, err
	}
	for i := range ts {
		t := &ts[i]
		if alias == "" && t.MessageID == id {
			return t, nil
		}
		if alias != "" && t.MessageID != alias && t.Direction == correlate.Outgoing && t.Mailbox == u.Name {
			return t, nil
		}
	}
	return nil, nil
}

var lowerBase32 = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// contentID returns the Message-ID (without angle brackets) given to a
// message that has none: derived from the user and the message's content
// (correlate.FingerprintID: every header field and the body), so a retry
// of the same message gets the same id.
func (r *Relay) contentID(u *User, m *correlate.Message) string {
	h := sha256.New()
	h.Write([]byte("mailcorrelate/submit/id/v1\x00"))
	h.Write([]byte(u.Name))
	h.Write([]byte{0})
	h.Write([]byte(correlate.FingerprintID(m)))
	sum := h.Sum(nil)
	return "mcs." + lowerBase32.EncodeToString(sum[:16]) + "@" + strings.ToLower(r.o.Domain)
}

// nonce returns the random source of a signed Message-ID: bytes derived
// from the user, the message's own id (or content id) and the record, so a
// retry of the same message gets the same signed id.
func (r *Relay) nonce(u *User, basis string, rec correlate.Record) io.Reader {
	h := sha256.New()
	h.Write([]byte("mailcorrelate/submit/nonce/v1\x00"))
	h.Write([]byte(u.Name))
	h.Write([]byte{0})
	h.Write([]byte(basis))
	h.Write([]byte{0})
	h.Write([]byte(rec.Type))
	h.Write([]byte{0})
	h.Write([]byte(rec.ID))
	return bytes.NewReader(h.Sum(nil))
}

// readError returns the reply for an error reading the client's message.
func readError(err error) error {
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &se):
		return se // the SMTP layer's own: the message is too large
	case errors.Is(err, errHeaderTooLarge):
		return errHeaderSize
	case errors.Is(err, smtp.ErrTooLongLine):
		return errLongLine
	}
	return errReadFailed
}
