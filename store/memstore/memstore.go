// Package memstore is the in-memory [store.Store] (and so
// [correlate.Store]): the embedded default, for tests, single-process tools
// and caches in front of a database.
//
// # Layout
//
// A Store is built to hold millions of tracked emails in little memory and
// without burdening the garbage collector:
//
//   - every text of a tracked email lives in an append-only byte arena;
//     texts that repeat are stored once and named by a 4-byte number:
//     participants, records (type and id together) and places (mailbox,
//     folder id and path together). The Tracked values a Store returns
//     point into the arena without copying it;
//   - each tracked email is a fixed-size row of 88 bytes without Go
//     pointers, in chunks of 8,192 rows, so the collector never scans the
//     million rows and the store grows without copying them;
//   - the posting lists of keys shared by several emails live in one
//     pointer-free pool, in regions of power-of-two sizes reused as lists
//     grow and shrink;
//   - the index does not store key text at all: a key is identified by a
//     95-bit fingerprint (a 64-bit hash and 31 bits of a second, independently
//     seeded one, see [hash/maphash]); two distinct keys are confused only if
//     both collide, with a probability below 10⁻¹⁴ for a store of twenty
//     million distinct keys;
//   - a key carried by one email (a Message-ID, a conversation index) costs
//     one map slot that names the email directly, so a lookup touches the map
//     and the email's row and nothing else; keys shared by several emails keep
//     an ordered posting list, oldest first, so a newest-first lookup reads
//     only what it returns;
//   - the email's own Message-ID, which Put checks for duplicates, is found
//     through its correlate.KindMessageID key when the caller indexes it (the
//     Engine always does), so it costs no second map;
//   - each record's timeline (Emails) is a posting list of the same pool,
//     oldest first, reached by the record's 4-byte number: 4 bytes an email
//     and 12 a record, plus the slack of its region. Relink, RelinkKey and
//     Delete move the email from one list to another, and a page of Emails
//     is a binary search for the cursor and a slice, whatever the page;
//   - changes of record (History) are 32-byte records without pointers,
//     kept only for the emails that changed.
//
// At the defaults of the mailcorrelate package (about four keys per email)
// a store of a million tracked emails held about 375 bytes per email
// before the timelines, which add 8 bytes an email in this package's
// benchmark (ten emails a record: 190 → 198); see BENCHMARKS.md. A tracked email's Method must fit in 16 bits, as every
// correlate.Method does.
//
// Deleting an email removes it from the index and its timeline; its texts
// and its history stay in memory until the Store is dropped.
//
// Sync state and leases are small maps; lease times are by this process's
// clock, which is all a store inside one process needs.
//
// A Store is safe for concurrent use: reads share a lock, writes (Apply
// among them, whole) take it alone. Nothing survives the process; use
// store/sqlstore for that.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/probe"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// A Store is an in-memory correlate.Store. The zero Store is empty and ready
// to use; New is a convenience. A Store must not be copied after first use.
type Store struct {
	mu     sync.RWMutex
	seed1  maphash.Seed
	seed2  maphash.Seed
	kind1  uint64 // FNV bases of the key kinds, from seed1 and seed2
	kind2  uint64
	msgid1 uint64 // the kind hashes of correlate.KindMessageID
	msgid2 uint64
	arena  arena

	strs      []sref            // interned texts: participants, record and place parts; strs[0] is ""
	strIdx    map[uint64]uint32 // hash of a text → its index in strs (verified on insert)
	records   []recordEntry     // interned records; records[0] is the zero Record
	recIdx    map[uint64]uint32
	places    []placeEntry // interned (mailbox, folder id, folder path); places[0] is empty
	placeIx   map[uint64]uint32
	lastPlace uint32 // the place of the last Put, 0 for none

	rows  [][]rec  // rows[(id-1)/rowChunk][(id-1)%rowChunk]
	nrows int      // IDs 1..nrows are assigned
	parts []uint32 // participants beyond the inline ones
	ekeys []uint64 // primary key hashes of each email, for Delete
	index map[uint64]slot
	ents  []kentry // index entries; ents[0] is unused so 0 means none
	// pool holds the posting lists of keys with several emails, each in a
	// region of a power-of-two size; free holds the regions lists have
	// outgrown or left, by log2 of their size, for reuse.
	pool []uint32
	free [32][]uint32
	// hidden counts the live emails whose Message-ID is indexed under the
	// private kind hiddenKind because the caller did not index it.
	hidden int
	seq    map[string]int64
	live   int64
	nkeys  int64

	// byRecord[i] lists the emails filed under records[i], oldest first,
	// in the pool like the keys' posting lists: the record's timeline.
	byRecord []plist
	// hist maps an email that changed record to its newest change in
	// changes (changes[0] is unused); each change names the one before.
	hist    map[uint32]uint32
	changes []change
	states  []store.State // by name; the values are the Store's own copies
	leases  map[string]*lease
}

