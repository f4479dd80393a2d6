// The folders of the backend: their messages, and the go-imap Mailbox
// that a selected folder is.

package imapfake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/backend"
	"github.com/emersion/go-imap/backend/backendutil"
	"github.com/emersion/go-message/textproto"
)

type mbox struct {
	u           *user
	name        string
	special     string
	uidValidity uint32
	uidNext     uint32
	msgs        []*msg
}

type msg struct {
	uid   uint32
	date  time.Time
	flags []string
	body  []byte
}

func (mb *mbox) add(date time.Time, flags []string, body []byte) uint32 {
	m := &msg{uid: mb.uidNext, date: date, flags: slices.Clone(flags), body: body}
	mb.uidNext++
	mb.msgs = append(mb.msgs, m)
	return m.uid
}

func (mb *mbox) index(uid uint32) int {
	for i, m := range mb.msgs {
		if m.uid == uid {
			return i
		}
	}
	return -1
}

// handle is a backend.Mailbox: a name resolved under the lock on every
// call, so a rename or delete by the test is seen at once.
type handle struct {
	u    *user
	name string
}

var (
	_ backend.Mailbox     = (*handle)(nil)
	_ backend.MoveMailbox = (*handle)(nil)
)

func (h *handle) box() (*mbox, error) {
	mb := h.u.boxes[h.name]
	if mb == nil {
		return nil, backend.ErrNoSuchMailbox
	}
	return mb, nil
}

func (h *handle) Name() string { return h.name }

func (h *handle) Info() (*imap.MailboxInfo, error) {
	h.u.b.mu.Lock()
	defer h.u.b.mu.Unlock()
	info := &imap.MailboxInfo{Delimiter: Delim, Name: h.name}
	if mb := h.u.boxes[h.name]; mb != nil && mb.special != "" {
		info.Attributes = []string{mb.special}
	}
	return info, nil
}

func (h *handle) Status(items []imap.StatusItem) (*imap.MailboxStatus, error) {
	h.u.b.mu.Lock()
	defer h.u.b.mu.Unlock()
	mb, err := h.box()
	if err != nil {
		return nil, err
	}
	st := imap.NewMailboxStatus(h.name, items)
	st.Flags = []string{imap.SeenFlag, imap.DeletedFlag}
	st.PermanentFlags = []string{`\*`}
	for _, it := range items {
		switch it {
		case imap.StatusMessages:
			st.Messages = uint32(len(mb.msgs))
		case imap.StatusUidNext:
			st.UidNext = mb.uidNext
		case imap.StatusUidValidity:
			st.UidValidity = mb.uidValidity
		case imap.StatusRecent:
			st.Recent = 0
		case imap.StatusUnseen:
			st.Unseen = 0
		default:
			return nil, fmt.Errorf("unknown status item %s", it)
		}
	}
	return st, nil
}

func (h *handle) SetSubscribed(bool) error { return nil }

func (h *handle) Check() error { return nil }

func (h *handle) ListMessages(uid bool, seqset *imap.SeqSet, items []imap.FetchItem, ch chan<- *imap.Message) error {
	defer close(ch)
	h.u.b.mu.Lock()
	mb, err := h.box()
	if err != nil {
		h.u.b.mu.Unlock()
		return err
	}
	type pick struct {
		seq uint32
		m   msg
	}
	var picks []pick
	for i, m := range mb.msgs {
		seq := uint32(i + 1)
		id := seq
		if uid {
			id = m.uid
		}
		if seqset.Contains(id) {
			picks = append(picks, pick{seq, *m})
		}
	}
	h.u.b.mu.Unlock()
	s := h.u.b.s
	for _, p := range picks {
		if n := s.dropAfter.Load(); n > 0 {
			if s.dropAfter.Add(-1) == 0 {
				s.DropConnections()
				return errors.New("connection dropped")
			}
		}
		out, err := fetch(p.seq, &p.m, items)
		if err != nil {
			continue
		}
		ch <- out
	}
	return nil
}

