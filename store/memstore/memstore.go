// Package memstore is the in-memory [correlate.Store]: the embedded default,
// for tests, single-process tools and caches in front of a database.
//
// # Layout
//
// A Store is built to hold millions of tracked emails in little memory and
// without burdening the garbage collector:
//
//   - every text of a tracked email lives in an append-only byte arena, and
//     texts that repeat (records, participants, mailboxes, folders) are
//     stored once; the Tracked values a Store returns point into the arena
//     without copying it;
//   - each tracked email is a fixed-size record without Go pointers, so the
//     collector never scans the million rows;
//   - the index does not store key text at all: a key is identified by a
//     95-bit fingerprint (a 64-bit hash and 31 bits of a second, independently
//     seeded one, see [hash/maphash]); two distinct keys are confused only if
//     both collide, with a probability below 10⁻¹⁴ for a store of twenty
//     million distinct keys;
//   - a key carried by one email (a Message-ID, a conversation index) costs
//     one map slot that names the email directly, so a lookup touches the map
//     and the email's row and nothing else; keys shared by several emails keep
//     an ordered posting list, oldest first, so a newest-first lookup reads
//     only what it returns.
//
// Deleting an email removes it from the index; its texts stay in the arena
// until the Store is dropped.
//
// A Store is safe for concurrent use: reads share a lock, writes take it
// alone. Nothing survives the process; use store/sqlstore for that.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// A Store is an in-memory correlate.Store. The zero Store is empty and ready
// to use; New is a convenience. A Store must not be copied after first use.
type Store struct {
	mu     sync.RWMutex
	seed1  maphash.Seed
	seed2  maphash.Seed
	arena  arena
	intern map[uint64]sref // texts stored once, by hash (verified on insert)
	recs   []rec           // recs[id-1]
	parts  []sref          // participants beyond the inline ones
	ekeys  []uint64        // primary key hashes of each email, for Delete
	index  map[uint64]slot
	ents   []kentry // index entries; ents[0] is unused so 0 means none
	lists  [][]uint32
	msgID  map[uint64]uint32 // hash of Tracked.MessageID → id
	seq    map[string]int64
	live   int64
	nkeys  int64
}

const inlineParts = 4

// rec is one tracked email, without Go pointers.
type rec struct {
	at                                     int64 // Time, Unix nanoseconds
	msgID, recType, recID, token, convIdx  sref
	subject, mailbox, folderID, folderPath sref
	part                                   [inlineParts]sref
	partsOff, keysOff                      uint32
	nparts, nkeys                          uint16
	corr, parent                           uint32
	method                                 int32
	dir                                    correlate.Direction
	dead                                   bool
}

// A slot is the index's value for one primary hash: either one key held by
// one email (direct: the key's check bits and the email), or the head of a
// chain of kentries (indirect: the high bit set, the entry in the low bits).
type slot uint64

const indirect = 1 << 63

func direct(chk, id uint32) slot { return slot(uint64(chk)<<32 | uint64(id)) }

func (v slot) isDirect() bool { return v&indirect == 0 }
func (v slot) chk() uint32    { return uint32(v>>32) & chkMask }
func (v slot) id() uint32     { return uint32(v) }

const chkMask = 1<<31 - 1

// kentry is one distinct key of an indirect slot: its check bits, the next
// entry with the same primary hash, and its postings — a single email
// inline, or a list in lists.
type kentry struct {
	chk  uint32
	next uint32
	one  uint32 // the email when n == 1
	list uint32 // index into lists when n > 1
	n    uint32
}

var _ correlate.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	s := &Store{}
	s.init()
	return s
}

func (s *Store) init() {
	if s.index != nil {
		return
	}
	s.seed1, s.seed2 = maphash.MakeSeed(), maphash.MakeSeed()
	s.intern = make(map[uint64]sref)
	s.index = make(map[uint64]slot)
	s.msgID = make(map[uint64]uint32)
	s.seq = make(map[string]int64)
	s.ents = make([]kentry, 1)
	s.lists = make([][]uint32, 1)
}

// ready reports whether init has run; readers of a zero Store see an empty
// store without taking the write lock.
func (s *Store) ready() bool { return s.index != nil }

// keyHash returns the fingerprint of k: a primary hash and check bits from a
// second, independent hash.
func (s *Store) keyHash(k correlate.Key) (uint64, uint32) {
	var h maphash.Hash
	h.SetSeed(s.seed1)
	h.WriteString(k.Kind)
	h.WriteByte(0)
	h.WriteString(k.Value)
	h1 := h.Sum64()
	h.SetSeed(s.seed2)
	h.WriteString(k.Kind)
	h.WriteByte(0)
	h.WriteString(k.Value)
	return h1, uint32(h.Sum64()) & chkMask
}

