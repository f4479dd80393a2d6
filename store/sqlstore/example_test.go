package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// An Engine tracks an email sent from the CRM in an SQLite file; after a
// restart, the reply to it still finds its record.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	url := "sqlite:" + filepath.Join(dir, "ledger.db")

	s, err := sqlstore.Open(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	sent := &correlate.Message{
		MessageID: "a1@crm.fabrikam.example",
		Subject:   "Your printer case",
		Date:      time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		Direction: correlate.Outgoing,
	}
	_, err = correlate.NewEngine(s, nil, nil).Track(ctx, sent, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-01042"}})
	if err != nil {
		log.Fatal(err)
	}
	s.Close() // the worker restarts

	s, err = sqlstore.Open(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	t, err := correlate.NewEngine(s, nil, nil).Lookup(ctx, "<a1@crm.fabrikam.example>")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Record, t.Subject)
	// Output: incident:CAS-01042 Your printer case
}

// PutBatch files a mailbox's backlog in one transaction; an email already
// tracked is reported, not stored twice.
func ExampleStore_PutBatch() {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite::memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var batch []sqlstore.Entry
	for i, id := range []string{"b1@contoso.example", "b2@contoso.example", "b1@contoso.example"} {
		batch = append(batch, sqlstore.Entry{
			Tracked: correlate.Tracked{MessageID: id, Record: correlate.Record{Type: "account", ID: "contoso"}, Time: at.Add(time.Duration(i) * time.Minute)},
			Keys:    []correlate.Key{correlate.MessageIDKey(id)},
		})
	}
	res, err := s.PutBatch(ctx, batch)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Println(r.Tracked.ID, r.Tracked.MessageID, r.Exists)
	}
	// Output:
	// 1 b1@contoso.example false
	// 2 b2@contoso.example false
	// 1 b1@contoso.example true
}

// NextSequence numbers tracking tokens; every worker sharing the database
// draws from the same counter.
func ExampleStore_NextSequence() {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite::memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for range 3 {
		n, err := s.NextSequence(ctx, "token:CRM")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("CRM:%07d\n", n)
	}
	// Output:
	// CRM:0000001
	// CRM:0000002
	// CRM:0000003
}

// A sync worker takes its mailbox's lease, then files a folder's new mail
// and the folder's cursor in one transaction under it: a crash leaves both
// or neither, and a worker that lost the lease writes nothing.
func ExampleStore_Apply() {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite::memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	lease, err := s.Acquire(ctx, "imap/support@fabrikam.example", "worker-1", time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	_, err = s.Acquire(ctx, "imap/support@fabrikam.example", "worker-2", time.Minute)
	fmt.Println(errors.Is(err, store.ErrLeaseHeld))

	record := correlate.Record{Type: "incident", ID: "CAS-01042"}
	b := store.Batch{Lease: &lease, States: []store.State{{Name: "imap/support@fabrikam.example/INBOX", Value: []byte("uidnext 3")}}}
	for i, id := range []string{"a1@contoso.example", "a2@contoso.example"} {
		b.Puts = append(b.Puts, store.Entry{
			Tracked: correlate.Tracked{MessageID: id, Record: record, Time: time.Date(2026, 3, 1, 9+i, 0, 0, 0, time.UTC)},
			Keys:    []correlate.Key{correlate.MessageIDKey(id)},
		})
	}
	if _, err := s.Apply(ctx, b); err != nil {
		log.Fatal(err)
	}
	page, next, err := s.Emails(ctx, record, 10, "")
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range page {
		fmt.Println(t.MessageID)
	}
	st, _ := s.States(ctx, "imap/support@fabrikam.example/")
	fmt.Println(st[0].Name, string(st[0].Value), next == "")

	if err := s.Release(ctx, lease); err != nil {
		log.Fatal(err)
	}
	_, err = s.Apply(ctx, b)
	fmt.Println(errors.Is(err, store.ErrLeaseLost))
	// Output:
	// true
	// a2@contoso.example
	// a1@contoso.example
	// imap/support@fabrikam.example/INBOX uidnext 3 true
	// true
}
