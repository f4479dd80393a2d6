package imapsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// StatePrefix starts the names of the sync state a Syncer keeps in the
// store: StatePrefix + mailbox address + "/" + "inbox", "sent" or
// "rule/" + the rule's configured path (a SHA-256 of it when longer than
// 200 bytes).
const StatePrefix = "imap/"

// Folder roles.
const (
	roleInbox = "inbox"
	roleSent  = "sent"
	roleRule  = "rule"
)

// cursor is one folder's sync state, kept in the store as JSON: the folder
// it is bound to and the last UID done.
type cursor struct {
	ID          string `json:"id"`
	Path        string `json:"path"`
	UIDValidity uint32 `json:"uidvalidity"`
	UID         uint32 `json:"uid"`
	ModSeq      uint64 `json:"modseq,omitempty"`
	// Disabled says why a rule's folder is not read (deleted, moved
	// outside Inbox).
	Disabled string `json:"disabled,omitempty"`
}

// folderRun is one folder being read in a pass.
type folderRun struct {
	role    string
	key     string // state name
	rule    *folder.Mapping
	cur     cursor // as committed
	done    cursor // as processed (ahead of cur while untracked mail waits)
	initial bool   // no UID done before: Mailbox.After applies to rules too
	fs      folderStatus

	uids  []uint32 // still to fetch (over POP3: message numbers)
	batch []fetched
	next  int
	// fetch fetches and parses the headers of messages (from any
	// goroutine: it takes the pass's connection lock).
	fetch func(uids []uint32) ([]fetched, error)
	// body fetches at most max bytes of a message's body (for bounces).
	body func(f *fetched, max int64) ([]byte, error)
	// onMark, when set, records that a message is done (POP3: a UIDL row
	// that rides with the next write); keep says it must stay on the
	// server (not processed). Without it the folder's cursor moves.
	onMark func(f *fetched, keep bool)
	// pre delivers the next batch, fetched in the background; nil when
	// none is coming.
	pre chan prefetched
}

func (f *folderRun) dirty() bool { return f.done != f.cur }

// mark records that message m is processed: it is done once this
// message's writes, or a later one's, commit.
func (f *folderRun) mark(m *fetched, keep bool) {
	if f.onMark != nil {
		f.onMark(m, keep)
		return
	}
	f.done.UID = m.uid
}

func (f *folderRun) state() store.State {
	b, _ := json.Marshal(f.done)
	return store.State{Name: f.key, Value: b}
}

func (f *folderRun) folderStatus() FolderStatus {
	fs := FolderStatus{Role: f.role, Path: f.done.Path, ID: f.done.ID, UIDValidity: f.done.UIDValidity,
		UID: f.done.UID, ModSeq: f.done.ModSeq, Disabled: f.done.Disabled}
	if f.rule != nil {
		fs.Rule = f.rule.FolderPath
	}
	return fs
}

// passRun is the state of one pass over a mailbox.
type passRun struct {
	s       *Syncer
	mb      *mailbox
	ic      *imapConn
	prefix  string
	folders []*folderRun
	list    []folderInfo            // LIST, when needed
	byID    map[string]folderStatus // STATUS of listed folders, when searched
	notices []string
	// pop is the POP3 side of the pass (its UIDL rows), nil over IMAP.
	pop *popRun

	// While mail is merged, the next batch of each folder is fetched (and
	// parsed) in the background as the current one is processed: connMu
	// serializes the connection between that and the bodies of bounces,
	// inflight counts the fetches still running.
	connMu   sync.Mutex
	inflight sync.WaitGroup
}

// prefetched is a batch fetched in the background.
type prefetched struct {
	batch []fetched
	err   error
}

