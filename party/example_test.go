package party_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// Resolve an email's From and Cc against a small directory, then ask the
// incoming-email filter whether to track it.
func Example() {
	ctx := context.Background()
	dir, err := party.LoadDirectory(strings.NewReader(`
{"address": "sam@fabrikam.example", "record": "systemuser:sam"}
{"address": "anna@contoso.example", "record": "systemuser:anna-old", "active": false}
{"address": "anna@contoso.example", "record": "contact:anna", "account": "account:contoso"}
{"address": "anna@contoso.example", "record": "lead:l-17"}
{"address": "@contoso.example", "record": "account:contoso"}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resolver := party.NewResolver(dir, nil)

	msg, _ := correlate.ParseMessage(strings.NewReader(
		"From: Anna <Anna@Contoso.example>\r\n"+
			"To: Sam <sam@fabrikam.example>\r\n"+
			"Cc: bob@contoso.example, eve@elsewhere.example\r\n"+
			"Subject: New printer order\r\n"+
			"Message-ID: <1@contoso.example>\r\n\r\n"), nil)
	res, err := resolver.Resolve(ctx, msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res)
	fmt.Println("unresolved:", res.Unresolved)

	var d correlate.Decision // a new email: the chain found no record
	for _, f := range []party.Filter{party.ResponsesToTrackedEmail, party.FromCRMRecords} {
		fmt.Println(f.Accept(msg, d, res))
	}
	// Output:
	// From anna@contoso.example: contact:anna (account account:contoso)
	// To sam@fabrikam.example: systemuser:sam
	// Cc bob@contoso.example: unresolved, no record (account account:contoso by domain)
	// Cc eve@elsewhere.example: unresolved, no record
	// unresolved: [bob@contoso.example eve@elsewhere.example]
	// skip: ResponsesToTrackedEmail: not a response to tracked email (no correlation)
	// track: FromCRMRecords: sender anna@contoso.example resolves to contact:anna
}

// A Normalizer with tag stripping and Gmail's rules maps several written
// forms of one mailbox to one key; hostile input is an error value.
func ExampleNormalizer_Normalize() {
	n := party.NewNormalizer(&party.NormalizeOptions{StripTags: true, Providers: party.DefaultProviders()})
	for _, a := range []string{
		`"Anna Smith" <Anna.Smith+crm@Contoso.Example>`,
		"a.n.n.a@googlemail.com",
		"info@Bücher.example",
		"service@pаypal.com", // Cyrillic а
		"anna@contoso.example\r\nBcc: x@evil.example",
	} {
		key, err := n.Normalize(a)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(key)
	}
	// Output:
	// anna.smith@contoso.example
	// anna@gmail.com
	// info@xn--bcher-kva.example
	// error: party: bad address "service@pаypal.com": domain label "pаypal" mixes Latin and Cyrillic
	// error: party: bad address "anna@contoso.example\r\nBcc: x@evil.example": control character '\r'
}

// Email filed by a folder-level tracking rule is tracked whatever the
// filter; a reply that correlated passes ResponsesToTrackedEmail.
func ExampleFilter_Accept() {
	msg := &correlate.Message{From: []correlate.Address{{Address: "stranger@elsewhere.example"}}}
	res := party.Resolution{From: party.Party{Field: party.FieldFrom, Address: "stranger@elsewhere.example"}}

	folder := correlate.Decision{Match: correlate.Match{Record: correlate.Record{Type: "account", ID: "contoso"},
		Method: correlate.FolderTracking, Confidence: correlate.Certain, Strategy: "folder"}}
	fmt.Println(party.None.Accept(msg, folder, res))

	reply := correlate.Decision{Match: correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-1"},
		Method: correlate.TrackingToken, Confidence: correlate.High, Strategy: "token"}}
	fmt.Println(party.ResponsesToTrackedEmail.Accept(msg, reply, res))
	fmt.Println(party.FromEmailEnabledRecords.Accept(msg, reply, res))
	// Output:
	// track: folder-level tracking: tracked whatever the filter
	// track: ResponsesToTrackedEmail: a response to tracked email: incident:CAS-1 by TrackingToken
	// skip: FromEmailEnabledRecords: sender stranger@elsewhere.example resolves to no record
}

// ParseFilter reads the replay command's -filter flag; Dynamics option
// values are accepted too.
func ExampleParseFilter() {
	for _, s := range []string{"responses", "crm-records", "3", "everything"} {
		f, err := party.ParseFilter(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(f, f.DynamicsCode())
	}
	// Output:
	// ResponsesToTrackedEmail 1
	// FromCRMRecords 2
	// FromEmailEnabledRecords 3
	// party: unknown filter "everything" (want all, responses, crm-records, email-enabled or none)
}

// The NewContact hook creates a contact for an unknown sender, and only
// after the filter decided to track the email.
func ExampleResolver_CreateSender() {
	ctx := context.Background()
	dir := party.NewMemDirectory(nil)
	dir.Add(party.Entry{Address: "@contoso.example", Record: correlate.Record{Type: "account", ID: "contoso"}, Active: true})
	resolver := party.NewResolver(dir, &party.Options{
		NewContact: func(ctx context.Context, m *correlate.Message, sender party.Party) (correlate.Record, error) {
			// Here a real hook would create the contact in the CRM.
			c := correlate.Record{Type: "contact", ID: "new-1"}
			var account correlate.Record
			if len(sender.Accounts) > 0 {
				account = sender.Accounts[0]
			}
			fmt.Println("creating", c, "for", sender.Address, "at", account)
			return c, dir.Add(party.Entry{Address: sender.Address, Record: c, Active: true, Account: account})
		},
	})
	msg := &correlate.Message{From: []correlate.Address{{Name: "Bob", Address: "bob@contoso.example"}}}
	res, _ := resolver.Resolve(ctx, msg)
	if v := party.All.Accept(msg, correlate.Decision{}, res); v.Track {
		resolver.CreateSender(ctx, msg, &res)
	}
	fmt.Println(res.From)
	again, _ := resolver.Resolve(ctx, msg)
	fmt.Println(again.From)
	// Output:
	// creating contact:new-1 for bob@contoso.example at account:contoso
	// From bob@contoso.example: contact:new-1 (created) (account account:contoso by domain)
	// From bob@contoso.example: contact:new-1 (account account:contoso)
}

// TookPart is the sender policy for strategies that accept a claim such as
// a tracking token: a stranger quoting another customer's case is refused,
// a new colleague of the customer is not.
func ExampleResolver_TookPart() {
	ctx := context.Background()
	dir, _ := party.LoadDirectory(strings.NewReader(`
{"address": "anna@contoso.example", "record": "contact:anna", "account": "account:contoso"}
{"address": "@contoso.example", "record": "account:contoso"}
`))
	resolver := party.NewResolver(dir, nil)
	tracked := correlate.Tracked{ID: 7, Record: correlate.Record{Type: "incident", ID: "CAS-1"},
		Participants: []string{"anna@contoso.example", "support@fabrikam.example"}}
	for _, from := range []string{"anna@contoso.example", "new.hire@contoso.example", "eve@elsewhere.example"} {
		msg := &correlate.Message{From: []correlate.Address{{Address: from}}}
		p, _ := resolver.TookPart(ctx, msg, tracked)
		fmt.Println(p.Evidence())
	}
	// Output:
	// From anna@contoso.example: took part: a participant of tracked email 7
	// From new.hire@contoso.example: took part: same account account:contoso as participant anna@contoso.example (by domain)
	// From eve@elsewhere.example: did not take part: not a participant of tracked email 7, and resolves to no record or account
}

// Mailboxes checks the filter of every recipient that has a mailbox, and
// names the one that accepted the email.
func ExampleMailboxes() {
	ctx := context.Background()
	dir, _ := party.LoadDirectory(strings.NewReader(`
{"address": "paul@fabrikam.example", "record": "systemuser:paul"}
{"address": "sales@fabrikam.example", "record": "queue:sales"}
`))
	resolver := party.NewResolver(dir, nil)
	mailboxes := party.Mailboxes{
		{Type: "systemuser", ID: "paul"}: party.ResponsesToTrackedEmail,
		{Type: "queue", ID: "sales"}:     party.All,
	}
	msg := &correlate.Message{
		From: []correlate.Address{{Address: "buyer@northwind.example"}},
		To:   []correlate.Address{{Address: "paul@fabrikam.example"}},
		Cc:   []correlate.Address{{Address: "sales@fabrikam.example"}},
	}
	res, _ := resolver.Resolve(ctx, msg)
	v := mailboxes.Accept(msg, correlate.Decision{}, res)
	fmt.Println(v.AcceptedBy, v)
	// Output:
	// queue:sales track: queue:sales accepts: All: every received email is tracked
}

// Organization tells colleagues from strangers by the registrable domain;
// a freemail domain is nobody's organization.
func ExampleOrganization() {
	for _, a := range []string{"anna@contoso.com", "bob@eu.mail.contoso.com", "carl@contoso.co.uk", "dana@gmail.com", "root@localhost"} {
		org, ok := party.Organization(a)
		fmt.Printf("%s: %q %v\n", a, org, ok)
	}
	// Output:
	// anna@contoso.com: "contoso.com" true
	// bob@eu.mail.contoso.com: "contoso.com" true
	// carl@contoso.co.uk: "contoso.co.uk" true
	// dana@gmail.com: "gmail.com" false
	// root@localhost: "" false
}
