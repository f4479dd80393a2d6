package imapsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// POP3StatePrefix starts the names of the sync state of a POP3 mailbox:
// POP3StatePrefix + address + "/uidl/" + a message's UIDL (a SHA-256 of it
// when it is not 1 to 200 printable ASCII characters), one row per
// message done. The mailbox's lease is POP3StatePrefix + address.
const POP3StatePrefix = "pop3/"

// popFolder is the folder name of a POP3 mailbox's messages.
const popFolder = "INBOX"

// popState is the value of one UIDL row: the message as it was when done.
type popState struct {
	// Size is the message's size (LIST) and Hash a digest of its header:
	// a UIDL that now names a message of another size, or the last
	// message done with another header, tells a server that gave its
	// UIDLs again.
	Size int64  `json:"s"`
	Hash string `json:"h,omitempty"`
	// Keep: not processed (unreadable, oversize, older than
	// Mailbox.After), so never deleted by DeleteFromServer.
	Keep bool `json:"k,omitempty"`
}

// popRun is the POP3 side of a pass: the rows of the messages processed
// and not yet committed, and the messages done.
type popRun struct {
	prefix string
	rows   []popRow
	done   map[string]popState // by UIDL key: committed before or during this pass
}

type popRow struct {
	key string
	st  popState
}

// pending returns the rows that ride with the next write.
func (r *popRun) pending() []store.State {
	out := make([]store.State, 0, len(r.rows))
	for _, row := range r.rows {
		b, _ := json.Marshal(row.st)
		out = append(out, store.State{Name: r.prefix + row.key, Value: b})
	}
	return out
}

// committed records that the pending rows were written.
func (r *popRun) committed() {
	for _, row := range r.rows {
		r.done[row.key] = row.st
	}
	r.rows = r.rows[:0]
}

// popMsg is one message of the maildrop.
type popMsg struct {
	num  int
	key  string // the UIDL, or its digest: the row's name and Event.UIDL
	size int64
}

// uidlKey returns the UIDL as it names a row: itself when it is 1 to 200
// characters from 0x21 to 0x7E (RFC 1939 allows 70), else "sha256-" and
// its SHA-256, which is as distinct and fits a state name.
func uidlKey(uidl string) string {
	ok := len(uidl) > 0 && len(uidl) <= maxIDBytes
	for i := 0; ok && i < len(uidl); i++ {
		ok = uidl[i] > 0x20 && uidl[i] < 0x7f
	}
	if ok {
		return uidl
	}
	sum := sha256.Sum256([]byte(uidl))
	return "sha256-" + hex.EncodeToString(sum[:])
}

// headerHash is the digest a UIDL row keeps of its message's header.
func headerHash(h []byte) string {
	sum := sha256.Sum256(h)
	return hex.EncodeToString(sum[:12])
}

// popPass reads a POP3 mailbox's new mail once and returns the number of
// messages it marked for deletion (DeleteFromServer), which the server
// removes at QUIT.
func (s *Syncer) popPass(ctx context.Context, mb *mailbox, pc *pop3Conn) (int, error) {
	mb.update(func(st *Status) { st.State = StateSyncing })
	p := &passRun{s: s, mb: mb, pop: &popRun{prefix: POP3StatePrefix + mb.addr + "/uidl/", done: map[string]popState{}}}
	fs, deleted, err := p.runPOP3(ctx, pc)
	now := s.o.Now()
	mb.update(func(st *Status) {
		for _, n := range p.notices {
			st.notice(now, n)
		}
		st.Folders = []FolderStatus{fs}
		if err == nil {
			st.LastSuccess = now
		}
	})
	return deleted, err
}