// pass reads every folder of mb once: new mail in Inbox, the tracked
// folders and Sent, merged by date, each message written with its
// folder's cursor. It returns Inbox's status as the pass saw it.
func (s *Syncer) pass(ctx context.Context, mb *mailbox, ic *imapConn) (folderStatus, error) {
	mb.update(func(st *Status) { st.State = StateSyncing })
	p := &passRun{s: s, mb: mb, ic: ic, prefix: StatePrefix + mb.addr + "/"}
	select {
	case <-ic.wake: // updates before this pass's STATUS are covered by it
	default:
	}
	err := p.run(ctx)
	now := s.o.Now()
	fstat := make([]FolderStatus, 0, len(p.folders))
	for _, f := range p.folders {
		fstat = append(fstat, f.folderStatus())
	}
	mb.update(func(st *Status) {
		for _, n := range p.notices {
			st.notice(now, n)
		}
		st.Folders = sortedFolders(fstat)
		if err == nil {
			st.LastSuccess = now
		}
	})
	var inbox folderStatus
	for _, f := range p.folders {
		if f.role == roleInbox {
			inbox = f.fs
		}
	}
	return inbox, err
}

func (p *passRun) notice(format string, args ...any) {
	p.notices = append(p.notices, fmt.Sprintf(format, args...))
}

func (p *passRun) run(ctx context.Context) error {
	states, err := p.s.st.States(ctx, p.prefix)
	if err != nil {
		return storeErr(err)
	}
	curs := map[string]cursor{}
	for _, st := range states {
		var c cursor
		if json.Unmarshal(st.Value, &c) == nil {
			curs[st.Name] = c
		}
	}
	if err := p.resolve(ctx, curs); err != nil {
		return err
	}
	// Folders to read: those with UIDs above their cursor.
	var pending []*folderRun
	for _, f := range p.folders {
		if f.done.Disabled != "" {
			continue
		}
		if f.fs.messages == 0 || (f.fs.uidNext != 0 && f.fs.uidNext <= f.done.UID+1) {
			continue // nothing new (UIDNEXT says so without a SELECT)
		}
		if err := p.ic.examine(f.done.Path, f.done.UIDValidity); err != nil {
			return p.folderErr(f, err)
		}
		uids, err := p.ic.searchUIDs(f.done.UID)
		if err != nil {
			return err
		}
		if len(uids) > 0 {
			f.uids = uids
			pending = append(pending, f)
		}
	}
	err = p.merge(ctx, pending)
	p.inflight.Wait() // the connection is the caller's again
	if ferr := p.flush(ctx); err == nil {
		err = ferr
	}
	return err
}

// folderErr turns a failure to open a folder into the pass's error: a
// folder gone in the middle of a pass is seen again by the next one.
func (p *passRun) folderErr(f *folderRun, err error) error {
	if errors.Is(err, errNoFolder) || errors.Is(err, errUIDValidity) {
		return transient(CauseServer, fmt.Errorf("folder %q changed during the pass: %w", f.done.Path, err))
	}
	return err
}

func storeErr(err error) error {
	if errors.Is(err, store.ErrLeaseLost) {
		return &Error{Cause: CauseLease, Err: err}
	}
	return &Error{Cause: CauseStore, Err: err}
}

// merge processes the pending folders' new mail, oldest first across
// folders: each folder is read in UID order (its cursor is the last UID
// done), and the next message processed is the oldest (by Date) at the
// head of any folder. A first sync thus meets a reply after the email it
// answers, wherever each sits, as the mailbox's owner received them.
func (p *passRun) merge(ctx context.Context, pending []*folderRun) error {
	for {
		var best *folderRun
		var bestDate time.Time
		for _, f := range pending {
			if f.next >= len(f.batch) {
				if len(f.uids) == 0 && f.pre == nil {
					continue
				}
				if err := p.refill(f); err != nil {
					return err
				}
				if f.next >= len(f.batch) {
					continue
				}
			}
			d := headDate(&f.batch[f.next])
			if best == nil || d.Before(bestDate) {
				best, bestDate = f, d
			}
		}
		if best == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		msg := best.batch[best.next]
		best.batch[best.next] = fetched{} // let the header go
		best.next++
		if err := p.process(ctx, best, msg); err != nil {
			return err
		}
	}
}

