package subject

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A prefixEntry is one row of a built-in prefix table: the prefix as mail
// programs write it and where it comes from.
type prefixEntry struct {
	text string
	lang string
}

// replyPrefixes are the built-in reply prefixes of Extended mode. Sources:
// RFC 5256, the peer survey's table of localized prefixes (Wikipedia's list of
// e-mail subject abbreviations, Outlook, Thunderbird, MailCore2, neomutt), and
// real list mail.
var replyPrefixes = []prefixEntry{
	{"Re", "English, Latin; also French, Spanish and most Outlook locales (RFC 5256)"},
	{"AW", "German (Antwort)"},
	{"Antwort", "German (Lotus Notes)"},
	{"Antw", "Dutch (Antwoord)"},
	{"SV", "Danish, Norwegian, Swedish (Svar)"},
	{"Svar", "Norwegian, Swedish"},
	{"Ref", "French (Référence)"},
	{"Réf", "French (Référence)"},
	{"Réf.", "French (Référence)"},
	{"Rép", "French (Réponse)"},
	{"Rép.", "French (Réponse)"},
	{"R", "Italian (Outlook: Risposta)"},
	{"RIF", "Italian (Riferimento)"},
	{"RES", "Portuguese (Resposta)"},
	{"Resp", "Portuguese (Resposta)"},
	{"Odp", "Polish, Czech (Odpowiedź, Odpověď)"},
	{"YNT", "Turkish (Yanıt)"},
	{"ΑΠ", "Greek (Απάντηση)"},
	{"ΣΧΕΤ", "Greek (Σχετικό)"},
	{"תגובה", "Hebrew"},
	{"رد", "Arabic"},
	{"Ответ", "Russian"},
	{"回复", "Chinese, simplified"},
	{"答复", "Chinese, simplified"},
	{"回覆", "Chinese, traditional"},
	{"回復", "Chinese, traditional"},
	{"返信", "Japanese"},
	{"회신", "Korean"},
	{"답장", "Korean"},
	{"답신", "Korean"},
	// QUIRK: unencoded GBK subjects read as ISO-8859-1 turn 回复 and 答复
	// into these (seen on the USRP-users list).
	{"»Ø¸´", "回复 in GBK read as ISO-8859-1"},
	{"´ð¸´", "答复 in GBK read as ISO-8859-1"},
}

// forwardPrefixes are the built-in forward prefixes of Extended mode.
var forwardPrefixes = []prefixEntry{
	{"Fwd", "English (RFC 5256)"},
	{"Fw", "English (RFC 5256)"},
	{"WG", "German (Weitergeleitet)"},
	{"Weitergeleitet", "German"},
	{"Doorst", "Dutch (Doorsturen)"},
	// QUIRK: Finnish Outlook writes VS (Vastaus) for replies; Danish and
	// Norwegian write it for forwards (Videresendt). Forward wins; Finnish
	// users can move it with Options.ExtraReplyPrefixes.
	{"VS", "Danish, Norwegian (Videresendt)"},
	{"VB", "Swedish (Vidarebefordrat)"},
	{"VL", "Finnish (Välitetty)"},
	{"TR", "French (Transfert)"},
	{"Trans", "French (Transfert)"},
	{"I", "Italian (Inoltro)"},
	{"RV", "Spanish (Reenviado)"},
	{"ENC", "Portuguese (Encaminhado)"},
	{"PD", "Polish (Prześlij dalej)"},
	{"İLT", "Turkish (İlet)"},
	{"ILT", "Turkish (İlet), without the dot"},
	{"ΠΡΘ", "Greek (Προωθημένο)"},
	{"הועבר", "Hebrew"},
	{"إعادة توجيه", "Arabic"},
	{"Переслать", "Russian"},
	{"转发", "Chinese, simplified"},
	{"轉寄", "Chinese, traditional"},
	{"轉發", "Chinese, traditional"},
	{"転送", "Japanese"},
	{"전달", "Korean"},
	{"×ª·¢", "转发 in GBK read as ISO-8859-1"},
}

