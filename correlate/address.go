package correlate

import (
	"errors"
	"net/mail"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/internal/rfc5322"
)

// errSalvaged reports an address list net/mail refused, of which only some
// addresses could be recovered.
var errSalvaged = errors.New("malformed address list; recognizable addresses kept")

// addresses parses an address list field. Simple lists (the vast majority:
// "a@b", "Name <a@b>", separated by commas) take a fast path; anything else
// goes to net/mail, and when net/mail refuses the list each element is
// salvaged on its own.
func (p *parser) addresses(field, value string) []Address {
	if value == "" {
		return nil
	}
	if list, ok := fastAddressList(value); ok {
		return list
	}
	ap := mail.AddressParser{WordDecoder: &p.decoder().WordDecoder}
	parsed, err := ap.ParseList(value)
	if err == nil {
		out := make([]Address, len(parsed))
		for i, a := range parsed {
			out[i] = *a
		}
		return out
	}
	if strings.TrimSpace(strings.Trim(value, ",;")) == "" || isEmptyGroup(value) {
		return nil
	}
	// Parse element by element: RFC 5322's obsolete syntax allows empty
	// elements ("a@x, , b@y,") that net/mail refuses, and one broken element
	// must not cost the others.
	var out []Address
	salvaged := false
	for _, part := range splitAddressList(value) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if a, err := ap.Parse(part); err == nil {
			out = append(out, *a)
			continue
		}
		salvaged = true
		if a, ok := salvageAddress(part); ok {
			out = append(out, a)
		}
	}
	if salvaged {
		p.add(field, value, errSalvaged)
	}
	return out
}

// isEmptyGroup reports "undisclosed-recipients:;" and friends.
func isEmptyGroup(v string) bool {
	v = strings.TrimSpace(v)
	return strings.HasSuffix(v, ":;") && !strings.Contains(v, "@")
}

// splitAddressList splits at commas that are outside quotes, comments and
// angle brackets.
func splitAddressList(s string) []string {
	var parts []string
	depth, angle, quoted := 0, false, false
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case (c == ',' || c == ';') && depth == 0 && !angle:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// salvageAddress recovers the address of an element net/mail refused: the
// text between the last angle brackets if it holds an '@', else the first word
// with an '@' in it. The display name is what comes before the '<', unquoted.
func salvageAddress(s string) (Address, bool) {
	if lt := strings.LastIndexByte(s, '<'); lt >= 0 {
		if gt := strings.IndexByte(s[lt:], '>'); gt > 0 {
			addr := strings.TrimSpace(s[lt+1 : lt+gt])
			if strings.Contains(addr, "@") && !strings.ContainsAny(addr, " \t<>") {
				name := strings.Trim(strings.TrimSpace(s[:lt]), `"' `)
				return Address{Name: name, Address: addr}, true
			}
		}
	}
	for _, w := range strings.Fields(s) {
		w = strings.Trim(w, `<>()"',;[]`)
		if at := strings.IndexByte(w, '@'); at > 0 && at < len(w)-1 {
			return Address{Address: w}, true
		}
	}
	return Address{}, false
}

// fastAddressList parses lists made only of "local@domain" and
// "Display Name <local@domain>" elements with atom-only names and dot-atom
// addresses. It reports ok=false for anything else (quotes, comments,
// encoded words, groups, non-ASCII), which then goes to net/mail; for the
// lists it accepts it gives the same result as net/mail.
func fastAddressList(s string) ([]Address, bool) {
	n := 1
	quoted := false
	var commas [16]int // where the list splits, for the first elements
	for i := 0; i < len(s); i++ {
		switch addrByte[s[i]] {
		case addrPlain:
		case addrReject:
			return nil, false
		case addrQuote:
			quoted = !quoted
		case addrComma:
			if !quoted {
				if n <= len(commas) {
					commas[n-1] = i
				}
				n++
			}
		case addrSpecial: // ( ) : ; [ ]: comments, groups, domain literals
			if !quoted {
				return nil, false
			}
		case addrEquals:
			if !quoted && i+1 < len(s) && s[i+1] == '?' {
				return nil, false // an encoded word: net/mail decodes it
			}
		}
	}
	if quoted {
		return nil, false
	}
	out := make([]Address, 0, n)
	for k, off := 0, 0; len(s) > 0; k++ {
		// The next comma: found by the scan above for the first elements.
		i := -1
		switch {
		case k < n-1 && k < len(commas):
			i = commas[k] - off
		case k >= len(commas):
			i = unquotedComma(s)
		}
		var part string
		if i >= 0 {
			part, s, off = s[:i], s[i+1:], off+i+1
		} else {
			part, s = s, ""
		}
		part = strings.TrimSpace(part)
		if part == "" {
			if len(out) == 0 && s == "" {
				return nil, false
			}
			continue // net/mail tolerates empty list elements
		}
		var a Address
		switch lt := strings.IndexByte(part, '<'); {
		case part[0] == '"':
			// "Display Name" <addr>: one quoted string, then the address.
			end := strings.IndexByte(part[1:], '"') + 1
			rest := strings.TrimLeft(part[end+1:], " \t")
			if len(rest) < 2 || rest[0] != '<' || rest[len(rest)-1] != '>' || !isAddrSpec(rest[1:len(rest)-1]) {
				return nil, false
			}
			a = Address{Name: part[1:end], Address: rest[1 : len(rest)-1]}
		case strings.IndexByte(part, '"') >= 0:
			return nil, false
		case lt >= 0:
			if part[len(part)-1] != '>' {
				return nil, false
			}
			addr := part[lt+1 : len(part)-1]
			name := strings.TrimSpace(part[:lt])
			if !isAddrSpec(addr) || !isPhrase(name) {
				return nil, false
			}
			a = Address{Name: collapseSpaces(name), Address: addr}
		default:
			if !isAddrSpec(part) {
				return nil, false
			}
			a = Address{Address: part}
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, false
	}
	return out, true
}

// addrByte classifies the bytes of an address list for fastAddressList.
var addrByte = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 0x7f || c < ' ' && c != '\t', c == '\\': // quoted pairs too: net/mail
			t[c] = addrReject
		case c == '"':
			t[c] = addrQuote
		case c == ',':
			t[c] = addrComma
		case c == '(' || c == ')' || c == ':' || c == ';' || c == '[' || c == ']':
			t[c] = addrSpecial
		case c == '=':
			t[c] = addrEquals
		}
	}
	return t
}()

const (
	addrPlain = iota
	addrReject
	addrQuote
	addrComma
	addrSpecial
	addrEquals
)

// unquotedComma returns the index of the first comma of s outside double
// quotes, or -1.
func unquotedComma(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// isAddrSpec reports a dot-atom "local@domain" with an atom-only local part
// and a domain of dot-separated atoms.
func isAddrSpec(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	return rfc5322.IsDotAtom(s[:at]) && rfc5322.IsDotAtom(s[at+1:])
}

// isPhrase reports a display name made of atoms separated by spaces (or an
// empty one). net/mail accepts "." in a phrase only in obsolete syntax;
// those lists are left to it.
func isPhrase(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && !rfc5322.IsAtext(c) {
			return false
		}
	}
	return true
}

// collapseSpaces joins the words of a phrase with single spaces, as
// net/mail does; a phrase already so written comes back as it is.
func collapseSpaces(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\t' || s[i] == ' ' && i+1 < len(s) && s[i+1] == ' ' {
			return strings.Join(strings.Fields(s), " ")
		}
	}
	return s
}
