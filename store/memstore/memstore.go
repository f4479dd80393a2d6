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
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"

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

// change is one change of an email's record, without Go pointers.
type change struct {
	at           int64  // Unix nanoseconds
	from, to     uint32 // indexes into records
	actor, cause uint32 // indexes into strs
	prev         uint32 // the email's change before this one; 0 for none
}

// lease is the state of a named lease: released or expired when until is
// not after now. token counts the times it changed hands.
type lease struct {
	holder string
	until  time.Time
	token  int64
}

const (
	inlineParts = 4
	rowBits     = 13
	rowChunk    = 1 << rowBits
)

// hiddenKind indexes the Message-ID of an email whose keys do not include
// its correlate.KindMessageID key, for Put's duplicate check; it is not
// counted in Stats. The NUL byte keeps it apart from any kind in use.
const hiddenKind = "\x00memstore.msgid"

// rec is one tracked email, without Go pointers: 88 bytes.
type rec struct {
	at                             int64  // Time, Unix nanoseconds
	record                         uint32 // index into records
	place                          uint32 // index into places
	msgID, token, convIdx, subject sref
	part                           [inlineParts]uint32 // indexes into strs
	partsOff, keysOff              uint32
	corr, parent                   uint32
	nparts, nkeys                  uint16
	method                         int16
	dir                            correlate.Direction
	flags                          uint8 // rowDead, rowHidden
}

const (
	rowDead   = 1 << iota // deleted
	rowHidden             // the Message-ID is indexed under hiddenKind (after the nkeys keys)
)

type recordEntry struct{ typ, id sref }

type placeEntry struct{ mailbox, folderID, folderPath sref }

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
// entry with the same primary hash, and its postings.
type kentry struct {
	chk  uint32
	next uint32
	plist
}

// A plist is a posting list, oldest first: a single email inline, or a list
// in a region of pool.
type plist struct {
	one  uint32 // the email when n == 1; the size of the region when n > 1
	list uint32 // the offset of the region in pool when n > 1
	n    uint32
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

// row returns the row of email id (1 ≤ id ≤ nrows).
func (s *Store) row(id uint32) *rec {
	i := id - 1
	return &s.rows[i>>rowBits][i&(rowChunk-1)]
}

// keyHash returns the fingerprint of k: a primary hash and check bits from a
// second, independent hash. Each hashes the value with maphash under its
// own seed (two maphash.String calls cost less than one maphash.Hash over
// kind and value) and mixes in a hash of the kind: distinct (kind, value)
// pairs get independent fingerprints. The kind, one of the few a program
// uses, is hashed inline with FNV-1a from a seeded basis, which costs less
// than a call; mix is injective in its first argument, so keys of
// different kinds never share a fingerprint because of their values.
func (s *Store) keyHash(k correlate.Key) (uint64, uint32) {
	k1, k2 := s.kindHash(k.Kind)
	h1 := mix(k1, maphash.String(s.seed1, k.Value))
	h2 := mix(k2, maphash.String(s.seed2, k.Value))
	return h1, uint32(h2) & chkMask
}

// kindHash returns two hashes of a key kind: FNV-1a from the store's two
// kind bases for a short kind, maphash for a long one.
func (s *Store) kindHash(kind string) (uint64, uint64) {
	if kind == correlate.KindMessageID {
		return s.msgid1, s.msgid2 // the kind of most lookups
	}
	if len(kind) > 32 {
		return maphash.String(s.seed1, kind), maphash.String(s.seed2, kind)
	}
	return s.fnvKind(kind)
}

// fnvKind returns the FNV-1a hashes of a kind from the store's two bases.
func (s *Store) fnvKind(kind string) (uint64, uint64) {
	const prime = 1099511628211
	a, b := s.kind1, s.kind2
	for i := 0; i < len(kind); i++ {
		a = (a ^ uint64(kind[i])) * prime
		b = (b ^ uint64(kind[i])) * prime
	}
	return a ^ uint64(len(kind)), b ^ uint64(len(kind))
}

// mix combines two 64-bit hashes (the finalizer of MurmurHash3 over a
// multiply-rotate of both): a change in either changes about half the bits.
func mix(a, b uint64) uint64 {
	h := a*0x9e3779b97f4a7c15 ^ (b<<31 | b>>33)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
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
		if ke := &s.ents[e]; ke.chk == chk {
			return s.ids(&ke.plist, one)
		}
	}
	return nil
}