// refill makes the next batch of a folder's headers current — fetched in
// the background while the previous one was processed, or now — and starts
// fetching the one after.
func (p *passRun) refill(f *folderRun) error {
	var b []fetched
	var err error
	if f.pre != nil {
		r := <-f.pre
		f.pre = nil
		b, err = r.batch, r.err
	} else {
		b, err = f.fetch(p.take(f))
	}
	if err != nil {
		if errors.Is(err, errNoFolder) || errors.Is(err, errUIDValidity) {
			return p.folderErr(f, err)
		}
		return err
	}
	f.batch, f.next = b, 0
	if len(f.uids) > 0 {
		fetch, uids := f.fetch, p.take(f)
		ch := make(chan prefetched, 1)
		f.pre = ch
		p.inflight.Add(1)
		go func() {
			defer p.inflight.Done()
			b, err := fetch(uids)
			ch <- prefetched{b, err}
		}()
	}
	return nil
}

// take removes the next batch's UIDs from a folder's list.
func (p *passRun) take(f *folderRun) []uint32 {
	n := min(len(f.uids), p.s.o.BatchSize)
	uids := f.uids[:n]
	f.uids = f.uids[n:]
	return uids
}

// fetchBatch fetches and parses the headers of uids in a folder.
func (p *passRun) fetchBatch(path string, uidValidity uint32, uids []uint32) ([]fetched, error) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if err := p.ic.examine(path, uidValidity); err != nil {
		return nil, err
	}
	b, err := p.ic.fetchHeaders(uids, p.s.o.MaxHeaderBytes, make([]fetched, 0, len(uids)))
	if err != nil {
		return nil, err
	}
	sortFetched(b)
	for i := range b {
		p.parse(&b[i])
	}
	return b, nil
}

func sortFetched(b []fetched) {
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && b[j].uid < b[j-1].uid; j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
}

// headDate is the date a message is merged by: its Date field, else the
// server's INTERNALDATE.
func headDate(f *fetched) time.Time {
	if f.msg != nil && !f.msg.Date.IsZero() {
		return f.msg.Date
	}
	return f.internalDate
}

// flush writes the cursors of folders (the UIDL rows of messages) whose
// last messages needed no other write.
func (p *passRun) flush(ctx context.Context) error {
	var b store.Batch
	for _, f := range p.folders {
		if f.dirty() {
			b.States = append(b.States, f.state())
		}
	}
	if p.pop != nil {
		b.States = append(b.States, p.pop.pending()...)
	}
	if len(b.States) == 0 {
		return nil
	}
	b.Lease = p.mb.currentLease()
	if _, err := p.s.st.Apply(context.WithoutCancel(ctx), b); err != nil {
		return storeErr(err)
	}
	p.committed()
	return nil
}

// commit writes b with the cursors of every folder processed so far: the
// message's own folder, and the folders whose untracked mail waited (over
// POP3: the UIDL rows of the message and of the untracked mail before it).
func (p *passRun) commit(ctx context.Context, b store.Batch) (store.Result, error) {
	for _, f := range p.folders {
		if f.dirty() {
			b.States = append(b.States, f.state())
		}
	}
	if p.pop != nil {
		b.States = append(b.States, p.pop.pending()...)
	}
	b.Lease = p.mb.currentLease()
	res, err := p.s.st.Apply(context.WithoutCancel(ctx), b)
	if err != nil {
		if !errors.Is(err, correlate.ErrNotFound) {
			// Nothing of b was written, the message's email included: the
			// progress it carried must not ride with a later write (the
			// pass's flush), or the message would be done without its
			// email. The pass ends; the next one reads it again. (A Relink
			// of an email deleted meanwhile is the exception: the caller
			// goes on, and the progress waits for the next write.)
			p.rollback()
		}
		return res, storeErr(err)
	}
	p.committed()
	return res, nil
}

// rollback forgets the progress not committed: cursors go back to the
// store's (a folder found recreated included: the next pass finds it
// again), pending UIDL rows are dropped.
func (p *passRun) rollback() {
	for _, f := range p.folders {
		f.done = f.cur
	}
	if p.pop != nil {
		p.pop.rows = p.pop.rows[:0]
	}
}

// committed records that the cursors and rows written are the store's.
func (p *passRun) committed() {
	for _, f := range p.folders {
		f.cur = f.done
	}
	if p.pop != nil {
		p.pop.committed()
	}
}
