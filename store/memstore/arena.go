// The arena of texts, and the interned texts, records and places in it.

package memstore

import (
	"hash/maphash"
	"unsafe"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// An sref locates a text in an arena: chunk (1-based, 24 bits), offset (20
// bits) and length (20 bits). The zero sref is the empty string.
type sref uint64

const (
	chunkBits = 20
	chunkSize = 1 << chunkBits
	lenMask   = 1<<20 - 1
	// bigLen marks a text that has a chunk of its own; its length is the
	// chunk's.
	bigLen = lenMask
)

// An arena is append-only storage for texts. Chunks are never written
// again once a text is in them, so strings made by str may point into them
// for as long as they live: the garbage collector keeps a chunk alive while
// any such string does.
type arena struct {
	chunks [][]byte
	cur    int // 1-based index of the chunk small texts go to; 0 before the first
}

func (a *arena) add(s string) sref {
	if s == "" {
		return 0
	}
	n := len(s)
	if n >= bigLen {
		a.chunks = append(a.chunks, []byte(s))
		return sref(uint64(len(a.chunks))<<40 | bigLen)
	}
	if a.cur == 0 || len(a.chunks[a.cur-1])+n > chunkSize {
		a.chunks = append(a.chunks, make([]byte, 0, chunkSize))
		a.cur = len(a.chunks)
	}
	c := a.cur - 1
	off := len(a.chunks[c])
	a.chunks[c] = append(a.chunks[c], s...)
	return sref(uint64(c+1)<<40 | uint64(off)<<20 | uint64(n))
}

func (a *arena) str(r sref) string {
	if r == 0 {
		return ""
	}
	c := a.chunks[int(r>>40)-1]
	n := int(r & lenMask)
	if n == bigLen {
		return unsafe.String(unsafe.SliceData(c), len(c))
	}
	off := int(r>>20) & lenMask
	return unsafe.String(&c[off], n)
}

type recordEntry struct{ typ, id sref }

type placeEntry struct{ mailbox, folderID, folderPath sref }

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