// autoReplyPrefixes are the built-in automatic-reply subject prefixes.
var autoReplyPrefixes = []prefixEntry{
	{"Out of Office", "English (Outlook)"},
	{"Out of Office AutoReply", "English (Outlook 2003)"},
	{"Automatic reply", "English (Outlook)"},
	{"Auto", "English (Lotus Notes, Gmail filters)"},
	{"Autoreply", "English"},
	{"Auto-reply", "English"},
	{"Auto Reply", "English"},
	{"Abwesenheitsnotiz", "German (Lotus Notes)"},
	{"Automatische Antwort", "German (Outlook)"},
	{"Réponse automatique", "French"},
	{"Respuesta automática", "Spanish"},
	{"Risposta automatica", "Italian"},
	{"Resposta automática", "Portuguese"},
	{"Automatisch antwoord", "Dutch"},
	{"Autosvar", "Swedish, Norwegian"},
	{"Automatisk svar", "Danish, Norwegian"},
	{"Automaattinen vastaus", "Finnish"},
	{"Automatyczna odpowiedź", "Polish"},
	{"Automatická odpověď", "Czech"},
	{"Automatikus válasz", "Hungarian"},
	{"Otomatik yanıt", "Turkish"},
	{"Otomatik yanit", "Turkish, without the dotless i"},
	{"Αυτόματη απάντηση", "Greek"},
	{"Автоответ", "Russian"},
	{"Автоматический ответ", "Russian"},
	{"תשובה אוטומטית", "Hebrew"},
	{"رد تلقائي", "Arabic"},
	{"自动回复", "Chinese, simplified"},
	{"自动答复", "Chinese, simplified (Outlook)"},
	{"自動回覆", "Chinese, traditional"},
	{"自動応答", "Japanese (Outlook)"},
	{"自動返信", "Japanese"},
	{"자동 회신", "Korean"},
}

// ReplyPrefixes returns the built-in reply prefixes of Extended mode as mail
// programs write them (matching ignores case). The caller may modify the
// returned slice.
func ReplyPrefixes() []string { return texts(replyPrefixes) }

// ForwardPrefixes returns the built-in forward prefixes of Extended mode as
// mail programs write them (matching ignores case). The caller may modify the
// returned slice.
func ForwardPrefixes() []string { return texts(forwardPrefixes) }

// AutoReplyPrefixes returns the built-in automatic-reply prefixes that
// [Normalizer.AutoReply] recognizes. The caller may modify the returned slice.
func AutoReplyPrefixes() []string { return texts(autoReplyPrefixes) }

func texts(es []prefixEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.text
	}
	return out
}

// kind says what a prefix means.
type kind uint8

const (
	kindReply kind = 1 << iota
	kindForward
	kindAuto
)

// maxKeyBytes bounds the canonical length of a table entry.
const maxKeyBytes = 64

// maxKeyWords bounds the number of words of a table entry.
const maxKeyWords = 6

// A prefixTable maps canonical prefixes (see canonRune) to their kind.
type prefixTable struct {
	keys       map[string]kind
	short      map[uint64]kind     // the ASCII keys of up to 8 bytes, packed (see pack8)
	multi      map[string]struct{} // word-prefixes of multi-word keys: "out", "out of"
	multiASCII bool                // some key in multi is ASCII
	maxKey     int                 // longest key in bytes
	maxWords   int                 // most words in a key
}

func newTable() *prefixTable {
	return &prefixTable{keys: make(map[string]kind)}
}

func newRefwdTable(opts *Options) *prefixTable {
	if opts.Mode == RFC5256 {
		return nil
	}
	t := newTable()
	for _, e := range forwardPrefixes {
		t.add(e.text, kindForward)
	}
	for _, e := range replyPrefixes {
		t.add(e.text, kindReply)
	}
	for _, p := range opts.ExtraForwardPrefixes {
		t.add(p, kindForward)
	}
	for _, p := range opts.ExtraReplyPrefixes {
		t.add(p, kindReply)
	}
	for _, p := range opts.ExcludePrefixes {
		if k, ok := canonKey(p); ok {
			delete(t.keys, k)
		}
	}
	t.finish()
	return t
}

func newAutoTable(opts *Options) *prefixTable {
	t := newTable()
	for _, e := range autoReplyPrefixes {
		t.add(e.text, kindAuto)
	}
	for _, p := range opts.ExtraAutoReplyPrefixes {
		t.add(p, kindAuto)
	}
	t.finish()
	return t
}

// add adds p (as written in mail) with kind k, replacing an earlier kind.
// Invalid entries are ignored.
func (t *prefixTable) add(p string, k kind) {
	if key, ok := canonKey(p); ok {
		t.keys[key] = k
	}
}

// finish computes the derived fields after the last add.
func (t *prefixTable) finish() {
	t.multi = make(map[string]struct{})
	t.short = make(map[uint64]kind)
	for key, k := range t.keys {
		if len(key) <= 8 && isASCII(key) {
			t.short[pack8([]byte(key))] = k
		}
		t.maxKey = max(t.maxKey, len(key))
		words := 1
		for i := 0; i < len(key); i++ {
			if key[i] == ' ' {
				t.multi[key[:i]] = struct{}{}
				t.multiASCII = t.multiASCII || isASCII(key[:i])
				words++
			}
		}
		t.maxWords = max(t.maxWords, words)
	}
}

