// Package store is the part of the store contract that goes beyond
// correlation: what the edges (live mailbox sync, the HTTP service, the
// submission relay) and the App-for-Outlook actions need from a Store.
//
//   - Apply writes a Batch atomically: tracked emails, changes of record and
//     named sync state (an IMAP folder's cursor, a POP3 UIDL), so that a
//     crash at any instant leaves either all of it or none — a sync resumes
//     with nothing lost and nothing filed twice.
//   - Every change of a tracked email's record is kept (History): from,
//     to, who, why and when.
//   - Emails pages through a record's tracked emails, newest first (the
//     record's timeline); Scan reads every tracked email in ID order (the
//     ledger, for exports and comparisons).
//   - Leases let many workers share mailboxes: at most one holder per name
//     until the lease expires, and a batch carrying a lease is refused once
//     the lease is lost (fencing), so a worker that stalled past its expiry
//     cannot write over the one that took its mailbox over.
//
// store/memstore and store/sqlstore implement [Store]; store/storetest is
// the contract suite both pass. The core (package correlate) needs none of
// this: a correlate.Store is enough to correlate and track.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

var (
	// ErrLeaseHeld is returned (wrapped) by Store.Acquire when another
	// holder has the lease and it has not expired.
	ErrLeaseHeld = errors.New("store: lease held by another worker")
	// ErrLeaseLost is returned (wrapped) by Apply and Release when the
	// lease given is no longer held by its holder: it expired (whether or
	// not another holder took it since), or was released.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrBadCursor is returned (wrapped) by Store.Emails for a cursor it
	// did not make: input to refuse (an HTTP 400), not a failure of the
	// Store.
	ErrBadCursor = errors.New("store: bad cursor")
	// ErrUnavailable is wrapped by the errors of a Store that cannot reach
	// its data at all — the connection was refused or lost, the server is
	// shutting down, the disk is full or read-only — as opposed to an
	// error about one call's input. A program that gets it should stop
	// (and retry later) rather than go on with the next message.
	ErrUnavailable = errors.New("store: unavailable")
)

// MaxNameLen is the longest name, in bytes, of a State or a Lease. Every
// Store refuses a longer one with an error (names are index keys; the
// names the edges build from a mailbox address and a folder id are far
// shorter).
const MaxNameLen = 1024

// A Cause says why a tracked email's record changed.
type Cause string

// The causes of a change of record.
const (
	// CauseManual: a person linked the email or changed its regarding
	// record (the App for Outlook's "set regarding").
	CauseManual Cause = "manual"
	// CauseFolder: the email was found in, or moved into, a tracked folder
	// whose rule names the record, or the folder's rule changed.
	CauseFolder Cause = "folder"
	// CauseMerge: the record was merged into another.
	CauseMerge Cause = "merge"
	// CauseConvert: a person converted the email into a new record.
	CauseConvert Cause = "convert"
)

// A Change is one change of a tracked email's record, as kept by the
// Store: the audit trail a person reads to learn why an email sits where
// it is.
type Change struct {
	// Email is the tracked email's ID; MessageID its Message-ID.
	Email     int64
	MessageID string
	// From is the record before the change (zero: the email had none);
	// To the record after it.
	From, To correlate.Record
	// Actor is who made the change: a user name or address, or the
	// program that did ("imapsync", "httpapi"); "" when unknown.
	Actor string
	Cause Cause
	// Time is when the change was made.
	Time time.Time
}

// An Entry is one tracked email to store, with its index keys (see
// correlate.Engine.Prepare).
type Entry struct {
	Tracked correlate.Tracked
	Keys    []correlate.Key
}

// A Relink changes the record of the tracked email with the given ID (or,
// when ID is 0, of the one with the given Message-ID, which may be one of
// the same Batch's Puts) to Record, and keeps the change with Change's
// Actor, Cause and Time (a zero Time is the time of Apply; the Store fills
// in Change's other fields). A Relink to the record the email already has
// changes nothing and keeps nothing.
type Relink struct {
	ID        int64
	MessageID string
	Record    correlate.Record
	Change    Change
}

// A Move files the tracked email with the given ID (or, when ID is 0, the
// one with the given Message-ID, which may be one of the same Batch's Puts)
// under another folder of its mailbox: its FolderID and FolderPath become
// the Move's, the index keys in Drop stop naming it and those in Add name
// it. A key of Drop the email does not have, or one of Add it already has,
// changes nothing; a key in both ends up added. It is what a
// synchronization writes when it finds a tracked email in another folder
// than the one it was tracked in: the old folder's key (folder.Key) in
// Drop, the new folder's in Add when that folder is tracked, so that later
// changes of the old folder's rule no longer reach the email and those of
// the new folder do. A Move changes neither the email's record (a Relink
// of the same Batch does) nor its ID. Keys of kind
// correlate.KindMessageID are refused: an email's Message-ID keys are its
// identity.
type Move struct {
	ID         int64
	MessageID  string
	FolderID   string
	FolderPath string
	Drop, Add  []correlate.Key
}

