package imapsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// An Action is what the sync did with one message.
type Action int

// The actions.
const (
	// Tracked: the message was filed (stored with its index keys).
	Tracked Action = iota
	// Relinked: the message was already tracked, and sits in a tracked
	// folder whose rule names another record: it was re-linked to it (a
	// folder rule beats a manual regarding, as in Dynamics).
	Relinked
	// Existing: the message was already tracked (a copy in another folder,
	// a move to an unmapped folder or back to Inbox, a rescan): its record
	// did not change (a move into a tracked folder files it under that
	// folder).
	Existing
	// Untracked: the guardrails (auto-replies, bounces, loops) or the
	// incoming-email filter left it untracked.
	Untracked
	// TooOld: received before Mailbox.After; not processed.
	TooOld
	// Failed: the message could not be processed (unreadable header,
	// larger than Options.MaxMessageBytes); reported and skipped.
	Failed
)

var actionNames = [...]string{"tracked", "relinked", "existing", "untracked", "too old", "failed"}

// String returns "tracked", "relinked", "existing", "untracked", "too old"
// or "failed".
func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// An Event is what the sync did with one message, given to
// Options.OnMessage after its writes committed.
type Event struct {
	// Mailbox is the mailbox's address; Folder the folder's name on the
	// server and FolderID its id; UID the message's UID there. A POP3
	// mailbox's messages are in "INBOX", with no folder id, no UID and no
	// UIDVALIDITY: UIDL is the message's unique id on the server.
	Mailbox     string
	Folder      string
	FolderID    string
	UID         uint32
	UIDValidity uint32
	UIDL        string
	// Message is the message as parsed (its header, and its body for a
	// bounce); nil when unreadable.
	Message *correlate.Message
	// ParseErr lists what was wrong in a message that could still be read
	// (a *correlate.ParseError), or why it could not.
	ParseErr error
	Action   Action
	// Decision is the chain's decision (zero when the message was not
	// correlated: already tracked, known, skipped).
	Decision correlate.Decision
	// Verdict is the incoming-email filter's verdict, when it was asked.
	Verdict *party.Verdict
	// Known reports a message tracked under Options.Known's record.
	Known bool
	// Email is the tracked email (after a Put, a Relink, or as found);
	// zero when the message is not tracked.
	Email correlate.Tracked
	// Previous is the record before a Relink.
	Previous correlate.Record
	// Reason explains the action for people.
	Reason string
}

// parse parses a fetched header (at refill, so the merge can order by
// Date).
func (p *passRun) parse(f *fetched) {
	if int64(len(f.header)) == 0 {
		f.perr = errors.New("the server returned no header")
		return
	}
	m, err := correlate.ParseMessage(bytes.NewReader(f.header), nil)
	f.msg, f.perr = m, err
}

// process handles one message of folder fo: correlate and file it, or
// re-link it, or skip it; its writes and fo's cursor commit together.
func (p *passRun) process(ctx context.Context, fo *folderRun, f fetched) error {
	s, mb := p.s, p.mb
	ev := Event{Mailbox: mb.addr, Folder: fo.done.Path, FolderID: fo.done.ID, UID: f.uid,
		UIDValidity: fo.done.UIDValidity, Message: f.msg, ParseErr: f.perr}
	if f.uidl != "" {
		ev.UID, ev.UIDL = 0, f.uidl // a POP3 message number changes between sessions
	}
	var c Counts
	c.Fetched = 1
	var b store.Batch
	m := f.msg
	switch {
	case f.size > s.o.MaxMessageBytes:
		ev.Action, ev.Reason = Failed, fmt.Sprintf("%v: %d bytes, more than %d", errTooLarge, f.size, s.o.MaxMessageBytes)
	case m == nil:
		ev.Action, ev.Reason = Failed, "unreadable: "+errText(f.perr)
	}
	if ev.Action == Failed {
		c.Errors = 1
		fo.mark(&f, true)
		return p.finish(ctx, fo, ev, c, b)
	}
	m.Mailbox = mb.cfg.Address
	m.FolderID = fo.done.ID
	m.FolderPath = fo.done.Path
	m.Direction = correlate.Incoming
	if fo.role == roleSent || m.SenderAddress() == mb.addr {
		m.Direction = correlate.Outgoing
	}
	if after := mb.cfg.After; !after.IsZero() && (fo.role != roleRule || fo.initial) && !f.internalDate.IsZero() && f.internalDate.Before(after) {
		ev.Action, ev.Reason = TooOld, "received "+f.internalDate.UTC().Format("2006-01-02 15:04")+", before the mailbox's start date"
		c.Skipped = 1
		fo.mark(&f, true)
		return p.finish(ctx, fo, ev, c, b)
	}
	id := m.MessageID
	if id == "" {
		id = correlate.FingerprintID(m)
	}
	if id != "" {
		t, err := s.eng.Lookup(ctx, id)
		switch {
		case err == nil:
			ev.Email = t
			fo.mark(&f, false)
			return p.existing(ctx, fo, m, ev, c, t)
		case !errors.Is(err, correlate.ErrNotFound):
			return storeErr(err)
		}
	}
	how := correlate.Match{}
	track := false
	if s.o.Known != nil {
		if rec, ok := s.o.Known(ctx, m); ok {
			ev.Known, track, how = true, true, correlate.Match{Record: rec}
			ev.Reason = "known: already filed in the CRM under " + rec.String()
		}
	}
	if !track {
		var err error
		if m, how, track, err = p.decide(ctx, fo, &f, m, &ev, &c); err != nil {
			return err
		}
	}
	// Done once this message's writes (or a later one's) commit: marked
	// only now, after every fetch and lookup that can fail, so that a pass
	// that fails here does not write a cursor past a message it never
	// processed.
	fo.mark(&f, false)
	if !track {
		ev.Action = Untracked
		c.Untracked = 1
		return p.finish(ctx, fo, ev, c, b)
	}
	t, keys := s.eng.Prepare(m, how)
	b.Puts = []store.Entry{{Tracked: t, Keys: keys}}
	res, err := p.commit(ctx, b)
	if err != nil {
		return err
	}
	ev.Email = res.Tracked[0]
	if res.Existing[0] {
		ev.Action = Existing
		c.Existing = 1
	} else {
		ev.Action = Tracked
		c.Tracked = 1
	}
	p.report(ev, c)
	return nil
}