// pack8 packs up to 8 non-NUL bytes into a uint64 (a faster map key).
func pack8(b []byte) uint64 {
	var x uint64
	for i, c := range b {
		x |= uint64(c) << (8 * i)
	}
	return x
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// canonKey returns the canonical form of a table entry: white space trimmed
// and collapsed, a trailing colon removed, runes mapped by canonRune, NFC.
func canonKey(p string) (string, bool) {
	p = strings.TrimSpace(p)
	for _, colon := range []string{":", "：", "﹕"} {
		p = strings.TrimSuffix(p, colon)
	}
	fields := strings.Fields(p)
	if len(fields) == 0 || len(fields) > maxKeyWords {
		return "", false
	}
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		for _, r := range f {
			if isStop(r) || r == utf8.RuneError {
				return "", false
			}
			b.WriteRune(canonRune(r))
		}
	}
	key := norm.NFC.String(b.String())
	if len(key) > maxKeyBytes {
		return "", false
	}
	return key, true
}

// canonRune maps r to the form in which prefixes are compared: full-width
// ASCII to ASCII, then lower case (final sigma to sigma).
func canonRune(r rune) rune {
	if 0xFF01 <= r && r <= 0xFF5E {
		r -= 0xFEE0
	}
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	if 0x2E80 <= r && r <= 0x9FFF || 0xAC00 <= r && r <= 0xD7A3 {
		return r // CJK and Hangul syllables have no case
	}
	r = unicode.ToLower(r)
	if r == 'ς' {
		r = 'σ'
	}
	return r
}

// asciiKey maps an ASCII byte to its canonical form, and stop bytes (see
// isStop) and NUL to 0.
var asciiKey = func() (m [utf8.RuneSelf]byte) {
	for c := 1; c < utf8.RuneSelf; c++ {
		if !isStop(rune(c)) {
			m[c] = byte(canonRune(rune(c)))
		}
	}
	return m
}()

// isSpaceRune reports whether r separates words: Unicode White_Space, as
// unicode.IsSpace (TestIsSpaceRune checks), written out for speed.
func isSpaceRune(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return 0x2000 <= r && r <= 0x200A
}

// isStop reports whether r ends a prefix word.
func isStop(r rune) bool {
	switch r {
	case ':', '：', '﹕', '[', ']', '(', ')', '^':
		return true
	}
	return isSpaceRune(r)
}

// skipSpaces returns the index of the first non-space rune at or after s[i].
func skipSpaces(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c == ' ' {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f' {
				i++
				continue
			}
			return i
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isSpaceRune(r) {
			return i
		}
		i += size
	}
	return i
}

// A refwdMatch is a prefix found by a matcher.
type refwdMatch struct {
	kind    kind
	counter int  // Re[3]: and the like; 0 if none
	tag     span // a non-numeric [blob] between the prefix and its colon
	end     int  // index after the colon
}

