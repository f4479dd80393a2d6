package party

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/internal/rfc5322"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Limits on addresses. RFC 5321 §4.5.3.1 bounds a local part to 64 octets
// and a path to 256 octets including its angle brackets, so an address is at
// most 254 octets; a domain name is at most 253 octets in text form (RFC
// 1035), a label at most 63.
const (
	// MaxAddressLen is the longest address accepted, in octets.
	MaxAddressLen = 254
	// MaxLocalLen is the longest local part accepted, in octets.
	MaxLocalLen  = 64
	maxDomainLen = 253
	maxLabelLen  = 63
	// maxInputLen bounds the text Normalize looks at, display name
	// included: longer input is refused before it is scanned.
	maxInputLen = 2048
)

var (
	// ErrBadAddress is matched (with errors.Is) by every error Normalize
	// and NormalizeDomain return.
	ErrBadAddress = errors.New("party: bad address")
	// ErrMixedScripts is matched, in addition to ErrBadAddress, by the
	// error for an address that mixes writing systems inside one domain
	// label or one part of its local part ("pаypal.com" with a Cyrillic
	// "а"): the mark of a homograph spoof.
	ErrMixedScripts = errors.New("party: mixed scripts")
)

// An AddressError reports an address that cannot be normalized.
type AddressError struct {
	// Address is the input, clipped to 100 bytes.
	Address string
	// Reason says what is wrong ("no @", "local part longer than 64
	// octets").
	Reason string
	mixed  bool
}

// Error returns `party: bad address "…": reason`.
func (e *AddressError) Error() string {
	return "party: bad address " + strconv.Quote(e.Address) + ": " + e.Reason
}

// Is reports whether target is ErrBadAddress, or ErrMixedScripts for an
// address that mixes scripts.
func (e *AddressError) Is(target error) bool {
	return target == ErrBadAddress || (e.mixed && target == ErrMixedScripts)
}

func badAddress(s, reason string) error {
	return &AddressError{Address: clip(s, 100), Reason: reason}
}

// clip shortens s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// A Provider describes a mail provider whose mailboxes ignore parts of the
// local part, so that several written addresses reach one mailbox.
type Provider struct {
	// Domains are the provider's domains; the first is canonical and the
	// others are normalized to it ("googlemail.com" → "gmail.com").
	// Domains are compared after normalization, so write them in ASCII
	// (Punycode) lower case.
	Domains []string
	// IgnoreDots drops every "." of the local part ("a.l.i.c.e" = "alice").
	IgnoreDots bool
	// TagSeparators are the characters that start a subaddress tag which
	// the provider ignores ("+" for "alice+crm"); "" means none.
	TagSeparators string
}

// DefaultProviders returns the provider rules this package knows: Gmail,
// whose addresses ignore dots and "+tags" in the local part and whose
// googlemail.com domain is an alias of gmail.com. The slice is new on every
// call.
func DefaultProviders() []Provider {
	return []Provider{{Domains: []string{"gmail.com", "googlemail.com"}, IgnoreDots: true, TagSeparators: "+"}}
}

// NormalizeOptions selects the optional rules of a [Normalizer]. The zero
// value gives the default rules: domain lower-cased and converted to ASCII
// (IDNA), local part lower-cased, tags and dots kept, mixed scripts refused.
type NormalizeOptions struct {
	// KeepLocalCase keeps the case of the local part. RFC 5321 lets a
	// server treat "Alice" and "alice" as different mailboxes, but none in
	// use does, and Dynamics and every CRM compare addresses
	// case-insensitively, so by default the local part is lower-cased.
	KeepLocalCase bool
	// StripTags removes a subaddress tag (RFC 5233) from every address:
	// "alice+crm@contoso.example" becomes "alice@contoso.example". Off by
	// default: Dynamics compares whole addresses, and on some servers the
	// separator is an ordinary character.
	StripTags bool
	// TagSeparators are the characters that start a tag when StripTags is
	// set; "" means "+". Postfix and qmail sites often use "-".
	TagSeparators string
	// Providers are the provider-specific rules to apply (see
	// [DefaultProviders]); nil applies none.
	Providers []Provider
	// AllowMixedScripts accepts labels that mix writing systems; by default
	// they are refused with [ErrMixedScripts].
	AllowMixedScripts bool
}

// A Normalizer turns written email addresses into the form this package
// compares: the comparison key of a [Directory]. The zero Normalizer applies
// the default rules. A Normalizer is immutable and safe for concurrent use.
type Normalizer struct {
	keepCase  bool
	stripTags bool
	tagSeps   string
	mixedOK   bool
	providers map[string]*provider
}