var (
	_ store.Store  = (*Store)(nil)
	_ probe.Prober = (*Store)(nil)
)

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
	s.kind1, s.kind2 = maphash.String(s.seed1, "kind")|1, maphash.String(s.seed2, "kind")|1
	s.msgid1, s.msgid2 = s.fnvKind(correlate.KindMessageID)
	s.strs = make([]sref, 1)
	s.strIdx = make(map[uint64]uint32)
	s.records = make([]recordEntry, 1)
	s.recIdx = make(map[uint64]uint32)
	s.places = make([]placeEntry, 1)
	s.placeIx = make(map[uint64]uint32)
	s.index = make(map[uint64]slot)
	s.seq = make(map[string]int64)
	s.ents = make([]kentry, 1)
	s.byRecord = make([]plist, 1)
	s.hist = make(map[uint32]uint32)
	s.changes = make([]change, 1)
	s.leases = make(map[string]*lease)
}

// ready reports whether init has run; readers of a zero Store see an empty
// store without taking the write lock.
func (s *Store) ready() bool { return s.index != nil }

// Put implements correlate.Store.
func (s *Store) Put(ctx context.Context, t correlate.Tracked, keys []correlate.Key) (correlate.Tracked, error) {
	if err := ctx.Err(); err != nil {
		return correlate.Tracked{}, fmt.Errorf("memstore: put: %w", err)
	}
	if err := checkPut(&t, keys); err != nil {
		return correlate.Tracked{}, fmt.Errorf("memstore: put: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if s.nrows >= maxRows {
		return correlate.Tracked{}, fmt.Errorf("memstore: put: store full (%d emails)", s.nrows)
	}
	id, exists := s.put(t, keys)
	if exists {
		return s.tracked(id, nil), fmt.Errorf("memstore: put %q: %w", t.MessageID, correlate.ErrExists)
	}
	return s.tracked(id, nil), nil
}

// Get implements correlate.Store.
func (s *Store) Get(ctx context.Context, id int64) (correlate.Tracked, error) {
	if err := ctx.Err(); err != nil {
		return correlate.Tracked{}, fmt.Errorf("memstore: get: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.alive(id) {
		return s.tracked(uint32(id), nil), nil
	}
	return correlate.Tracked{}, fmt.Errorf("memstore: get %d: %w", id, correlate.ErrNotFound)
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
	r := s.row(uint32(id))
	n := uint32(r.nkeys)
	if r.flags&rowHidden != 0 {
		n++
		s.hidden--
	}
	for _, h1 := range s.ekeys[r.keysOff : r.keysOff+n] {
		s.removePosting(h1, uint32(id))
	}
	s.removeFrom(&s.byRecord[r.record], uint32(id))
	delete(s.hist, uint32(id))
	s.nkeys -= int64(r.nkeys)
	s.live--
	r.flags |= rowDead
	return nil
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
	if lim := q.EffectiveLimit(); lim >= 0 && lim < len(p) {
		p = p[len(p)-lim:]
	}
	return s.materialize(p, true), nil
}

// Probe implements probe.Prober: it reads only the index, each email's
// time and its record.
func (s *Store) Probe(ctx context.Context, keys []correlate.Key, limit int, dst []probe.Hit) ([]probe.Hit, error) {
	if err := ctx.Err(); err != nil {
		return dst, fmt.Errorf("memstore: probe: %w", err)
	}
	if limit <= 0 {
		limit = correlate.DefaultLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ready() {
		return dst, nil
	}
	if len(keys) > probeBatch {
		for i := 0; i < len(keys); i += probeBatch {
			dst = s.probe(keys[i:min(i+probeBatch, len(keys))], i, limit, dst)
		}
		return dst, nil
	}
	return s.probe(keys, 0, limit, dst), nil
}

// probeBatch is how many keys probe looks up together.
const probeBatch = 40

// probe answers Probe for at most probeBatch keys, the first being key
// number base, under the read lock. It goes in passes — every key's index
// entry, then the emails' rows, then their records — so that the cache
// misses of different keys, independent of one another, overlap instead of
// waiting for each other: a message's ids are looked up in the time of
// little more than one.
func (s *Store) probe(keys []correlate.Key, base, limit int, dst []probe.Hit) []probe.Hit {
	var (
		h1s  [probeBatch]uint64
		chks [probeBatch]uint32
		vals [probeBatch]slot
		oks  [probeBatch]bool
	)
	for i, k := range keys {
		h1s[i], chks[i] = s.keyHash(k)
	}
	for i := range keys {
		vals[i], oks[i] = s.index[h1s[i]]
	}
	first := len(dst)
	var one [1]uint32
	for i := range keys {
		if !oks[i] {
			continue
		}
		var p []uint32
		if v := vals[i]; v.isDirect() {
			if v.chk() == chks[i] {
				one[0] = v.id()
				p = one[:]
			}
		} else {
			p = s.postings(h1s[i], chks[i], &one)
		}
		for j := len(p) - 1; j >= 0 && j >= len(p)-limit; j-- {
			dst = append(dst, probe.Hit{Key: base + i, ID: int64(p[j])})
		}
	}
	var recs [2 * probeBatch]uint32
	hits := dst[first:]
	for j := range hits {
		if j < len(recs) {
			recs[j] = s.row(uint32(hits[j].ID)).record
		}
	}
	for j := range hits {
		var ri uint32
		if j < len(recs) {
			ri = recs[j]
		} else {
			ri = s.row(uint32(hits[j].ID)).record
		}
		hits[j].Record = s.record(ri)
	}
	return dst
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
