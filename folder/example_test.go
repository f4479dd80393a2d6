package folder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// parse reads an inline email and places it in a mailbox folder.
func parse(raw, mailbox, folderID, path string) *correlate.Message {
	m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
	if err != nil {
		panic(err)
	}
	m.Mailbox, m.FolderID, m.FolderPath = mailbox, folderID, path
	return m
}

const order = "Message-ID: <order-17@contoso.example>\r\n" +
	"From: Dan Park <dan@contoso.example>\r\n" +
	"To: anna@fabrikam.example\r\n" +
	"Subject: Order 17: delivery date\r\n" +
	"Date: Mon, 2 Jun 2025 09:30:00 +0000\r\n\r\n" +
	"Can you deliver on Friday?\r\n"

// Anna maps her folder "Clients/Contoso" under Inbox to the Contoso
// account. An email she drags there is filed under the account; she then
// moves it to her Northwind folder, and renames the Contoso folder.
func Example() {
	ctx := context.Background()
	store := memstore.New()
	fc := folder.New(store, nil)
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{fc}}, nil)
	rules := fc.Rules()

	const anna = "anna@fabrikam.example"
	contoso := correlate.Record{Type: "account", ID: "contoso"}
	northwind := correlate.Record{Type: "account", ID: "northwind"}
	must(rules.Add(folder.Mapping{Mailbox: anna, FolderID: "AAMk-1", FolderPath: "Inbox/Clients/Contoso", Record: contoso}))
	must(rules.Add(folder.Mapping{Mailbox: anna, FolderID: "AAMk-2", FolderPath: "Inbox/Clients/Northwind", Record: northwind}))

	// Dragged into Clients/Contoso: filed under the account.
	m := parse(order, anna, "AAMk-1", "Inbox/Clients/Contoso")
	d, err := engine.Correlate(ctx, m)
	must(err)
	fmt.Println(d.Match)
	t, err := engine.Track(ctx, m, d.Match)
	must(err)
	fmt.Println("tracked under", t.Record)

	// Moved to Clients/Northwind: re-linked to that folder's record.
	m.FolderID, m.FolderPath = "AAMk-2", "Inbox/Clients/Northwind"
	t, err = rules.Move(ctx, engine, m)
	must(err)
	fmt.Println("after move:", t.Record, "by", t.Method)

	// Renamed: the rule follows the folder id.
	must(rules.SetPath(anna, "AAMk-1", "Inbox/Customers/Contoso Ltd"))
	next := parse(strings.Replace(order, "order-17@", "order-18@", 1), anna, "AAMk-1", "Inbox/Customers/Contoso Ltd")
	d, err = engine.Correlate(ctx, next)
	must(err)
	fmt.Println(d.Match)

	// Moved outside Inbox: the rule is disabled, and SetPath says so.
	err = rules.SetPath(anna, "AAMk-1", "Archive/Contoso")
	fmt.Println(errors.Is(err, folder.ErrDisabled), err)
	// Output:
	// account:contoso by FolderTracking (1.00): folder "Inbox/Clients/Contoso" of anna@fabrikam.example is mapped to account:contoso
	// tracked under account:contoso
	// after move: account:northwind by FolderTracking
	// account:contoso by FolderTracking (1.00): folder "Inbox/Customers/Contoso Ltd" of anna@fabrikam.example is mapped to account:contoso
	// true folder: set path mailbox "anna@fabrikam.example" folder "Archive/Contoso" (id "AAMk-1"): rule disabled: not under Inbox: top-level folder "Archive"
}