// runPOP3 is the pass: the rows of the messages done are loaded once
// (States), the maildrop listed (UIDL, LIST), the messages without a row
// read (TOP n 0, pipelined) and processed, each with its row in the
// write that covers it; rows of messages no longer on the server are
// removed; with DeleteFromServer, every message done is marked with DELE.
func (p *passRun) runPOP3(ctx context.Context, pc *pop3Conn) (FolderStatus, int, error) {
	o := &p.s.o
	fs := FolderStatus{Role: roleInbox, Path: popFolder}
	stored, err := p.popStored(ctx)
	if err != nil {
		return fs, 0, err
	}
	ids, err := pc.uidl()
	if err != nil {
		return fs, 0, err
	}
	sizes, err := pc.list()
	if err != nil {
		return fs, 0, err
	}
	size := make(map[int]int64, len(sizes))
	for _, e := range sizes {
		size[e.Num] = e.Size
	}
	msgs := make([]popMsg, 0, len(ids))
	byNum := make(map[int]popMsg, len(ids))
	for _, e := range ids {
		m := popMsg{num: e.Num, key: uidlKey(e.UIDL), size: size[e.Num]}
		msgs = append(msgs, m)
		byNum[m.num] = m
	}

	todo, err := p.popTodo(pc, msgs, stored)
	if err != nil {
		return fs, 0, err
	}

	fo := &folderRun{role: roleInbox, done: cursor{Path: popFolder}, initial: true, uids: todo}
	fo.cur = fo.done
	fo.fetch = func(nums []uint32) ([]fetched, error) {
		p.connMu.Lock()
		defer p.connMu.Unlock()
		return p.popFetch(pc, nums, byNum)
	}
	fo.body = func(f *fetched, max int64) ([]byte, error) {
		p.connMu.Lock()
		defer p.connMu.Unlock()
		return pc.body(int(f.uid), o.MaxHeaderBytes, max)
	}
	fo.onMark = func(f *fetched, keep bool) {
		p.pop.rows = append(p.pop.rows, popRow{key: f.uidl, st: popState{Size: f.size, Hash: f.hash, Keep: keep}})
	}
	p.folders = []*folderRun{fo}
	if len(todo) > 0 {
		err = p.merge(ctx, []*folderRun{fo})
	}
	p.inflight.Wait() // the connection is the pass's again
	if ferr := p.flush(ctx); err == nil {
		err = ferr
	}
	for _, m := range msgs {
		if _, ok := p.pop.done[m.key]; ok {
			fs.UIDLs++
		}
	}
	if err != nil {
		return fs, 0, err
	}

	// Rows of messages no longer on the server go.
	if err := p.dropGone(ctx, msgs, stored); err != nil {
		return fs, 0, err
	}

	if !p.mb.cfg.DeleteFromServer {
		return fs, 0, nil
	}
	n, err := p.deleDone(pc, msgs)
	return fs, n, err
}

// popStored loads the rows of the messages done, by UIDL key.
func (p *passRun) popStored(ctx context.Context) (map[string]popState, error) {
	rows, err := p.s.st.States(ctx, p.pop.prefix)
	if err != nil {
		return nil, storeErr(err)
	}
	stored := make(map[string]popState, len(rows))
	for _, r := range rows {
		var st popState
		if json.Unmarshal(r.Value, &st) == nil {
			stored[strings.TrimPrefix(r.Name, p.pop.prefix)] = st
		}
	}
	return stored, nil
}

