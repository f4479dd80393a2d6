package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// A sync writes the emails of a folder and the folder's cursor in one
// batch; a person moves one email to another case; the case's timeline and
// the email's history show it.
func Example() {
	ctx := context.Background()
	s := memstore.New()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	lease, err := s.Acquire(ctx, "imap/support@example.com", "worker-1", time.Minute)
	if err != nil {
		panic(err)
	}
	var b store.Batch
	b.Lease = &lease
	for i, id := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		b.Puts = append(b.Puts, store.Entry{
			Tracked: correlate.Tracked{MessageID: id, Record: correlate.Record{Type: "incident", ID: "CAS-1"}, Time: t0.Add(time.Duration(i) * time.Hour)},
			Keys:    []correlate.Key{correlate.MessageIDKey(id)},
		})
	}
	b.States = []store.State{{Name: "imap/support@example.com/INBOX", Value: []byte("uid 3")}}
	if _, err := s.Apply(ctx, b); err != nil {
		panic(err)
	}
	_, err = s.Apply(ctx, store.Batch{Relinks: []store.Relink{{
		MessageID: "b@example.com",
		Record:    correlate.Record{Type: "incident", ID: "CAS-2"},
		Change:    store.Change{Actor: "alice", Cause: store.CauseManual, Time: t0.Add(24 * time.Hour)},
	}}})
	if err != nil {
		panic(err)
	}

	page, next, _ := s.Emails(ctx, correlate.Record{Type: "incident", ID: "CAS-1"}, 1, "")
	fmt.Println(page[0].MessageID, next != "")
	page, next, _ = s.Emails(ctx, correlate.Record{Type: "incident", ID: "CAS-1"}, 1, next)
	fmt.Println(page[0].MessageID, next != "")
	h, _ := s.History(ctx, 2)
	fmt.Println(h[0].From, "->", h[0].To, "by", h[0].Actor, h[0].Cause)
	st, _ := s.States(ctx, "imap/support@example.com/")
	fmt.Println(st[0].Name, string(st[0].Value))
	// Output:
	// c@example.com true
	// a@example.com false
	// incident:CAS-1 -> incident:CAS-2 by alice manual
	// imap/support@example.com/INBOX uid 3
}