// ids returns the emails of pl, oldest first. The result may alias
// internal storage: read only, under the lock.
func (s *Store) ids(pl *plist, one *[1]uint32) []uint32 {
	switch pl.n {
	case 0:
		return nil
	case 1:
		one[0] = pl.one
		return one[:]
	}
	return s.pool[pl.list : pl.list+pl.n : pl.list+pl.n]
}

// alloc returns the offset in pool of a free region of 1<<class entries.
func (s *Store) alloc(class int) uint32 {
	if f := s.free[class]; len(f) > 0 {
		off := f[len(f)-1]
		s.free[class] = f[:len(f)-1]
		return off
	}
	off := uint32(len(s.pool))
	s.pool = append(s.pool, make([]uint32, 1<<class)...)
	return off
}

// release returns the region of pl to the free regions.
func (s *Store) release(pl *plist) {
	class := bits.TrailingZeros32(pl.one)
	s.free[class] = append(s.free[class], pl.list)
}

// before reports whether email a sorts before email b: older first, then by
// ID.
func (s *Store) before(a, b uint32) bool {
	ta, tb := s.row(a).at, s.row(b).at
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
		s.ents = append(s.ents, kentry{chk: v.chk(), plist: plist{one: v.id(), n: 1}})
		v = slot(indirect | uint64(len(s.ents)-1))
		s.index[h1] = v
	}
	for e := v.id(); e != 0; e = s.ents[e].next {
		if s.ents[e].chk == chk {
			s.addTo(&s.ents[e].plist, id)
			return
		}
	}
	s.ents = append(s.ents, kentry{chk: chk, next: v.id(), plist: plist{one: id, n: 1}})
	s.index[h1] = slot(indirect | uint64(len(s.ents)-1))
}

// addTo adds email id to pl, in order. pl must not point into pool (alloc
// may move it).
func (s *Store) addTo(pl *plist, id uint32) {
	switch pl.n {
	case 0:
		pl.one, pl.n = id, 1
		return
	case 1:
		off := s.alloc(1)
		if s.before(pl.one, id) {
			s.pool[off], s.pool[off+1] = pl.one, id
		} else {
			s.pool[off], s.pool[off+1] = id, pl.one
		}
		pl.list, pl.one, pl.n = off, 2, 2
		return
	}
	if pl.n == pl.one { // the region is full: move to one twice its size
		off := s.alloc(bits.TrailingZeros32(pl.one) + 1)
		copy(s.pool[off:off+pl.n], s.pool[pl.list:pl.list+pl.n])
		s.release(pl)
		pl.list, pl.one = off, 2*pl.one
	}
	l := s.pool[pl.list : pl.list+pl.n : pl.list+pl.one]
	if s.before(l[len(l)-1], id) { // mail mostly arrives in time order
		l = append(l, id) // within the region
	} else {
		i := sort.Search(len(l), func(i int) bool { return s.before(id, l[i]) })
		l = slices.Insert(l, i, id) // within the region: it has room
	}
	pl.n = uint32(len(l))
}

// removeFrom removes email id from pl, if it is there. A list of several
// emails is ordered by before, so id is found by binary search.
func (s *Store) removeFrom(pl *plist, id uint32) {
	switch {
	case pl.n == 1 && pl.one == id:
		pl.n, pl.one = 0, 0
	case pl.n > 1:
		l := s.pool[pl.list : pl.list+pl.n]
		i := sort.Search(len(l), func(i int) bool { return !s.before(l[i], id) })
		if i == len(l) || l[i] != id {
			return
		}
		l = slices.Delete(l, i, i+1)
		pl.n = uint32(len(l))
		if pl.n == 1 {
			first := l[0]
			s.release(pl)
			pl.one, pl.list = first, 0
		}
	}
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
		s.removeFrom(&s.ents[e].plist, id)
	}
}

// Times outside what UnixNano represents (before 1678, after 2262) are kept
// as its bounds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// duplicate returns the live email whose Message-ID is id, or 0; (h1, chk)
// is the fingerprint of id's correlate.KindMessageID key.
func (s *Store) duplicate(id string, h1 uint64, chk uint32) uint32 {
	var one [1]uint32
	for _, e := range s.postings(h1, chk, &one) {
		if s.arena.str(s.row(e).msgID) == id {
			return e // under its own Message-ID, not an alias of another email
		}
	}
	if s.hidden > 0 {
		h1, chk = s.keyHash(correlate.Key{Kind: hiddenKind, Value: id})
		for _, e := range s.postings(h1, chk, &one) {
			if s.arena.str(s.row(e).msgID) == id {
				return e
			}
		}
	}
	return 0
}

