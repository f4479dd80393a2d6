package correlate

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/transform"
)

// lookupCharset returns the decoder for a MIME charset name, or nil when the
// name is unknown. WHATWG labels come first (they map the names mail programs
// really write: "gb2312" reads as GBK, "iso-8859-1" and "us-ascii" as
// windows-1252, "ks_c_5601-1987" as EUC-KR), then the IANA registry for the
// rest (ISO-8859-11, IBM code pages …).
func lookupCharset(name string) encoding.Encoding {
	name = strings.TrimSpace(name)
	if i := strings.IndexByte(name, '*'); i >= 0 { // RFC 2231 language suffix: "utf-8*en"
		name = name[:i]
	}
	if e, err := htmlindex.Get(name); err == nil && e != nil {
		return e
	}
	if e, err := ianaindex.MIME.Encoding(name); err == nil && e != nil {
		return e
	}
	switch strings.ToLower(name) {
	case "cp1252", "win-1252":
		return charmap.Windows1252
	case "gb18030-2000", "x-gbk", "cp936", "eucgb2312_cn", "euc-cn", "x-euc-cn", "gb_2312-80":
		e, _ := htmlindex.Get("gb18030")
		return e
	}
	return nil
}

// fallbackText turns bytes of unknown encoding into UTF-8: kept as they are
// when they already are valid UTF-8, else read as windows-1252, the encoding
// undeclared 8-bit mail is most often in.
func fallbackText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}

// decodeCharset converts b from the named charset to UTF-8. It never fails:
// with an unknown charset, or bytes invalid in the declared one, it falls back
// to [fallbackText] and describes that in problem.
func decodeCharset(name string, b []byte) (s string, problem string) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		if utf8.Valid(b) {
			return string(b), ""
		}
		return fallbackText(b), "text is not valid " + nameOr(name, "UTF-8") + "; read as windows-1252"
	}
	e := lookupCharset(name)
	if e == nil {
		return fallbackText(b), "unknown charset " + name + "; read as windows-1252"
	}
	out, err := e.NewDecoder().Bytes(b)
	if err != nil {
		return fallbackText(b), "text is not valid " + name + "; read as windows-1252"
	}
	return string(out), ""
}

func nameOr(name, def string) string {
	if strings.TrimSpace(name) == "" {
		return def
	}
	return name
}

// headerDecoder decodes RFC 2047 encoded words in any charset x/text knows and
// remembers the charsets it did not know.
type headerDecoder struct {
	mime.WordDecoder
	unknown []string
}

func newHeaderDecoder() *headerDecoder {
	d := &headerDecoder{}
	d.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		if e := lookupCharset(charset); e != nil {
			return transform.NewReader(input, e.NewDecoder()), nil
		}
		d.unknown = append(d.unknown, charset)
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		return strings.NewReader(fallbackText(b)), nil
	}
	return d
}

// text decodes one unstructured header value (Subject, Thread-Topic) to
// UTF-8. It never fails: what cannot be decoded is kept as written (invalid
// bytes replaced by U+FFFD) and described by the returned problem, "" when
// there was none.
func (d *headerDecoder) text(s string) (string, string) {
	if !strings.Contains(s, "=?") {
		return plainText(s)
	}
	d.unknown = d.unknown[:0]
	out, err := d.DecodeHeader(s)
	if err != nil {
		return fallbackText([]byte(s)), "encoded words: " + err.Error()
	}
	problem := ""
	if len(d.unknown) > 0 {
		problem = "unknown charset " + strings.Join(d.unknown, ", ") + "; read as windows-1252"
	}
	if !utf8.ValidString(out) {
		out = strings.ToValidUTF8(out, "\uFFFD")
		if problem == "" {
			problem = "encoded words decode to invalid UTF-8"
		}
	}
	return out, problem
}

// plainText is headerDecoder.text for s without encoded words: s itself
// when it is UTF-8, its windows-1252 reading otherwise.
func plainText(s string) (string, string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return fallbackText([]byte(s)), "8-bit text is not UTF-8; read as windows-1252"
}

// decodeTransfer undoes a Content-Transfer-Encoding, leniently: bad base64 or
// quoted-printable yields what could be decoded.
func decodeTransfer(cte string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				clean = append(clean, c)
			}
		}
		out, _ := io.ReadAll(newBase64Reader(clean))
		return out
	case "quoted-printable":
		out, _ := io.ReadAll(newQPReader(bytes.NewReader(body)))
		return out
	}
	return body
}
