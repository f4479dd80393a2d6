package actions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

func parse(raw string) *correlate.Message {
	m, _ := correlate.ParseMessage(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")), &correlate.ParseOptions{Text: true})
	return m
}

// A person files an email under a case, a colleague tries to file it
// elsewhere and is told where it is, then moves it explicitly; the history
// says who did what.
func ExampleActions_Link() {
	ctx := context.Background()
	eng, _ := mailcorrelate.New(memstore.New(), nil)
	a, _ := actions.New(eng, nil)
	m := parse("From: jane@contoso.example\nSubject: Printer offline\nMessage-ID: <p-1@contoso.example>\nDate: Mon, 2 Mar 2026 09:00:00 +0000\n\nIt is offline.\n")

	a.Link(ctx, m, correlate.Record{Type: "incident", ID: "CAS-1"}, "alice")
	_, err := a.Link(ctx, m, correlate.Record{Type: "incident", ID: "CAS-2"}, "bob")
	fmt.Println(errors.Is(err, actions.ErrTrackedElsewhere), err)

	a.Relink(ctx, "p-1@contoso.example", correlate.Record{Type: "incident", ID: "CAS-2"}, "bob", "")
	_, hist, _ := a.History(ctx, "p-1@contoso.example")
	for _, c := range hist {
		fmt.Printf("%q → %s by %s (%s)\n", c.From.String(), c.To, c.Actor, c.Cause)
	}
	// Output:
	// true actions: p-1@contoso.example is tracked under incident:CAS-1 (relink to change it)
	// "" → incident:CAS-1 by alice (manual)
	// "incident:CAS-1" → incident:CAS-2 by bob (manual)
}

// The CRM creates a case from an email; the email is filed under it.
func ExampleActions_Convert() {
	ctx := context.Background()
	eng, _ := mailcorrelate.New(memstore.New(), nil)
	a, _ := actions.New(eng, nil)
	m := parse("From: Jane Doe <jane@contoso.example>\nSubject: RE: Printer offline CRM:0001001\n" +
		"Message-ID: <p-2@contoso.example>\nDate: Mon, 2 Mar 2026 09:00:00 +0000\n\n" +
		"Floor 3, since Monday.\n\n> old quoted text\n")
	crm := actions.RecordCreatorFunc(func(ctx context.Context, req actions.RecordRequest) (correlate.Record, error) {
		fmt.Printf("create %s %q from %s: %q\n", req.Type, req.Title, req.Sender.Name, req.Excerpt)
		return correlate.Record{Type: req.Type, ID: "CAS-77"}, nil
	})
	f, err := a.Convert(ctx, m, crm, "incident", "alice")
	fmt.Println(f.Tracked.Record, f.Change.Cause, err)
	// Output:
	// create incident "Printer offline" from Jane Doe: "Floor 3, since Monday."
	// incident:CAS-77 convert <nil>
}

// Every From, To and Cc address the directory does not know is offered as
// a new contact; the organization's own addresses are not.
func ExampleActions_Contacts() {
	ctx := context.Background()
	dir := party.NewMemDirectory(nil)
	dir.Add(party.Entry{Address: "jane@contoso.example", Record: correlate.Record{Type: "contact", ID: "jane"}, Active: true})
	eng, _ := mailcorrelate.New(memstore.New(), nil)
	a, _ := actions.New(eng, &actions.Options{Resolver: party.NewResolver(dir, nil), OwnAddresses: []string{"@fabrikam.example"}})
	m := parse("From: Jane Doe <jane@contoso.example>, Ann <ann@contoso.example>\nTo: support@fabrikam.example\n" +
		"Cc: Bo <bo@other.example>\nSubject: hi\nMessage-ID: <p-3@contoso.example>\n\nhi\n")
	cs, _ := a.Contacts(ctx, m)
	for _, c := range cs {
		fmt.Println(c.Field, c.Address, c.Name)
	}
	// Output:
	// From ann@contoso.example Ann
	// Cc bo@other.example Bo
}
