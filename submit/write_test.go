package submit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// gateStore records every Apply; the first one waits for release, and a
// batch holding a put of refuse fails whole.
type gateStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
	refuse  string

	mu      sync.Mutex
	batches []store.Batch
}

func (s *gateStore) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	s.mu.Lock()
	s.batches = append(s.batches, b)
	first := len(s.batches) == 1
	s.mu.Unlock()
	if first && s.release != nil {
		close(s.entered)
		<-s.release
	}
	for _, p := range b.Puts {
		if p.Tracked.MessageID == s.refuse {
			return store.Result{}, errors.New("refused: " + s.refuse)
		}
	}
	return s.Store.Apply(ctx, b)
}

func (s *gateStore) applied() []store.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.Batch(nil), s.batches...)
}

func newTestRelay(t *testing.T, st store.Store) *Relay {
	t.Helper()
	r, err := New(Options{Store: st, Auth: &Users{}, Upstream: Upstream{Addr: "127.0.0.1:1"}, Instance: "w", Logger: nil})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func trackWrite(r *Relay, id, attempt string) *write {
	return &write{
		put: &store.Entry{
			Tracked: correlate.Tracked{MessageID: id, Direction: correlate.Outgoing, Time: time.Now()},
			Keys:    []correlate.Key{correlate.MessageIDKey(id), {Kind: KindAttempt, Value: attempt}},
		},
		state: store.State{Name: r.pendingPrefix() + attempt, Value: []byte("{}")},
	}
}

func commitWrite(r *Relay, attempt string) *write {
	return &write{state: store.State{Name: r.pendingPrefix() + attempt}}
}

// TestWritesShareApply: the writes that come while an Apply is under way
// are made together in the next one, each with its own result, and the
// Apply carries the lease only because it holds a track.
func TestWritesShareApply(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	// a0's row, to be cleared by a commit in the shared Apply.
	if _, err := mem.Apply(ctx, store.Batch{States: []store.State{{Name: "submit/pending/w/a0", Value: []byte("{}")}}}); err != nil {
		t.Fatal(err)
	}
	st := &gateStore{Store: mem, entered: make(chan struct{}), release: make(chan struct{})}
	r := newTestRelay(t, st)
	lease, err := mem.Acquire(ctx, r.leaseKey, r.holder, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r.lease.Store(&lease)

	type out struct {
		name string
		res  writeResult
	}
	results := make(chan out, 4)
	do := func(name string, w *write) {
		results <- out{name, r.write(ctx, w)}
	}
	go do("first", trackWrite(r, "first@x", "a1"))
	<-st.entered // the first Apply is under way
	go do("second", trackWrite(r, "second@x", "a2"))
	go do("third", trackWrite(r, "third@x", "a3"))
	go do("commit", commitWrite(r, "a0"))
	for {
		r.wmu.Lock()
		n := len(r.queue)
		r.wmu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(st.release)
	got := map[string]writeResult{}
	for range 4 {
		o := <-results
		got[o.name] = o.res
	}
	for _, name := range []string{"first", "second", "third"} {
		res := got[name]
		if res.err != nil || res.existing || res.tracked.MessageID != name+"@x" || res.tracked.ID == 0 {
			t.Errorf("%s: %+v; want its own email, stored", name, res)
		}
	}
	if got["commit"].err != nil {
		t.Errorf("commit: %v", got["commit"].err)
	}
	bs := st.applied()
	if len(bs) != 2 {
		t.Fatalf("%d Applies; want 2: the first write alone, the three that came meanwhile together", len(bs))
	}
	if b := bs[1]; len(b.Puts) != 2 || len(b.States) != 3 || b.Lease == nil {
		t.Errorf("shared Apply: %d puts, %d states, lease %v; want 2, 3 and the lease (it holds tracks)", len(b.Puts), len(b.States), b.Lease)
	}
	ss, err := mem.States(ctx, "submit/pending/w/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ss {
		names = append(names, strings.TrimPrefix(s.Name, "submit/pending/w/"))
	}
	if strings.Join(names, " ") != "a1 a2 a3" {
		t.Errorf("pending rows %v; want a1 a2 a3 (a0 cleared by the commit)", names)
	}

	// A commit alone is not fenced.
	if res := r.write(ctx, commitWrite(r, "a1")); res.err != nil {
		t.Fatal(res.err)
	}
	if b := st.applied()[2]; b.Lease != nil {
		t.Errorf("a commit alone carried the lease")
	}
}

// TestWritesOwnOutcome: when a shared Apply fails for one write's sake —
// a store refusing one email, a lost lease that fences the tracks but not
// the commits — each write is made again on its own and gets its own
// outcome.
func TestWritesOwnOutcome(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		refuse    string
		loseLease bool
		wantErr   map[string]bool // per write: whether it fails
		why       string
	}{
		{
			name: "one email refused", refuse: "bad@x",
			wantErr: map[string]bool{"good": false, "bad": true, "commit": false},
			why:     "only the refused email's message gets 451; the others are tracked and the commit made",
		},
		{
			name: "lease lost", loseLease: true,
			wantErr: map[string]bool{"good": true, "bad": true, "commit": false},
			why:     "tracking is fenced by the lease, clearing a row is not",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memstore.New()
			if _, err := mem.Apply(ctx, store.Batch{States: []store.State{{Name: "submit/pending/w/a0", Value: []byte("{}")}}}); err != nil {
				t.Fatal(err)
			}
			st := &gateStore{Store: mem, refuse: c.refuse}
			r := newTestRelay(t, st)
			lease, err := mem.Acquire(ctx, r.leaseKey, r.holder, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if c.loseLease {
				if err := mem.Release(ctx, lease); err != nil {
					t.Fatal(err)
				}
			}
			r.lease.Store(&lease)
			ws := map[string]*write{
				"good":   trackWrite(r, "good@x", "a1"),
				"bad":    trackWrite(r, "bad@x", "a2"),
				"commit": commitWrite(r, "a0"),
			}
			order := []string{"good", "bad", "commit"}
			group := []*write{ws["good"], ws["bad"], ws["commit"]}
			res := r.applyWrites(ctx, group)
			for i, name := range order {
				if failed := res[i].err != nil; failed != c.wantErr[name] {
					t.Errorf("%s: err %v; want failure %v: %s", name, res[i].err, c.wantErr[name], c.why)
				}
			}
			if c.loseLease && !errors.Is(res[0].err, store.ErrLeaseLost) {
				t.Errorf("track with a lost lease: %v, want ErrLeaseLost", res[0].err)
			}
			if n := len(st.applied()); n != 4 {
				t.Errorf("%d Applies; want 4: the shared one, then each write on its own", n)
			}
			ss, err := mem.States(ctx, "submit/pending/w/a0")
			if err != nil {
				t.Fatal(err)
			}
			if len(ss) != 0 {
				t.Errorf("a0's row is still there: %s", c.why)
			}
		})
	}
}
