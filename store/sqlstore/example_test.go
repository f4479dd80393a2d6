package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
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

// Candidates ranks tracked emails by how many of the given keys they share,
// counted in SQL.
func ExampleStore_Candidates() {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite::memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	addr := func(a string) correlate.Key { return correlate.Key{Kind: "addr", Value: a} }
	subj := correlate.Key{Kind: "subj", Value: "printer offline"}
	for i, keys := range [][]correlate.Key{
		{addr("anna@contoso.example"), subj},
		{addr("anna@contoso.example")},
		{addr("ben@contoso.example"), subj},
	} {
		tr := correlate.Tracked{Record: correlate.Record{Type: "incident", ID: fmt.Sprintf("CAS-%d", i+1)}, Time: at.Add(time.Duration(i) * time.Hour)}
		if _, err := s.Put(ctx, tr, keys); err != nil {
			log.Fatal(err)
		}
	}
	cands, err := s.Candidates(ctx, []correlate.Key{addr("anna@contoso.example"), subj}, correlate.CandidateQuery{})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range cands {
		fmt.Println(c.Tracked.Record, c.Overlap)
	}
	// Output:
	// incident:CAS-1 2
	// incident:CAS-3 1
	// incident:CAS-2 1
}