type provider struct {
	canonical  string
	ignoreDots bool
	tagSeps    string
}

// NewNormalizer returns a Normalizer with the rules of opts; nil opts means
// the default rules.
func NewNormalizer(opts *NormalizeOptions) *Normalizer {
	n := &Normalizer{}
	if opts == nil {
		return n
	}
	n.keepCase = opts.KeepLocalCase
	n.stripTags = opts.StripTags
	n.tagSeps = opts.TagSeparators
	if n.tagSeps == "" {
		n.tagSeps = "+"
	}
	n.mixedOK = opts.AllowMixedScripts
	for _, p := range opts.Providers {
		if len(p.Domains) == 0 {
			continue
		}
		if n.providers == nil {
			n.providers = make(map[string]*provider)
		}
		canon := strings.ToLower(strings.TrimSpace(p.Domains[0]))
		pr := &provider{canonical: canon, ignoreDots: p.IgnoreDots, tagSeps: p.TagSeparators}
		for _, d := range p.Domains {
			n.providers[strings.ToLower(strings.TrimSpace(d))] = pr
		}
	}
	return n
}

// Normalize returns the comparison form of addr under the default rules;
// see [Normalizer.Normalize].
func Normalize(addr string) (string, error) {
	var n Normalizer
	return n.Normalize(addr)
}

// Normalize returns the comparison form of one email address, or an error
// matching [ErrBadAddress] that says why addr is not one.
//
// addr may be a bare address ("alice@contoso.example") or carry a display
// name and angle brackets ("Alice <Alice@Contoso.example>"); the display
// name is ignored. The rules, in order:
//
//   - The input is refused when it is over 2,048 bytes, the address when it
//     is over 254 octets or its local part over 64 (RFC 5321), when it is
//     not valid UTF-8, holds control or invisible formatting characters
//     (bidi overrides, zero-width spaces), has no "@" or more than one
//     outside quotes, or has an empty local part or domain.
//   - The domain is lower-cased, a trailing dot dropped, and an
//     internationalized domain converted to ASCII with the IDNA lookup
//     rules (UTS #46: "Bücher.Example" → "xn--bcher-kva.example"); a
//     domain IDNA refuses is refused. A domain literal ("[192.0.2.1]",
//     "[IPv6:2001:db8::1]") must hold an IP address and is printed in
//     canonical form.
//   - The local part may use any RFC 5322 atext, dots (leading, trailing
//     and doubled dots too: some carriers issued such addresses) and, as
//     RFC 6531 allows, non-ASCII letters, which are put in Unicode NFC. A
//     quoted local part is unquoted when its content is a plain dot-atom
//     ("\"john\"" → "john") and kept quoted otherwise. It is lower-cased
//     unless KeepLocalCase is set.
//   - With StripTags, the first tag separator and what follows it are
//     removed from an unquoted local part ("alice+crm" → "alice"), unless
//     that would leave it empty. Provider rules then apply for the
//     provider's domains.
//   - Each domain label and each run of letters in the local part must be
//     written in one script; Latin may mix with Han, Hiragana, Katakana,
//     Hangul and Bopomofo as Japanese, Chinese and Korean names do (the
//     "highly restrictive" level of Unicode TS #39). Otherwise the error
//     also matches [ErrMixedScripts], unless AllowMixedScripts is set.
//     Whole-script look-alikes (an all-Cyrillic "раураl") are not detected.
//
// Normalize never panics and bounds its work by the length limits.
func (n *Normalizer) Normalize(addr string) (string, error) {
	if len(addr) > maxInputLen {
		return "", badAddress(addr, "longer than "+strconv.Itoa(maxInputLen)+" bytes")
	}
	spec, err := addrSpec(addr)
	if err != nil {
		return "", err
	}
	if spec == "" {
		return "", badAddress(addr, "empty")
	}
	if len(spec) > MaxAddressLen {
		return "", badAddress(addr, "longer than "+strconv.Itoa(MaxAddressLen)+" octets")
	}
	if s, ok := n.fast(spec); ok {
		return s, nil
	}
	if !utf8.ValidString(spec) {
		return "", badAddress(addr, "not valid UTF-8")
	}
	local, domain, quoted, err := splitAddress(addr, spec)
	if err != nil {
		return "", err
	}
	dom, err := n.domain(addr, domain)
	if err != nil {
		return "", err
	}
	prov := n.providers[dom]
	loc, err := n.local(addr, local, quoted, prov)
	if err != nil {
		return "", err
	}
	if prov != nil {
		dom = prov.canonical
	}
	if len(loc)+1+len(dom) > MaxAddressLen {
		return "", badAddress(addr, "longer than "+strconv.Itoa(MaxAddressLen)+" octets in ASCII form")
	}
	return loc + "@" + dom, nil
}