// A State is one named piece of sync state, opaque to the Store: the edge
// that owns the name chooses its encoding. Names are hierarchical by
// convention ("imap/alice@example.com/F6c1…"), so that States can list a
// prefix; a name is 1 to MaxNameLen bytes. A nil Value in a Batch deletes
// the state; an empty, non-nil one is stored.
type State struct {
	Name  string
	Value []byte
}

// A Lease is the right of one holder to work on a name (a mailbox, 1 to
// MaxNameLen bytes) until a time. Token increases every time the lease
// changes hands, so a holder can tell its lease from a later one of the
// same name.
//
// Stores in a shared database keep Until by the database server's clock,
// so that workers whose clocks disagree still agree on when a lease
// expires; a holder should renew well before Until by its own clock.
type Lease struct {
	Name   string
	Holder string
	Until  time.Time
	Token  int64
}

// A Batch is a group of writes that Apply makes atomically, in this
// order: Puts, then Relinks, then Moves, then States.
type Batch struct {
	// Lease, when not nil, must still be held (same Name, Holder and
	// Token, not expired) when the batch commits; otherwise nothing is
	// written and Apply returns an error wrapping ErrLeaseLost.
	Lease *Lease
	// Puts are tracked emails to store, as by correlate.Store.Put: an email
	// whose non-empty MessageID is already stored (or comes earlier in the
	// batch) is not stored again, and is reported as Existing.
	Puts []Entry
	// Relinks change records; a Relink naming an email that does not exist
	// (neither stored before nor among Puts) fails the whole batch with an
	// error wrapping correlate.ErrNotFound.
	Relinks []Relink
	// Moves file emails under other folders; a Move naming an email that
	// does not exist (neither stored before nor among Puts) fails the
	// whole batch with an error wrapping correlate.ErrNotFound.
	Moves []Move
	// States are written (or deleted, when Value is nil).
	States []State
}

// A Result says what Apply did.
type Result struct {
	// Tracked has one element per Batch.Puts: the stored email with its ID,
	// or the email already stored under its Message-ID when Existing, as
	// the Puts left it (a Relink of the same Batch is not reflected).
	Tracked []correlate.Tracked
	// Existing has one element per Batch.Puts: true when the email was
	// already stored and nothing of its Entry was written.
	Existing []bool
	// Changes are the changes of record the Relinks made, in order (a
	// Relink that changed nothing adds none).
	Changes []Change
}

// A Store is a correlate.Store with the writes and reads of the edges.
// Implementations must be safe for concurrent use, by any number of
// goroutines and, for stores in a shared database, of processes.
type Store interface {
	correlate.Store

	// Apply makes the writes of b atomically: all of them or, on any
	// error, none. An empty Batch with a Lease writes nothing and only
	// checks that the lease is held.
	Apply(ctx context.Context, b Batch) (Result, error)
	// States returns the states whose names start with prefix, in name
	// order.
	States(ctx context.Context, prefix string) ([]State, error)

	// History returns the changes of record of the tracked email id,
	// oldest first. Every change is kept, whichever call made it: Apply's
	// Relinks, correlate.Store.Relink (cause manual, no actor) and
	// RelinkKey (cause folder, no actor). An email that never changed
	// record has none; an unknown id is an error wrapping
	// correlate.ErrNotFound. Deleting an email deletes its history.
	History(ctx context.Context, id int64) ([]Change, error)
	// Emails returns a page of the tracked emails filed under r, newest
	// first (by Time, then ID), at most limit (<= 0 means
	// correlate.DefaultLimit), and the cursor of the next page ("" on the
	// last). Pass "" for the first page. Cursors are opaque and stay valid
	// while emails are added or removed: a page starts after the last
	// email of the page before, wherever that email has gone since. A
	// cursor the Store did not make is an error wrapping ErrBadCursor.
	// The zero Record lists the emails tracked without a record.
	Emails(ctx context.Context, r correlate.Record, limit int, cursor string) ([]correlate.Tracked, string, error)
	// Scan returns the tracked emails with an ID greater than after, in ID
	// order, at most limit (<= 0 means correlate.DefaultLimit).
	Scan(ctx context.Context, after int64, limit int) ([]correlate.Tracked, error)

	// Acquire takes the lease of name for holder until now+ttl. When
	// holder already has it and it has not expired, the lease is renewed
	// (same Token). When another holder has it and it has not expired,
	// Acquire returns an error wrapping ErrLeaseHeld. Otherwise (free,
	// released or expired, whoever held it) the lease is taken with a new
	// Token, so batches fenced by an expired lease are refused.
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error)
	// Release gives l up, so another holder may take it at once; an error
	// wrapping ErrLeaseLost when l is no longer held.
	Release(ctx context.Context, l Lease) error
}
