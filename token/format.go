package token

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// KindToken is the key kind under which the [Correlator] indexes tracked
// emails by their tracking token. The key value is the token's digit run
// (see [Token.Key]).
const KindToken = "token"

// Defaults of a zero [Format], as in Dynamics 365.
const (
	DefaultPrefix        = "CRM:" // Dynamics' default prefix, separator included
	DefaultUserDigits    = 3      // digits of the user number
	DefaultCounterDigits = 3      // digits of the per-user message counter
	DefaultSignatureLen  = 8      // characters of a signature: 40 bits
	DefaultMaxSubjectLen = 255    // Dynamics' MaximumSubjectLengthOnMailServer
)

// Bounds of a [Format].
const (
	MaxPrefixLen     = 20 // characters of one prefix (Dynamics' settings page allows 1–20)
	MaxPrefixes      = 32 // Prefix plus History
	MaxLayouts       = 16 // entries of LayoutHistory
	MaxUserDigits    = 10 // Dynamics' trackingtokeniddigits allows 1–10
	MaxCounterDigits = 9  // Dynamics' counter allows 1–9 digits
	// MaxDigits is the longest digit run Find reads as a token: one
	// designator digit, ten user digits and a counter widened to the 19
	// digits of an int64.
	MaxDigits       = 30
	MinSignatureLen = 6  // characters: 30 bits
	MaxSignatureLen = 20 // characters: 100 bits
	// MinKeyLen is the shortest signing key Validate accepts, in bytes.
	MinKeyLen = 16
	// maxCounterWidth is the most digits of a widened counter (int64).
	maxCounterWidth = 19
)

// Errors of this package. The errors returned wrap one of them, so callers
// can test with errors.Is.
var (
	// ErrInvalidFormat is wrapped by the errors of Format.Validate.
	ErrInvalidFormat = errors.New("token: invalid format")
	// ErrSyntax reports a string that is not a token of the Format.
	ErrSyntax = errors.New("token: not a token")
	// ErrUnsigned reports a token without a signature where signing is on.
	ErrUnsigned = errors.New("token: unsigned token")
	// ErrBadSignature reports a token whose signature no key produced: it was
	// never issued (a guess, a forgery, or a token of another deployment).
	ErrBadSignature = errors.New("token: bad signature")
	// ErrUserRange reports a user whose number does not fit the user digits.
	ErrUserRange = errors.New("token: user number out of range")
	// ErrCounterRange reports a widened counter that no longer fits
	// Format.MaxDigits.
	ErrCounterRange = errors.New("token: counter out of range")
	// ErrTooLong reports a token longer than the subject limit of Stamp.
	ErrTooLong = errors.New("token: token longer than the subject limit")
)

// A Format describes the tracking tokens of one deployment: the layout of
// Dynamics 365 (a prefix, the online/offline digit, the user number and the
// per-user counter), the older prefixes replies may still carry, and
// optionally the keys that sign tokens. The zero Format is Dynamics'
// default: tokens such as CRM:0001001.
//
// Fields left zero mean the documented defaults. A Format is a value; its
// methods never modify it and are safe for concurrent use. They assume a
// valid Format (see [Format.Validate]) and, on an invalid one, do their best
// without panicking.
type Format struct {
	// Prefix is the prefix of new tokens, separator included ("CRM:",
	// "Tracking#", "#"): 1–20 characters, no white space, not ending in a
	// digit. Empty means DefaultPrefix.
	Prefix string
	// History lists older prefixes, newest first, that incoming replies may
	// still carry (Dynamics' trackingprefix history). Tokens under any of
	// them are found and looked up like tokens under Prefix.
	History []string
	// Offline sets the online/offline designator digit to 1 in new tokens
	// (Dynamics' legacy offline client); false writes 0.
	Offline bool
	// Base is the deployment base tracking number (Dynamics'
	// TrackingTokenIdBase, 0–2147483647): user n gets the number Base+n.
	// It must have at most UserDigits digits.
	Base int64
	// UserDigits is the number of digits of the user number, 1–10;
	// 0 means DefaultUserDigits.
	UserDigits int
	// CounterDigits is the number of digits of the per-user message counter,
	// 1–9; 0 means DefaultCounterDigits.
	CounterDigits int
	// Widen lets the counter grow past CounterDigits (CRM:00011000 after
	// CRM:0001999) instead of restarting at 000 as Dynamics does, so a user
	// never receives the same token twice.
	Widen bool
	// MinDigits and MaxDigits bound the digit run Find accepts as a token
	// under the current layout (designator, user number and counter
	// together). 0 means exactly 1+UserDigits+CounterDigits, or with Widen
	// up to MaxDigits (30). The range must contain
	// 1+UserDigits+CounterDigits. To keep recognizing the tokens issued
	// under earlier digit settings, list those settings in LayoutHistory
	// rather than widening this range by hand.
	MinDigits, MaxDigits int
	// LayoutHistory lists the digit layouts of earlier settings, newest
	// first: after UserDigits, CounterDigits or Widen change, put the old
	// values here, as Dynamics keeps old prefixes in its prefix history, so
	// that every token already sent stays recognizable (Dynamics: "existing
	// emails sent with the previous tracking token configuration will
	// continue to correlate"). Find, Parse and the Correlator accept a digit
	// run of the current layout or of any layout listed; Make, Stamp and a
	// Generator issue tokens of the current layout only. At most
	// MaxLayouts entries.
	LayoutHistory []Layout
	// Keys are the secrets of signed tokens, at least MinKeyLen bytes each.
	// When set, new tokens are signed with Keys[0] and a token verifies if
	// any key produced its signature, so keys can be rotated: put the new
	// key first and drop the old one once its tokens no longer matter.
	// Empty means unsigned, Dynamics-compatible tokens.
	Keys [][]byte
	// SignatureLen is the number of characters of a signature, 6–20;
	// 0 means DefaultSignatureLen (8 characters, 40 bits). See the package
	// documentation for the forgery odds of each length.
	SignatureLen int
}

