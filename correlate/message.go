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
// Correlators must treat a Message as read-only.
type Message struct {
	// MessageID is the normalized Message-ID, or "" when the email has none.
	MessageID string
	// InReplyTo holds the normalized ids of the In-Reply-To field, in field
	// order. Most mail has one; junk such as "yes" is kept here as found and
	// left to strategies to reject.
	InReplyTo []string
	// References holds the normalized ids of the References field, oldest
	// first (the parent is last). Duplicates are removed and only the newest
	// ParseOptions.MaxReferences ids are kept.
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
}

// Participants returns the unique normalized addresses (see
// [NormalizeAddress]) of From, Sender, To, Cc and Bcc, in that order.
func (m *Message) Participants() []string {
	n := len(m.From) + len(m.To) + len(m.Cc) + len(m.Bcc) + 1
	out := make([]string, 0, n)
	add := func(a string) {
		a = NormalizeAddress(a)
		if a == "" {
			return
		}
		for _, x := range out {
			if x == a {
				return
			}
		}
		out = append(out, a)
	}
	for _, list := range [...][]Address{m.From, {m.Sender}, m.To, m.Cc, m.Bcc} {
		for _, a := range list {
			add(a.Address)
		}
	}
	return out
}

// SenderAddress returns the normalized address of the first From address,
// or of Sender when From is empty; "" when the message has neither.
func (m *Message) SenderAddress() string {
	for _, a := range m.From {
		if s := NormalizeAddress(a.Address); s != "" {
			return s
		}
	}
	return NormalizeAddress(m.Sender.Address)
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
