package guard

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"strconv"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// Bounds on the body a bounce is read from: a hostile body cannot make the
// Classifier do more than this.
const (
	maxMIMEDepth = 6
	maxMIMEParts = 64
)

// reportType returns the media type of a Content-Type value and its
// report-type parameter, both in lower case; "" when unreadable.
func reportType(ct string) (mediaType, report string) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil && mt == "" {
		return "", ""
	}
	return mt, strings.ToLower(params["report-type"])
}

// bounce classifies m as a Bounce and reads what its body returns.
func (c *Classifier) bounce(m *correlate.Message, s *signals) correlate.Classification {
	var r report
	if len(m.Body) > 0 {
		r.walk(first(m, hContentType), first(m, hContentTransfer), m.Body, 0)
		if r.original == nil && r.text != nil {
			r.scanText(r.text)
		}
	}
	var reason string
	switch {
	case s.dsn != "":
		reason = "delivery status notification (multipart/report; report-type=delivery-status)"
	case s.ndrHeader != "":
		reason = "Exchange non-delivery report (X-MS-Exchange-Message-Is-Ndr)"
	case s.daemon.Field != "":
		reason = "sent by a mail system (" + clip(s.daemon.Value) + ")"
	default:
		reason = "empty Return-Path and no sign of an automatic reply"
	}
	if r.action != "" {
		reason += ", Action " + r.action
		if r.status != "" {
			reason += " " + r.status
		}
	}
	if r.original != nil {
		reason += "; returns " + r.from
		if r.original.MessageID != "" {
			reason += " <" + clip(r.original.MessageID) + ">"
		}
	} else if len(m.Body) == 0 {
		r.evidence = append(r.evidence, correlate.Evidence{Field: "body", Note: "not kept (ParseOptions.KeepBody): the returned message cannot be read"})
	} else {
		r.evidence = append(r.evidence, correlate.Evidence{Field: "body", Note: "no returned message or header block found"})
	}
	cl := s.classification(Bounce, reason, r.evidence)
	if o := r.original; o != nil {
		// The returned message is the one this mailbox sent.
		o.Mailbox, o.FolderID, o.FolderPath = m.Mailbox, m.FolderID, m.FolderPath
		o.Direction = correlate.Outgoing
		cl.Original = o
	}
	return cl
}

// report is what the body of a bounce says.
type report struct {
	original *correlate.Message
	from     string // the part it came from
	headers  bool   // original holds only a header block (a full message may still come)
	text     []byte // the first text/plain part, for plain-text bounces
	action   string
	status   string
	parts    int
	evidence []correlate.Evidence
}

func (r *report) note(field, value, note string) {
	if len(r.evidence) < 16 {
		r.evidence = append(r.evidence, correlate.Evidence{Field: field, Value: clip(value), Note: note})
	}
}

// walk visits one MIME entity.
func (r *report) walk(ct, cte string, body []byte, depth int) {
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		mt = "text/plain"
	case err != nil && mt == "":
		return
	}
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		r.deliveryStatus(decodeTransfer(cte, body))
	case "message/rfc822", "message/global":
		if r.original == nil || r.headers {
			r.returned(decodeTransfer(cte, body), mt, false)
		}
	case "text/rfc822-headers", "message/rfc822-headers", "message/global-headers":
		if r.original == nil {
			r.returned(decodeTransfer(cte, body), mt, true)
		}
	case "text/plain":
		if r.text == nil {
			r.text = decodeTransfer(cte, body)
		}
	default:
		if !strings.HasPrefix(mt, "multipart/") {
			return
		}
		if depth >= maxMIMEDepth {
			r.note("Content-Type", ct, "MIME nesting too deep; not read further")
			return
		}
		boundary := params["boundary"]
		if boundary == "" {
			r.note("Content-Type", ct, "multipart without boundary")
			return
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for r.parts < maxMIMEParts {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				if r.original == nil {
					r.note("body", err.Error(), "unreadable MIME structure")
				}
				return
			}
			r.parts++
			pb, err := io.ReadAll(p)
			if err != nil && len(pb) == 0 {
				continue
			}
			r.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), pb, depth+1)
		}
	}
}

