package folder

import (
	"context"
	"errors"
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// A Relinker re-links every tracked email under an index key; a
// correlate.Store is one.
type Relinker interface {
	// RelinkKey files every tracked email under k under r and returns how
	// many it changed.
	RelinkKey(ctx context.Context, k correlate.Key, r correlate.Record) (int, error)
}

// A Refiler looks up, tracks and untracks email; a *correlate.Engine is one.
type Refiler interface {
	// Lookup returns the tracked email with the given Message-ID, or an
	// error wrapping correlate.ErrNotFound.
	Lookup(ctx context.Context, messageID string) (correlate.Tracked, error)
	// Track files m under how.Record and indexes it with every Indexer.
	Track(ctx context.Context, m *correlate.Message, how correlate.Match) (correlate.Tracked, error)
	// Untrack removes a tracked email and its keys.
	Untrack(ctx context.Context, id int64) error
}

// SetRecord maps a folder to rec and re-links every email tracked in it to
// rec, old mail included, as Dynamics does when a folder's regarding record
// changes; it returns how many emails changed record. A zero rec makes the
// folder track-only: as when a regarding link is removed in Dynamics, the
// emails already in it keep their record, and new email is tracked without
// one. SetRecord with the folder's current record re-asserts it over manual
// relinks, as Apply does for one folder.
//
// The emails re-linked are those tracked while the folder was mapped (the
// Correlator's Indexer gives them the folder's key). The rule changes first;
// if s then fails the error says so and a later Apply finishes the job. A
// nil s changes the rule only. The error is an *Error: ErrNotMapped,
// ErrDisabled (the folder is outside Inbox), ErrBadMapping (a record with
// a type but no id) or the store's error.
func (r *Rules) SetRecord(ctx context.Context, s Relinker, mailbox, folderID string, rec correlate.Record) (int, error) {
	rl, err := r.setRecord(mailbox, folderID, rec)
	if err != nil {
		return 0, err
	}
	if rec.IsZero() || s == nil {
		return 0, nil
	}
	n, err := s.RelinkKey(ctx, rl.key(), rec)
	if err != nil {
		return n, &Error{Op: "set record", Mailbox: rl.Mailbox, FolderID: rl.FolderID, Path: rl.FolderPath,
			Err: fmt.Errorf("rule changed, emails not re-linked: %w", err)}
	}
	return n, nil
}

// Apply re-asserts the rules of mailbox (of every mailbox when mailbox is
// ""): every email tracked in a mapped folder that has a record is re-linked
// to that record, overwriting manual relinks. Dynamics does this at the next
// synchronization of the mailbox ("the tracked folder rule takes
// precedence"); this library does nothing behind the caller's back, so call
// Apply where Dynamics would synchronize. It returns how many emails changed
// record. Track-only and disabled rules are skipped. On a store failure or
// when ctx is done Apply stops and returns the count so far with an *Error
// naming the folder it was at.
func (r *Rules) Apply(ctx context.Context, s Relinker, mailbox string) (int, error) {
	total := 0
	for _, rl := range r.snapshot(mailbox) {
		if err := ctx.Err(); err != nil {
			return total, &Error{Op: "apply", Mailbox: rl.Mailbox, FolderID: rl.FolderID, Path: rl.FolderPath, Err: err}
		}
		n, err := s.RelinkKey(ctx, rl.key(), rl.Record)
		total += n
		if err != nil {
			return total, &Error{Op: "apply", Mailbox: rl.Mailbox, FolderID: rl.FolderID, Path: rl.FolderPath, Err: err}
		}
	}
	return total, nil
}

// Move brings the store in line after the email m was moved, within its
// mailbox, to the folder m.FolderID (m.FolderPath): call it when a
// synchronization finds a tracked email in another folder than the one it
// was tracked in. As in Dynamics:
//
//   - moved to a mapped folder that has a record, the email is re-linked to
//     that record (method FolderTracking);
//   - moved to an unmapped or track-only folder, it keeps its record;
//   - either way it now belongs to the new folder, so later changes of the
//     old folder's rule no longer touch it and those of the new folder do;
//   - an email that was not tracked and lands in a mapped folder is tracked
//     there, as dragging it into the folder asks;
//   - another mailbox's copy of an email tracked from a first mailbox changes
//     nothing: the first processed wins.
//
// Move returns the email as now tracked: unchanged when nothing had to
// change, the zero Tracked when the email is not tracked and its folder is
// not mapped.
//
// m must be the whole message as parsed (only its folder fields differ from
// when it was tracked): the correlate.Store interface has no operation that
// changes an email's index keys, so Move re-files the email (e.Untrack, then
// e.Track with its record, method and correlation links), and the Indexers
// rebuild its keys from m. (A store.Store does: a store.Move in an Apply
// re-files an email in place, atomically and keeping its ID, which is how
// imapsync files the emails it finds moved.) The email gets a new ID; tracked emails whose
// CorrelatedWith or Parent named the old ID keep the old number. When
// neither the old nor the new folder is mapped there are no folder keys to
// change, and Move leaves the email, and its ID, as they are. Move is not
// atomic: the re-tracking ignores the cancellation of ctx, but if the store
// fails after the untrack, the error says so and the email must be tracked
// again. m without a Message-ID cannot be found; the
// error then wraps correlate.ErrNoMessageID.
func (r *Rules) Move(ctx context.Context, e Refiler, m *correlate.Message) (correlate.Tracked, error) {
	if m == nil {
		return correlate.Tracked{}, &Error{Op: "move", Err: fmt.Errorf("nil message: %w", correlate.ErrNoMessageID)}
	}
	fail := func(err error) (correlate.Tracked, error) {
		return correlate.Tracked{}, &Error{Op: "move", Mailbox: correlate.NormalizeAddress(m.Mailbox),
			FolderID: m.FolderID, Path: m.FolderPath, Err: err}
	}
	if m.MessageID == "" {
		return fail(correlate.ErrNoMessageID)
	}
	to, cfg := r.lookup(m.Mailbox, m.FolderID)
	toOK := to != nil && applies(to, cfg, m.FolderPath)
	t, err := e.Lookup(ctx, m.MessageID)
	if errors.Is(err, correlate.ErrNotFound) {
		if !toOK {
			return correlate.Tracked{}, nil
		}
		nt, err := e.Track(ctx, m, to.match())
		if err != nil {
			return fail(err)
		}
		return nt, nil
	}
	if err != nil {
		return fail(err)
	}
	if correlate.NormalizeAddress(t.Mailbox) != correlate.NormalizeAddress(m.Mailbox) || t.FolderID == m.FolderID {
		return t, nil // another mailbox's copy (first processed wins), or not moved
	}
	from, _ := r.lookup(t.Mailbox, t.FolderID)
	if from == nil && !toOK {
		return t, nil // no folder key on either side: the record stays, nothing to re-index
	}
	how := correlate.Match{Record: t.Record, Method: t.Method}
	if toOK && !to.TrackOnly() {
		how.Record, how.Method = to.Record, correlate.FolderTracking
	}
	if t.CorrelatedWith != 0 {
		how.CorrelatedWith = &correlate.Tracked{ID: t.CorrelatedWith}
	}
	if t.Parent != 0 {
		how.Parent = &correlate.Tracked{ID: t.Parent}
	}
	if err := e.Untrack(ctx, t.ID); err != nil {
		return fail(fmt.Errorf("untrack email %d: %w", t.ID, err))
	}
	// Once untracked, the email must be tracked again even if ctx is
	// cancelled in between; only a store failure can lose it.
	nt, err := e.Track(context.WithoutCancel(ctx), m, how)
	if err != nil {
		return fail(fmt.Errorf("email %d was untracked but could not be tracked again; track it again: %w", t.ID, err))
	}
	return nt, nil
}
