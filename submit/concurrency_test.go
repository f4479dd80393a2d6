package submit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/submit"
)

// TestConcurrentClients: many clients at once, each on its own connection
// with several messages: every message is relayed and tracked once, every
// token is issued once, and no pending row is left (their commits share
// Applies).
func TestConcurrentClients(t *testing.T) {
	h := newHarness(t, nil, nil)
	const clients, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user, pw := "alice", "alice-pw"
			if i%2 == 1 {
				user, pw = "bob", "bob-pw"
			}
			c := h.dial(user, pw)
			for j := range each {
				msg := strings.Replace(caseMail, "<outlook-1@", fmt.Sprintf("<c%d-m%d@", i, j), 1)
				if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, msg); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ts := h.tracked()
	if len(ts) != clients*each || len(h.up.messages()) != clients*each {
		t.Fatalf("%d tracked, %d relayed; want %d", len(ts), len(h.up.messages()), clients*each)
	}
	tokens := map[string]bool{}
	for _, tr := range ts {
		if tokens[tr.Token] {
			t.Errorf("token %s issued twice", tr.Token)
		}
		tokens[tr.Token] = true
	}
	if p := h.pending(); len(p) != 0 {
		t.Errorf("%d pending rows left", len(p))
	}
}

// TestShutdownWaitsForMessage: stopping the relay lets the message being
// sent finish, then closes; it accepts nothing new meanwhile.
func TestShutdownWaitsForMessage(t *testing.T) {
	h := newHarness(t, nil, nil)
	arrived, release := make(chan struct{}), make(chan struct{})
	h.up.mu.Lock()
	h.up.onData = func() { close(arrived); <-release }
	h.up.mu.Unlock()
	c := h.dial("alice", "alice-pw")
	sent := make(chan error, 1)
	go func() { sent <- send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail) }()
	<-arrived
	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	time.Sleep(100 * time.Millisecond) // Serve is draining now
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) while a message was under way", err)
	default:
	}
	close(release)
	if err := <-sent; err != nil {
		t.Fatalf("the message under way at shutdown: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if n, m := len(h.up.messages()), len(h.tracked()); n != 1 || m != 1 {
		t.Fatalf("%d relayed, %d tracked; want 1 and 1", n, m)
	}
}

// TestNoSigning: without IDKeys messages keep their Message-ID; one
// without gets an id derived from its content, the same on a retry.
func TestNoSigning(t *testing.T) {
	h := newHarness(t, nil, func(o *submit.Options) { o.IDKeys = nil })
	noID := strings.Replace(caseMail, "Message-ID: <outlook-1@fabrikam.example>\r\n", "", 1)
	for _, msg := range []string{caseMail, noID, noID} {
		if err := send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"jane@contoso.example"}, msg); err != nil {
			t.Fatal(err)
		}
	}
	got := h.up.messages()
	ids := make([]string, len(got))
	for i, d := range got {
		ids[i] = parse(t, d.Data).MessageID
	}
	if ids[0] != "outlook-1@fabrikam.example" {
		t.Errorf("the client's Message-ID became %q", ids[0])
	}
	if !strings.HasPrefix(ids[1], "mcs.") || !strings.HasSuffix(ids[1], "@relay.fabrikam.example") || ids[2] != ids[1] {
		t.Errorf("ids of a message without one and of its retry: %q, %q", ids[1], ids[2])
	}
	ts := h.tracked()
	if len(ts) != 2 || ts[1].MessageID != ids[1] || ts[0].Record != (correlate.Record{Type: "incident", ID: "CAS-01042"}) {
		t.Errorf("tracked %+v: want two emails, the second under its derived id", ts)
	}
}