// A Layout is the digit layout of tracking tokens under one setting: the
// digits of the user number and of the counter, and whether the counter
// widened past them (see Format). Zero fields mean the defaults, as in
// Format. A token of the layout has 1+UserDigits+CounterDigits digits, or,
// with Widen, between that and MaxDigits.
type Layout struct {
	UserDigits    int
	CounterDigits int
	Widen         bool
}

// digits returns the length of a token of l, defaults applied.
func (l Layout) digits() (ud, cd int) {
	ud, cd = l.UserDigits, l.CounterDigits
	if ud <= 0 || ud > MaxUserDigits {
		ud = DefaultUserDigits
	}
	if cd <= 0 || cd > MaxCounterDigits {
		cd = DefaultCounterDigits
	}
	return ud, cd
}

// lengths returns the digit-run lengths of l as a set: bit n set for
// length n.
func (l Layout) lengths() uint64 {
	ud, cd := l.digits()
	lo, hi := 1+ud+cd, 1+ud+cd
	if l.Widen {
		hi = min(1+ud+maxCounterWidth, MaxDigits)
	}
	return span(lo, hi)
}

// span returns the set of lengths lo..hi.
func span(lo, hi int) uint64 {
	if lo > hi || lo < 0 || hi > 63 {
		return 0
	}
	return (1<<(hi+1) - 1) &^ (1<<lo - 1)
}

// A Token is one tracking token: its prefix, its digit run and, for a signed
// token, its signature. The zero Token is no token.
type Token struct {
	// Prefix is the configured prefix the token carries, spelled as
	// configured (Format.Prefix or an entry of Format.History) whatever the
	// case in the subject.
	Prefix string
	// Digits is the designator digit, the user number and the counter.
	Digits string
	// Signature is the signature in canonical form (upper-case Crockford
	// base32), "" for an unsigned token.
	Signature string
}

// String returns the token as it is written in a subject: the prefix, the
// digits and, when signed, "-" and the signature.
func (t Token) String() string {
	if t.Signature == "" {
		return t.Prefix + t.Digits
	}
	return t.Prefix + t.Digits + "-" + t.Signature
}

// IsZero reports whether t is the zero Token.
func (t Token) IsZero() bool { return t == Token{} }

// Signed reports whether t carries a signature.
func (t Token) Signed() bool { return t.Signature != "" }

// Key returns the index key of t: KindToken and the digit run. The prefix is
// left out so that a reply carrying an older prefix of the history finds the
// email tracked under a newer one and the other way round (the per-user
// counters do not restart when the prefix changes, so the digits alone name
// the token). The signature is left out too: it is checked before the
// lookup, and tokens issued before signing was turned on stay reachable.
func (t Token) Key() correlate.Key { return correlate.Key{Kind: KindToken, Value: t.Digits} }

// Parts are the fields of a token's digit run.
type Parts struct {
	Offline bool  // the designator digit is 1
	User    int64 // the user number (Format.Base plus the user's ordinal)
	Counter int64 // the per-user message counter
}