// match reports whether s[i:] starts with a prefix of t followed by its
// separator: optional spaces, an optional counter "(n)" or "^n", optional
// spaces, an optional [blob] (a counter if it holds only digits), and a colon
// (":", full-width "：" or small "﹕"). It tries the longest prefix first.
func (t *prefixTable) match(s string, i int) (refwdMatch, bool) {
	if t == nil || len(t.keys) == 0 {
		return refwdMatch{}, false
	}
	var (
		buf   [maxKeyBytes]byte
		n     int
		cands [maxKeyWords]prefixCand
		nc    int
		plain = true // every rune in buf is NFC-stable (see nfSafe)
		ascii = true // every rune in buf is ASCII
	)
	j := i
words:
	for word := 0; word < t.maxWords; word++ {
		start := j
		for j < len(s) {
			c := s[j]
			if c < utf8.RuneSelf {
				c = asciiKey[c]
				if c == 0 {
					break // a stop byte
				}
				if n >= t.maxKey {
					break words // longer than any key
				}
				buf[n] = c
				n++
				j++
				continue
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			if isStop(r) {
				break
			}
			r = canonRune(r)
			if n+utf8.UTFMax > len(buf) {
				break words // longer than any key
			}
			n += utf8.EncodeRune(buf[n:], r)
			j += size
			plain = plain && nfSafe(r)
			ascii = false
		}
		if j == start {
			break
		}
		// A prefix is followed by its separator or, in a multi-word
		// prefix, by a space; anything else ends the search early.
		after := skipSpaces(s, j)
		sep := after < len(s) && (s[after] == ':' || s[after] == '(' || s[after] == '^' || s[after] == '[' ||
			strings.HasPrefix(s[after:], "：") || strings.HasPrefix(s[after:], "﹕"))
		space := after > j && after < len(s) && (t.multiASCII || !ascii)
		if !sep && !space {
			break
		}
		var (
			k             kind
			found, prefix bool
		)
		switch {
		case ascii && n <= 8:
			if sep {
				k, found = t.short[pack8(buf[:n])]
			}
			if space {
				_, prefix = t.multi[string(buf[:n])]
			}
		case plain:
			if sep {
				k, found = t.keys[string(buf[:n])]
			}
			if space {
				_, prefix = t.multi[string(buf[:n])]
			}
		default:
			key := norm.NFC.String(string(buf[:n])) // decomposed or unusual input; rare
			k, found = t.keys[key]
			_, prefix = t.multi[key]
		}
		if found {
			cands[nc] = prefixCand{k, j}
			nc++
		}
		if !prefix {
			break
		}
		next := skipSpaces(s, j)
		if next == j || next == len(s) || n+1 >= t.maxKey {
			break
		}
		buf[n] = ' '
		n++
		j = next
	}
	if nc == 0 {
		return refwdMatch{}, false // the common case, without a call
	}
	return longestSep(s, cands[:nc])
}

// A prefixCand is a prefix that match found: its kind, and the index after
// it, where its separator must start.
type prefixCand struct {
	k   kind
	end int
}

// longestSep returns the match of the last of cands (the longest prefix)
// that its separator follows in s.
func longestSep(s string, cands []prefixCand) (refwdMatch, bool) {
	for c := len(cands) - 1; c >= 0; c-- {
		if m, ok := parseSep(s, cands[c].end); ok {
			m.kind = cands[c].k
			return m, true
		}
	}
	return refwdMatch{}, false
}

// parseSep parses the separator after a prefix word at s[j] (see match).
func parseSep(s string, j int) (refwdMatch, bool) {
	var m refwdMatch
	j = skipSpaces(s, j)
	if j < len(s) {
		switch s[j] {
		case '(':
			if v, k := digits(s, j+1); k > j+1 && k < len(s) && s[k] == ')' {
				m.counter = v
				j = skipSpaces(s, k+1)
			}
		case '^':
			if v, k := digits(s, j+1); k > j+1 {
				m.counter = v
				j = skipSpaces(s, k)
			}
		}
	}
	if j < len(s) && s[j] == '[' {
		closeAt, end, ok := parseBlob(s, j, true)
		if !ok {
			return m, false
		}
		m.blob(s, j+1, closeAt)
		j = skipSpaces(s, end)
	}
	switch {
	case j >= len(s):
		return m, false
	case s[j] == ':':
		m.end = j + 1
	case strings.HasPrefix(s[j:], "："):
		m.end = j + len("：")
	case strings.HasPrefix(s[j:], "﹕"):
		m.end = j + len("﹕")
	default:
		return m, false
	}
	return m, true
}

// blob records the blob content s[start:end] as a counter if it is a number
// and as a tag otherwise.
func (m *refwdMatch) blob(s string, start, end int) {
	inner := s[start:end]
	t := strings.TrimSpace(inner)
	if t != "" {
		if v, k := digits(t, 0); k == len(t) {
			if m.counter == 0 {
				m.counter = v
			}
			return
		}
	}
	m.tag = span{start, end}
}

// digits parses the ASCII digits at s[i:] and returns their value, capped at
// maxCounter, and the index after them.
func digits(s string, i int) (v, end int) {
	for end = i; end < len(s) && '0' <= s[end] && s[end] <= '9'; end++ {
		if v < maxCounter {
			v = v*10 + int(s[end]-'0')
		}
	}
	return min(v, maxCounter), end
}

// rfcRefwd matches the RFC 5256 subj-refwd at s[i]:
//
//	subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
func rfcRefwd(s string, i int) (refwdMatch, bool) {
	var m refwdMatch
	j := i
	switch {
	case len(s)-i >= 2 && equalFoldASCII(s[i:i+2], "re"):
		m.kind = kindReply
		j += 2
	case len(s)-i >= 3 && equalFoldASCII(s[i:i+3], "fwd"):
		m.kind = kindForward
		j += 3
	case len(s)-i >= 2 && equalFoldASCII(s[i:i+2], "fw"):
		m.kind = kindForward
		j += 2
	default:
		return m, false
	}
	for j < len(s) && s[j] == ' ' {
		j++
	}
	if j < len(s) && s[j] == '[' {
		closeAt, end, ok := parseBlob(s, j, false)
		if !ok {
			return m, false
		}
		m.blob(s, j+1, closeAt)
		j = end
	}
	if j < len(s) && s[j] == ':' {
		m.end = j + 1
		return m, true
	}
	return m, false
}