// decide correlates m, a message of fo not yet tracked, and decides
// whether to track it (the mailbox's filter): it returns the message
// (re-read with its body for a bounce whose body the guardrails need), its
// match, and whether to track it, noting the decision in ev and c.
func (p *passRun) decide(ctx context.Context, fo *folderRun, f *fetched, m *correlate.Message, ev *Event, c *Counts) (*correlate.Message, correlate.Match, bool, error) {
	s, mb := p.s, p.mb
	track := false
	d, err := s.eng.Correlate(ctx, m)
	if err != nil {
		return m, correlate.Match{}, false, storeErr(err)
	}
	if cl := d.Classification; cl.Class == guard.Bounce && cl.Original == nil && len(m.Body) == 0 {
		// The guardrails read a bounce's body to find the message it
		// returns: fetch it, bounded, and correlate the whole.
		body, err := fo.body(f, s.o.MaxBodyBytes)
		if err != nil {
			return m, correlate.Match{}, false, err
		}
		raw := append(append([]byte{}, f.header...), body...)
		full, perr := correlate.ParseMessage(bytes.NewReader(raw), &correlate.ParseOptions{KeepBody: true, MaxBodyBytes: s.o.MaxBodyBytes})
		if full != nil {
			full.Mailbox, full.FolderID, full.FolderPath, full.Direction = m.Mailbox, m.FolderID, m.FolderPath, m.Direction
			m, ev.Message, ev.ParseErr = full, full, perr
			if d, err = s.eng.Correlate(ctx, m); err != nil {
				return m, correlate.Match{}, false, storeErr(err)
			}
		}
	}
	ev.Decision = d
	ev.Reason = d.Match.Reason
	if d.Found() {
		c.Correlated = 1
	}
	switch {
	case d.NoTrack != "":
		ev.Reason = joinReason(ev.Reason, "not tracked: "+d.NoTrack)
	default:
		var res party.Resolution
		if s.o.Resolver != nil {
			if r, err := s.o.Resolver.Resolve(ctx, m); err == nil {
				res = r
			}
		}
		v := mb.cfg.Filter.Accept(m, d, res)
		ev.Verdict = &v
		track = v.Track
		if !track {
			ev.Reason = joinReason(ev.Reason, "not tracked: "+v.Reason)
		} else if !d.Found() && ev.Reason == "" {
			ev.Reason = "tracked without a record: " + v.Reason
		}
	}
	return m, d.Match, track, nil
}