// Validate reports every problem of f, each wrapping ErrInvalidFormat,
// joined; nil when f is valid.
func (f Format) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidFormat}, args...)...))
	}
	if f.Prefix != "" {
		if err := checkPrefix(f.Prefix); err != nil {
			bad("prefix %q: %v", f.Prefix, err)
		}
	}
	if n := 1 + len(f.History); n > MaxPrefixes {
		bad("%d prefixes, more than %d", n, MaxPrefixes)
	}
	for i, p := range f.History {
		if err := checkPrefix(p); err != nil {
			bad("history entry %d %q: %v", i, p, err)
		}
	}
	ud, cd := f.UserDigits, f.CounterDigits
	if ud < 0 || ud > MaxUserDigits {
		bad("UserDigits %d outside 1–%d", ud, MaxUserDigits)
		ud = DefaultUserDigits
	}
	if cd < 0 || cd > MaxCounterDigits {
		bad("CounterDigits %d outside 1–%d", cd, MaxCounterDigits)
		cd = DefaultCounterDigits
	}
	if ud == 0 {
		ud = DefaultUserDigits
	}
	if cd == 0 {
		cd = DefaultCounterDigits
	}
	if f.Base < 0 || f.Base > 1<<31-1 {
		bad("Base %d outside 0–2147483647", f.Base)
	} else if n := len(strconv.FormatInt(f.Base, 10)); n > ud {
		bad("Base %d has %d digits, more than the %d user digits", f.Base, n, ud)
	}
	layout := 1 + ud + cd
	if f.MinDigits != 0 && (f.MinDigits < 3 || f.MinDigits > MaxDigits) {
		bad("MinDigits %d outside 3–%d", f.MinDigits, MaxDigits)
	}
	if f.MaxDigits != 0 && (f.MaxDigits < 3 || f.MaxDigits > MaxDigits) {
		bad("MaxDigits %d outside 3–%d", f.MaxDigits, MaxDigits)
	}
	if lo, hi := f.digitRange(); lo > layout || hi < layout {
		bad("digit range %d–%d does not contain the %d digits of new tokens", lo, hi, layout)
	}
	if len(f.LayoutHistory) > MaxLayouts {
		bad("%d earlier layouts, more than %d", len(f.LayoutHistory), MaxLayouts)
	}
	for i, l := range f.LayoutHistory {
		if l.UserDigits < 0 || l.UserDigits > MaxUserDigits {
			bad("layout history entry %d: UserDigits %d outside 1–%d", i, l.UserDigits, MaxUserDigits)
		}
		if l.CounterDigits < 0 || l.CounterDigits > MaxCounterDigits {
			bad("layout history entry %d: CounterDigits %d outside 1–%d", i, l.CounterDigits, MaxCounterDigits)
		}
	}
	if f.SignatureLen != 0 && (f.SignatureLen < MinSignatureLen || f.SignatureLen > MaxSignatureLen) {
		bad("SignatureLen %d outside %d–%d", f.SignatureLen, MinSignatureLen, MaxSignatureLen)
	}
	for i, k := range f.Keys {
		if len(k) < MinKeyLen {
			bad("key %d has %d bytes, fewer than %d", i, len(k), MinKeyLen)
		}
	}
	return errors.Join(errs...)
}

func checkPrefix(p string) error {
	switch {
	case p == "":
		return errors.New("empty")
	case !utf8.ValidString(p):
		return errors.New("not valid UTF-8")
	case utf8.RuneCountInString(p) > MaxPrefixLen:
		return fmt.Errorf("longer than %d characters", MaxPrefixLen)
	}
	for _, r := range p {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return fmt.Errorf("contains white space, a control character or U+FFFD (%U)", r)
		}
	}
	if c := p[len(p)-1]; c >= '0' && c <= '9' {
		return errors.New("ends in a digit, so the token's digits could not be told apart")
	}
	return nil
}

// Prefixes returns the prefixes tokens are recognized under: the current
// prefix first, then History.
func (f Format) Prefixes() []string {
	out := make([]string, 0, 1+len(f.History))
	out = append(out, f.prefix())
	return append(out, f.History...)
}

func (f *Format) prefix() string {
	if f.Prefix == "" {
		return DefaultPrefix
	}
	return f.Prefix
}

// prefixAt returns the i-th recognized prefix (0 is the current one).
func (f *Format) prefixAt(i int) string {
	if i == 0 {
		return f.prefix()
	}
	return f.History[i-1]
}

func (f *Format) userDigits() int {
	if f.UserDigits <= 0 || f.UserDigits > MaxUserDigits {
		return DefaultUserDigits
	}
	return f.UserDigits
}

func (f *Format) counterDigits() int {
	if f.CounterDigits <= 0 || f.CounterDigits > MaxCounterDigits {
		return DefaultCounterDigits
	}
	return f.CounterDigits
}

func (f *Format) signatureLen() int {
	if f.SignatureLen < MinSignatureLen || f.SignatureLen > MaxSignatureLen {
		return DefaultSignatureLen
	}
	return f.SignatureLen
}

