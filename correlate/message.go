package correlate

import (
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// An Address is an email address with an optional display name. It is the
// [net/mail.Address] type, so values move freely between this package and the
// standard library.
type Address = mail.Address

// Direction says whether an email was received or sent by the mailbox that
// synchronized it. The zero value is [Incoming], matching Dynamics'
// directioncode (false = incoming).
type Direction uint8

const (
	// Incoming is an email received by the mailbox.
	Incoming Direction = iota
	// Outgoing is an email sent from the mailbox (or from the CRM).
	Outgoing
)

// String returns "incoming" or "outgoing".
func (d Direction) String() string {
	switch d {
	case Incoming:
		return "incoming"
	case Outgoing:
		return "outgoing"
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// A Message is the part of an email that correlators look at. [ParseMessage]
// fills it from RFC 5322 text; callers may also build one by hand (for
// example from an Exchange or Graph API object) and set the fields they have.
//
// Message-IDs in MessageID, InReplyTo and References are normalized by
// [NormalizeMessageID]: no angle brackets, domain part lower-cased.
//
// What the fields say once cleaned — the ids a strategy looks up
// ([Message.LookupIDs]), the participants ([Message.Participants],
// [Message.Senders]) — is computed once: by ParseMessage as it reads the
// message, or at first use for a Message built by hand, and kept with the
// Message. It follows the fields while they are changed by assignment (a
// new string, slice or map); do not write into the slices or the Header map
// of a Message once it has been used, or assign them anew when you do.
//
// Correlators must treat a Message, and every slice its methods return, as
// read-only.
type Message struct {
	// MessageID is the normalized Message-ID, or "" when the email has none.
	MessageID string
	// InReplyTo holds the normalized ids of the In-Reply-To field, in field
	// order. Most mail has one. ParseMessage drops junk such as "<yes>" (see
	// [JunkID]) and reports it in its ParseError and in
	// [Message.DroppedIDs]; a Message built by hand may hold anything, and
	// its LookupIDs are cleaned the same way.
	InReplyTo []string
	// References holds the normalized ids of the References field, oldest
	// first (the parent is last). Duplicates are removed, only the newest
	// ParseOptions.MaxReferences ids are kept, and of those ParseMessage
	// drops the junk, as for InReplyTo.
	References []string

	// Subject is the decoded subject (RFC 2047 encoded words decoded to UTF-8),
	// unfolded but otherwise as written, prefixes included.
	Subject string

	From    []Address
	Sender  Address // zero when absent
	ReplyTo []Address
	To      []Address
	Cc      []Address
	Bcc     []Address

	// Date is the Date field; the zero time when absent or unreadable.
	Date time.Time

	// ThreadIndex is the base64-decoded Thread-Index field (Exchange
	// PidTagConversationIndex), nil when absent.
	ThreadIndex []byte
	// ThreadTopic is the decoded Thread-Topic field.
	ThreadTopic string

	// Mailbox names the mailbox the email was synchronized from (an address
	// or any caller identifier); FolderID and FolderPath identify the folder
	// it was found in. ParseMessage leaves them empty; the caller sets them.
	Mailbox    string
	FolderID   string
	FolderPath string
	// Direction says whether the mailbox received or sent the email.
	Direction Direction

	// Header is the whole header as read, keyed by canonical field name
	// ("Message-Id", "X-Mailer"), values undecoded, for custom strategies.
	Header mail.Header
	// Text is the decoded text/plain body when the caller provides it or
	// ParseOptions.Text asked ParseMessage to extract it.
	Text string
	// Body is the raw, undecoded body when ParseOptions.KeepBody was set,
	// truncated to ParseOptions.MaxBodyBytes.
	Body []byte

	f   *facts // the facts in use, read and written atomically; see facts()
	own facts  // ParseMessage's facts, which f points to
}

// Participants returns the unique normalized addresses (see
// [NormalizeAddress]) of From, Sender, To, Cc and Bcc, in that order. The
// slice is computed once and shared: do not modify it.
func (m *Message) Participants() []string {
	if m == nil {
		return nil
	}
	return m.facts(srcAddrs).parts
}

// Senders returns the unique normalized addresses of From and Sender, in
// that order: the first addresses of [Message.Participants] (the rest are
// recipients). The slice is shared: do not modify it.
func (m *Message) Senders() []string {
	if m == nil {
		return nil
	}
	f := m.facts(srcAddrs)
	return f.parts[:f.nsend:f.nsend]
}

// SenderAddress returns the normalized address of the first From address,
// or of Sender when From is empty; "" when the message has neither.
func (m *Message) SenderAddress() string {
	if m == nil {
		return ""
	}
	if f := m.facts(srcAddrs); f.nsend > 0 {
		return f.parts[0]
	}
	return ""
}

// OwnID returns the normalized Message-ID of m and, when it cannot name an
// email (see [JunkID]: "<yes>", an id without '@'), why; junk is "" for a
// usable id and for a message without one.
func (m *Message) OwnID() (id, junk string) {
	if m == nil {
		return "", ""
	}
	f := m.facts(srcIDs)
	return f.self, f.selfJunk
}

// LookupIDs returns the ids m names as emails it follows, cleaned, in the
// order strategies look them up: the In-Reply-To ids in field order, then
// the References ids newest first, each once, without junk (see [JunkID]:
// placeholders, malformed ids, the message's own id, its addresses).
// ids[:nIRT] come from In-Reply-To. parent reports that ids[0] is the id m
// replies to: its first usable In-Reply-To id or, without one, its newest
// References id (unless that one was junk: then the parent is unknown).
// The slice is shared: do not modify it.
func (m *Message) LookupIDs() (ids []string, nIRT int, parent bool) {
	if m == nil {
		return nil, 0, false
	}
	f := m.facts(srcIDs)
	return f.ids, f.nirt, f.flags&factParent != 0
}

// DroppedIDs returns the junk ids of In-Reply-To and References (see
// [JunkID]) as Evidence, in lookup order: Field the field, Value the id
// (clipped to 200 bytes), Note why; the first eight distinct ids, then one
// Evidence counting the others. The slice is shared: do not modify it.
func (m *Message) DroppedIDs() []Evidence {
	if m == nil {
		return nil
	}
	return m.facts(srcIDs).dropped
}

// PhraseIDs reports whether In-Reply-To and References hold text outside
// angle brackets: the RFC 822 "phrase" form old mailers write ("Message
// from Name <name@example.com> of <date>" in nmh, "name@example.com's
// message of <date>" in Gnus), whose ids may be addresses. Strategies look
// such ids up but do not remember them as ancestors, where one address
// shared by every reply to a person would link unrelated threads
// (spamassassin-ham corpus).
func (m *Message) PhraseIDs() (inReplyTo, references bool) {
	if m == nil {
		return false, false
	}
	f := m.facts(srcIDs)
	return f.flags&factPhraseIRT != 0, f.flags&factPhraseRefs != 0
}

// NormalizeAddress returns the comparison form of an email address: trimmed
// and lower-cased. RFC 5321 lets the local part be case-sensitive, but no
// mail system in use treats it so, and CRMs compare addresses
// case-insensitively; richer rules (plus tags, provider dot rules, IDN) are
// the business of callers that need them.
func NormalizeAddress(addr string) string {
	addr = strings.TrimSpace(addr)
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		if c >= utf8.RuneSelf {
			return strings.ToLower(addr)
		}
		if 'A' <= c && c <= 'Z' {
			return strings.ToLower(addr)
		}
	}
	return addr
}

// NormalizeMessageID returns the comparison form of one Message-ID: white
// space and the enclosing angle brackets removed, and the domain part (after
// the last '@') lower-cased. The local part keeps its case: RFC 5322 makes it
// case-sensitive and some generators depend on that, while domains are
// case-insensitive everywhere.
func NormalizeMessageID(id string) string {
	id = strings.TrimSpace(id)
	if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
		id = strings.TrimSpace(id[1 : len(id)-1])
	}
	if strings.ContainsAny(id, " \t\r\n") {
		id = strings.Join(strings.Fields(id), "")
	}
	at := strings.LastIndexByte(id, '@')
	if at < 0 {
		return id
	}
	dom := id[at+1:]
	for i := 0; i < len(dom); i++ {
		c := dom[i]
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return id[:at+1] + strings.ToLower(dom)
		}
	}
	return id
}