// postings returns the emails under a key, oldest first. The result may
// alias internal storage: read only, under the lock.
func (s *Store) postings(h1 uint64, chk uint32, one *[1]uint32) []uint32 {
	v, ok := s.index[h1]
	if !ok {
		return nil
	}
	if v.isDirect() {
		if v.chk() != chk {
			return nil
		}
		one[0] = v.id()
		return one[:]
	}
	for e := v.id(); e != 0; e = s.ents[e].next {
		ke := &s.ents[e]
		if ke.chk != chk {
			continue
		}
		switch ke.n {
		case 0:
			return nil
		case 1:
			one[0] = ke.one
			return one[:]
		}
		return s.lists[ke.list]
	}
	return nil
}

// before reports whether email a sorts before email b: older first, then by
// ID.
func (s *Store) before(a, b uint32) bool {
	ta, tb := s.recs[a-1].at, s.recs[b-1].at
	if ta != tb {
		return ta < tb
	}
	return a < b
}

// addPosting indexes email id under key (h1, chk).
func (s *Store) addPosting(h1 uint64, chk uint32, id uint32) {
	v, ok := s.index[h1]
	if !ok {
		s.index[h1] = direct(chk, id)
		return
	}
	if v.isDirect() {
		// Make the slot indirect: one entry for the key already there, then
		// add to it (same key) or chain a new one (another key, same hash).
		s.ents = append(s.ents, kentry{chk: v.chk(), one: v.id(), n: 1})
		v = slot(indirect | uint64(len(s.ents)-1))
		s.index[h1] = v
	}
	for e := v.id(); e != 0; e = s.ents[e].next {
		if s.ents[e].chk == chk {
			s.addToEntry(e, id)
			return
		}
	}
	s.ents = append(s.ents, kentry{chk: chk, next: v.id(), one: id, n: 1})
	s.index[h1] = slot(indirect | uint64(len(s.ents)-1))
}

func (s *Store) addToEntry(e, id uint32) {
	ke := &s.ents[e]
	switch ke.n {
	case 0:
		ke.one, ke.n = id, 1
		return
	case 1:
		var l []uint32
		if s.before(ke.one, id) {
			l = []uint32{ke.one, id}
		} else {
			l = []uint32{id, ke.one}
		}
		if ke.list == 0 {
			s.lists = append(s.lists, l)
			ke.list = uint32(len(s.lists) - 1)
		} else {
			s.lists[ke.list] = l
		}
		ke.n = 2
		return
	}
	l := s.lists[ke.list]
	if s.before(l[len(l)-1], id) { // mail mostly arrives in time order
		l = append(l, id)
	} else {
		i := sort.Search(len(l), func(i int) bool { return s.before(id, l[i]) })
		l = slices.Insert(l, i, id)
	}
	s.lists[ke.list] = l
	ke.n = uint32(len(l))
}

// removePosting removes id from every key whose primary hash is h1.
func (s *Store) removePosting(h1 uint64, id uint32) {
	v, ok := s.index[h1]
	if !ok {
		return
	}
	if v.isDirect() {
		if v.id() == id {
			delete(s.index, h1)
		}
		return
	}
	for e := v.id(); e != 0; e = s.ents[e].next {
		ke := &s.ents[e]
		switch {
		case ke.n == 1 && ke.one == id:
			ke.n, ke.one = 0, 0
		case ke.n > 1:
			l := s.lists[ke.list]
			if i := slices.Index(l, id); i >= 0 {
				l = slices.Delete(l, i, i+1)
				ke.n = uint32(len(l))
				if ke.n == 1 {
					ke.one = l[0]
					l = l[:0]
				}
				s.lists[ke.list] = l
			}
		}
	}
}