// digitRange returns the effective MinDigits and MaxDigits.
func (f *Format) digitRange() (lo, hi int) {
	layout := 1 + f.userDigits() + f.counterDigits()
	lo, hi = layout, layout
	if f.Widen {
		hi = min(1+f.userDigits()+maxCounterWidth, MaxDigits)
	}
	if f.MinDigits >= 3 && f.MinDigits <= MaxDigits {
		lo = f.MinDigits
	}
	if f.MaxDigits >= 3 && f.MaxDigits <= MaxDigits {
		hi = f.MaxDigits
	}
	return lo, hi
}

// lengths returns the set of digit-run lengths Find accepts: the current
// layout's range and every layout of the history.
func (f *Format) lengths() uint64 {
	set := span(f.digitRange())
	for _, l := range f.LayoutHistory {
		set |= l.lengths()
	}
	return set
}

// maxLength returns the longest length in a set of lengths (-1 for none).
func maxLength(set uint64) int { return bits.Len64(set) - 1 }

// userNumber returns Base+user, checking that it fits the user digits.
func (f *Format) userNumber(user int64) (int64, error) {
	ud := f.userDigits()
	limit := pow10(ud)
	if user < 1 || user >= limit || f.Base+user >= limit {
		return 0, fmt.Errorf("%w: user %d with base %d does not fit %d digits", ErrUserRange, user, f.Base, ud)
	}
	return f.Base + user, nil
}

// Make returns the token of the seq-th message (1, 2, 3 …) of the user with
// ordinal user (1 for the first user: number Base+1), as a [Generator] issues
// it, signed with Keys[0] when f has keys.
//
// The counter is seq modulo 10^CounterDigits, so with three digits it runs
// 001 … 999, 000, 001 … as in Dynamics; with Widen it is seq itself, written
// with at least CounterDigits digits. The first token of user 1 under the
// zero Format is CRM:0001001.
func (f Format) Make(user, seq int64) (Token, error) {
	if err := f.Validate(); err != nil {
		return Token{}, err
	}
	num, err := f.userNumber(user)
	if err != nil {
		return Token{}, err
	}
	return f.make(num, seq)
}

// make builds the token of user number num and sequence value seq; f is
// valid and num fits.
func (f *Format) make(num, seq int64) (Token, error) {
	if seq < 1 {
		return Token{}, fmt.Errorf("%w: sequence value %d, want 1 or more", ErrCounterRange, seq)
	}
	ud, cd := f.userDigits(), f.counterDigits()
	counter := seq
	if !f.Widen {
		counter = seq % pow10(cd)
	}
	var buf [MaxDigits + 20]byte
	b := buf[:0]
	if f.Offline {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = appendPadded(b, num, ud)
	b = appendPadded(b, counter, cd)
	if _, hi := f.digitRange(); len(b) > hi {
		return Token{}, fmt.Errorf("%w: counter %d makes %d digits, more than %d", ErrCounterRange, counter, len(b), hi)
	}
	t := Token{Prefix: f.prefix(), Digits: string(b)}
	if len(f.Keys) > 0 {
		t.Signature = sign(f.Keys[0], t.Digits, f.signatureLen())
	}
	return t, nil
}

// Split returns the fields of t's digit run under f's digit settings: the
// designator digit, UserDigits digits of user number, and the counter (the
// rest). A run whose length the current layout does not produce but a
// layout of LayoutHistory does is split by the first such layout: a token
// issued before the user digits changed keeps its user number. It fails
// with ErrSyntax when the run is too short or the counter does not fit an
// int64.
func (f Format) Split(t Token) (Parts, error) {
	ud := f.userDigits()
	d := t.Digits
	if n := len(d); n < 64 && span(f.digitRange())&(1<<n) == 0 {
		for _, l := range f.LayoutHistory {
			if l.lengths()&(1<<n) != 0 {
				ud, _ = l.digits()
				break
			}
		}
	}
	if len(d) < ud+2 || !allDigits(d) {
		return Parts{}, fmt.Errorf("%w: digits %q do not hold %d user digits and a counter", ErrSyntax, d, ud)
	}
	user, err := strconv.ParseInt(d[1:1+ud], 10, 64)
	if err != nil {
		return Parts{}, fmt.Errorf("%w: user number %q: %v", ErrSyntax, d[1:1+ud], err)
	}
	counter, err := strconv.ParseInt(d[1+ud:], 10, 64)
	if err != nil {
		return Parts{}, fmt.Errorf("%w: counter %q: %v", ErrSyntax, d[1+ud:], err)
	}
	return Parts{Offline: d[0] == '1', User: user, Counter: counter}, nil
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// appendPadded appends v in decimal, left-padded with zeros to width.
func appendPadded(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
