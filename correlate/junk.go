package correlate

import "strings"

// Why an id cannot name another email of a message's conversation (see
// [JunkID]). The texts appear in Evidence notes and parse problems; they
// may change.
const (
	JunkEmpty     = "empty id"
	JunkNoAt      = "no '@': a placeholder such as <yes>, not a Message-ID"
	JunkNoLocal   = "empty part before '@'"
	JunkNoDomain  = "empty part after '@'"
	JunkMalformed = "white space, angle bracket or control character inside"
	JunkTooLong   = "longer than 998 bytes"
	JunkSelf      = "the message's own Message-ID"
	JunkAddress   = "an email address of this message, not a Message-ID"
)

// JunkID reports why id cannot name another email of m's conversation, or
// "" when it can. id is compared in the form of [NormalizeMessageID]:
// case-sensitive local part, case-insensitive domain, as RFC 5322 intends
// (a domain is case-insensitive everywhere; the local part is the
// generator's business, and some generators use case).
//
// The rules, each seen in real mail:
//
//   - JunkNoAt: no '@' — git send-email users answering "yes" to its
//     In-Reply-To prompt wrote <yes> into the headers of whole patch series
//     (lkml corpus), fusing unrelated threads in every program that trusts
//     it; other placeholders ("<no>", "<1>", "<none>", "<>") are caught the
//     same way;
//   - JunkNoLocal, JunkNoDomain, JunkMalformed, JunkTooLong: not an id;
//   - JunkSelf: a message listing its own id (self-references, loops);
//   - JunkAddress: nmh and exmh write "In-Reply-To: Message from Name
//     <name@example.com> of <date>", so the bracketed text is the address of
//     the person answered (spamassassin-ham corpus); an id equal to an
//     address in From, Sender, Reply-To, To or Cc (compared without regard
//     to case) is dropped.
//
// A nil m checks only the form of id. [ParseMessage] applies these rules to
// In-Reply-To and References once, dropping what they reject (see
// [Message.LookupIDs] and [Message.DroppedIDs]).
//
// JunkID allocates nothing and reads id once when it is already normal
// printable ASCII, as ParseMessage leaves nearly every id.
func JunkID(id string, m *Message) string {
	id, r := normalizeAndCheck(id)
	if r != "" {
		return r
	}
	if m != nil {
		if id == normalizeID(m.MessageID) {
			return JunkSelf
		}
		if isAddressOf(id, m) {
			return JunkAddress
		}
	}
	return ""
}

// idByte classifies the bytes of a Message-ID for normalizeID and
// normalizeAndCheck: idPlain needs nothing, idAt is '@', idUpper an ASCII
// capital, idOdd anything that needs NormalizeMessageID or junkForm (white
// space, control characters, angle brackets, DEL, bytes beyond ASCII).
var idByte = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c <= ' ' || c == '<' || c == '>' || c >= 0x7f:
			t[c] = idOdd
		case c == '@':
			t[c] = idAt
		case 'A' <= c && c <= 'Z':
			t[c] = idUpper
		}
	}
	return t
}()

const (
	idPlain = iota
	idAt
	idUpper
	idOdd
)

// normalizeID returns NormalizeMessageID(id), without its work when id is
// already normal (as ParseMessage leaves every id): one pass over the bytes.
func normalizeID(id string) string {
	at := -1
	upper := false // an upper-case letter after the last '@'
	for i := 0; i < len(id); i++ {
		switch idByte[id[i]] {
		case idPlain:
		case idAt:
			at, upper = i, false
		case idUpper:
			upper = upper || at >= 0
		default:
			if id[i] == 0x7f {
				continue // DEL is kept as it is
			}
			return NormalizeMessageID(id)
		}
	}
	if upper {
		return NormalizeMessageID(id)
	}
	return id
}

// normalizeAndCheck returns normalizeID(raw) and junkForm of it, in one pass
// over the bytes when raw is already normal and made of printable ASCII (as
// ParseMessage leaves nearly every id).
func normalizeAndCheck(raw string) (id, junk string) {
	at := -1
	upper := false // an upper-case letter after the last '@'
	for i := 0; i < len(raw); i++ {
		switch idByte[raw[i]] {
		case idPlain:
		case idAt:
			at, upper = i, false
		case idUpper:
			upper = upper || at >= 0
		default:
			id = normalizeID(raw)
			return id, junkForm(id)
		}
	}
	if upper {
		id = normalizeID(raw)
		return id, junkForm(id)
	}
	switch {
	case raw == "":
		return raw, JunkEmpty
	case len(raw) > maxIDLen:
		return raw, JunkTooLong
	case at < 0:
		return raw, JunkNoAt
	case at == 0:
		return raw, JunkNoLocal
	case at == len(raw)-1:
		return raw, JunkNoDomain
	}
	return raw, ""
}

// junkForm checks the form of a normalized id.
func junkForm(id string) string {
	if id == "" {
		return JunkEmpty
	}
	if len(id) > maxIDLen {
		return JunkTooLong
	}
	at := strings.LastIndexByte(id, '@')
	switch {
	case at < 0:
		return JunkNoAt
	case at == 0:
		return JunkNoLocal
	case at == len(id)-1:
		return JunkNoDomain
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c == '<' || c == '>' || c == 0x7f {
			return JunkMalformed
		}
	}
	return ""
}

// isAddressOf reports whether id equals an address of m.
func isAddressOf(id string, m *Message) bool {
	if strings.EqualFold(id, m.Sender.Address) {
		return true
	}
	for _, list := range [...][]Address{m.From, m.ReplyTo, m.To, m.Cc} {
		for _, a := range list {
			if strings.EqualFold(id, a.Address) {
				return true
			}
		}
	}
	return false
}

// phraseField reports whether the values of an id field hold text outside
// angle brackets: the RFC 822 "phrase" form of In-Reply-To that old mailers
// write ("Message from Name <name@example.com> of <date>" in nmh,
// "name@example.com's message of <date>" in Gnus). The ids of such a field
// may be addresses; they are looked up (an address never equals a tracked
// Message-ID) but never remembered as ancestors, where one address shared by
// every reply to a person would link unrelated threads (spamassassin-ham
// corpus).
func phraseField(vs []string) bool {
	for _, v := range vs {
		if plainIDList(v) {
			continue
		}
		depth := 0
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == '<':
				depth++
			case c == '>':
				if depth > 0 {
					depth--
				}
			case depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',':
				return true
			}
		}
	}
	return false
}

// plainIDList reports whether v is only bracketed ids without nested
// brackets, separated by white space and commas (as nearly every field is):
// then it holds no phrase. It skips each id with IndexByte.
func plainIDList(v string) bool {
	for i := 0; i < len(v); {
		switch v[i] {
		case ' ', '\t', '\r', '\n', ',':
			i++
		case '<':
			end := strings.IndexByte(v[i+1:], '>')
			if end < 0 || strings.IndexByte(v[i+1:i+1+end], '<') >= 0 {
				return false // unclosed or nested: let the full scan decide
			}
			i += end + 2
		default:
			return false
		}
	}
	return true
}