// maxRows is the most emails a Store assigns IDs to (IDs are 32 bits).
const maxRows = 1<<32 - 2

// checkPut returns the error of a Put of t that no Store state can cure.
func checkPut(t *correlate.Tracked) error {
	if t.ID != 0 {
		return fmt.Errorf("tracked email already has ID %d", t.ID)
	}
	if t.Method < math.MinInt16 || t.Method > math.MaxInt16 {
		return fmt.Errorf("method %d out of the range a Store keeps (%d to %d)", t.Method, math.MinInt16, math.MaxInt16)
	}
	return nil
}

// Put implements correlate.Store.
func (s *Store) Put(ctx context.Context, t correlate.Tracked, keys []correlate.Key) (correlate.Tracked, error) {
	if err := ctx.Err(); err != nil {
		return correlate.Tracked{}, fmt.Errorf("memstore: put: %w", err)
	}
	if err := checkPut(&t); err != nil {
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

// put stores t (checked by checkPut, with room for it) and returns its
// ID, or the ID of the email already stored under its MessageID and true.
func (s *Store) put(t correlate.Tracked, keys []correlate.Key) (uint32, bool) {
	var mh1 uint64
	var mchk uint32
	if t.MessageID != "" {
		mh1, mchk = s.keyHash(correlate.Key{Kind: correlate.KindMessageID, Value: t.MessageID})
		if id := s.duplicate(t.MessageID, mh1, mchk); id != 0 {
			return id, true
		}
	}
	if s.nrows%rowChunk == 0 {
		s.rows = append(s.rows, make([]rec, rowChunk))
	}
	s.nrows++
	id := uint32(s.nrows)
	r := s.row(id)
	*r = rec{
		at:      unixNano(t.Time),
		record:  s.internRecord(t.Record),
		place:   s.internPlace(t.Mailbox, t.FolderID, t.FolderPath),
		msgID:   s.arena.add(t.MessageID),
		token:   s.arena.add(t.Token),
		convIdx: s.arena.add(string(t.ConversationIndex)),
		subject: s.arena.add(t.Subject),
		corr:    uint32(t.CorrelatedWith),
		parent:  uint32(t.Parent),
		method:  int16(t.Method),
		dir:     t.Direction,
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
	// Index the keys, each once.
	r.keysOff = uint32(len(s.ekeys))
	var seen [16][2]uint64
	dup := seen[:0]
	ownKey := false
	for _, k := range keys {
		var h1 uint64
		var chk uint32
		own := t.MessageID != "" && k.Kind == correlate.KindMessageID && k.Value == t.MessageID
		if own {
			h1, chk = mh1, mchk // hashed for the duplicate check already
		} else {
			h1, chk = s.keyHash(k)
		}
		if slices.Contains(dup, [2]uint64{h1, uint64(chk)}) {
			continue // repeated key in this Put
		}
		dup = append(dup, [2]uint64{h1, uint64(chk)})
		ownKey = ownKey || own
		s.addPosting(h1, chk, id)
		s.ekeys = append(s.ekeys, h1)
	}
	r.nkeys = uint16(len(s.ekeys) - int(r.keysOff))
	if t.MessageID != "" && !ownKey {
		h1, chk := s.keyHash(correlate.Key{Kind: hiddenKind, Value: t.MessageID})
		s.addPosting(h1, chk, id)
		s.ekeys = append(s.ekeys, h1)
		r.flags |= rowHidden
		s.hidden++
	}
	s.addTo(&s.byRecord[r.record], id)
	s.live++
	s.nkeys += int64(r.nkeys)
	return id, false
}

// byMessageID returns the live email whose Message-ID is id, or 0.
func (s *Store) byMessageID(id string) uint32 {
	h1, chk := s.keyHash(correlate.Key{Kind: correlate.KindMessageID, Value: id})
	return s.duplicate(id, h1, chk)
}

// internStr returns the index in strs of v, adding it when new.
func (s *Store) internStr(v string) uint32 {
	if v == "" {
		return 0
	}
	h := maphash.String(s.seed2, v)
	if i, ok := s.strIdx[h]; ok && s.arena.str(s.strs[i]) == v {
		return i
	}
	s.strs = append(s.strs, s.arena.add(v))
	i := uint32(len(s.strs) - 1)
	s.strIdx[h] = i // on the rare hash collision the newer text wins the slot
	return i
}

func (s *Store) str(i uint32) string { return s.arena.str(s.strs[i]) }

// findRecord returns the index in records of r, and whether it is there.
// Records are found exactly: on a collision of their hashes, a record takes
// the next free hash (open addressing over recIdx), so that one record has
// one index and one timeline.
func (s *Store) findRecord(r correlate.Record) (uint32, bool) {
	i, _, ok := s.probeRecord(r)
	return i, ok
}

// probeRecord returns the index of r and true, or the free slot of recIdx
// for it and false.
func (s *Store) probeRecord(r correlate.Record) (uint32, uint64, bool) {
	if r.IsZero() {
		return 0, 0, true
	}
	var h maphash.Hash
	h.SetSeed(s.seed2)
	h.WriteString(r.Type)
	h.WriteByte(0)
	h.WriteString(r.ID)
	for k := h.Sum64(); ; k++ {
		i, ok := s.recIdx[k]
		if !ok {
			return 0, k, false
		}
		if s.record(i) == r {
			return i, k, true
		}
	}
}

// internRecord returns the index in records of r, adding it when new.
func (s *Store) internRecord(r correlate.Record) uint32 {
	i, k, ok := s.probeRecord(r)
	if ok {
		return i
	}
	s.records = append(s.records, recordEntry{typ: s.strs[s.internStr(r.Type)], id: s.strs[s.internStr(r.ID)]})
	s.byRecord = append(s.byRecord, plist{})
	i = uint32(len(s.records) - 1)
	s.recIdx[k] = i
	return i
}

func (s *Store) record(i uint32) correlate.Record {
	e := &s.records[i]
	return correlate.Record{Type: s.arena.str(e.typ), ID: s.arena.str(e.id)}
}

// internPlace returns the index in places of a mailbox and folder.
func (s *Store) internPlace(mailbox, folderID, folderPath string) uint32 {
	if mailbox == "" && folderID == "" && folderPath == "" {
		return 0
	}
	// Mail comes folder by folder: the place of the last Put, first.
	if i := s.lastPlace; i != 0 {
		p := &s.places[i]
		if s.arena.str(p.mailbox) == mailbox && s.arena.str(p.folderID) == folderID && s.arena.str(p.folderPath) == folderPath {
			return i
		}
	}
	i := s.findPlace(mailbox, folderID, folderPath)
	s.lastPlace = i
	return i
}

// findPlace is internPlace through the index of places.
func (s *Store) findPlace(mailbox, folderID, folderPath string) uint32 {
	var h maphash.Hash
	h.SetSeed(s.seed2)
	h.WriteString(mailbox)
	h.WriteByte(0)
	h.WriteString(folderID)
	h.WriteByte(0)
	h.WriteString(folderPath)
	k := h.Sum64()
	if i, ok := s.placeIx[k]; ok {
		p := &s.places[i]
		if s.arena.str(p.mailbox) == mailbox && s.arena.str(p.folderID) == folderID && s.arena.str(p.folderPath) == folderPath {
			return i
		}
	}
	s.places = append(s.places, placeEntry{
		mailbox:    s.strs[s.internStr(mailbox)],
		folderID:   s.strs[s.internStr(folderID)],
		folderPath: s.strs[s.internStr(folderPath)],
	})
	i := uint32(len(s.places) - 1)
	s.placeIx[k] = i
	return i
}

// tracked materializes email id; its strings point into the arena. When
// parts has room for the email's participants they are placed there (so
// that one slice serves many results), else in a new slice.
func (s *Store) tracked(id uint32, parts []string) correlate.Tracked {
	r := s.row(id)
	p := &s.places[r.place]
	t := correlate.Tracked{
		ID:             int64(id),
		MessageID:      s.arena.str(r.msgID),
		Record:         s.record(r.record),
		Token:          s.arena.str(r.token),
		Subject:        s.arena.str(r.subject),
		Mailbox:        s.arena.str(p.mailbox),
		FolderID:       s.arena.str(p.folderID),
		FolderPath:     s.arena.str(p.folderPath),
		Direction:      r.dir,
		Time:           time.Unix(0, r.at).UTC(),
		Method:         correlate.Method(r.method),
		CorrelatedWith: int64(r.corr),
		Parent:         int64(r.parent),
	}
	if ci := s.arena.str(r.convIdx); ci != "" {
		t.ConversationIndex = unsafe.Slice(unsafe.StringData(ci), len(ci))
	}
	if n := int(r.nparts); n > 0 {
		if cap(parts) < n {
			parts = make([]string, n)
		}
		ps := parts[:n:n]
		for i := range ps {
			if i < inlineParts {
				ps[i] = s.str(r.part[i])
			} else {
				ps[i] = s.str(s.parts[int(r.partsOff)+i-inlineParts])
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
		return s.tracked(uint32(id), nil), nil
	}
	return correlate.Tracked{}, fmt.Errorf("memstore: get %d: %w", id, correlate.ErrNotFound)
}

func (s *Store) alive(id int64) bool {
	return id > 0 && id <= int64(s.nrows) && s.row(uint32(id)).flags&rowDead == 0
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

// window returns the part of posting list p inside q's time window.
func (s *Store) window(p []uint32, q correlate.Query) []uint32 {
	if !q.Until.IsZero() {
		until := unixNano(q.Until)
		p = p[:sort.Search(len(p), func(i int) bool { return s.row(p[i]).at >= until })]
	}
	if !q.Since.IsZero() {
		since := unixNano(q.Since)
		p = p[sort.Search(len(p), func(i int) bool { return s.row(p[i]).at >= since }):]
	}
	return p
}

// materialize returns the emails of ids as Tracked values, with two
// allocations whatever their number (the results, and one slice holding the
// participants of all of them), or one for a single email with few
// participants, the common answer of a Message-ID lookup.
func (s *Store) materialize(ids []uint32, newestFirst bool) []correlate.Tracked {
	np := 0
	for _, id := range ids {
		np += int(s.row(id).nparts)
	}
	var out []correlate.Tracked
	var parts []string
	switch {
	case len(ids) == 1 && np <= inlineParts:
		one := new(struct {
			t [1]correlate.Tracked
			p [inlineParts]string
		})
		out, parts = one.t[:], one.p[:]
	default:
		out = make([]correlate.Tracked, len(ids))
		if np > 0 {
			parts = make([]string, np)
		}
	}
	for i := range out {
		id := ids[i]
		if newestFirst {
			id = ids[len(ids)-1-i]
		}
		out[i] = s.tracked(id, parts)
		parts = parts[len(out[i].Participants):]
	}
	return out
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

// Relink implements correlate.Store. A change is kept in the email's
// History with cause manual.
func (s *Store) Relink(ctx context.Context, id int64, r correlate.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: relink: %w", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.alive(id) {
		return fmt.Errorf("memstore: relink %d: %w", id, correlate.ErrNotFound)
	}
	s.relink(uint32(id), r, "", store.CauseManual, now)
	return nil
}

// RelinkKey implements correlate.Store. A change is kept in the History of
// every email it changes, with cause folder.
func (s *Store) RelinkKey(ctx context.Context, k correlate.Key, r correlate.Record) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: relink: %w", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	var one [1]uint32
	h1, chk := s.keyHash(k)
	// A copy: relinking moves emails between timelines, in the pool the
	// key's list lives in.
	emails := slices.Clone(s.postings(h1, chk, &one))
	n := 0
	for _, e := range emails {
		if _, changed := s.relink(e, r, "", store.CauseFolder, now); changed {
			n++
		}
	}
	return n, nil
}

// relink files the live email id under r and keeps the change, unless r is
// its record already.
func (s *Store) relink(id uint32, r correlate.Record, actor string, cause store.Cause, at time.Time) (store.Change, bool) {
	ri := s.internRecord(r)
	row := s.row(id)
	from := row.record
	if from == ri {
		return store.Change{}, false
	}
	s.removeFrom(&s.byRecord[from], id)
	row.record = ri
	s.addTo(&s.byRecord[ri], id)
	s.changes = append(s.changes, change{
		at:    unixNano(at),
		from:  from,
		to:    ri,
		actor: s.internStr(actor),
		cause: s.internStr(string(cause)),
		prev:  s.hist[id],
	})
	c := uint32(len(s.changes) - 1)
	s.hist[id] = c
	return s.change(id, c), true
}

// change materializes change c of email id.
func (s *Store) change(id, c uint32) store.Change {
	ch := &s.changes[c]
	return store.Change{
		Email:     int64(id),
		MessageID: s.arena.str(s.row(id).msgID),
		From:      s.record(ch.from),
		To:        s.record(ch.to),
		Actor:     s.str(ch.actor),
		Cause:     store.Cause(s.str(ch.cause)),
		Time:      time.Unix(0, ch.at).UTC(),
	}
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