// NormalizeDomain returns the comparison form of a domain name, as
// Normalize writes the domain of an address (provider aliases included), or
// an error matching [ErrBadAddress]. A leading "@" is ignored.
func (n *Normalizer) NormalizeDomain(domain string) (string, error) {
	if len(domain) > maxInputLen {
		return "", badAddress(domain, "longer than "+strconv.Itoa(maxInputLen)+" bytes")
	}
	d := strings.TrimPrefix(strings.TrimSpace(domain), "@")
	if !utf8.ValidString(d) {
		return "", badAddress(domain, "not valid UTF-8")
	}
	if d == "" {
		return "", badAddress(domain, "empty domain")
	}
	if err := checkChars(domain, d); err != nil {
		return "", err
	}
	dom, err := n.domain(domain, d)
	if err != nil {
		return "", err
	}
	if p := n.providers[dom]; p != nil {
		dom = p.canonical
	}
	return dom, nil
}

// addrSpec extracts the address from "Name <addr>" (the last angle
// brackets win, so a quoted display name may contain "<") and drops an
// obsolete source route ("<@relay:addr>").
func addrSpec(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ">") {
		lt := strings.LastIndexByte(s, '<')
		if lt < 0 {
			return "", badAddress(s, "unbalanced angle brackets")
		}
		s = strings.TrimSpace(s[lt+1 : len(s)-1])
		if strings.HasPrefix(s, "@") {
			if c := strings.IndexByte(s, ':'); c > 0 {
				s = s[c+1:]
			}
		}
	} else if strings.IndexByte(s, '<') >= 0 && !strings.HasPrefix(s, `"`) {
		return "", badAddress(s, "unbalanced angle brackets")
	}
	return s, nil
}

// fast handles the common case in one pass: an all-ASCII dot-atom local
// part and an LDH domain that needs no IDNA processing (see isLDHDomain).
// It reports false to send anything else down the full path.
func (n *Normalizer) fast(s string) (string, bool) {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at > MaxLocalLen || at == len(s)-1 || len(s)-at-1 > maxDomainLen ||
		n.stripTags || n.providers != nil {
		return "", false
	}
	var acc uint8 // classes seen, for clsUpper
	prev := byte('.')
	for i := 0; i < at; i++ {
		c := s[i]
		k := charClass[c]
		if k&clsAtext == 0 && (c != '.' || prev == '.') {
			return "", false
		}
		acc |= k
		prev = c
	}
	if prev == '.' {
		return "", false
	}
	label := at + 1 // start of the current label
	for i := at + 1; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			k := charClass[s[i]]
			if k&clsLDH == 0 {
				return "", false
			}
			acc |= k
			continue
		}
		l := s[label:i]
		if l == "" || len(l) > maxLabelLen || l[0] == '-' || l[len(l)-1] == '-' ||
			(len(l) >= 4 && l[2] == '-' && l[3] == '-') {
			return "", false
		}
		label = i + 1
	}
	if acc&clsUpper == 0 {
		return s, true
	}
	if n.keepCase {
		return "", false
	}
	return strings.ToLower(s), true
}

// domain normalizes the domain half of an address (no provider aliasing).
func (n *Normalizer) domain(input, d string) (string, error) {
	if strings.HasPrefix(d, "[") {
		return domainLiteral(input, d)
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", badAddress(input, "empty domain")
	}
	if isLDHDomain(d) {
		return strings.ToLower(d), nil
	}
	if len(d) > 4*maxDomainLen {
		return "", badAddress(input, "domain too long")
	}
	ascii, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", badAddress(input, "domain: "+idnaReason(err))
	}
	if len(ascii) > maxDomainLen {
		return "", badAddress(input, "domain longer than "+strconv.Itoa(maxDomainLen)+" octets")
	}
	hasIDN := false
	for _, l := range strings.Split(ascii, ".") {
		if l == "" {
			return "", badAddress(input, "empty domain label")
		}
		if len(l) > maxLabelLen {
			return "", badAddress(input, "domain label longer than "+strconv.Itoa(maxLabelLen)+" octets")
		}
		if strings.HasPrefix(l, "xn--") {
			hasIDN = true
		}
	}
	if hasIDN && !n.mixedOK {
		uni, err := idna.Lookup.ToUnicode(ascii)
		if err != nil {
			return "", badAddress(input, "domain: "+idnaReason(err))
		}
		for _, l := range strings.Split(uni, ".") {
			if a, b, mixed := mixedScripts(l); mixed {
				return "", &AddressError{Address: clip(input, 100), mixed: true,
					Reason: "domain label " + strconv.Quote(l) + " mixes " + a + " and " + b}
			}
		}
	}
	return ascii, nil
}

