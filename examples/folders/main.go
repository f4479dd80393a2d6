// Command folders shows folder-level tracking: a user's Outlook folder
// Inbox/Clients/Contoso is mapped to the Contoso account, so every email
// dragged into it is filed there — a moved email follows, a renamed folder
// keeps its rule, and changing the folder's record re-links its old mail.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

const mailbox = "anna.berg@fabrikam.example"

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func email(id, subject, folderID, path string) *correlate.Message {
	return &correlate.Message{
		MessageID: id, Subject: subject, Mailbox: mailbox, FolderID: folderID, FolderPath: path,
		From: []correlate.Address{{Address: "jane@contoso.example"}},
	}
}

func run(ctx context.Context, w io.Writer) error {
	rules, err := folder.NewRules(nil)
	if err != nil {
		return err
	}
	contoso := correlate.Record{Type: "account", ID: "contoso"}
	// Exchange identifies folders by id; the path is only checked to be
	// under Inbox.
	if err := rules.Add(folder.Mapping{Mailbox: mailbox, FolderID: "AAMkADk1", FolderPath: "Inbox/Clients/Contoso", Record: contoso}); err != nil {
		return err
	}
	// Folders outside Inbox cannot be tracked.
	err = rules.Add(folder.Mapping{Mailbox: mailbox, FolderID: "AAMkSent", FolderPath: "Sent Items/Contoso", Record: contoso})
	fmt.Fprintln(w, "refused:", err)

	store := memstore.New()
	engine, err := mailcorrelate.New(store, &mailcorrelate.Options{Folders: rules})
	if err != nil {
		return err
	}

	// An email dragged into the folder is filed under the account.
	m := email("order-17@contoso.example", "Order 17", "AAMkADk1", "Inbox/Clients/Contoso")
	d, err := engine.Correlate(ctx, m)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "in folder:", d.Match)
	if _, err := engine.Track(ctx, m, d.Match); err != nil {
		return err
	}

	// Another email, filed by hand under a case, is moved into the folder:
	// the folder's record wins.
	other := email("question@contoso.example", "Question", "AAMkInbox", "Inbox")
	if _, err := engine.Track(ctx, other, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-7"}}); err != nil {
		return err
	}
	other.FolderID, other.FolderPath = "AAMkADk1", "Inbox/Clients/Contoso"
	moved, err := rules.Move(ctx, engine, other)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "moved in:", moved.MessageID, "now regarding", moved.Record)

	// Renaming the folder keeps the rule: it follows the folder id.
	if err := rules.SetPath(mailbox, "AAMkADk1", "Inbox/Customers/Contoso Ltd"); err != nil {
		return err
	}
	d, err = engine.Correlate(ctx, email("order-18@contoso.example", "Order 18", "AAMkADk1", "Inbox/Customers/Contoso Ltd"))
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "after rename:", d.Match.Record)

	// Mapping the folder to another record re-links all its mail.
	n, err := rules.SetRecord(ctx, store, mailbox, "AAMkADk1", correlate.Record{Type: "account", ID: "contoso-emea"})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "re-linked:", n)
	return nil
}