// existing handles a message already tracked: in a tracked folder whose
// rule names another record it is re-linked (the folder rule takes
// precedence over a manual regarding, as in Dynamics); anywhere else it
// keeps its record (moved to an unmapped folder or back to Inbox). A copy
// tracked from another mailbox is left alone: the first processed wins.
//
// An email of this mailbox found in a tracked folder other than the one it
// was filed from now belongs to that folder (store.Move): its folder
// fields, and its folder keys, so that later changes of the old folder's
// rule no longer reach it and those of the new folder do. Found in an
// untracked folder (Inbox, Sent, any other), it keeps its folder: IMAP
// does not tell a move from a copy, and a server that shows labels as
// folders (Gmail) keeps a message in its tracked folder and in Inbox at
// once.
func (p *passRun) existing(ctx context.Context, fo *folderRun, m *correlate.Message, ev Event, c Counts, t correlate.Tracked) error {
	ev.Action = Existing
	ev.Reason = "already tracked as email " + fmt.Sprint(t.ID)
	var b store.Batch
	var rec correlate.Record
	tracked := fo.rule != nil && fo.done.Disabled == ""
	other := t.Mailbox != "" && correlate.NormalizeAddress(t.Mailbox) != p.mb.addr
	if tracked && !fo.rule.Record.IsZero() {
		rec = fo.rule.Record
		switch {
		case other:
			ev.Reason += " from " + t.Mailbox + " (first processed wins)"
		case t.Record != rec:
			b.Relinks = []store.Relink{{ID: t.ID, Record: rec,
				Change: store.Change{Actor: "imapsync", Cause: store.CauseFolder}}}
			ev.Action, ev.Previous = Relinked, t.Record
			ev.Reason = fmt.Sprintf("moved into tracked folder %q: re-linked from %s to %s", fo.done.Path, recordText(t.Record), rec)
		}
	}
	if tracked && t.Mailbox != "" && !other && m.FolderID != "" && t.FolderID != m.FolderID {
		b.Moves = []store.Move{p.move(m, t)}
		if ev.Action != Relinked {
			ev.Reason += fmt.Sprintf(", found in tracked folder %q: filed under it", fo.done.Path)
		}
	}
	if ev.Action != Relinked && len(b.Moves) == 0 {
		c.Existing = 1
		return p.finish(ctx, fo, ev, c, b)
	}
	if _, err := p.commit(ctx, b); err != nil {
		if errors.Is(err, correlate.ErrNotFound) {
			// Untracked in between (a person deleted it in the CRM): a
			// rule does not bring it back.
			c.Existing = 1
			ev.Action = Existing
			return p.finish(ctx, fo, ev, c, store.Batch{})
		}
		return err
	}
	if len(b.Moves) > 0 {
		ev.Email.FolderID, ev.Email.FolderPath = m.FolderID, m.FolderPath
	}
	if ev.Action != Relinked {
		c.Existing = 1
		p.report(ev, c)
		return nil
	}
	ev.Email.Record = rec
	ev.Email.Method = correlate.FolderTracking
	c.Tracked = 1
	p.report(ev, c)
	return nil
}

// move files tracked email t under m's folder, where it was found: the key
// of the folder it was filed from is dropped, and the folder keys the
// engine's indexers give m now are added.
func (p *passRun) move(m *correlate.Message, t correlate.Tracked) store.Move {
	mv := store.Move{ID: t.ID, FolderID: m.FolderID, FolderPath: m.FolderPath}
	if t.FolderID != "" {
		mv.Drop = []correlate.Key{folder.Key(t.Mailbox, t.FolderID)}
	}
	_, keys := p.s.eng.Prepare(m, correlate.Match{})
	for _, k := range keys {
		if k.Kind == folder.Kind {
			mv.Add = append(mv.Add, k)
		}
	}
	return mv
}

func recordText(r correlate.Record) string {
	if r.IsZero() {
		return "no record"
	}
	return r.String()
}

// finish ends a message that needs no write of its own: its folder's
// cursor waits for the next write (or the end of the batch), which is
// safe because an untracked message changes nothing later messages are
// correlated against.
func (p *passRun) finish(ctx context.Context, fo *folderRun, ev Event, c Counts, b store.Batch) error {
	if fo.next >= len(fo.batch) {
		if _, err := p.commit(ctx, b); err != nil {
			return err
		}
	}
	p.report(ev, c)
	return nil
}

func (p *passRun) report(ev Event, c Counts) {
	p.mb.update(func(st *Status) {
		st.Counts.Fetched += c.Fetched
		st.Counts.Correlated += c.Correlated
		st.Counts.Tracked += c.Tracked
		st.Counts.Untracked += c.Untracked
		st.Counts.Existing += c.Existing
		st.Counts.Skipped += c.Skipped
		st.Counts.Errors += c.Errors
	})
	if p.s.o.OnMessage != nil {
		p.s.o.OnMessage(ev)
	}
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
