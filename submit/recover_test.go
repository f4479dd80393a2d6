package submit_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/submit"
)

// TestRecover: the relay starts by rolling back what a killed run of its
// instance left half done — the emails it tracked but never finished
// sending — and nothing else.
func TestRecover(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	put := func(id, attempt, pending string) {
		keys := []correlate.Key{correlate.MessageIDKey(id)}
		if attempt != "" {
			keys = append(keys, correlate.Key{Kind: submit.KindAttempt, Value: attempt})
		}
		b := store.Batch{Puts: []store.Entry{{Tracked: correlate.Tracked{MessageID: id, Record: caseRec, Direction: correlate.Outgoing, Time: time.Now()}, Keys: keys}}}
		if pending != "" {
			b.States = []store.State{{Name: pending, Value: []byte("{}")}}
		}
		if _, err := st.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	put("killed@relay", "a1", "submit/pending/test/a1") // tracked, never sent: the run was killed
	put("sent@relay", "a0", "")                         // tracked and sent: its row was cleared
	put("other@relay", "b1", "submit/pending/other/b1") // another instance's, maybe running now
	put("incoming@contoso.example", "", "")             // not the relay's at all

	h := newHarness(t, st, nil) // instance "test"
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil { // the relay greets once it has recovered
		t.Fatal(err)
	}
	var ids []string
	for _, tr := range h.tracked() {
		ids = append(ids, tr.MessageID)
	}
	if got := strings.Join(ids, " "); got != "sent@relay other@relay incoming@contoso.example" {
		t.Errorf("after recovery the store holds %q: want only the killed run's email gone", got)
	}
	ss, err := st.States(ctx, "submit/pending/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Name != "submit/pending/other/b1" {
		t.Errorf("pending rows %v: want only the other instance's", ss)
	}
}

// TestLeaseHeld: two relays never run as the same instance.
func TestLeaseHeld(t *testing.T) {
	st := memstore.New()
	h := newHarness(t, st, nil)
	// The second waits a LeaseTTL and a half for the lease (a killed run's
	// would expire by then); the first, alive, keeps renewing it.
	second, err := submit.New(submit.Options{Store: st, Upstream: submit.Upstream{Addr: h.up.Addr}, Auth: h.users, Instance: "test",
		LeaseTTL: 500 * time.Millisecond, Logger: discardSlog()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = second.Serve(context.Background(), l)
	if !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("second relay as instance test: %v, want ErrLeaseHeld", err)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	// The first one released its lease on the way out: the name is free.
	addr, _ := serve(t, second, "127.0.0.1:0")
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil {
		t.Fatalf("the instance after the first relay stopped: %v", err)
	}
}

// stallingStore fails Acquire while stall is set, as a store that is
// unreachable for a while.
type stallingStore struct {
	store.Store
	stall atomic.Bool
}

func (s *stallingStore) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (store.Lease, error) {
	if s.stall.Load() {
		return store.Lease{}, errors.New("connection refused")
	}
	return s.Store.Acquire(ctx, name, holder, ttl)
}

// TestLeaseLost: a relay that could not renew its lease, and finds another
// process holding it, refuses to track (its batches are fenced) and stops.
func TestLeaseLost(t *testing.T) {
	st := &stallingStore{Store: memstore.New()}
	h := newHarness(t, st, func(o *submit.Options) { o.LeaseTTL = 300 * time.Millisecond })
	c := h.dial("alice", "alice-pw")
	st.stall.Store(true)
	time.Sleep(450 * time.Millisecond) // the lease expires unrenewed
	if _, err := st.Store.Acquire(context.Background(), "submit/test", "intruder", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail); code(err) != 451 {
		t.Errorf("sending with a lost lease: %v, want 451 (the batch is fenced)", err)
	}
	if n := len(h.up.messages()); n != 0 {
		t.Errorf("%d messages relayed without being tracked", n)
	}
	st.stall.Store(false)
	// The next renewal finds the intruder's lease: the relay stops on its
	// own, and stops answering.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := smtp.Dial(h.addr)
		if err == nil {
			err = c.Noop()
			c.Close()
		}
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay still serves after losing its lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := h.stop(); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("Serve returned %v, want the lost lease (ErrLeaseHeld)", err)
	}
}
