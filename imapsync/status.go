package imapsync

import (
	"slices"
	"time"
)

// A State is what a mailbox's sync is doing.
type State string

// The states of a mailbox.
const (
	// StateStarting: not yet connected.
	StateStarting State = "starting"
	// StateSyncing: a pass is running (fetching, correlating, writing).
	StateSyncing State = "syncing"
	// StateIdle: waiting for mail (IDLE, or the next poll).
	StateIdle State = "idle"
	// StateRetrying: a transient failure; waiting before reconnecting.
	StateRetrying State = "retrying"
	// StateLeased: another worker holds the mailbox's lease.
	StateLeased State = "leased elsewhere"
	// StateStopped: a permanent failure (see Status.Cause) or the end of
	// the sync; the mailbox is not synchronized any more.
	StateStopped State = "stopped"
	// StateDone: SyncOnce made its pass.
	StateDone State = "done"
)

// Counts are a mailbox's message counts since the Syncer started.
type Counts struct {
	// Fetched: messages read from the server (their headers).
	Fetched int64 `json:"fetched"`
	// Correlated: messages for which the chain found a record.
	Correlated int64 `json:"correlated"`
	// Tracked: messages filed (stored), or re-linked by a folder rule.
	Tracked int64 `json:"tracked"`
	// Untracked: messages the guardrails or the incoming-email filter left
	// untracked.
	Untracked int64 `json:"untracked"`
	// Existing: messages already tracked (seen in another folder, a copy,
	// a rescan after a UIDVALIDITY change) that needed no write.
	Existing int64 `json:"existing"`
	// Skipped: messages not processed: older than Mailbox.After.
	Skipped int64 `json:"skipped"`
	// Errors: messages that could not be processed (malformed, oversize),
	// reported and skipped, plus failed passes.
	Errors int64 `json:"errors"`
	// Deleted: POP3 messages deleted from the server once filed
	// (Mailbox.DeleteFromServer), counted when the server confirmed.
	Deleted int64 `json:"deleted,omitempty"`
}

// A Status is a mailbox's health, what Dynamics shows as mailbox alerts:
// its state, its last success, its last error and cause, its counts and
// the messages a person should read (a rule disabled because its folder
// was deleted, a folder rescanned after a UIDVALIDITY change).
type Status struct {
	Mailbox string `json:"mailbox"`
	State   State  `json:"state"`
	// Holder is the worker holding the mailbox's lease, when known.
	Holder string `json:"holder,omitempty"`
	// LastSuccess is when the last pass completed.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError, LastErrorTime and Cause describe the last failure
	// (cleared by nothing: compare LastErrorTime with LastSuccess).
	LastError     string    `json:"last_error,omitempty"`
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
	Cause         Cause     `json:"cause,omitempty"`
	// Failures counts consecutive failed connects or passes.
	Failures int    `json:"failures,omitempty"`
	Counts   Counts `json:"counts"`
	// Messages are notices for people, oldest first (at most 50).
	Messages []Notice `json:"messages,omitempty"`
	// Folders are the folders the sync reads, as of the last pass.
	Folders []FolderStatus `json:"folders,omitempty"`
}

// A Notice is one message for people about a mailbox.
type Notice struct {
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// A FolderStatus is one folder the sync reads.
type FolderStatus struct {
	// Role is "inbox", "sent" or "rule" (a POP3 mailbox has only its
	// "inbox", named INBOX).
	Role string `json:"role"`
	// Path is the folder's name on the server; ID its server id.
	Path string `json:"path"`
	ID   string `json:"id"`
	// Rule is the configured path of the rule (role "rule").
	Rule        string `json:"rule,omitempty"`
	UIDValidity uint32 `json:"uidvalidity"`
	// UID is the last UID done.
	UID uint32 `json:"uid"`
	// ModSeq is the folder's HIGHESTMODSEQ at the last pass (CONDSTORE).
	ModSeq uint64 `json:"modseq,omitempty"`
	// Disabled says why a rule's folder is not read.
	Disabled string `json:"disabled,omitempty"`
	// UIDLs is, for a POP3 mailbox, the number of messages on the server
	// already done (their UIDLs are in the sync state) as of the last
	// pass.
	UIDLs int `json:"uidls,omitempty"`
}

const maxNotices = 50

func (st *Status) notice(now time.Time, text string) {
	if n := len(st.Messages); n > 0 && st.Messages[n-1].Text == text {
		return // the same notice every pass says nothing new
	}
	st.Messages = append(st.Messages, Notice{Time: now, Text: text})
	if len(st.Messages) > maxNotices {
		st.Messages = slices.Delete(st.Messages, 0, len(st.Messages)-maxNotices)
	}
}

func (st Status) clone() Status {
	st.Messages = slices.Clone(st.Messages)
	st.Folders = slices.Clone(st.Folders)
	return st
}
