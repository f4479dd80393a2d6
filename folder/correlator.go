package folder

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// Kind is the key kind of the folder index: every email tracked while it
// sits in a mapped folder is indexed under [Key] of that folder.
const Kind = "folder"

// Evidence fields of the folder Correlator's matches.
const (
	// FieldFolder is the rule consulted: Value is the folder path, Note
	// what the rule maps to, or why it did not apply.
	FieldFolder = "folder"
	// FieldTracked reports that the message was already tracked: Value is
	// its Message-ID, Note under what, and what that means.
	FieldTracked = "folder.tracked"
	// FieldConflict reports a rule that lost: the same email sits in
	// another mailbox's mapped folder with a different record, and the
	// first processed won. Value is the losing rule's record, Note names
	// its mailbox and folder and the email that won.
	FieldConflict = "folder.conflict"
)

// Key returns the index key of a folder: Kind, and the mailbox (normalized by
// correlate.NormalizeAddress), a NUL byte and the folder id. Mailboxes
// cannot contain NUL, so the key is unambiguous.
func Key(mailbox, folderID string) correlate.Key {
	return correlate.Key{Kind: Kind, Value: correlate.NormalizeAddress(mailbox) + "\x00" + folderID}
}

// Options configures a Correlator. A nil *Options is equivalent to the zero
// value.
type Options struct {
	// Rules are the folder mappings the Correlator applies. nil means a new,
	// empty Rules with the default Config; add mappings through
	// Correlator.Rules.
	Rules *Rules
	// SkipTrackedCheck turns off the look-up of the message's own
	// Message-ID. Without it the Correlator cannot see that the email is
	// already tracked, so it neither lets the first processed copy win nor
	// reports conflicts and manual relinks; it saves one store read per
	// email in a mapped folder.
	SkipTrackedCheck bool
}

// A Correlator applies folder-level tracking rules: stage 0 of the default
// chain, above every correlation method, because a folder mapping is the
// user's explicit intent.
//
// An email in a mapped folder that has a record gets that record, with
// method FolderTracking and confidence Certain; an email in a track-only
// folder gets a Match with Track set and no record, so the Chain lets the
// later strategies choose the record and Decision.Track reports true. Email
// anywhere else gets no opinion: Inbox mail, unmapped folders, and
// subfolders of a mapped folder unless they are mapped themselves.
//
// The Correlator reads m.Mailbox, m.FolderID and m.FolderPath. The rule is
// found by folder id, so a renamed folder keeps its rule (the Evidence notes
// the new path); when m.FolderPath says the folder is now outside Inbox the
// rule is disabled and the Correlator abstains, with Evidence saying so.
//
// Unless Options.SkipTrackedCheck is set, it also looks the message's own
// Message-ID up, because one email can sit in several places:
//
//   - already tracked under the rule's record: the same answer, noted;
//   - tracked from the same mailbox under another record (re-linked by hand,
//     or moved from another folder): the rule takes precedence, as in
//     Dynamics; the Evidence says so, and Rules.Apply or Rules.Move bring
//     the store in line;
//   - tracked from another mailbox under another record (two users put the
//     same email in folders mapped to different records): the first processed
//     wins. The Match names the record the email is tracked under, and the
//     rule that lost is reported as a conflict: Evidence with Field
//     FieldConflict, and the Reason. (A Decision's Conflicts list only
//     strategies consulted after the winner, so the folder stage, which
//     comes first, reports its own conflicts in its Match.)
//
// The Correlator is also a correlate.Indexer, so a correlate.Engine built on
// a chain holding it gives every email tracked in an enabled mapped folder
// the folder's [Key]; SetRecord, Apply and Move use those keys. It is safe
// for concurrent use, also while its Rules change.
//
// The Evidence of the Matches it returns may share its backing array with
// other Matches of the same rule (its capacity equals its length, so
// appending copies it): treat it as read-only.
type Correlator struct {
	idx        correlate.Lookuper
	rules      *Rules
	skipLookup bool
}