// popTodo returns the numbers of the messages of msgs to read, and marks
// done those whose stored row it trusts. A row is trusted when its UIDL
// names a message of the size it had, and the last message done still has
// the header it had: a server that lost its UID list gives UIDLs again
// from the start, and one of them may now name a message never read.
func (p *passRun) popTodo(pc *pop3Conn, msgs []popMsg, stored map[string]popState) ([]uint32, error) {
	o := &p.s.o
	renumbered, changed := false, 0
	var last *popMsg
	for i := range msgs {
		if st, ok := stored[msgs[i].key]; ok {
			if st.Size != msgs[i].size {
				changed++
			} else if st.Hash != "" && (last == nil || msgs[i].num > last.num) {
				last = &msgs[i]
			}
		}
	}
	if last != nil {
		h, err := pc.headers([]int{last.num}, o.MaxHeaderBytes)
		if err != nil {
			return nil, err
		}
		if len(h) == 1 && h[0].err == nil && headerHash(headerPart(h[0].data)) != stored[last.key].Hash {
			renumbered = true
		}
	}
	var todo []uint32
	for _, m := range msgs {
		st, ok := stored[m.key]
		if ok && !renumbered && st.Size == m.size {
			p.pop.done[m.key] = st
			continue
		}
		todo = append(todo, uint32(m.num))
	}
	switch {
	case renumbered:
		p.notice("the POP3 server gave its messages new UIDLs (the last message read now has another header): every message is read again, without duplicates")
	case changed > 0:
		p.notice("%d UIDL(s) now name messages of another size: those messages are read again, without duplicates", changed)
	}
	return todo, nil
}

// dropGone removes the rows of stored whose messages are not in msgs:
// the rows of messages no longer on the server (deleted by a person's mail
// program, or by DeleteFromServer) go, so that the state stays the size of
// the maildrop.
func (p *passRun) dropGone(ctx context.Context, msgs []popMsg, stored map[string]popState) error {
	present := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		present[m.key] = true
	}
	var gone []store.State
	for key := range stored {
		if !present[key] {
			gone = append(gone, store.State{Name: p.pop.prefix + key})
		}
	}
	for len(gone) > 0 {
		n := min(len(gone), 1000)
		b := store.Batch{Lease: p.mb.currentLease(), States: gone[:n]}
		if _, err := p.s.st.Apply(context.WithoutCancel(ctx), b); err != nil {
			return storeErr(err)
		}
		gone = gone[n:]
	}
	return nil
}

// deleDone marks with DELE every message of msgs done and not kept, and
// returns their number.
func (p *passRun) deleDone(pc *pop3Conn, msgs []popMsg) (int, error) {
	var dele []int
	for _, m := range msgs {
		if st, ok := p.pop.done[m.key]; ok && !st.Keep {
			dele = append(dele, m.num)
		}
	}
	if len(dele) > 0 {
		if err := pc.c.Dele(dele, pc.pipelined); err != nil {
			return 0, popErr(err, "DELE")
		}
	}
	return len(dele), nil
}

// popFetch fetches and parses the headers of messages nums.
func (p *passRun) popFetch(pc *pop3Conn, nums []uint32, byNum map[int]popMsg) ([]fetched, error) {
	ints := make([]int, len(nums))
	for i, n := range nums {
		ints[i] = int(n)
	}
	hs, err := pc.headers(ints, p.s.o.MaxHeaderBytes)
	if err != nil {
		return nil, err
	}
	out := make([]fetched, 0, len(hs))
	for i, h := range hs {
		m := byNum[ints[i]]
		f := fetched{uid: nums[i], size: m.size, uidl: m.key}
		if h.err != nil {
			f.perr = fmt.Errorf("TOP %d: %w", m.num, h.err)
			out = append(out, f)
			continue
		}
		f.header = headerPart(h.data)
		f.hash = headerHash(f.header)
		p.parse(&f)
		f.internalDate = receivedDate(f.msg)
		out = append(out, f)
	}
	return out, nil
}

// receivedDate is when the server received a message — the date of its
// newest Received field, which the receiving server puts on top — else
// its Date field: POP3 has no INTERNALDATE.
func receivedDate(m *correlate.Message) time.Time {
	if m == nil {
		return time.Time{}
	}
	if r := m.Header["Received"]; len(r) > 0 {
		if i := strings.LastIndexByte(r[0], ';'); i >= 0 {
			if t, err := netmail.ParseDate(strings.TrimSpace(r[0][i+1:])); err == nil {
				return t
			}
		}
	}
	return m.Date
}
