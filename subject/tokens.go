package subject

import "strings"

// Tracking-token-like text is recognized, not interpreted: package token owns
// token formats. A "run" is a maximal sequence of ASCII letters, digits and
// the characters # : - _ . ; a run (without trailing : . - _) looks like a
// token when it is
//
//   - a number after '#', optionally after letters or digits: "#123",
//     "Ticket#2023120110000015" (OTRS, Zammad, RT, osTicket, Freshdesk);
//   - a word that starts with a letter, then ':' or '-', then at least three
//     digits, then anything: "CRM:0001001" (Dynamics), "CAS-01042-Z8X4K5",
//     "JIRA-123", "CVE-2002-1234";
//   - "ref:…:ref" (Salesforce Email-to-Case thread ids).

// isRunByte reports whether c can be part of a token run.
func isRunByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '#', ':', '-', '_', '.':
		return true
	}
	return false
}

func isLetterByte(c byte) bool { return 'A' <= c&^0x20 && c&^0x20 <= 'Z' }
func isDigitByte(c byte) bool  { return '0' <= c && c <= '9' }
func isAlnumByte(c byte) bool  { return isLetterByte(c) || isDigitByte(c) }

// trimRun removes trailing punctuation that ends a sentence or a prefix.
func trimRun(t string) string {
	for len(t) > 0 {
		switch t[len(t)-1] {
		case ':', '.', '-', '_':
			t = t[:len(t)-1]
			continue
		}
		break
	}
	return t
}

// isTokenRun reports whether the trimmed run t looks like a tracking token.
func isTokenRun(t string) bool {
	if len(t) < 2 {
		return false
	}
	if len(t) >= 10 && equalFoldASCII(t[:4], "ref:") && equalFoldASCII(t[len(t)-4:], ":ref") {
		return true
	}
	// [alnum]*#digits
	for p := 0; p < len(t); p++ {
		c := t[p]
		if c == '#' {
			if p+1 == len(t) {
				return false
			}
			for q := p + 1; q < len(t); q++ {
				if !isDigitByte(t[q]) {
					return false
				}
			}
			return true
		}
		if !isAlnumByte(c) {
			break
		}
	}
	// letter alnum* (':' | '-') digit digit digit …
	if !isLetterByte(t[0]) {
		return false
	}
	for p := 1; p < len(t); p++ {
		c := t[p]
		if c == ':' || c == '-' {
			return len(t)-p > 3 && isDigitByte(t[p+1]) && isDigitByte(t[p+2]) && isDigitByte(t[p+3])
		}
		if !isAlnumByte(c) {
			return false
		}
	}
	return false
}

// tokenLikeBlob reports whether the content of a [blob] contains a token.
func tokenLikeBlob(inner string) bool {
	found := false
	eachRun(inner, func(t string) bool {
		found = isTokenRun(t)
		return !found
	})
	return found
}

// appendTokens appends the token-like runs of s to dst, each once.
func appendTokens(dst []string, s string) []string {
	eachRun(s, func(t string) bool {
		if !isTokenRun(t) {
			return true
		}
		for _, x := range dst {
			if x == t {
				return true
			}
		}
		dst = append(dst, t)
		return true
	})
	return dst
}

// eachRun calls f with every trimmed run of s that contains '#', ':' or '-'
// (the others cannot be tokens) until f returns false.
func eachRun(s string, f func(string) bool) {
	for pos := 0; pos < len(s); {
		k := strings.IndexAny(s[pos:], "#:-")
		if k < 0 {
			return
		}
		k += pos
		i := k
		for i > pos && isRunByte(s[i-1]) {
			i--
		}
		j := k + 1
		for j < len(s) && isRunByte(s[j]) {
			j++
		}
		if t := trimRun(s[i:j]); len(t) >= 2 && !f(t) {
			return
		}
		pos = j
	}
}