// idnaReason shortens an idna error to its reason.
func idnaReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "idna: ")
	return s
}

// domainLiteral normalizes "[192.0.2.1]" and "[IPv6:2001:db8::1]".
func domainLiteral(input, d string) (string, error) {
	if !strings.HasSuffix(d, "]") {
		return "", badAddress(input, "unterminated domain literal")
	}
	lit := d[1 : len(d)-1]
	v6 := false
	if len(lit) >= 5 && strings.EqualFold(lit[:5], "IPv6:") {
		lit, v6 = lit[5:], true
	}
	ip, err := netip.ParseAddr(lit)
	if err != nil || ip.Zone() != "" || ip.Is6() != v6 {
		return "", badAddress(input, "domain literal is not an IP address")
	}
	if v6 {
		return "[IPv6:" + ip.String() + "]", nil
	}
	return "[" + ip.String() + "]", nil
}

// local normalizes the local part under the rules of the domain's
// provider p (nil for none).
func (n *Normalizer) local(input, l string, quoted bool, p *provider) (string, error) {
	if quoted {
		content, err := unquote(input, l[1:len(l)-1])
		if err != nil {
			return "", err
		}
		if !n.keepCase {
			content = strings.ToLower(content)
		}
		if rfc5322.IsDotAtom(content) {
			l, quoted = content, false
		} else {
			l = quote(content)
		}
	} else {
		// NFC before lower-casing as well as after: strings.ToLower maps
		// "İ" to a bare "i", so lower-casing first would make "İ" + U+0330
		// and its NFC form (Ḭ + U+0307) two different keys.
		if !isASCII(l) {
			l = norm.NFC.String(l)
		}
		if !n.keepCase {
			l = strings.ToLower(l)
			if !isASCII(l) {
				l = norm.NFC.String(l)
			}
		}
		// Check after NFC: it maps some characters to ASCII specials
		// (U+037E GREEK QUESTION MARK becomes ';').
		for i := 0; i < len(l); {
			r, size := utf8.DecodeRuneInString(l[i:])
			i += size
			if r < utf8.RuneSelf {
				if r != '.' && !rfc5322.IsAtext(byte(r)) {
					return "", badAddress(input, "character "+strconv.QuoteRune(r)+" in the local part")
				}
				continue
			}
			if !unicode.IsGraphic(r) || unicode.IsSpace(r) {
				return "", badAddress(input, "character "+strconv.QuoteRune(r)+" in the local part")
			}
		}
	}
	if n.stripTags && !quoted {
		l = stripTag(l, n.tagSeps)
	}
	if p != nil && !quoted {
		if p.tagSeps != "" {
			l = stripTag(l, p.tagSeps)
		}
		if p.ignoreDots {
			if s := strings.ReplaceAll(l, ".", ""); s != "" {
				l = s
			}
		}
	}
	if len(l) > MaxLocalLen {
		// Lower-casing and NFC may lengthen a local part ("Ⱥ" → "ⱥ").
		return "", badAddress(input, "local part longer than "+strconv.Itoa(MaxLocalLen)+" octets")
	}
	if !n.mixedOK && !isASCII(l) {
		for _, part := range strings.FieldsFunc(l, func(r rune) bool { return r < utf8.RuneSelf && !isAlnum(byte(r)) }) {
			if a, b, mixed := mixedScripts(part); mixed {
				return "", &AddressError{Address: clip(input, 100), mixed: true,
					Reason: "local part " + strconv.Quote(part) + " mixes " + a + " and " + b}
			}
		}
	}
	return l, nil
}

// stripTag cuts l at the first of seps, unless that leaves nothing.
func stripTag(l, seps string) string {
	if i := strings.IndexAny(l, seps); i > 0 {
		return l[:i]
	}
	return l
}
