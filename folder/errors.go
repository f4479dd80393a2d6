package folder

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// The reasons a rule operation fails, wrapped by [Error] (use errors.Is) and,
// for paths, returned wrapped by [Config.CheckPath].
var (
	// ErrBadPath reports a folder path that cannot be a real folder: empty,
	// too long, invalid UTF-8, control or bidirectional-override
	// characters, empty segments or "." and ".." segments.
	ErrBadPath = errors.New("malformed folder path")
	// ErrOutsideInbox reports a folder that is not under Inbox: Dynamics
	// tracks only folders under Inbox ("Other folder emails cannot be
	// tracked"). Inbox itself is not under Inbox either: mail directly in
	// Inbox is tracked by the incoming email filter, not by a folder rule.
	ErrOutsideInbox = errors.New("not under Inbox")
	// ErrTooMany reports a mailbox that already has the maximum number of
	// tracked folders (Config.MaxPerMailbox, at most 25 as in Dynamics).
	ErrTooMany = errors.New("too many tracked folders")
	// ErrQueue reports a queue mailbox: Dynamics does not support
	// folder-level tracking for queues.
	ErrQueue = errors.New("queue mailboxes do not support folder-level tracking")
	// ErrExists reports a folder that is already mapped.
	ErrExists = errors.New("folder already mapped")
	// ErrNotMapped reports a folder that has no mapping. It wraps
	// correlate.ErrNotFound.
	ErrNotMapped = fmt.Errorf("folder not mapped: %w", correlate.ErrNotFound)
	// ErrDisabled reports a rule whose folder was moved outside Inbox: the
	// rule is kept but tracks nothing until the folder moves back.
	ErrDisabled = errors.New("rule disabled")
	// ErrBadMapping reports a mapping without a mailbox or folder id, or
	// with an unusable mailbox, folder id or record.
	ErrBadMapping = errors.New("invalid mapping")
	// ErrBadConfig reports an invalid Config.
	ErrBadConfig = errors.New("invalid folder tracking configuration")
)

// An Error reports a failed rule operation and names the mailbox and folder
// it concerned. Err is one of the sentinel errors of this package (possibly
// with detail), or the store's error. Use errors.As to get at it and
// errors.Is to test its reason.
type Error struct {
	Op       string // "add", "remove", "set path", "set record", "set queue", "apply", "move", "load mappings[3]"
	Mailbox  string // the mailbox, normalized when it was valid
	FolderID string // the folder id; "" when the operation concerned the whole mailbox
	Path     string // the folder path, when known
	Err      error
}

// Error returns a message that names the mailbox and folder:
//
//	folder: add mailbox "anna@fabrikam.example" folder "Sent/Clients" (id "AAMk1"): not under Inbox: top-level folder "Sent"
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("folder: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteByte(' ')
	}
	b.WriteString("mailbox ")
	b.WriteString(quote(e.Mailbox))
	if e.Path != "" {
		b.WriteString(" folder ")
		b.WriteString(quote(e.Path))
		if e.FolderID != "" {
			b.WriteString(" (id ")
			b.WriteString(quote(e.FolderID))
			b.WriteByte(')')
		}
	} else if e.FolderID != "" {
		b.WriteString(" folder id ")
		b.WriteString(quote(e.FolderID))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// maxQuoted bounds the text an error message repeats from its input.
const maxQuoted = 200

// quote returns s as a Go string literal, truncated to maxQuoted bytes, so
// hostile names (control characters, megabyte paths) print safely.
func quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
