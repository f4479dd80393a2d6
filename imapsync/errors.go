package imapsync

import (
	"errors"
	"fmt"
)

// A Cause classifies the last error of a mailbox, as Dynamics' mailbox
// alerts do: it says what failed, so a person knows what to fix.
type Cause string

// The causes of a mailbox's errors.
const (
	// CauseAuth: the server refused the password or the OAuth2 token
	// ("authentication refused"). Permanent: the mailbox stops until its
	// credentials are fixed.
	CauseAuth Cause = "authentication refused"
	// CauseTLS: TLS could not be set up, or the server offers no STARTTLS
	// to a host that is not loopback (permanent).
	CauseTLS Cause = "TLS"
	// CauseConnect: the connection failed or was lost (transient).
	CauseConnect Cause = "connection"
	// CauseServer: the server failed a command (transient).
	CauseServer Cause = "server"
	// CauseFolderGone: Inbox cannot be selected (permanent); a tracked
	// folder that is gone only disables its rule, with a status message.
	CauseFolderGone Cause = "folder gone"
	// CauseStore: the store failed (transient: retried after a backoff).
	CauseStore Cause = "store"
	// CauseLease: the mailbox's lease was lost to another worker.
	CauseLease Cause = "lease lost"
	// CauseMessage: one message could not be processed (malformed,
	// oversize); it was skipped and the sync went on.
	CauseMessage Cause = "message"
	// CauseConfig: the mailbox's configuration is unusable (permanent).
	CauseConfig Cause = "configuration"
	// CauseUnsupported: the server lacks what the sync needs — a POP3
	// server without UIDL, which cannot say which messages were read
	// before (permanent).
	CauseUnsupported Cause = "server unsupported"
)

// An Error is a failure of one mailbox's sync: its cause, whether it is
// permanent (the mailbox stops) or transient (retried with backoff), and
// the underlying error.
type Error struct {
	Mailbox   string
	Cause     Cause
	Permanent bool
	Err       error
}

// Error returns "imapsync: mailbox ADDRESS: CAUSE: detail".
func (e *Error) Error() string {
	s := "imapsync: "
	if e.Mailbox != "" {
		s += "mailbox " + e.Mailbox + ": "
	}
	s += string(e.Cause)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

func transient(c Cause, err error) error { return &Error{Cause: c, Err: err} }
func permanent(c Cause, err error) error { return &Error{Cause: c, Permanent: true, Err: err} }

// classify returns err as an *Error naming the mailbox; errors without a
// cause are transient server errors.
func classify(mailbox string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Mailbox = mailbox
		return &c
	}
	return &Error{Mailbox: mailbox, Cause: CauseServer, Err: err}
}

// IsPermanent reports whether err stops a mailbox (authentication refused,
// no TLS, Inbox gone, a bad configuration, a POP3 server without UIDL)
// rather than being retried.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

var errTooLarge = fmt.Errorf("message too large")