var (
	_ correlate.Correlator = (*Correlator)(nil)
	_ correlate.Indexer    = (*Correlator)(nil)
)

// New returns a Correlator applying opts.Rules, reading tracked email from
// idx. A nil idx behaves as Options.SkipTrackedCheck.
func New(idx correlate.Lookuper, opts *Options) *Correlator {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Rules == nil {
		o.Rules = &Rules{}
	}
	return &Correlator{idx: idx, rules: o.Rules, skipLookup: o.SkipTrackedCheck || idx == nil}
}

// Rules returns the rule set the Correlator applies.
func (c *Correlator) Rules() *Rules { return c.rules }

// String returns "folder", the strategy's name.
func (c *Correlator) String() string { return "folder" }

// lookup returns the rule of a folder, or nil, and the Config to judge the
// message's path by, read under one lock.
func (r *Rules) lookup(mailbox, folderID string) (*rule, Config) {
	if mailbox == "" || folderID == "" {
		return nil, Config{}
	}
	mb := correlate.NormalizeAddress(mailbox)
	var buf [256]byte
	kv := append(append(append(buf[:0], mb...), 0), folderID...)
	r.mu.RLock()
	rl, cfg := r.byKey[string(kv)], r.cfg
	r.mu.RUnlock()
	return rl, cfg
}

// applies reports whether rl applies to an email found at path, the folder's
// current path as the message gives it ("" when unknown).
func applies(rl *rule, cfg Config, path string) bool {
	if rl.Disabled {
		return false
	}
	if path == "" || path == rl.FolderPath {
		return true
	}
	return !errors.Is(cfg.CheckPath(path), ErrOutsideInbox)
}

// match returns the Match of rl with no message-specific evidence.
func (rl *rule) match() correlate.Match {
	if rl.TrackOnly() {
		return correlate.Match{Method: correlate.FolderTracking, Track: true, Reason: rl.reason}
	}
	return correlate.Match{Record: rl.Record, Method: correlate.FolderTracking,
		Confidence: correlate.Certain, Reason: rl.reason}
}

// Correlate applies the rule of the folder m sits in; see Correlator. It
// returns an error only when the store fails or ctx is done.
func (c *Correlator) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	if m == nil {
		return correlate.Match{}, nil
	}
	rl, cfg := c.rules.lookup(m.Mailbox, m.FolderID)
	if rl == nil {
		return correlate.Match{}, nil // most mail: Inbox, unmapped folders
	}
	return c.apply(ctx, m, rl, cfg)
}