// Rules persist as JSON; this is the format the replay command's -folders
// flag reads too.
func ExampleRules_UnmarshalJSON() {
	data := []byte(`{
	  "inbox_names": ["Inbox", "Posteingang"],
	  "queues": ["support@fabrikam.example"],
	  "mappings": [
	    {"mailbox": "Anna@Fabrikam.example", "folder_id": "AAMk-1",
	     "folder_path": "Inbox/Clients/Contoso", "record": "account:contoso"},
	    {"mailbox": "ben@fabrikam.example", "folder_id": "INBOX.Kunden",
	     "folder_path": "POSTEINGANG.Kunden"}
	  ]
	}`)
	var rules folder.Rules
	if err := json.Unmarshal(data, &rules); err != nil {
		fmt.Println(err)
		return
	}
	for _, mp := range rules.Mappings("") {
		fmt.Println(mp)
	}
	fmt.Println("queue:", rules.IsQueue("support@fabrikam.example"))

	bad := []byte(`{"mappings": [{"mailbox": "anna@fabrikam.example", "folder_id": "AAMk-9", "folder_path": "Sent Items/Contoso"}]}`)
	fmt.Println(json.Unmarshal(bad, &rules))
	// Output:
	// anna@fabrikam.example "Inbox/Clients/Contoso" (id AAMk-1) → account:contoso
	// ben@fabrikam.example "POSTEINGANG.Kunden" (id INBOX.Kunden) → track only
	// queue: true
	// folder: load mappings[0] mailbox "anna@fabrikam.example" folder "Sent Items/Contoso" (id "AAMk-9"): not under Inbox: top-level folder "Sent Items"
}

// Changing a folder's record re-links every email tracked in it; a manual
// relink inside a mapped folder lasts until the rules are applied again, as
// at Dynamics' next synchronization.
func ExampleRules_Apply() {
	ctx := context.Background()
	store := memstore.New()
	fc := folder.New(store, nil)
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{fc}}, nil)
	rules := fc.Rules()
	const anna = "anna@fabrikam.example"
	must(rules.Add(folder.Mapping{Mailbox: anna, FolderID: "AAMk-1", FolderPath: "Inbox/Clients/Contoso",
		Record: correlate.Record{Type: "account", ID: "contoso"}}))

	m := parse(order, anna, "AAMk-1", "Inbox/Clients/Contoso")
	d, _ := engine.Correlate(ctx, m)
	t, _ := engine.Track(ctx, m, d.Match)

	n, _ := rules.SetRecord(ctx, store, anna, "AAMk-1", correlate.Record{Type: "opportunity", ID: "OPP-3"})
	t, _ = engine.Lookup(ctx, t.MessageID)
	fmt.Println(n, "re-linked:", t.Record)

	must(engine.Relink(ctx, t.ID, correlate.Record{Type: "incident", ID: "CAS-9"})) // by hand
	n, _ = rules.Apply(ctx, store, anna)
	t, _ = engine.Lookup(ctx, t.MessageID)
	fmt.Println(n, "re-asserted:", t.Record)
	// Output:
	// 1 re-linked: opportunity:OPP-3
	// 1 re-asserted: opportunity:OPP-3
}

// Two users put the same email in folders mapped to different records: the
// first processed wins, and the second user's rule is reported as a conflict.
func ExampleCorrelator_conflict() {
	ctx := context.Background()
	store := memstore.New()
	fc := folder.New(store, nil)
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{fc}}, nil)
	rules := fc.Rules()
	must(rules.Add(folder.Mapping{Mailbox: "anna@fabrikam.example", FolderID: "A1", FolderPath: "Inbox/Contoso",
		Record: correlate.Record{Type: "account", ID: "contoso"}}))
	must(rules.Add(folder.Mapping{Mailbox: "ben@fabrikam.example", FolderID: "B1", FolderPath: "Inbox/Orders",
		Record: correlate.Record{Type: "opportunity", ID: "OPP-17"}}))

	annas := parse(order, "anna@fabrikam.example", "A1", "Inbox/Contoso")
	d, _ := engine.Correlate(ctx, annas)
	_, _ = engine.Track(ctx, annas, d.Match)

	bens := parse(order, "ben@fabrikam.example", "B1", "Inbox/Orders")
	d, _ = engine.Correlate(ctx, bens)
	fmt.Println(d.Match.Record)
	for _, ev := range d.Match.Evidence {
		if ev.Field == folder.FieldConflict {
			fmt.Println("conflict:", ev.Value)
		}
	}
	// Output:
	// account:contoso
	// conflict: opportunity:OPP-17
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
