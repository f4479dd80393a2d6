package imapsync_test

import (
	"context"
	"fmt"
	"time"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/imapsync"
	"github.com/mailcorrelate/mailcorrelate/internal/imapfake"
	"github.com/mailcorrelate/mailcorrelate/internal/pop3fake"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// A mailbox with a customer's email the CRM already filed and the reply to
// it, on an in-process IMAP server: one pass files the reply under the
// same case.
func ExampleSyncer_SyncOnce() {
	srv, _ := imapfake.Start()
	defer srv.Close()
	srv.AddUser("anna", "secret")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	srv.Append("anna", "INBOX", at, []byte("From: joe@contoso.example\r\nTo: anna@fabrikam.example\r\n"+
		"Subject: Printer offline\r\nMessage-ID: <p1@contoso.example>\r\n\r\nHelp!\r\n"))
	srv.Append("anna", "INBOX", at.Add(time.Hour), []byte("From: joe@contoso.example\r\nTo: anna@fabrikam.example\r\n"+
		"Subject: Re: Printer offline\r\nMessage-ID: <p2@contoso.example>\r\nIn-Reply-To: <p1@contoso.example>\r\n\r\nStill.\r\n"))

	st := memstore.New()
	rules := &folder.Rules{}
	engine, _ := mailcorrelate.New(st, &mailcorrelate.Options{Folders: rules})
	s, err := imapsync.New(engine, st, &imapsync.Options{
		Rules: rules,
		Mailboxes: []imapsync.Mailbox{{
			Address: "anna@fabrikam.example", URL: "imap://anna@" + srv.Addr, Password: "secret",
		}},
		// The CRM filed the first email itself (it opened the case).
		Known: func(_ context.Context, m *correlate.Message) (correlate.Record, bool) {
			return correlate.Record{Type: "incident", ID: "CAS-1"}, m.MessageID == "p1@contoso.example"
		},
		OnMessage: func(ev imapsync.Event) {
			fmt.Printf("%s UID %d <%s>: %s %s by %s\n", ev.Folder, ev.UID, ev.Message.MessageID,
				ev.Action, ev.Email.Record, ev.Email.Method)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.SyncOnce(context.Background()); err != nil {
		fmt.Println(err)
	}
	st0 := s.Status()[0]
	fmt.Println(st0.State, st0.Counts.Fetched, "fetched,", st0.Counts.Tracked, "tracked")
	// Output:
	// INBOX UID 1 <p1@contoso.example>: tracked incident:CAS-1 by None
	// INBOX UID 2 <p2@contoso.example>: tracked incident:CAS-1 by InReplyTo
	// done 2 fetched, 2 tracked
}

// A 26th folder rule is refused, as Dynamics allows at most 25 tracked
// folders per mailbox.
func ExampleNew_tooManyRules() {
	st := memstore.New()
	rules := &folder.Rules{}
	engine, _ := mailcorrelate.New(st, &mailcorrelate.Options{Folders: rules})
	mb := imapsync.Mailbox{Address: "anna@fabrikam.example", URL: "imaps://imap.fabrikam.example", Password: "x"}
	for i := range 26 {
		mb.Folders = append(mb.Folders, folder.Mapping{FolderPath: fmt.Sprintf("Inbox/Client %02d", i+1),
			Record: correlate.Record{Type: "account", ID: fmt.Sprint(i + 1)}})
	}
	_, err := imapsync.New(engine, st, &imapsync.Options{Rules: rules, Mailboxes: []imapsync.Mailbox{mb}})
	fmt.Println(err)
	// Output:
	// imapsync: mailbox anna@fabrikam.example: configuration: folder: add mailbox "anna@fabrikam.example" folder "Inbox/Client 26" (id "Inbox/Client 26"): too many tracked folders: the mailbox already has 25, the maximum
}

// A POP3 mailbox (pop3:// or pop3s://): its Inbox is read with the same
// pipeline, the state of each message done is a row of its own (its UIDL),
// and DeleteFromServer leaves nothing on the server once filed.
func ExampleSyncer_SyncOnce_pop3() {
	srv, _ := pop3fake.Start(nil)
	defer srv.Close()
	srv.AddUser("queue", "secret")
	srv.Append("queue", []byte("From: joe@contoso.example\r\nTo: support@fabrikam.example\r\n"+
		"Subject: Printer offline\r\nMessage-ID: <p1@contoso.example>\r\n\r\nHelp!\r\n"))
	srv.Append("queue", []byte("From: joe@contoso.example\r\nTo: support@fabrikam.example\r\n"+
		"Subject: Re: Printer offline\r\nMessage-ID: <p2@contoso.example>\r\nIn-Reply-To: <p1@contoso.example>\r\n\r\nStill.\r\n"))

	st := memstore.New()
	engine, _ := mailcorrelate.New(st, nil)
	s, err := imapsync.New(engine, st, &imapsync.Options{
		Mailboxes: []imapsync.Mailbox{{
			Address: "support@fabrikam.example", URL: "pop3://queue@" + srv.Addr, Password: "secret",
			DeleteFromServer: true,
		}},
		Known: func(_ context.Context, m *correlate.Message) (correlate.Record, bool) {
			return correlate.Record{Type: "incident", ID: "CAS-1"}, m.MessageID == "p1@contoso.example"
		},
		OnMessage: func(ev imapsync.Event) {
			fmt.Printf("%s UIDL %s <%s>: %s %s by %s\n", ev.Folder, ev.UIDL, ev.Message.MessageID,
				ev.Action, ev.Email.Record, ev.Email.Method)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.SyncOnce(context.Background()); err != nil {
		fmt.Println(err)
	}
	rows, _ := st.States(context.Background(), imapsync.POP3StatePrefix)
	for _, r := range rows {
		fmt.Println(r.Name)
	}
	fmt.Println(s.Status()[0].Counts.Deleted, "deleted,", srv.Count("queue"), "left on the server")
	// Output:
	// INBOX UIDL 00000001 <p1@contoso.example>: tracked incident:CAS-1 by None
	// INBOX UIDL 00000002 <p2@contoso.example>: tracked incident:CAS-1 by InReplyTo
	// pop3/support@fabrikam.example/uidl/00000001
	// pop3/support@fabrikam.example/uidl/00000002
	// 2 deleted, 0 left on the server
}
