package submit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// foldAt is the line length the Subject field is folded to when it can be
// (RFC 5322's 78 characters).
const foldAt = 78

// cleanSubject returns the form of a decoded subject a token is stamped on:
// valid UTF-8, control characters (an encoded word can carry a line break)
// turned into spaces, leading and trailing white space removed.
func cleanSubject(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexFunc(s, isControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if isControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// subjectField returns the Subject field that makes a reader decode the
// subject want, which ends with " "+tok when tok is not "". orig is the
// message's Subject field (nil when it has none) and decoded the subject
// read from it; name is the field name to write.
//
// It prefers, in order:
//
//  1. the original field with " "+tok appended, when want is exactly the
//     original subject and the token: the field keeps its bytes, encoded
//     words and folding (what a DKIM signer or a person sees is unchanged
//     but for the token);
//  2. want as plain text, folded at spaces, when it is printable ASCII and
//     holds no "=?" that a reader could take for an encoded word;
//  3. want in RFC 2047 encoded words (UTF-8, base64, at most 75
//     characters each, one per line, whole characters in each), with the
//     token as plain text after them, so it stays visible to the mail
//     programs that show a subject undecoded.
//
// Each candidate is decoded again with correlate.ParseMessage, the parser
// the customer's reply is read with, and used only when it gives back want.
func subjectField(orig *field, decoded, want, tok, nl string) ([]byte, error) {
	name := "Subject"
	if orig != nil {
		name = orig.name
	}
	if orig != nil && tok != "" && want == strings.TrimRightFunc(decoded, unicode.IsSpace)+" "+tok {
		v := bytes.TrimRight(orig.value(), " \t\r\n")
		b := make([]byte, 0, len(name)+1+len(v)+len(nl)+1+len(tok)+len(nl))
		b = append(b, name...)
		b = append(b, ':')
		b = append(b, v...)
		last := len(b) - (bytes.LastIndexByte(b, '\n') + 1)
		if last+1+len(tok) > foldAt {
			b = append(b, nl...)
		}
		b = append(b, ' ')
		b = append(b, tok...)
		b = append(b, nl...)
		if decodeSubject(b) == want {
			return b, nil
		}
	}
	if plainText(want) {
		if b := plainSubject(name, want, nl); decodeSubject(b) == want {
			return b, nil
		}
	}
	b := encodedSubject(name, want, tok, nl)
	if got := decodeSubject(b); got != want {
		return nil, errors.New("submit: the subject cannot be written so that it reads back the same")
	}
	return b, nil
}

// plainText reports whether s can be written as it is: printable ASCII
// without "=?".
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return !strings.Contains(s, "=?")
}

// plainSubject writes name: s, folded before a run of spaces where a line
// would pass foldAt characters.
func plainSubject(name, s, nl string) []byte {
	b := make([]byte, 0, len(name)+2+len(s)+4*len(nl))
	b = append(b, name...)
	b = append(b, ": "...)
	line := len(b)
	first := true
	for len(s) > 0 {
		// One segment: a run of spaces and the word after it.
		i := 0
		for i < len(s) && s[i] == ' ' {
			i++
		}
		j := strings.IndexByte(s[i:], ' ')
		if j < 0 {
			j = len(s)
		} else {
			j += i
		}
		seg := s[:j]
		s = s[j:]
		if !first && i > 0 && line+len(seg) > foldAt {
			b = append(b, nl...)
			line = 0
		}
		b = append(b, seg...)
		line += len(seg)
		first = false
	}
	return append(b, nl...)
}

// encodedWordBytes is how many bytes of text one encoded word carries:
// "=?UTF-8?B?" + 52 base64 characters + "?=" is 64 characters, which fits
// after "Subject: " within foldAt.
const encodedWordBytes = 39

// encodedSubject writes want as encoded words, one per line; when want ends
// with " "+tok, the token follows as plain text.
func encodedSubject(name, want, tok, nl string) []byte {
	text, tail := want, ""
	if tok != "" && strings.HasSuffix(want, " "+tok) {
		text, tail = want[:len(want)-len(tok)-1], tok
	} else if tok != "" && want == tok {
		text, tail = "", tok
	}
	b := make([]byte, 0, len(name)+2+2*len(want)+64)
	b = append(b, name...)
	b = append(b, ':')
	for len(text) > 0 {
		n := min(len(text), encodedWordBytes)
		for n < len(text) && n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		if n == 0 { // cannot happen with valid UTF-8; never loop forever
			n = min(len(text), encodedWordBytes)
		}
		if len(b) > len(name)+1 {
			b = append(b, nl...)
		}
		b = append(b, " =?UTF-8?B?"...)
		b = base64.StdEncoding.AppendEncode(b, []byte(text[:n]))
		b = append(b, "?="...)
		text = text[n:]
	}
	if tail != "" {
		if len(b) > len(name)+1 {
			b = append(b, nl...)
		}
		b = append(b, ' ')
		b = append(b, tail...)
	}
	return append(b, nl...)
}

// decodeSubject returns the subject a reader decodes from the Subject field
// b, "" when it cannot read one.
func decodeSubject(b []byte) string {
	m, _ := correlate.ParseMessage(bytes.NewReader(b), nil)
	if m == nil {
		return ""
	}
	return m.Subject
}
