// Command audit shows a Decision explained: the customer answers a case
// (In-Reply-To names the CRM's email) but pastes another case's tracking
// token into the subject. In audit mode the chain keeps consulting every
// strategy after the winner and reports the one that disagrees.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	engine, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Audit: true})
	if err != nil {
		return err
	}
	jane := []correlate.Address{{Address: "jane@contoso.example"}}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	// Two emails the CRM sent, about two cases.
	for _, c := range []struct{ id, subject, rec string }{
		{"c1@crm.fabrikam.example", "Printer offline CRM:0001001", "CAS-1"},
		{"c2@crm.fabrikam.example", "Invoice question CRM:0001002", "CAS-2"},
	} {
		m := &correlate.Message{MessageID: c.id, Subject: c.subject, To: jane, Date: at, Direction: correlate.Outgoing}
		if _, err := engine.Track(ctx, m, correlate.Match{Record: correlate.Record{Type: "incident", ID: c.rec}}); err != nil {
			return err
		}
	}
	reply := &correlate.Message{
		MessageID: "r1@contoso.example", InReplyTo: []string{"c1@crm.fabrikam.example"},
		Subject: "RE: Printer offline (see also CRM:0001002)", From: jane, Date: at.Add(time.Hour),
	}
	d, err := engine.Correlate(ctx, reply)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, d)
	return nil
}
