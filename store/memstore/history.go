// Relinking and the history of record changes.

package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// change is one change of an email's record, without Go pointers.
type change struct {
	at           int64  // Unix nanoseconds
	from, to     uint32 // indexes into records
	actor, cause uint32 // indexes into strs
	prev         uint32 // the email's change before this one; 0 for none
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