// returned parses a returned message or header block.
func (r *report) returned(b []byte, mt string, headersOnly bool) {
	o, _ := correlate.ParseMessage(bytes.NewReader(b), nil)
	if o == nil || (o.MessageID == "" && o.Subject == "" && len(o.From) == 0 && len(o.InReplyTo) == 0 && len(o.References) == 0) {
		r.note("Content-Type", mt, "returned part holds no readable header")
		return
	}
	r.original, r.from, r.headers = o, mt, headersOnly
	r.note("Content-Type", mt, "returned "+map[bool]string{false: "message", true: "header block"}[headersOnly]+" of <"+clip(o.MessageID)+">")
}

// deliveryStatus reads the fields of an RFC 3464 delivery-status part: the
// per-message block, then one block per recipient.
func (r *report) deliveryStatus(b []byte) {
	recipients := 0
	var final, diag string
	for line := range strings.Lines(string(b)) {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue // continuation lines add nothing the evidence needs
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "final-recipient":
			recipients++
			if final == "" {
				final = value
			}
		case "action":
			if r.action == "" {
				r.action = strings.ToLower(value)
			}
		case "status":
			if r.status == "" {
				r.status = value
			}
		case "diagnostic-code":
			if diag == "" {
				diag = value
			}
		}
	}
	if final != "" {
		note := "recipient the report is about"
		if recipients > 1 {
			note += " (first of " + strconv.Itoa(recipients) + ")"
		}
		r.note("Final-Recipient", final, note)
	}
	if r.action != "" {
		note := "delivery failed"
		switch keyword(r.action) {
		case "delayed":
			note = "a delay warning: delivery is still being tried"
		case "delivered", "relayed", "expanded":
			note = "a success notice"
		}
		r.note("Action", r.action, note)
	}
	if r.status != "" {
		note := "status code"
		switch {
		case strings.HasPrefix(r.status, "5"):
			note = "permanent failure"
		case strings.HasPrefix(r.status, "4"):
			note = "temporary failure"
		case strings.HasPrefix(r.status, "2"):
			note = "success"
		}
		r.note("Status", r.status, note)
	}
	if diag != "" {
		r.note("Diagnostic-Code", diag, "what the remote server said")
	}
}

// scanText finds the header block a plain-text bounce quotes (qmail's
// "Below this line is a copy of the message.", Exim's "This is a copy of
// the message, including all the headers."): the lines around the first
// Message-ID field that look like header fields.
func (r *report) scanText(text []byte) {
	lower := bytes.ToLower(text)
	at := -1
	for i := 0; i < len(lower); {
		j := bytes.Index(lower[i:], []byte("message-id:"))
		if j < 0 {
			break
		}
		j += i
		if j == 0 || lower[j-1] == '\n' {
			at = j
			break
		}
		i = j + 1
	}
	if at < 0 {
		return
	}
	start := at
	for start > 0 {
		prevEnd := start - 1 // the '\n' ending the previous line
		prevStart := bytes.LastIndexByte(text[:prevEnd], '\n') + 1
		line := bytes.TrimRight(text[prevStart:prevEnd], "\r")
		if !headerLike(line) {
			break
		}
		start = prevStart
	}
	o, _ := correlate.ParseMessage(bytes.NewReader(text[start:]), nil)
	if o == nil || o.MessageID == "" {
		return
	}
	r.original, r.from = o, "quoted header block"
	r.note("body", "Message-ID: <"+clip(o.MessageID)+">", "header block of the returned message, quoted in the text")
}

// headerLike reports a header field line or a continuation line.
func headerLike(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	if line[0] == ' ' || line[0] == '\t' {
		return true
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || colon > 76 {
		return false
	}
	for _, c := range line[:colon] {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// decodeTransfer undoes a Content-Transfer-Encoding; unknown encodings and
// undecodable input come back as they are (what was decoded, for base64).
func decodeTransfer(cte string, b []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := make([]byte, 0, len(b))
		for _, c := range b {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				clean = append(clean, c)
			}
		}
		clean = bytes.TrimRight(clean, "=")
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
		if err != nil && len(out) == 0 {
			return b
		}
		return out
	}
	return b
}
