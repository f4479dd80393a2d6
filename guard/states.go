package guard

import (
	"context"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// States is a [RecordResolver] kept in memory: the records that
// were merged, closed or deleted. A record it holds nothing about is open
// and exists. It suits tests, examples and small deployments that mirror
// the CRM's merges and closures; a CRM-backed resolver asks the CRM.
//
// The zero States is empty and ready to use. It is safe for concurrent use.
type States struct {
	mu sync.RWMutex
	m  map[correlate.Record]RecordState
}

var _ RecordResolver = (*States)(nil)

// Set records the state of r; the zero state forgets r (open, existing).
func (s *States) Set(r correlate.Record, st RecordState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == (RecordState{}) {
		delete(s.m, r)
		return
	}
	if s.m == nil {
		s.m = make(map[correlate.Record]RecordState)
	}
	s.m[r] = st
}

// update changes the state of r under the lock.
func (s *States) update(r correlate.Record, f func(*RecordState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[r]
	f(&st)
	if st == (RecordState{}) {
		delete(s.m, r)
		return
	}
	if s.m == nil {
		s.m = make(map[correlate.Record]RecordState)
	}
	s.m[r] = st
}

// Merge records that from was merged into into, as Zammad and OTRS merge
// tickets: replies to from then go to into. A merged record is also closed.
func (s *States) Merge(from, into correlate.Record) {
	s.update(from, func(st *RecordState) { st.MergedInto, st.Closed = into, true })
}

// Close records that r is closed.
func (s *States) Close(r correlate.Record) {
	s.update(r, func(st *RecordState) { st.Closed = true })
}

// Reopen records that r is open again (it stays merged if it was).
func (s *States) Reopen(r correlate.Record) {
	s.update(r, func(st *RecordState) { st.Closed = false })
}

// Delete records that r no longer exists.
func (s *States) Delete(r correlate.Record) {
	s.update(r, func(st *RecordState) { st.Deleted = true })
}

// Resolve implements RecordResolver; it fails only when ctx is
// done.
func (s *States) Resolve(ctx context.Context, r correlate.Record) (RecordState, error) {
	if err := ctx.Err(); err != nil {
		return RecordState{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[r], nil
}
