package folder

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits and defaults of a [Config].
const (
	// MaxPerMailbox is the most tracked folders a mailbox may have: 25, the
	// maximum of Dynamics' maxfolderbasedtrackingmappings, and the default.
	MaxPerMailbox = 25
	// DefaultInboxName is the Inbox name used when Config.InboxNames is
	// empty. Names are compared case-insensitively, so "INBOX" (IMAP) and
	// "inbox" match it too.
	DefaultInboxName = "Inbox"
	// DefaultSeparators are the hierarchy separators used when
	// Config.Separators is empty: '/' (Exchange paths, Dovecot, Gmail),
	// '.' (Courier, Cyrus and Maildir++ IMAP names) and '\' (Outlook).
	DefaultSeparators = `/.\`
	// MaxPathBytes bounds a folder path.
	MaxPathBytes = 4096
	// MaxFolderIDBytes bounds a folder id, well above the ids Exchange,
	// Graph and IMAP servers hand out (Dynamics' exchangefolderid column
	// holds 120 characters).
	MaxFolderIDBytes = 1024
	// MaxMailboxBytes bounds a mailbox identifier.
	MaxMailboxBytes = 1024
)

// A Config sets the limits and the path conventions of a [Rules]. The zero
// Config means the defaults: 25 folders per mailbox, Inbox named "Inbox",
// and '/', '.' and '\' as separators.
type Config struct {
	// MaxPerMailbox is the most tracked folders per mailbox, 1 to 25; 0
	// means 25 (Dynamics' maximum, and its org setting
	// maxfolderbasedtrackingmappings).
	MaxPerMailbox int `json:"max_per_mailbox,omitempty"`
	// InboxNames are the names the Inbox may have at the top of a folder
	// path: localized ("Posteingang", "Boîte de réception") or as a mail
	// system spells it ("INBOX"). They are compared case-insensitively,
	// after Unicode NFC normalization. Empty means just "Inbox".
	InboxNames []string `json:"inbox_names,omitempty"`
	// Separators are the characters that may separate path segments, each
	// one ASCII punctuation byte. A path uses one of them: the first that
	// occurs in it. Empty means DefaultSeparators; set your mail system's
	// one when a top-level folder name may contain another ("Inbox.old"
	// next to Inbox reads as a folder under Inbox when '.' is a separator).
	Separators string `json:"separators,omitempty"`
}

// Validate reports whether c is usable: MaxPerMailbox within 0–25, Inbox
// names non-empty, free of separators and control characters, separators
// ASCII punctuation. The error wraps ErrBadConfig.
func (c Config) Validate() error {
	if c.MaxPerMailbox < 0 || c.MaxPerMailbox > MaxPerMailbox {
		return fmt.Errorf("folder: %w: max_per_mailbox %d is not within 1–%d (0 means %d)",
			ErrBadConfig, c.MaxPerMailbox, MaxPerMailbox, MaxPerMailbox)
	}
	for i := 0; i < len(c.Separators); i++ {
		s := c.Separators[i]
		if s >= utf8.RuneSelf || !unicode.IsPunct(rune(s)) && !unicode.IsSymbol(rune(s)) {
			return fmt.Errorf("folder: %w: separator %q is not ASCII punctuation", ErrBadConfig, s)
		}
	}
	seps := c.separators()
	for _, n := range c.InboxNames {
		switch {
		case n == "" || strings.TrimSpace(n) != n:
			return fmt.Errorf("folder: %w: inbox name %q is empty or has surrounding space", ErrBadConfig, n)
		case len(n) > 255 || !utf8.ValidString(n):
			return fmt.Errorf("folder: %w: inbox name %s is too long or not UTF-8", ErrBadConfig, quote(n))
		case strings.ContainsAny(n, seps):
			return fmt.Errorf("folder: %w: inbox name %q contains a separator of %q", ErrBadConfig, n, seps)
		case strings.IndexFunc(n, isHostile) >= 0:
			return fmt.Errorf("folder: %w: inbox name %q has a control character", ErrBadConfig, n)
		}
	}
	return nil
}

func (c Config) maxPerMailbox() int {
	if c.MaxPerMailbox == 0 {
		return MaxPerMailbox
	}
	return c.MaxPerMailbox
}

func (c Config) separators() string {
	if c.Separators == "" {
		return DefaultSeparators
	}
	return c.Separators
}

// isInbox reports whether seg is one of the Inbox names.
func (c Config) isInbox(seg string) bool {
	if len(c.InboxNames) == 0 {
		return strings.EqualFold(seg, DefaultInboxName)
	}
	for _, n := range c.InboxNames {
		if strings.EqualFold(seg, n) {
			return true
		}
	}
	if isASCII(seg) {
		return false
	}
	// QUIRK: macOS and some IMAP servers hand out decomposed (NFD) names;
	// "Boîte de réception" must match however its accents are encoded.
	seg = norm.NFC.String(seg)
	for _, n := range c.InboxNames {
		if !isASCII(n) && strings.EqualFold(seg, norm.NFC.String(n)) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isHostile reports characters no folder name should carry: control
// characters (C0, DEL, C1) and the bidirectional controls that can make a
// path display as something else (U+202E and friends).
func isHostile(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// CheckPath reports whether path names a folder under Inbox, which is what
// a folder rule needs. The path is written as the mail system shows it:
// "Inbox/Clients/Contoso" (Exchange, Dovecot), "INBOX.Clients.Contoso"
// (Courier, Cyrus), `Inbox\Clients` (Outlook), optionally with one leading
// separator ("/Inbox/Clients"). Its first segment must be one of the Inbox
// names, compared case-insensitively, and at least one segment must follow.
//
// The error wraps ErrBadPath when the path cannot be a folder at all (empty,
// longer than MaxPathBytes, invalid UTF-8, control or bidirectional-override
// characters, an empty, "." or ".." segment) and ErrOutsideInbox when it is
// a well-formed path that is not under Inbox (Inbox itself included).
// CheckPath never panics, does not allocate for a good ASCII path, and runs
// in time linear in len(path).
func (c Config) CheckPath(path string) error {
	switch {
	case path == "":
		return fmt.Errorf("%w: empty path", ErrBadPath)
	case len(path) > MaxPathBytes:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrBadPath, len(path), MaxPathBytes)
	case !utf8.ValidString(path):
		return fmt.Errorf("%w: not valid UTF-8", ErrBadPath)
	}
	for i := 0; i < len(path); {
		c := path[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("%w: control character %U at byte %d", ErrBadPath, c, i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(path[i:])
		if isHostile(r) {
			return fmt.Errorf("%w: control character %U at byte %d", ErrBadPath, r, i)
		}
		i += n
	}
	seps := c.separators()
	rest := path
	if strings.IndexByte(seps, rest[0]) >= 0 {
		rest = rest[1:]
		if rest == "" {
			return fmt.Errorf("%w: only a separator", ErrBadPath)
		}
	}
	i := strings.IndexAny(rest, seps)
	if i < 0 {
		if c.isInbox(rest) {
			return fmt.Errorf("%w: %q is Inbox itself, not a folder under it", ErrOutsideInbox, rest)
		}
		return fmt.Errorf("%w: top-level folder %s", ErrOutsideInbox, quote(rest))
	}
	sep := rest[i : i+1]
	first := rest[:i]
	for segs := rest; ; {
		seg, next, more := strings.Cut(segs, sep)
		switch seg {
		case "":
			return fmt.Errorf("%w: empty segment in %s", ErrBadPath, quote(path))
		case ".", "..":
			return fmt.Errorf("%w: %q segment in %s", ErrBadPath, seg, quote(path))
		}
		if !more {
			break
		}
		segs = next
	}
	if !c.isInbox(first) {
		return fmt.Errorf("%w: top-level folder %s", ErrOutsideInbox, quote(first))
	}
	return nil
}
