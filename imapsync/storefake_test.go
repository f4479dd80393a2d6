package imapsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// fakeStore is a store.Store over memstore for the tests of this package
// while memstore does not implement store.Store itself: one mutex makes
// Apply atomic enough for one process (a failed Relink after the Puts is
// not rolled back; the tests never cause one).
type fakeStore struct {
	*memstore.Store
	mu     sync.Mutex
	states map[string][]byte
	leases map[string]store.Lease
	token  int64
	max    int64
	fail   func(b store.Batch) error // injected failures
}

func newFakeStore() *fakeStore {
	return &fakeStore{Store: memstore.New(), states: map[string][]byte{}, leases: map[string]store.Lease{}}
}

var _ store.Store = (*fakeStore)(nil)

func (s *fakeStore) Put(ctx context.Context, t correlate.Tracked, keys []correlate.Key) (correlate.Tracked, error) {
	got, err := s.Store.Put(ctx, t, keys)
	if err == nil {
		s.mu.Lock()
		s.max = max(s.max, got.ID)
		s.mu.Unlock()
	}
	return got, err
}

func (s *fakeStore) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(b); err != nil {
			return store.Result{}, err
		}
	}
	if b.Lease != nil {
		l, ok := s.leases[b.Lease.Name]
		if !ok || l.Holder != b.Lease.Holder || l.Token != b.Lease.Token || time.Now().After(l.Until) {
			return store.Result{}, fmt.Errorf("fake: %w", store.ErrLeaseLost)
		}
	}
	var res store.Result
	for _, e := range b.Puts {
		got, err := s.Store.Put(ctx, e.Tracked, e.Keys)
		switch {
		case errors.Is(err, correlate.ErrExists):
			res.Tracked = append(res.Tracked, got)
			res.Existing = append(res.Existing, true)
		case err != nil:
			return res, err
		default:
			s.max = max(s.max, got.ID)
			res.Tracked = append(res.Tracked, got)
			res.Existing = append(res.Existing, false)
		}
	}
	for _, r := range b.Relinks {
		t, err := s.Store.Get(ctx, r.ID)
		if err != nil {
			return res, err
		}
		if t.Record == r.Record {
			continue
		}
		if err := s.Store.Relink(ctx, r.ID, r.Record); err != nil {
			return res, err
		}
		ch := r.Change
		ch.Email, ch.MessageID, ch.From, ch.To = t.ID, t.MessageID, t.Record, r.Record
		res.Changes = append(res.Changes, ch)
	}
	for _, st := range b.States {
		if st.Value == nil {
			delete(s.states, st.Name)
		} else {
			s.states[st.Name] = slices.Clone(st.Value)
		}
	}
	return res, nil
}

func (s *fakeStore) States(ctx context.Context, prefix string) ([]store.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.State
	for k, v := range s.states {
		if strings.HasPrefix(k, prefix) {
			out = append(out, store.State{Name: k, Value: slices.Clone(v)})
		}
	}
	slices.SortFunc(out, func(a, b store.State) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *fakeStore) History(ctx context.Context, id int64) ([]store.Change, error) {
	return nil, errors.New("fake: no history")
}

func (s *fakeStore) Emails(ctx context.Context, r correlate.Record, limit int, cursor string) ([]correlate.Tracked, string, error) {
	return nil, "", errors.New("fake: no timeline")
}

func (s *fakeStore) Scan(ctx context.Context, after int64, limit int) ([]correlate.Tracked, error) {
	s.mu.Lock()
	hi := s.max
	s.mu.Unlock()
	if limit <= 0 {
		limit = correlate.DefaultLimit
	}
	var out []correlate.Tracked
	for id := after + 1; id <= hi && len(out) < limit; id++ {
		t, err := s.Store.Get(ctx, id)
		if errors.Is(err, correlate.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (s *fakeStore) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (store.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	l, ok := s.leases[name]
	switch {
	case ok && l.Holder == holder && now.Before(l.Until):
		l.Until = now.Add(ttl)
	case ok && now.Before(l.Until):
		return store.Lease{}, fmt.Errorf("fake: %w", store.ErrLeaseHeld)
	default:
		s.token++
		l = store.Lease{Name: name, Holder: holder, Until: now.Add(ttl), Token: s.token}
	}
	s.leases[name] = l
	return l, nil
}

func (s *fakeStore) Release(ctx context.Context, l store.Lease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.leases[l.Name]
	if !ok || cur.Holder != l.Holder || cur.Token != l.Token {
		return fmt.Errorf("fake: %w", store.ErrLeaseLost)
	}
	delete(s.leases, l.Name)
	return nil
}
