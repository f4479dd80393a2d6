// The key index: fingerprints, slots and the posting lists in the pool.

package memstore

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"sort"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// hiddenKind indexes the Message-ID of an email whose keys do not include
// its correlate.KindMessageID key, for Put's duplicate check; it is not
// counted in Stats. The NUL byte keeps it apart from any kind in use.
const hiddenKind = "\x00memstore.msgid"

// A slot is the index's value for one primary hash: either one key held by
// one email (direct: the key's check bits and the email), or the head of a
// chain of kentries (indirect: the high bit set, the entry in the low bits).
type slot uint64

const indirect = 1 << 63

func direct(chk, id uint32) slot { return slot(uint64(chk)<<32 | uint64(id)) }

func (v slot) isDirect() bool { return v&indirect == 0 }

func (v slot) chk() uint32 { return uint32(v>>32) & chkMask }

func (v slot) id() uint32 { return uint32(v) }

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

// window returns the part of posting list p inside q's time window. Each
// bound is first checked against the end of p it usually spares (a message
// is most often newer than every email it names, and a window's start
// older than the list's first): one row read, of a row the caller reads
// next anyway, instead of a binary search's few, each of a row elsewhere
// in memory.
func (s *Store) window(p []uint32, q correlate.Query) []uint32 {
	if !q.Until.IsZero() && len(p) > 0 {
		until := unixNano(q.Until)
		if s.row(p[len(p)-1]).at >= until {
			p = p[:sort.Search(len(p)-1, func(i int) bool { return s.row(p[i]).at >= until })]
		}
	}
	if !q.Since.IsZero() && len(p) > 0 {
		since := unixNano(q.Since)
		if s.row(p[0]).at < since {
			p = p[1+sort.Search(len(p)-1, func(i int) bool { return s.row(p[i+1]).at >= since }):]
		}
	}
	return p
}

// checkMove returns an error for a Move this store cannot make: one with
// keys of the kind it keeps Message-IDs under itself.
func checkMove(mv *store.Move) error {
	for _, ks := range [2][]correlate.Key{mv.Drop, mv.Add} {
		for _, k := range ks {
			if k.Kind == hiddenKind {
				return fmt.Errorf("key of the store's own kind %q", hiddenKind)
			}
		}
	}
	return nil
}

// move makes mv on email id: its folder, then its keys. The email's list of
// key hashes (for Delete) is written anew at the end of ekeys, without the
// keys dropped and with those added; the old list is left unused.
func (s *Store) move(id uint32, mv *store.Move) {
	r := s.row(id)
	r.place = s.internPlace(s.arena.str(s.places[r.place].mailbox), mv.FolderID, mv.FolderPath)
	n := uint32(r.nkeys)
	var hidden uint64
	if r.flags&rowHidden != 0 {
		hidden = s.ekeys[r.keysOff+n]
	}
	old := s.ekeys[r.keysOff : r.keysOff+n : r.keysOff+n]
	var droppedBuf [4]uint64
	dropped := droppedBuf[:0] // primary hashes of the keys removed, one per key
	for _, k := range mv.Drop {
		h1, chk := s.keyHash(k)
		if s.removeKey(h1, chk, id) {
			dropped = append(dropped, h1)
		}
	}
	start := len(s.ekeys)
	for _, h1 := range old {
		if i := slices.Index(dropped, h1); i >= 0 {
			dropped = slices.Delete(dropped, i, i+1)
			continue
		}
		s.ekeys = append(s.ekeys, h1)
	}
	for _, k := range mv.Add {
		h1, chk := s.keyHash(k)
		if s.hasPosting(h1, chk, id) {
			continue // a key the email has, or one added twice
		}
		s.addPosting(h1, chk, id)
		s.ekeys = append(s.ekeys, h1)
	}
	nk := len(s.ekeys) - start // at most maxRowKeys: Apply checked
	if r.flags&rowHidden != 0 {
		s.ekeys = append(s.ekeys, hidden)
	}
	s.nkeys += int64(nk) - int64(n)
	r.keysOff, r.nkeys = uint32(start), uint16(nk)
}

// removeKey removes email id from the postings of key (h1, chk) and
// reports whether it was there.
func (s *Store) removeKey(h1 uint64, chk uint32, id uint32) bool {
	if !s.hasPosting(h1, chk, id) {
		return false
	}
	v := s.index[h1]
	if v.isDirect() {
		delete(s.index, h1)
		return true
	}
	for e := v.id(); e != 0; e = s.ents[e].next {
		if s.ents[e].chk == chk {
			s.removeFrom(&s.ents[e].plist, id)
		}
	}
	return true
}

// hasPosting reports whether email id is under key (h1, chk).
func (s *Store) hasPosting(h1 uint64, chk uint32, id uint32) bool {
	var one [1]uint32
	l := s.postings(h1, chk, &one)
	i := sort.Search(len(l), func(i int) bool { return !s.before(l[i], id) })
	return i < len(l) && l[i] == id
}
