package subject

import (
	"strconv"
	"strings"
)

// DefaultMaxLen is the number of bytes of a subject that [Normalizer.Base]
// looks at when [Options.MaxLen] is zero. Real subjects are far shorter (RFC
// 5322 limits a line to 998 characters); the limit only bounds the work done
// on hostile input.
const DefaultMaxLen = 4096

// maxHeld is the number of tracking-token blobs that Extended mode keeps in
// front of the base subject while it strips the prefixes behind them.
const maxHeld = 8

// maxWas is the longest "(was: …)" trailer Extended mode looks for, so that
// the search for its opening bracket stays cheap.
const maxWas = 1024

// maxCounter caps the value of one reply counter such as Re[123]:.
const maxCounter = 999_999

// maxDepth caps Info.Depth.
const maxDepth = 1 << 30

// A Mode selects the base-subject algorithm of a [Normalizer]. Values other
// than the constants below behave like Extended.
type Mode int

const (
	// Extended is the default mode (the zero value): the RFC 5256 algorithm
	// extended with the localized reply and forward prefixes of the prefix
	// table, reply counters (Re[2]:, Re(2):, Re^2:), full-width colons,
	// Unicode white space, "(was: …)" trailers, and tracking-token blobs that
	// are kept instead of stripped. See the package documentation.
	Extended Mode = iota

	// RFC5256 is the base-subject extraction of RFC 5256 section 2.1, to the
	// letter: only "re", "fw" and "fwd" are prefixes, only ASCII [blob]s are
	// blobs, and no extra prefixes apply. Use it to agree with IMAP servers
	// (SORT, THREAD=ORDEREDSUBJECT, THREAD=REFERENCES).
	RFC5256
)

