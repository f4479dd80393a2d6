package correlate

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound is returned (wrapped) when a tracked email does not exist.
	ErrNotFound = errors.New("correlate: not found")
	// ErrExists is returned (wrapped) by Store.Put when a tracked email with
	// the same Message-ID is already stored.
	ErrExists = errors.New("correlate: already tracked")
)

// A Tracked is one tracked email: an email already filed under a record, the
// row later email is correlated against (a Dynamics email activity).
//
// Values returned by a Store share their slices with the store or with
// other results; treat them as read-only.
type Tracked struct {
	// ID is assigned by the Store on Put (1, 2, 3 …); 0 before.
	ID int64
	// MessageID is the normalized Message-ID ("" when the email had none).
	// A Store holds at most one tracked email per non-empty MessageID.
	MessageID string
	// Record is the record the email is filed under; zero for an email
	// tracked without a record (a track-only folder).
	Record Record
	// Token is the tracking token found in or stamped on the subject.
	Token string
	// ConversationIndex is the raw Exchange conversation index.
	ConversationIndex []byte
	// Subject is the decoded subject as sent.
	Subject string
	// Participants are the normalized addresses of From, Sender, To, Cc and
	// Bcc (see [Message.Participants]).
	Participants []string
	// Mailbox, FolderID and FolderPath say where the email was found.
	Mailbox    string
	FolderID   string
	FolderPath string
	Direction  Direction
	// Time orders tracked emails: the message Date, or the time it was
	// tracked when the Date was missing.
	Time time.Time
	// Method is how the email was correlated when it was tracked (None for
	// emails filed by hand or by the CRM itself).
	Method Method
	// CorrelatedWith and Parent are the IDs of the tracked emails it was
	// correlated with and replies to; 0 when none.
	CorrelatedWith int64
	Parent         int64
}

// A Key is one index entry of a tracked email: a kind chosen by the strategy
// that owns it ("msgid", "token", "convroot" …) and a value. Strategies
// normalize values before making keys, so lookups are exact comparisons.
// Values may be long — mail from strangers carries From addresses and
// Message-IDs of kilobytes — and every Store takes them and finds them by
// the whole value (a store may index a long one by a hash of it).
type Key struct {
	Kind  string
	Value string
}

// KindMessageID is the key kind of a tracked email's own Message-ID. The
// [Engine] always indexes it; header strategies look replies up under it.
const KindMessageID = "msgid"

// MessageIDKey returns the Key for a Message-ID, normalized by
// [NormalizeMessageID].
func MessageIDKey(id string) Key { return Key{Kind: KindMessageID, Value: NormalizeMessageID(id)} }

// An Indexer is a strategy that needs an index: when an email is tracked it
// contributes the keys later emails will be looked up by.
//
// Index appends the keys of t, built from m, to dst and returns the extended
// slice. It may fill the fields of t that belong to its strategy and are
// still empty (a token Indexer sets t.Token). It must be safe for concurrent
// use.
type Indexer interface {
	Index(m *Message, t *Tracked, dst []Key) []Key
}

// A Query bounds a lookup. The zero Query returns up to DefaultLimit results
// from all time.
type Query struct {
	// Limit is the most results returned; 0 means DefaultLimit, -1 no limit.
	Limit int
	// Since (inclusive) and Until (exclusive) bound Tracked.Time; zero means
	// unbounded.
	Since, Until time.Time
}

// DefaultLimit is the number of results of a Query with Limit 0.
const DefaultLimit = 100

// EffectiveLimit returns the number of results q allows; -1 means no limit.
func (q Query) EffectiveLimit() int {
	switch {
	case q.Limit == 0:
		return DefaultLimit
	case q.Limit < 0:
		return -1
	}
	return q.Limit
}

// Contains reports whether t lies in q's time window.
func (q Query) Contains(t time.Time) bool {
	if !q.Since.IsZero() && t.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !t.Before(q.Until) {
		return false
	}
	return true
}

// Stats describes a Store's contents.
type Stats struct {
	Emails int64 // tracked emails
	Keys   int64 // (key, email) index entries
}

// A Lookuper finds tracked emails by index key: what a strategy reads from
// the store. Every [Store] is one; strategies take a Lookuper so that a test
// or a read-only replica can stand in for the whole Store.
type Lookuper interface {
	// Lookup returns the tracked emails under k within q's window, newest
	// first (by Time, then by ID), at most q's limit. No match is an empty
	// result, not an error.
	Lookup(ctx context.Context, k Key, q Query) ([]Tracked, error)
}

// A Store keeps tracked emails and their index: one row per tracked email and
// an inverted index Key → tracked emails. Implementations must be safe for
// concurrent use; see the store/storetest package for the full contract that
// every implementation passes.
type Store interface {
	// Put stores t with its keys atomically (all or nothing) and returns it
	// with its assigned ID. t.ID must be 0. Duplicate keys are stored once.
	// If an email with the same non-empty MessageID is already stored, Put
	// stores nothing and returns that email and an error wrapping ErrExists.
	Put(ctx context.Context, t Tracked, keys []Key) (Tracked, error)
	// Get returns the tracked email with the given ID, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id int64) (Tracked, error)
	// Delete removes a tracked email and its keys; an error wrapping
	// ErrNotFound if it does not exist.
	Delete(ctx context.Context, id int64) error
	// Lookuper: Lookup returns the tracked emails under k within q's
	// window, newest first, at most q's limit.
	Lookuper
	// Count returns the number of tracked emails under k.
	Count(ctx context.Context, k Key) (int, error)
	// Relink files a tracked email under another record; later lookups see
	// the new record. An error wrapping ErrNotFound if it does not exist.
	// A store that keeps the history of records (store.Store) keeps the
	// change, with cause "manual".
	Relink(ctx context.Context, id int64, r Record) error
	// RelinkKey files every tracked email under k under r and returns how
	// many it changed (a folder whose mapping changed). A store that keeps
	// the history of records (store.Store) keeps a change for each, with
	// cause "folder".
	RelinkKey(ctx context.Context, k Key, r Record) (int, error)
	// NextSequence returns the next value (1, 2, 3 …) of the named counter.
	// No two calls, from any number of goroutines or processes sharing the
	// store, return the same value for the same name.
	NextSequence(ctx context.Context, name string) (int64, error)
	// Stats reports the store's size.
	Stats(ctx context.Context) (Stats, error)
}
