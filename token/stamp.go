package token

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Stamp returns subject with tok appended after one space, as Dynamics
// stamps outgoing mail: "Printer offline CRM:0001001".
//
// The result is at most maxLen long (maxLen <= 0 means
// DefaultMaxSubjectLen, 255). When subject and token do not fit, the subject
// is shortened, never the token, at a character boundary, so no UTF-8
// sequence is split; white space left at the cut is dropped. Lengths are
// counted in UTF-16 code units, the way Exchange and .NET count a subject's
// length: one per character except for characters outside the Basic
// Multilingual Plane (emoji, rare CJK), which count two. Counting so keeps a
// stamped subject within the limit of the servers Dynamics talks to, which
// would otherwise cut the token off the end.
//
// A subject that already ends with tok (in any case) is not stamped twice:
// the token is moved to the end of the shortened subject. A token longer
// than maxLen is an error wrapping ErrTooLong; as Dynamics does, the subject
// is then returned shortened to maxLen without a token. A tok that is empty,
// holds white space or control characters, or is not valid UTF-8 is an error
// wrapping ErrSyntax, returned with the subject unchanged.
func Stamp(subject, tok string, maxLen int) (string, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxSubjectLen
	}
	if tok == "" || !utf8.ValidString(tok) || strings.IndexFunc(tok, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		return subject, fmt.Errorf("%w: cannot stamp %q", ErrSyntax, truncate(tok, 64))
	}
	subject = strings.TrimRightFunc(subject, unicode.IsSpace)
	if n := len(subject) - len(tok); n >= 0 && utf8.RuneStart(subject[n]) && strings.EqualFold(subject[n:], tok) {
		if r, _ := utf8.DecodeLastRuneInString(subject[:n]); n == 0 || unicode.IsSpace(r) {
			subject = strings.TrimRightFunc(subject[:n], unicode.IsSpace)
		}
	}
	tl := lenUTF16(tok)
	if tl > maxLen {
		return strings.TrimRightFunc(cutUTF16(subject, maxLen), unicode.IsSpace),
			fmt.Errorf("%w: %d characters, limit %d", ErrTooLong, tl, maxLen)
	}
	if room := maxLen - tl - 1; lenUTF16(subject) > room {
		subject = strings.TrimRightFunc(cutUTF16(subject, max(room, 0)), unicode.IsSpace)
	}
	if subject == "" {
		return tok, nil
	}
	return subject + " " + tok, nil
}

// lenUTF16 returns the length of s in UTF-16 code units; an invalid byte
// counts one, as its replacement character would.
func lenUTF16(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n++
		if r > 0xFFFF {
			n++
		}
		i += size
	}
	return n
}

// cutUTF16 returns the longest prefix of s, ending on a character boundary,
// whose length is at most limit UTF-16 code units.
func cutUTF16(s string, limit int) string {
	n := 0
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		w := 1
		if r > 0xFFFF {
			w = 2
		}
		if n+w > limit {
			return s[:i]
		}
		n += w
		i += size
	}
	return s
}