// String returns the name of the mode, "Extended" or "RFC5256".
func (m Mode) String() string {
	switch m {
	case Extended:
		return "Extended"
	case RFC5256:
		return "RFC5256"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Options configures a [Normalizer]. The zero Options (or a nil *Options)
// selects the Extended mode with the built-in prefix tables.
type Options struct {
	// Mode selects the algorithm; the zero value is Extended.
	Mode Mode

	// ExtraReplyPrefixes are added to the built-in reply prefixes (Extended
	// mode only). An entry is the word or words written before the colon, such
	// as "Antwoord" or "Réf."; case, a trailing colon and surrounding white
	// space do not matter. Entries that contain brackets, parentheses, '^' or a
	// colon elsewhere, or that have more than six words or 64 bytes, are
	// ignored. An entry
	// that is also a built-in forward prefix becomes a reply prefix (for
	// example "VS" for Finnish users).
	ExtraReplyPrefixes []string

	// ExtraForwardPrefixes are added to the built-in forward prefixes, with
	// the same rules as ExtraReplyPrefixes. An entry that is also in
	// ExtraReplyPrefixes stays a reply prefix.
	ExtraForwardPrefixes []string

	// ExcludePrefixes removes reply or forward prefixes, built-in or extra,
	// from the table: for example []string{"R", "I"} if Italian single-letter
	// prefixes misfire on your mail.
	ExcludePrefixes []string

	// ExtraAutoReplyPrefixes are added to the subject prefixes that
	// [Normalizer.AutoReply] recognizes, such as "Vacation reply".
	ExtraAutoReplyPrefixes []string

	// MaxLen is the number of leading bytes of a subject that Base looks at;
	// the rest is dropped and Info.Truncated is set. Zero means DefaultMaxLen.
	MaxLen int
}

// A Normalizer extracts base subjects. It is immutable after [New] and safe for
// concurrent use by multiple goroutines.
type Normalizer struct {
	mode   Mode
	maxLen int
	refwd  *prefixTable // reply and forward prefixes (Extended mode)
	auto   *prefixTable // auto-reply prefixes
}

// New returns a Normalizer configured by opts. A nil opts is equivalent to
// &Options{}: Extended mode with the built-in tables.
func New(opts *Options) *Normalizer {
	if opts == nil {
		opts = &Options{}
	}
	n := &Normalizer{mode: opts.Mode, maxLen: opts.MaxLen}
	if n.maxLen <= 0 {
		n.maxLen = DefaultMaxLen
	}
	n.refwd = newRefwdTable(opts)
	n.auto = newAutoTable(opts)
	return n
}

// Mode returns the mode n was configured with.
func (n *Normalizer) Mode() Mode { return n.mode }

// defaultNormalizer backs the package-level functions. It is never modified.
var defaultNormalizer = New(nil)

// Info describes what [Normalizer.Base] removed from a subject and what it
// deliberately left alone.
type Info struct {
	// Reply reports whether a reply prefix (Re:, AW:, 回复: …) was removed.
	Reply bool

	// Forward reports whether a forward prefix (Fwd:, WG:, 转发: …), a "(fwd)"
	// trailer or a "[fwd: …]" wrapper was removed.
	Forward bool

	// Depth is the reply depth: the sum, over the reply prefixes removed, of
	// the prefix's counter (Re[3]:, Re(3):, Re^3: and Re [3]: count 3; a
	// counter of 0 counts 1) or 1 for a prefix without a counter. Forward
	// prefixes, trailers and wrappers add nothing. So "Re: Re: x" has depth
	// 2, "Re: Re[3]: x" depth 4, "Fwd: Re: x" depth 1 and "x" depth 0.
	Depth int

	// Tags are the [blob]s removed from the front of the subject (list tags
	// such as "USRP-users", in order of appearance, without brackets, each
	// once) and non-numeric blobs written between a prefix and its colon
	// (Re[list]:).
	Tags []string

	// Tokens are the tracking-token-like texts left in the base subject, such
	// as "CRM:0001001", "Ticket#123" or "#123" (without brackets), in order,
	// each once. Base never removes them; package token interprets them.
	Tokens []string

	// Was is the text inside a "(was: …)" trailer that Extended mode removed,
	// such as "Re: Ouch..." for "Wedding plans (was Re: Ouch...)". It
	// names the subject the thread had before; Base(info.Was) gives its base.
	Was string

	// Truncated reports that the subject was longer than the Normalizer's
	// MaxLen and only its first MaxLen bytes were used.
	Truncated bool

	// Outer is the kind of the outermost decoration: the first reply or
	// forward prefix at the front of the subject, or, without one, Forward
	// when a "(fwd)" trailer or "[fwd: …]" wrapper was removed. It tells
	// a forward ("Fwd: Re: x") from a reply to one ("Re: Fwd: x").
	Outer Kind
}

// Kind says what a subject decoration marks.
type Kind uint8

const (
	// Plain is no decoration.
	Plain Kind = iota
	// Reply marks a reply (Re:, AW:, 回复: …).
	Reply
	// Forward marks a forward (Fwd:, WG:, 转发:, a "(fwd)" trailer, a "[fwd: …]" wrapper).
	Forward
)

// String returns "plain", "reply" or "forward".
func (k Kind) String() string {
	switch k {
	case Reply:
		return "reply"
	case Forward:
		return "forward"
	}
	return "plain"
}

// IsForward reports whether the outermost decoration of s, as the default
// Normalizer reads it, is a forward: true for "Fwd: Re: x" and "x (fwd)",
// false for "Re: Fwd: x" (a reply to a forward) and "x".
func IsForward(s string) bool {
	var info Info
	defaultNormalizer.base(s, &info)
	return info.Outer == Forward
}

// Base returns the base subject of s using the default Normalizer (Extended
// mode, built-in tables). See [Normalizer.Base].
func Base(s string) (base string, info Info) { return defaultNormalizer.Base(s) }

// Key returns Fold(base) for the base subject of s, using the default
// Normalizer: the form in which two subjects compare equal when they name the
// same conversation.
func Key(s string) string { return defaultNormalizer.Key(s) }

// AutoReply reports whether s starts with an automatic-reply prefix, using the
// default Normalizer. See [Normalizer.AutoReply].
func AutoReply(s string) (prefix string, ok bool) { return defaultNormalizer.AutoReply(s) }

// Key returns Fold(base) for the base subject of s: the form in which two
// subjects compare equal when they name the same conversation.
func (n *Normalizer) Key(s string) string {
	b := n.base(s, nil)
	return Fold(b)
}

// SameKey reports whether a and b have the same [Key], using the default
// Normalizer. See [Normalizer.SameKey].
func SameKey(a, b string) bool { return defaultNormalizer.SameKey(a, b) }

// SameKey reports whether n.Key(a) == n.Key(b): whether two subjects name
// the same conversation. It allocates nothing unless a base subject holds a
// rune whose folding needs Unicode normalization (a combining mark, a
// compatibility character, a full case folding such as ß): the subjects of
// nearly all mail, in Latin, Greek, Cyrillic or CJK script, are compared in
// place.
func (n *Normalizer) SameKey(a, b string) bool {
	if a == b {
		return true
	}
	ba, bb := n.base(a, nil), n.base(b, nil)
	if ba == bb {
		return true
	}
	if eq, ok := foldEqual(ba, bb); ok {
		return eq
	}
	return Fold(ba) == Fold(bb)
}

// Base returns the base subject of s, the subject without the decorations mail
// programs add, and an Info that says what was removed.
//
// s is a decoded subject (RFC 2047 encoded-words already decoded, as
// mime.WordDecoder.DecodeHeader returns it). Only its first MaxLen bytes are
// used (cut at a rune boundary). Base never panics, does work linear in that
// length, and returns valid UTF-8 when s is valid UTF-8. The result keeps the
// case and the characters of s (compare results with [Fold]) and is a substring
// of s, without allocation, unless white space had to be collapsed or Extended
// mode moved a tracking-token blob. Base is idempotent: Base(Base(s)) returns
// the same base.
//
// The algorithm is RFC 5256 section 2.1:
//
//  1. convert tabs and line breaks to spaces and collapse runs of spaces
//     (Extended: any Unicode white space; invisible bidi marks, zero-width
//     spaces and byte-order marks are removed);
//  2. remove trailing "(fwd)" and spaces, repeatedly;
//  3. remove leading reply and forward prefixes ("re", "fw", "fwd", then
//     optional spaces, an optional [blob], and ":"), together with the
//     [blob]s in front of them, and leading spaces;
//  4. remove a leading [blob] if text remains after it;
//  5. repeat 3 and 4 until nothing changes;
//  6. if the text is "[fwd: …]", unwrap it and repeat from 2.
//
// Extended mode differs as described in the package documentation: prefixes
// come from the prefix table, counters and full-width colons are accepted,
// tracking-token blobs are kept, a trailing "(was: …)" is removed (as another
// step that repeats from 2), and "[" + any forward prefix + ":" … "]" is a
// wrapper.
func (n *Normalizer) Base(s string) (base string, info Info) {
	base = n.base(s, &info)
	return base, info
}

type span struct{ start, end int }

// A heldBlob is a tracking-token blob w[start:end] that Extended mode keeps;
// next is the index after its trailing spaces.
type heldBlob struct{ start, end, next int }

// contiguous reports whether nothing was removed between the held blobs and
// the rest of the subject at lo, so that the base is a substring.
func contiguous(held []heldBlob, lo int) bool {
	for i := 1; i < len(held); i++ {
		if held[i].start != held[i-1].next {
			return false
		}
	}
	return held[len(held)-1].next == lo
}

// base implements Base. info may be nil when the caller only wants the text.
func (n *Normalizer) base(s string, info *Info) string {
	ext := n.mode != RFC5256
	if len(s) > n.maxLen {
		s = truncate(s, n.maxLen)
		if info != nil {
			info.Truncated = true
		}
	}
	w := s
	if needsSpaceNorm(s, ext) {
		w = normSpace(s, ext)
	}

	lo, hi := 0, len(w)
	var heldArr [maxHeld]heldBlob
	held := heldArr[:0]

	// Every pass of the loops below removes at least one byte, so they end
	// after at most len(w) steps; steps guards that promise.
	steps := 0
	for ; steps <= len(w); steps++ {
		// (2) trailers: "(fwd)" and white space.
		for hi > lo {
			if w[hi-1] == ' ' {
				hi--
				continue
			}
			if hi-lo >= 5 && equalFoldASCII(w[hi-5:hi], "(fwd)") {
				hi -= 5
				if info != nil {
					info.Forward = true
				}
				continue
			}
			break
		}

		// (3)-(5) leaders and blobs.
		lo, held = n.leaders(w, lo, hi, ext, held, info)

		// Extended: a trailing "(was: …)" after a non-empty subject.
		if ext {
			if open, inner, ok := wasTrailer(w, lo, hi); ok {
				if info != nil && info.Was == "" {
					info.Was = inner
				}
				hi = open
				continue
			}
		}

		// (6) "[fwd: …]" wrapper.
		if hdr, ok := n.fwdWrapper(w, lo, hi); ok {
			lo += hdr
			hi--
			if info != nil {
				info.Forward = true
			}
			continue
		}
		break
	}

	var out string
	switch {
	case len(held) == 0:
		out = w[lo:hi]
	case contiguous(held, lo):
		out = w[held[0].start:hi]
	default:
		out = joinHeld(w, held, lo, hi)
	}
	if info != nil {
		info.Tokens = appendTokens(info.Tokens, out)
		if info.Outer == Plain && info.Forward {
			info.Outer = Forward // a trailer or wrapper, no prefix in front
		}
	}
	return out
}

// leaders is steps (3) to (5) of base: it removes from w[lo:hi] the
// leaders — white space, reply and forward prefixes, blobs — and returns
// the new lo, with the tracking-token blobs that Extended mode keeps
// appended to held (at most maxHeld).
func (n *Normalizer) leaders(w string, lo, hi int, ext bool, held []heldBlob, info *Info) (int, []heldBlob) {
	for lo < hi {
		if w[lo] == ' ' {
			lo++
			continue
		}
		var m refwdMatch
		var ok bool
		if ext {
			m, ok = n.refwd.match(w[:hi], lo)
		} else {
			m, ok = rfcRefwd(w[:hi], lo)
		}
		if ok {
			if info != nil {
				info.record(m, w)
			}
			lo = m.end
			continue
		}
		if w[lo] != '[' {
			break
		}
		closeAt, end, ok := parseBlob(w[:hi], lo, ext)
		if !ok {
			break
		}
		if ext && tokenLikeBlob(w[lo+1:closeAt]) {
			if len(held) == maxHeld {
				break
			}
			held = append(held, heldBlob{lo, closeAt + 1, end})
			lo = end
			continue
		}
		if end >= hi {
			break // (4): a blob is only removed when text remains after it
		}
		if info != nil {
			info.addTag(w[lo+1 : closeAt])
		}
		lo = end
	}
	return lo, held
}

// joinHeld returns the base when Extended mode removed something between
// the held blobs and the rest w[lo:hi]: the blobs, then the rest, joined by
// spaces.
func joinHeld(w string, held []heldBlob, lo, hi int) string {
	size := hi - lo
	for _, h := range held {
		size += h.end - h.start + 1
	}
	var b strings.Builder
	b.Grow(size)
	for i, h := range held {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w[h.start:h.end])
	}
	if lo < hi {
		b.WriteByte(' ')
		b.WriteString(w[lo:hi])
	}
	return b.String()
}

// record notes a removed prefix in i.
func (i *Info) record(m refwdMatch, w string) {
	if i.Outer == Plain {
		if m.kind&kindForward != 0 {
			i.Outer = Forward
		} else if m.kind&kindReply != 0 {
			i.Outer = Reply
		}
	}
	if m.kind&kindReply != 0 {
		i.Reply = true
		c := m.counter
		if c < 1 {
			c = 1
		}
		i.Depth += c
		if i.Depth > maxDepth {
			i.Depth = maxDepth
		}
	}
	if m.kind&kindForward != 0 {
		i.Forward = true
	}
	if m.tag.end > m.tag.start {
		i.addTag(w[m.tag.start:m.tag.end])
	}
}

// addTag appends the trimmed blob content t to i.Tags unless it is already
// there.
func (i *Info) addTag(t string) {
	t = strings.TrimSpace(t)
	if t == "" {
		return
	}
	for _, x := range i.Tags {
		if x == t {
			return
		}
	}
	i.Tags = append(i.Tags, t)
}

// equalFoldASCII reports whether s equals the lower-case ASCII string lower,
// ignoring ASCII case.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// parseBlob parses a subj-blob ("[" *BLOBCHAR "]" *WSP) at s[i], which must be
// '['. It returns the index of the closing bracket and the index after the
// trailing spaces. In RFC 5256 mode BLOBCHAR is an ASCII character other than
// NUL and the brackets; in Extended mode it is any byte but the brackets.
func parseBlob(s string, i int, ext bool) (closeAt, end int, ok bool) {
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == ']':
			end = j + 1
			for end < len(s) && s[end] == ' ' {
				end++
			}
			return j, end, true
		case c == '[':
			return 0, 0, false
		case !ext && (c == 0 || c >= 0x80):
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// wasTrailer reports whether w[lo:hi] ends with "(was: …)", "(was …)" or
// "[was: …]" after a non-empty subject. It returns the index of the opening
// bracket (white space before it is removed by the trailer step) and the
// trimmed text after "was".
func wasTrailer(w string, lo, hi int) (open int, inner string, ok bool) {
	if hi-lo < 7 {
		return 0, "", false
	}
	closer := w[hi-1]
	var opener byte
	switch closer {
	case ')':
		opener = '('
	case ']':
		opener = '['
	default:
		return 0, "", false
	}
	depth := 0
	open = -1
	for j := hi - 1; j >= max(lo, hi-maxWas); j-- {
		switch w[j] {
		case closer:
			depth++
		case opener:
			depth--
		}
		if depth == 0 {
			open = j
			break
		}
	}
	if open <= lo || strings.TrimSpace(w[lo:open]) == "" {
		return 0, "", false // unbalanced, or nothing before it
	}
	body := strings.TrimLeft(w[open+1:hi-1], " ")
	if len(body) < 4 || !equalFoldASCII(body[:3], "was") {
		return 0, "", false
	}
	rest := body[3:]
	switch {
	case rest[0] == ':' || rest[0] == ' ':
		rest = rest[1:]
	case strings.HasPrefix(rest, "："):
		rest = rest[len("："):]
	default:
		return 0, "", false
	}
	inner = strings.TrimSpace(rest)
	if inner == "" {
		return 0, "", false
	}
	return open, inner, true
}

// fwdWrapper reports whether w[lo:hi] is a "[fwd: …]" wrapper and returns the
// length of its header. Extended mode accepts any forward prefix of the table
// in place of "fwd".
func (n *Normalizer) fwdWrapper(w string, lo, hi int) (hdr int, ok bool) {
	if hi-lo < 3 || w[lo] != '[' || w[hi-1] != ']' {
		return 0, false
	}
	if n.mode == RFC5256 {
		if hi-lo >= 6 && equalFoldASCII(w[lo:lo+5], "[fwd:") {
			return 5, true
		}
		return 0, false
	}
	m, ok := n.refwd.match(w[:hi-1], lo+1)
	if !ok || m.kind&kindForward == 0 {
		return 0, false
	}
	return m.end - lo, true
}