// apply builds the Match of rule rl for m. It is apart from Correlate so
// that the common no-rule path does not pay for this one's large frame.
func (c *Correlator) apply(ctx context.Context, m *correlate.Message, rl *rule, cfg Config) (correlate.Match, error) {
	if rl.Disabled {
		return correlate.Match{
			Reason: "rule of " + quote(rl.FolderPath) + " disabled: the folder is outside Inbox",
			Evidence: []correlate.Evidence{{Field: FieldFolder, Value: rl.FolderPath,
				Note: "rule disabled: folder moved outside Inbox"}},
		}, nil
	}
	ev := rl.ev
	if p := m.FolderPath; p != "" && p != rl.FolderPath {
		switch err := cfg.CheckPath(p); {
		case errors.Is(err, ErrOutsideInbox):
			return correlate.Match{
				Reason: "rule of folder id " + quote(rl.FolderID) + " disabled: the folder is now outside Inbox",
				Evidence: []correlate.Evidence{{Field: FieldFolder, Value: p,
					Note: "rule disabled: folder moved outside Inbox (was " + quote(rl.FolderPath) + "); update it with Rules.SetPath"}},
			}, nil
		case err != nil:
			ev = append(ev, correlate.Evidence{Field: FieldFolder, Value: quote(p),
				Note: "message's folder path ignored (" + err.Error() + "); the rule follows the folder id"})
		default:
			ev = append(ev, correlate.Evidence{Field: FieldFolder, Value: p,
				Note: "folder renamed or moved from " + quote(rl.FolderPath) + "; the rule follows the folder id"})
		}
	}
	out := rl.match()
	out.Evidence = ev
	if c.skipLookup || m.MessageID == "" {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return correlate.Match{}, fmt.Errorf("folder: lookup %q: %w", m.MessageID, err)
	}
	ts, err := c.idx.Lookup(ctx, correlate.MessageIDKey(m.MessageID), correlate.Query{Limit: 1})
	if err != nil {
		return correlate.Match{}, fmt.Errorf("folder: lookup %q: %w", m.MessageID, err)
	}
	if len(ts) == 0 {
		return out, nil
	}
	t := &ts[0]
	where := "email " + strconv.FormatInt(t.ID, 10)
	switch {
	case t.Record == rl.Record:
		out.Evidence = append(out.Evidence, correlate.Evidence{Field: FieldTracked, Value: m.MessageID,
			Note: "already tracked as " + where + recordNote(t.Record)})
	case rl.TrackOnly():
		out.Evidence = append(out.Evidence, correlate.Evidence{Field: FieldTracked, Value: m.MessageID,
			Note: "already tracked as " + where + recordNote(t.Record) + " from " + location(t)})
	case correlate.NormalizeAddress(t.Mailbox) == correlate.NormalizeAddress(m.Mailbox):
		var how string
		switch {
		case t.FolderID != m.FolderID:
			how = "was moved here from " + location(t) + " and is still filed" + recordNote(t.Record)
		case t.Record.IsZero():
			how = "is tracked without a record"
		default:
			how = "is filed under " + t.Record.String() + ", not the folder's record (a manual relink, or a rule change not yet applied)"
		}
		out.Evidence = append(out.Evidence, correlate.Evidence{Field: FieldTracked, Value: m.MessageID,
			Note: where + " " + how + "; the folder rule takes precedence (Rules.Apply or Rules.Move re-files it)"})
	case t.Record.IsZero():
		out.Evidence = append(out.Evidence, correlate.Evidence{Field: FieldTracked, Value: m.MessageID,
			Note: "already tracked as " + where + " without a record from " + location(t) +
				"; the rule names the record (relink the email to apply it)"})
	default:
		// Two users put the same email in folders mapped to different
		// records: the first processed wins.
		lost := rl.Record
		out.Record = t.Record
		out.Reason = "already tracked under " + t.Record.String() + " from " + location(t) +
			" (first processed wins); conflicts with the rule of " + quote(rl.FolderPath) + " of " + rl.Mailbox +
			" (" + lost.String() + ")"
		out.Evidence = append(out.Evidence, correlate.Evidence{Field: FieldConflict, Value: lost.String(),
			Note: "rule of " + rl.Mailbox + " folder " + quote(rl.FolderPath) + " lost: " + where +
				" was tracked first under " + t.Record.String() + " from " + location(t)})
	}
	return out, nil
}

func recordNote(r correlate.Record) string {
	if r.IsZero() {
		return " without a record"
	}
	return " under " + r.String()
}

// location describes where a tracked email was found.
func location(t *correlate.Tracked) string {
	s := t.Mailbox
	if s == "" {
		s = "an unknown mailbox"
	}
	switch {
	case t.FolderPath != "":
		return s + " folder " + quote(t.FolderPath)
	case t.FolderID != "":
		return s + " folder id " + quote(t.FolderID)
	}
	return s
}

// Index implements correlate.Indexer: an email tracked while it sits in a
// mapped folder whose rule applies gets the folder's [Key], so that
// SetRecord, Apply and Move find it.
func (c *Correlator) Index(m *correlate.Message, _ *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	if m == nil {
		return dst
	}
	rl, cfg := c.rules.lookup(m.Mailbox, m.FolderID)
	if rl == nil || !applies(rl, cfg, m.FolderPath) {
		return dst
	}
	return append(dst, rl.key())
}