// Put implements correlate.Store.
func (s *Store) Put(ctx context.Context, t correlate.Tracked, keys []correlate.Key) (correlate.Tracked, error) {
	if err := ctx.Err(); err != nil {
		return correlate.Tracked{}, fmt.Errorf("memstore: put: %w", err)
	}
	if t.ID != 0 {
		return correlate.Tracked{}, fmt.Errorf("memstore: put: tracked email already has ID %d", t.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if len(s.recs) >= 1<<32-2 {
		return correlate.Tracked{}, fmt.Errorf("memstore: put: store full (%d emails)", len(s.recs))
	}
	var mh uint64
	if t.MessageID != "" {
		mh = maphash.String(s.seed1, t.MessageID)
		if id, ok := s.msgID[mh]; ok && s.arena.str(s.recs[id-1].msgID) == t.MessageID {
			return s.tracked(id), fmt.Errorf("memstore: put %q: %w", t.MessageID, correlate.ErrExists)
		}
	}
	id := uint32(len(s.recs) + 1)
	r := rec{
		at:         t.Time.UnixNano(),
		msgID:      s.arena.add(t.MessageID),
		recType:    s.internStr(t.Record.Type),
		recID:      s.internStr(t.Record.ID),
		token:      s.arena.add(t.Token),
		convIdx:    s.arena.add(string(t.ConversationIndex)),
		subject:    s.arena.add(t.Subject),
		mailbox:    s.internStr(t.Mailbox),
		folderID:   s.internStr(t.FolderID),
		folderPath: s.internStr(t.FolderPath),
		corr:       uint32(t.CorrelatedWith),
		parent:     uint32(t.Parent),
		method:     int32(t.Method),
		dir:        t.Direction,
	}
	r.nparts = uint16(min(len(t.Participants), 1<<16-1))
	for i, p := range t.Participants[:r.nparts] {
		ref := s.internStr(p)
		if i < inlineParts {
			r.part[i] = ref
			continue
		}
		if i == inlineParts {
			r.partsOff = uint32(len(s.parts))
		}
		s.parts = append(s.parts, ref)
	}
	s.recs = append(s.recs, r)
	// Index the keys, each once.
	r.keysOff = uint32(len(s.ekeys))
	start := len(s.ekeys)
	var seen [16][2]uint64
	dup := seen[:0]
	for _, k := range keys {
		h1, chk := s.keyHash(k)
		if slices.Contains(dup, [2]uint64{h1, uint64(chk)}) {
			continue // repeated key in this Put
		}
		dup = append(dup, [2]uint64{h1, uint64(chk)})
		s.addPosting(h1, chk, id)
		s.ekeys = append(s.ekeys, h1)
	}
	r.nkeys = uint16(len(s.ekeys) - start)
	s.recs[id-1].keysOff, s.recs[id-1].nkeys = r.keysOff, r.nkeys
	if t.MessageID != "" {
		s.msgID[mh] = id
	}
	s.live++
	s.nkeys += int64(r.nkeys)
	return s.tracked(id), nil
}

func (s *Store) internStr(v string) sref {
	if v == "" {
		return 0
	}
	h := maphash.String(s.seed2, v)
	if ref, ok := s.intern[h]; ok && s.arena.str(ref) == v {
		return ref
	}
	ref := s.arena.add(v)
	s.intern[h] = ref // on the rare hash collision the newer text wins the slot
	return ref
}

// tracked materializes email id; its strings point into the arena.
func (s *Store) tracked(id uint32) correlate.Tracked {
	r := &s.recs[id-1]
	t := correlate.Tracked{
		ID:             int64(id),
		MessageID:      s.arena.str(r.msgID),
		Record:         correlate.Record{Type: s.arena.str(r.recType), ID: s.arena.str(r.recID)},
		Token:          s.arena.str(r.token),
		Subject:        s.arena.str(r.subject),
		Mailbox:        s.arena.str(r.mailbox),
		FolderID:       s.arena.str(r.folderID),
		FolderPath:     s.arena.str(r.folderPath),
		Direction:      r.dir,
		Time:           time.Unix(0, r.at).UTC(),
		Method:         correlate.Method(r.method),
		CorrelatedWith: int64(r.corr),
		Parent:         int64(r.parent),
	}
	if ci := s.arena.str(r.convIdx); ci != "" {
		t.ConversationIndex = unsafe.Slice(unsafe.StringData(ci), len(ci))
	}
	if r.nparts > 0 {
		ps := make([]string, r.nparts)
		for i := range ps {
			if i < inlineParts {
				ps[i] = s.arena.str(r.part[i])
			} else {
				ps[i] = s.arena.str(s.parts[int(r.partsOff)+i-inlineParts])
			}
		}
		t.Participants = ps
	}
	return t
}

// Get implements correlate.Store.
func (s *Store) Get(ctx context.Context, id int64) (correlate.Tracked, error) {
	if err := ctx.Err(); err != nil {
		return correlate.Tracked{}, fmt.Errorf("memstore: get: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.alive(id) {
		return s.tracked(uint32(id)), nil
	}
	return correlate.Tracked{}, fmt.Errorf("memstore: get %d: %w", id, correlate.ErrNotFound)
}

func (s *Store) alive(id int64) bool {
	return id > 0 && id <= int64(len(s.recs)) && !s.recs[id-1].dead
}

// Delete implements correlate.Store.
func (s *Store) Delete(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.alive(id) {
		return fmt.Errorf("memstore: delete %d: %w", id, correlate.ErrNotFound)
	}
	r := &s.recs[id-1]
	for _, h1 := range s.ekeys[r.keysOff : r.keysOff+uint32(r.nkeys)] {
		s.removePosting(h1, uint32(id))
	}
	if m := s.arena.str(r.msgID); m != "" {
		if h := maphash.String(s.seed1, m); s.msgID[h] == uint32(id) {
			delete(s.msgID, h)
		}
	}
	s.nkeys -= int64(r.nkeys)
	s.live--
	r.dead = true
	return nil
}

// window returns the part of posting list p inside q's time window.
func (s *Store) window(p []uint32, q correlate.Query) []uint32 {
	if !q.Until.IsZero() {
		until := q.Until.UnixNano()
		p = p[:sort.Search(len(p), func(i int) bool { return s.recs[p[i]-1].at >= until })]
	}
	if !q.Since.IsZero() {
		since := q.Since.UnixNano()
		p = p[sort.Search(len(p), func(i int) bool { return s.recs[p[i]-1].at >= since }):]
	}
	return p
}

// Lookup implements correlate.Store.
func (s *Store) Lookup(ctx context.Context, k correlate.Key, q correlate.Query) ([]correlate.Tracked, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: lookup: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ready() {
		return nil, nil
	}
	var one [1]uint32
	h1, chk := s.keyHash(k)
	p := s.window(s.postings(h1, chk, &one), q)
	if len(p) == 0 {
		return nil, nil
	}
	n := len(p)
	if lim := q.EffectiveLimit(); lim >= 0 && lim < n {
		n = lim
	}
	out := make([]correlate.Tracked, n)
	for i := range out {
		out[i] = s.tracked(p[len(p)-1-i])
	}
	return out, nil
}

// Candidates implements correlate.Store.
func (s *Store) Candidates(ctx context.Context, keys []correlate.Key, q correlate.CandidateQuery) ([]correlate.Candidate, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: candidates: %w", err)
	}
	minOverlap := max(q.MinOverlap, 1)
	perKey := q.MaxPerKey
	if perKey <= 0 {
		perKey = correlate.DefaultMaxPerKey
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ready() || len(keys) == 0 {
		return nil, nil
	}
	counts := make(map[uint32]int)
	seen := make([][2]uint64, 0, len(keys))
	var one [1]uint32
	for _, k := range keys {
		h1, chk := s.keyHash(k)
		if slices.Contains(seen, [2]uint64{h1, uint64(chk)}) {
			continue // a repeated key counts once
		}
		seen = append(seen, [2]uint64{h1, uint64(chk)})
		p := s.window(s.postings(h1, chk, &one), q.Query)
		if len(p) > perKey {
			p = p[len(p)-perKey:]
		}
		for _, id := range p {
			counts[id]++
		}
	}
	type cand struct {
		id uint32
		n  int
	}
	cs := make([]cand, 0, len(counts))
	for id, n := range counts {
		if n >= minOverlap {
			cs = append(cs, cand{id, n})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.n != b.n {
			return b.n - a.n
		}
		if s.before(b.id, a.id) {
			return -1
		}
		return 1
	})
	if lim := q.EffectiveLimit(); lim >= 0 && lim < len(cs) {
		cs = cs[:lim]
	}
	out := make([]correlate.Candidate, len(cs))
	for i, c := range cs {
		out[i] = correlate.Candidate{Tracked: s.tracked(c.id), Overlap: c.n}
	}
	return out, nil
}

// Count implements correlate.Store.
func (s *Store) Count(ctx context.Context, k correlate.Key) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: count: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ready() {
		return 0, nil
	}
	var one [1]uint32
	h1, chk := s.keyHash(k)
	return len(s.postings(h1, chk, &one)), nil
}

// Relink implements correlate.Store.
func (s *Store) Relink(ctx context.Context, id int64, r correlate.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: relink: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.alive(id) {
		return fmt.Errorf("memstore: relink %d: %w", id, correlate.ErrNotFound)
	}
	s.recs[id-1].recType, s.recs[id-1].recID = s.internStr(r.Type), s.internStr(r.ID)
	return nil
}

// RelinkKey implements correlate.Store.
func (s *Store) RelinkKey(ctx context.Context, k correlate.Key, r correlate.Record) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: relink: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	typ, id := s.internStr(r.Type), s.internStr(r.ID)
	n := 0
	var one [1]uint32
	h1, chk := s.keyHash(k)
	for _, e := range s.postings(h1, chk, &one) {
		if rc := &s.recs[e-1]; rc.recType != typ || rc.recID != id {
			rc.recType, rc.recID = typ, id
			n++
		}
	}
	return n, nil
}

// NextSequence implements correlate.Store.
func (s *Store) NextSequence(ctx context.Context, name string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: sequence: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.seq[name]++
	return s.seq[name], nil
}

// Stats implements correlate.Store.
func (s *Store) Stats(ctx context.Context) (correlate.Stats, error) {
	if err := ctx.Err(); err != nil {
		return correlate.Stats{}, fmt.Errorf("memstore: stats: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return correlate.Stats{Emails: s.live, Keys: s.nkeys}, nil
}
