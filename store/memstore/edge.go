package memstore

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/internal/check"
	"github.com/mailcorrelate/mailcorrelate/store/internal/cursor"
)

// Apply implements store.Store. It checks the whole batch first, under the
// write lock, and writes only when nothing can fail: the batch is written
// whole or not at all, and no reader sees part of it.
func (s *Store) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	if err := ctx.Err(); err != nil {
		return store.Result{}, fmt.Errorf("memstore: apply: %w", err)
	}
	for i := range b.Puts {
		if err := checkPut(&b.Puts[i].Tracked, b.Puts[i].Keys); err != nil {
			return store.Result{}, fmt.Errorf("memstore: apply: put %d: %w", i, err)
		}
	}
	if err := check.Batch(&b); err != nil {
		return store.Result{}, fmt.Errorf("memstore: apply: %w", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if l := b.Lease; l != nil && !s.held(*l, now) {
		return store.Result{}, fmt.Errorf("memstore: apply: lease %q of %q (token %d): %w", l.Name, l.Holder, l.Token, store.ErrLeaseLost)
	}
	if s.nrows+len(b.Puts) > maxRows {
		return store.Result{}, fmt.Errorf("memstore: apply: store full (%d emails)", s.nrows)
	}
	// Find every Relink's and Move's email before writing anything; an
	// email named by a Message-ID of the batch's Puts is found after them
	// (0 until then).
	f := targetFinder{s: s, puts: b.Puts}
	relinks := make([]uint32, len(b.Relinks))
	for i, rl := range b.Relinks {
		var err error
		if relinks[i], err = f.find(rl.ID, rl.MessageID); err != nil {
			return store.Result{}, fmt.Errorf("memstore: apply: relink %w", err)
		}
	}
	moves := make([]uint32, len(b.Moves))
	added := 0
	for i, mv := range b.Moves {
		var err error
		if moves[i], err = f.find(mv.ID, mv.MessageID); err != nil {
			return store.Result{}, fmt.Errorf("memstore: apply: move %w", err)
		}
		if err := checkMove(&mv); err != nil {
			return store.Result{}, fmt.Errorf("memstore: apply: move %d: %w", i, err)
		}
		// The keys the email may end up with: a bound, as earlier Moves
		// of the batch may add some.
		have := 0
		if moves[i] != 0 {
			have = int(s.row(moves[i]).nkeys)
		}
		for _, e := range b.Puts {
			if e.Tracked.MessageID == mv.MessageID && moves[i] == 0 {
				have = max(have, len(e.Keys))
			}
		}
		added += len(mv.Add)
		if have+added > maxRowKeys {
			return store.Result{}, fmt.Errorf("memstore: apply: move %d: more than %d keys", i, maxRowKeys)
		}
	}

	res := store.Result{Tracked: make([]correlate.Tracked, len(b.Puts)), Existing: make([]bool, len(b.Puts))}
	for i, e := range b.Puts {
		id, exists := s.put(e.Tracked, e.Keys)
		res.Tracked[i], res.Existing[i] = s.tracked(id, nil), exists
	}
	for i, rl := range b.Relinks {
		id := relinks[i]
		if id == 0 {
			id = s.byMessageID(rl.MessageID)
		}
		at := rl.Change.Time
		if at.IsZero() {
			at = now
		}
		if c, changed := s.relink(id, rl.Record, rl.Change.Actor, rl.Change.Cause, at); changed {
			res.Changes = append(res.Changes, c)
		}
	}
	for i, mv := range b.Moves {
		id := moves[i]
		if id == 0 {
			id = s.byMessageID(mv.MessageID)
		}
		s.move(id, &mv)
	}
	for _, st := range b.States {
		s.setState(st)
	}
	return res, nil
}

// A targetFinder finds the emails a batch's Relinks and Moves name.
type targetFinder struct {
	s       *Store
	puts    []store.Entry
	inBatch map[string]bool // Message-IDs of the Puts, made when first needed
}

// find returns the email named by id or, when id is 0, by msgID: 0 for a
// Put of the batch not yet written, an error wrapping
// correlate.ErrNotFound for an email that is neither stored nor put.
func (f *targetFinder) find(id int64, msgID string) (uint32, error) {
	if id != 0 {
		if !f.s.alive(id) {
			return 0, fmt.Errorf("%d: %w", id, correlate.ErrNotFound)
		}
		return uint32(id), nil
	}
	if t := f.s.byMessageID(msgID); t != 0 {
		return t, nil
	}
	if f.inBatch == nil {
		f.inBatch = make(map[string]bool, len(f.puts))
		for _, e := range f.puts {
			f.inBatch[e.Tracked.MessageID] = e.Tracked.MessageID != ""
		}
	}
	if !f.inBatch[msgID] {
		return 0, fmt.Errorf("%q: %w", msgID, correlate.ErrNotFound)
	}
	return 0, nil
}

// setState writes st, or deletes it when its Value is nil.
func (s *Store) setState(st store.State) {
	i, found := sort.Find(len(s.states), func(i int) int { return strings.Compare(st.Name, s.states[i].Name) })
	switch {
	case st.Value == nil && found:
		s.states = append(s.states[:i], s.states[i+1:]...)
	case st.Value == nil:
	case found:
		s.states[i].Value = bytes.Clone(st.Value)
	default:
		s.states = append(s.states, store.State{})
		copy(s.states[i+1:], s.states[i:])
		s.states[i] = store.State{Name: st.Name, Value: bytes.Clone(st.Value)}
	}
}

// States implements store.Store. The values are copies.
func (s *Store) States(ctx context.Context, prefix string) ([]store.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: states: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.State
	for i := sort.Search(len(s.states), func(i int) bool { return s.states[i].Name >= prefix }); i < len(s.states); i++ {
		st := s.states[i]
		if !strings.HasPrefix(st.Name, prefix) {
			break
		}
		out = append(out, store.State{Name: st.Name, Value: bytes.Clone(st.Value)})
	}
	return out, nil
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, id int64) ([]store.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: history: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.alive(id) {
		return nil, fmt.Errorf("memstore: history %d: %w", id, correlate.ErrNotFound)
	}
	var out []store.Change
	for c := s.hist[uint32(id)]; c != 0; c = s.changes[c].prev {
		out = append(out, s.change(uint32(id), c))
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Emails implements store.Store. A page is a binary search and a slice of
// the record's timeline: its cost does not grow with the pages before it.
func (s *Store) Emails(ctx context.Context, r correlate.Record, limit int, cur string) ([]correlate.Tracked, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("memstore: emails: %w", err)
	}
	if limit <= 0 {
		limit = correlate.DefaultLimit
	}
	at, last := int64(math.MaxInt64), int64(math.MaxInt64) // before every email
	if cur != "" {
		var err error
		if at, last, err = cursor.Decode(cur); err != nil {
			return nil, "", fmt.Errorf("memstore: emails: %w", err)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ready() {
		return nil, "", nil
	}
	ri, ok := s.findRecord(r)
	if !ok {
		return nil, "", nil
	}
	var one [1]uint32
	l := s.ids(&s.byRecord[ri], &one)
	// The emails older than the cursor's position are a prefix of the list.
	end := sort.Search(len(l), func(i int) bool {
		ta := s.row(l[i]).at
		return ta > at || ta == at && int64(l[i]) >= last
	})
	start := max(0, end-limit)
	if start == end {
		return nil, "", nil
	}
	next := ""
	if start > 0 {
		next = cursor.Encode(s.row(l[start]).at, int64(l[start]))
	}
	return s.materialize(l[start:end], true), next, nil
}

// Scan implements store.Store. Deleted emails are skipped: a store with
// many of them scans their rows too.
func (s *Store) Scan(ctx context.Context, after int64, limit int) ([]correlate.Tracked, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: scan: %w", err)
	}
	if limit <= 0 {
		limit = correlate.DefaultLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if after >= int64(s.nrows) {
		return nil, nil
	}
	var ids []uint32
	for id := max(after, 0) + 1; id <= int64(s.nrows) && len(ids) < limit; id++ {
		if s.row(uint32(id)).flags&rowDead == 0 {
			ids = append(ids, uint32(id))
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.materialize(ids, false), nil
}

// held reports whether l is held at now.
func (s *Store) held(l store.Lease, now time.Time) bool {
	cur := s.leases[l.Name]
	return cur != nil && cur.holder == l.Holder && cur.token == l.Token && cur.until.After(now)
}

// Acquire implements store.Store, by this process's clock.
func (s *Store) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (store.Lease, error) {
	if err := ctx.Err(); err != nil {
		return store.Lease{}, fmt.Errorf("memstore: acquire: %w", err)
	}
	if err := check.Name("lease", name); err != nil {
		return store.Lease{}, fmt.Errorf("memstore: acquire: %w", err)
	}
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("memstore: acquire %q: ttl %v is not positive", name, ttl)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	cur := s.leases[name]
	switch {
	case cur == nil:
		cur = &lease{}
		s.leases[name] = cur
		fallthrough
	case !cur.until.After(now): // free: released or expired
		cur.token++
		cur.holder = holder
	case cur.holder != holder:
		return store.Lease{}, fmt.Errorf("memstore: acquire %q: %w (by %q until %s)", name, store.ErrLeaseHeld, cur.holder, cur.until.UTC().Format(time.RFC3339Nano))
	}
	cur.until = now.Add(ttl)
	return store.Lease{Name: name, Holder: holder, Until: cur.until, Token: cur.token}, nil
}

// Release implements store.Store.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: release: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready() || !s.held(l, time.Now()) {
		return fmt.Errorf("memstore: release %q of %q (token %d): %w", l.Name, l.Holder, l.Token, store.ErrLeaseLost)
	}
	s.leases[l.Name].until = time.Time{}
	return nil
}

// lease is the state of a named lease: released or expired when until is
// not after now. token counts the times it changed hands.
type lease struct {
	holder string
	until  time.Time
	token  int64
}
