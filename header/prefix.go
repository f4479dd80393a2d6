package header

import (
	"strings"
	"unicode/utf8"
)

// This file is a small stand-in for the subject package: just enough
// prefix handling for Options.IsForward and Options.SubjectKey when the
// caller supplies neither. It allocates nothing.

type prefixKind uint8

const (
	notPrefix prefixKind = iota
	replyPrefix
	forwardPrefix
	listTag
)

// classify returns the kind of a prefix word (the text before the colon).
// VS is a reply (Finnish "Vastaus") although Danish uses it for forwards:
// treating it as a forward would skip Finnish replies under SkipForwards.
func classify(w string) prefixKind {
	var buf [24]byte
	if len(w) == 0 || len(w) > len(buf) {
		return notPrefix
	}
	b := buf[:len(w)]
	for i := 0; i < len(w); i++ {
		c := w[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	switch string(b) {
	case "re", "aw", "sv", "vs", "antw", "r", "rif", "res", "resp", "odp", "ynt",
		"回复", "答复", "回覆", "回復", "返信", "회신", "답장", "답신", "απ", "ΑΠ", "σχετ", "ΣΧΕΤ":
		return replyPrefix
	case "fwd", "fw", "wg", "tr", "trans", "rv", "i", "enc", "vb", "vl", "doorst", "pd", "ilt", "İlt",
		"转发", "轉寄", "轉發", "転送", "전달", "πρθ", "ΠΡΘ":
		return forwardPrefix
	}
	return notPrefix
}

// nextPrefix reads one leading prefix of s ("Re:", "AW[2]:", "回复：", a
// "[list]" tag or a "[fwd: …]" wrapper) and returns its kind and the rest of
// s. It returns notPrefix and s unchanged when s does not start with one.
func nextPrefix(s string) (prefixKind, string) {
	s = trimLeftWS(s)
	if s == "" {
		return notPrefix, s
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 || end > 128 {
			return notPrefix, s
		}
		if len(s) >= 5 && strings.EqualFold(s[1:5], "fwd:") {
			return forwardPrefix, s[5:strings.LastIndexByte(s, ']')] // the wrapped subject
		}
		return listTag, s[end+1:]
	}
	// The word: up to a colon, a counter or white space.
	i := 0
	for i < len(s) && i <= 24 {
		c := s[i]
		if c == ':' || c == '[' || c == '(' || c == '^' || c == ' ' || c == '\t' || strings.HasPrefix(s[i:], "：") {
			break
		}
		i++
	}
	if i == 0 || i > 24 {
		return notPrefix, s
	}
	word, rest := s[:i], s[i:]
	// An optional counter: [n], (n) or ^n.
	if rest != "" && (rest[0] == '[' || rest[0] == '(' || rest[0] == '^') {
		j := 1
		for j < len(rest) && j < 8 && '0' <= rest[j] && rest[j] <= '9' {
			j++
		}
		switch {
		case rest[0] == '^' && j > 1:
			rest = rest[j:]
		case rest[0] == '[' && j < len(rest) && rest[j] == ']':
			rest = rest[j+1:]
		case rest[0] == '(' && j < len(rest) && rest[j] == ')':
			rest = rest[j+1:]
		default:
			return notPrefix, s
		}
	}
	rest = trimLeftWS(rest)
	switch {
	case strings.HasPrefix(rest, ":"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "："):
		rest = rest[len("："):]
	default:
		return notPrefix, s
	}
	k := classify(word)
	if k == notPrefix {
		return notPrefix, s
	}
	return k, rest
}

// builtinIsForward reports whether the outermost reply or forward prefix of
// subject (after list tags) is a forward, or the subject ends in "(fwd)".
// "Re: Fwd: x" is a reply to a forward, not a forward.
func builtinIsForward(subject string) bool {
	t := trimRightWS(subject)
	if len(t) >= 5 && strings.EqualFold(t[len(t)-5:], "(fwd)") {
		return true
	}
	s := subject
	for range 16 {
		k, rest := nextPrefix(s)
		switch k {
		case forwardPrefix:
			return true
		case replyPrefix, notPrefix:
			return false
		}
		s = rest
	}
	return false
}

// baseSubject strips list tags, reply and forward prefixes and a "(fwd)"
// trailer from s, without allocating.
func baseSubject(s string) string {
	for range 32 {
		k, rest := nextPrefix(s)
		if k == notPrefix {
			break
		}
		s = rest
	}
	s = trimRightWS(trimLeftWS(s))
	for len(s) >= 5 && strings.EqualFold(s[len(s)-5:], "(fwd)") {
		s = trimRightWS(s[:len(s)-5])
	}
	return s
}

// equalBase reports whether a and b have the same base subject, compared
// without regard to case and to runs of white space.
func equalBase(a, b string) bool {
	a, b = baseSubject(a), baseSubject(b)
	for {
		a, b = trimLeftWS(a), trimLeftWS(b)
		if a == "" || b == "" {
			return a == b
		}
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb && !strings.EqualFold(a[:na], b[:nb]) {
			return false
		}
		a, b = a[na:], b[nb:]
		// A run of white space on one side must meet one on the other.
		sa, sb := startsSpace(a), startsSpace(b)
		if sa != sb {
			return false
		}
	}
}

func startsSpace(s string) bool { return s != "" && (s[0] == ' ' || s[0] == '\t') }

// trimLeftWS and trimRightWS remove spaces and tabs (strings.Trim with a
// cut set builds a table on every call).
func trimLeftWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

func trimRightWS(s string) string {
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
