package correlate

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

const (
	maxMIMEDepth = 5
	maxMIMEParts = 100
)

func newBase64Reader(b []byte) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, bytes.NewReader(b))
}

func newQPReader(r io.Reader) io.Reader { return quotedprintable.NewReader(r) }

// extractText returns the first text/plain part of a body, decoded to UTF-8,
// or "" when there is none. Problems (bad MIME structure, unknown charset)
// are recorded; what could be read is kept.
func (p *parser) extractText(h mail.Header, body []byte) string {
	text, err := findText(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), body, 0)
	if err != nil {
		p.add("Content-Type", h.Get("Content-Type"), err)
	}
	return text
}

func findText(contentType, cte string, body []byte, depth int) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "text/plain", nil
	}
	if err != nil {
		if mt == "" {
			// Unreadable Content-Type: RFC 2045 says treat as text/plain.
			mt = "text/plain"
		}
		err = fmt.Errorf("content type: %w", err)
	}
	switch {
	case mt == "text/plain":
		text, problem := decodeCharset(params["charset"], decodeTransfer(cte, body))
		if problem != "" && err == nil {
			err = errors.New(problem)
		}
		return text, err
	case strings.HasPrefix(mt, "multipart/") && depth < maxMIMEDepth:
		boundary := params["boundary"]
		if boundary == "" {
			return "", errors.New("multipart without boundary")
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for i := 0; i < maxMIMEParts; i++ {
			part, perr := mr.NextRawPart()
			if perr == io.EOF {
				return "", err
			}
			if perr != nil {
				return "", fmt.Errorf("multipart: %w", perr)
			}
			if disp, _, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition")); disp == "attachment" {
				continue
			}
			pb, rerr := io.ReadAll(part)
			if rerr != nil && len(pb) == 0 {
				return "", fmt.Errorf("multipart: %w", rerr)
			}
			ct := part.Header.Get("Content-Type")
			if ct == "" {
				ct = "text/plain" // RFC 2046 §5.1: default part type
			}
			if pmt, _, _ := mime.ParseMediaType(ct); pmt != "text/plain" && !strings.HasPrefix(pmt, "multipart/") {
				continue
			}
			text, terr := findText(ct, part.Header.Get("Content-Transfer-Encoding"), pb, depth+1)
			if text != "" {
				return text, terr
			}
		}
		return "", err
	}
	return "", err
}