func fetch(seq uint32, m *msg, items []imap.FetchItem) (*imap.Message, error) {
	out := imap.NewMessage(seq, items)
	for _, item := range items {
		switch item {
		case imap.FetchFlags:
			out.Flags = slices.Clone(m.flags)
		case imap.FetchInternalDate:
			out.InternalDate = m.date
		case imap.FetchRFC822Size:
			out.Size = uint32(len(m.body))
		case imap.FetchUid:
			out.Uid = m.uid
		default:
			section, err := imap.ParseBodySectionName(item)
			if err != nil {
				continue
			}
			br := bufio.NewReader(bytes.NewReader(m.body))
			hdr, err := textproto.ReadHeader(br)
			if err != nil {
				return nil, err
			}
			lit, err := backendutil.FetchBodySection(hdr, br, section)
			if err != nil {
				lit = bytes.NewReader(nil)
			}
			out.Body[section] = lit
		}
	}
	return out, nil
}

func (h *handle) SearchMessages(uid bool, c *imap.SearchCriteria) ([]uint32, error) {
	h.u.b.mu.Lock()
	defer h.u.b.mu.Unlock()
	mb, err := h.box()
	if err != nil {
		return nil, err
	}
	var out []uint32
	for i, m := range mb.msgs {
		seq := uint32(i + 1)
		if c.Uid != nil && !c.Uid.Contains(m.uid) {
			continue
		}
		if c.SeqNum != nil && !c.SeqNum.Contains(seq) {
			continue
		}
		if uid {
			out = append(out, m.uid)
		} else {
			out = append(out, seq)
		}
	}
	return out, nil
}

func (h *handle) CreateMessage(flags []string, date time.Time, body imap.Literal) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	h.u.b.mu.Lock()
	defer h.u.b.mu.Unlock()
	mb, err := h.box()
	if err != nil {
		return err
	}
	if date.IsZero() {
		date = time.Now()
	}
	mb.add(date, flags, b)
	h.u.b.notify(h.u, mb)
	return nil
}

// selected reports whether message m, the i-th of its mailbox, is in
// seqset: by UID when uid, else by sequence number.
func selected(i int, m *msg, uid bool, seqset *imap.SeqSet) bool {
	id := uint32(i + 1)
	if uid {
		id = m.uid
	}
	return seqset.Contains(id)
}

func (h *handle) UpdateMessagesFlags(uid bool, seqset *imap.SeqSet, op imap.FlagsOp, flags []string) error {
	h.u.b.mu.Lock()
	defer h.u.b.mu.Unlock()
	mb, err := h.box()
	if err != nil {
		return err
	}
	for i, m := range mb.msgs {
		if selected(i, m, uid, seqset) {
			m.flags = backendutil.UpdateFlags(m.flags, op, flags)
		}
	}
	return nil
}

func (h *handle) CopyMessages(uid bool, seqset *imap.SeqSet, dest string) error {
	return h.transfer(uid, seqset, dest, false)
}

func (h *handle) MoveMessages(uid bool, seqset *imap.SeqSet, dest string) error {
	return h.transfer(uid, seqset, dest, true)
}

// transfer copies the messages of seqset to dest, and with move removes
// them from the selected mailbox.
func (h *handle) transfer(uid bool, seqset *imap.SeqSet, dest string, move bool) error {
	h.u.b.mu.Lock()
	defer h.u.b.mu.Unlock()
	mb, err := h.box()
	if err != nil {
		return err
	}
	dst := h.u.boxes[dest]
	if dst == nil {
		return backend.ErrNoSuchMailbox
	}
	var kept []*msg
	for i, m := range mb.msgs {
		if selected(i, m, uid, seqset) {
			dst.add(m.date, m.flags, m.body)
		} else if move {
			kept = append(kept, m)
		}
	}
	h.u.b.notify(h.u, dst)
	if move {
		mb.msgs = kept
		h.u.b.notify(h.u, mb)
	}
	return nil
}

func (h *handle) Expunge() error {
	h.u.b.mu.Lock()
	defer h.u.b.mu.Unlock()
	mb, err := h.box()
	if err != nil {
		return err
	}
	kept := mb.msgs[:0]
	for _, m := range mb.msgs {
		if !slices.Contains(m.flags, imap.DeletedFlag) {
			kept = append(kept, m)
		}
	}
	mb.msgs = kept
	return nil
}
