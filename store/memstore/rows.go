// The rows: one pointer-free record per tracked email, and putting and materializing them.

package memstore

import (
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

const (
	inlineParts = 4
	rowBits     = 13
	rowChunk    = 1 << rowBits
)

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

// row returns the row of email id (1 ≤ id ≤ nrows).
func (s *Store) row(id uint32) *rec {
	i := id - 1
	return &s.rows[i>>rowBits][i&(rowChunk-1)]
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

// maxRowKeys is the most keys an email can have: its row counts them in 16
// bits.
const maxRowKeys = math.MaxUint16

// checkPut returns the error of a Put of t with keys that no Store state
// can cure.
func checkPut(t *correlate.Tracked, keys []correlate.Key) error {
	if len(keys) > maxRowKeys {
		return fmt.Errorf("%d keys: at most %d", len(keys), maxRowKeys)
	}
	if t.ID != 0 {
		return fmt.Errorf("tracked email already has ID %d", t.ID)
	}
	if t.Method < math.MinInt16 || t.Method > math.MaxInt16 {
		return fmt.Errorf("method %d out of the range a Store keeps (%d to %d)", t.Method, math.MinInt16, math.MaxInt16)
	}
	return nil
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

func (s *Store) alive(id int64) bool {
	return id > 0 && id <= int64(s.nrows) && s.row(uint32(id)).flags&rowDead == 0
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
