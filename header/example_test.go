package header_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// mustParse reads an inline message for the examples.
func mustParse(raw string) *correlate.Message {
	m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
	if m == nil {
		panic(err)
	}
	return m
}

// The header strategies in an Engine: the CRM's email is tracked under a
// case, the customer's reply names it in In-Reply-To.
func Example() {
	ctx := context.Background()
	store := memstore.New()
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{
		header.NewInReplyTo(store, nil),
		header.NewConversationIndex(store, nil),
	}}, nil)

	sent := mustParse("Message-ID: <case-1042@crm.example>\r\nSubject: Printer broken\r\n\r\n")
	if _, err := engine.Track(ctx, sent, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-1042"}}); err != nil {
		panic(err)
	}

	reply := mustParse("Message-ID: <r1@mail.example.com>\r\n" +
		"In-Reply-To: <case-1042@crm.example>\r\n" +
		"References: <case-1042@crm.example>\r\n" +
		"Subject: RE: Printer broken\r\n\r\n")
	d, err := engine.Correlate(ctx, reply)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Match)
	fmt.Println("parent:", d.Match.Parent.MessageID, "subject changed:", d.Match.SubjectChanged)
	// Output:
	// incident:CAS-1042 by InReplyTo (1.00): In-Reply-To names a tracked email
	// parent: case-1042@crm.example subject changed: false
}

// Ancestor memory: two customers answer a message the CRM never received;
// the first reply was filed, the second follows it through the id they
// both reference.
func ExampleInReplyTo_ancestorMemory() {
	ctx := context.Background()
	store := memstore.New()
	irt := header.NewInReplyTo(store, nil)
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{irt}}, nil)

	first := mustParse("Message-ID: <a@customer-a.example>\r\nIn-Reply-To: <announcement@vendor.example>\r\n\r\n")
	if _, err := engine.Track(ctx, first, correlate.Match{Record: correlate.Record{Type: "opportunity", ID: "OPP-7"}}); err != nil {
		panic(err)
	}

	second := mustParse("Message-ID: <b@customer-b.example>\r\nIn-Reply-To: <announcement@vendor.example>\r\n\r\n")
	m, err := irt.Correlate(ctx, second)
	if err != nil {
		panic(err)
	}
	fmt.Println(m)
	for _, e := range m.Evidence {
		fmt.Println(e)
	}
	// Output:
	// opportunity:OPP-7 by InReplyTo (0.70): shares an ancestor id with a tracked email (ancestor memory)
	// In-Reply-To announcement@vendor.example: also referenced by a tracked email: a shared ancestor (ranks below direct ids)
}

// Junk ids are dropped and reported.
func ExampleReadRefs() {
	m := mustParse("Message-ID: <1277220005-3322-1-git-send-email-j@example.com>\r\n" +
		"From: Jay <j@example.com>\r\n" +
		"In-Reply-To: <yes>\r\n" +
		"References: <cover.1289789604.git.joe@example.com> <j@example.com> <yes>\r\n\r\n")
	r := header.ReadRefs(m, 0)
	fmt.Println("ids:", r.IDs)
	fmt.Printf("parent: %q\n", r.Parent)
	for _, e := range r.Dropped {
		fmt.Println("dropped:", e)
	}
	// Output:
	// ids: [cover.1289789604.git.joe@example.com]
	// parent: ""
	// dropped: In-Reply-To yes: no '@': a placeholder such as <yes>, not a Message-ID
	// dropped: References j@example.com: an email address of this message, not a Message-ID
}

// Decoding a Thread-Index written by Exchange Online (the modern layout):
// the conversation was started at 15:34:09 (the header keeps it to 1.68 s)
// and answered twelve and a half minutes later (to 0.84 s).
func ExampleParseIndex() {
	b, _ := base64.StdEncoding.DecodeString("AQHXBUJVCmUcclxxT26bLTiMfqFLP6pcfaRa")
	x, err := header.ParseIndex(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(x.Variant(), x.Depth(), x.GUID())
	fmt.Println("started:", x.Time().Format("2006-01-02 15:04:05.000"))
	c := x.Child(0)
	fmt.Println("reply:", c.Time.Format("15:04:05.000"), "after", c.Delta.Round(1e9))
	p, _ := x.Parent()
	fmt.Println("parent:", p, "root:", x.Root())
	// Output:
	// modern 1 0a651c72-5c71-4f6e-9b2d-388c7ea14b3f
	// started: 2021-02-17 15:34:08.276
	// reply: 15:46:38.774 after 12m30s
	// parent: AQHXBUJVCmUcclxxT26bLTiMfqFLPw== root: AQHXBUJVCmUcclxxT26bLTiMfqFLPw==
}

// ConversationIndex finds the email a reply answers from its Thread-Index
// alone (Outlook drops In-Reply-To when the subject is edited).
func ExampleConversationIndex() {
	ctx := context.Background()
	store := memstore.New()
	conv := header.NewConversationIndex(store, nil)
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{conv}}, nil)

	first := mustParse("Message-ID: <q@x.example>\r\nSubject: X440 timing\r\n" +
		"Thread-Topic: X440 timing\r\nThread-Index: AQHXBUJVCmUcclxxT26bLTiMfqFLPw==\r\n\r\n")
	if _, err := engine.Track(ctx, first, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-9"}}); err != nil {
		panic(err)
	}
	reply := mustParse("Message-ID: <a@y.example>\r\nSubject: RE: X440 timing, and PPS\r\n" +
		"Thread-Topic: X440 timing\r\nThread-Index: AQHXBUJVCmUcclxxT26bLTiMfqFLP6pcfaRa\r\n\r\n")
	m, err := conv.Correlate(ctx, reply)
	if err != nil {
		panic(err)
	}
	fmt.Println(m)
	fmt.Println("subject changed:", m.SubjectChanged)
	for _, e := range m.Evidence[1:] {
		fmt.Println(e)
	}
	// Output:
	// incident:CAS-9 by ConversationIndex (0.90): Thread-Index extends a tracked email's index by one block: a reply to it
	// subject changed: true
	// Thread-Topic X440 timing: agrees with the tracked email's subject
}

// Junk reports why an id cannot name an email.
func ExampleJunk() {
	m := &correlate.Message{MessageID: "me@x.example", From: []correlate.Address{{Address: "ann@example.com"}}}
	for _, id := range []string{"<yes>", "<me@x.example>", "<ann@example.com>", "<CAFx=1@mail.gmail.com>"} {
		fmt.Printf("%-26s %q\n", id, header.Junk(id, m))
	}
	// Output:
	// <yes>                      "no '@': a placeholder such as <yes>, not a Message-ID"
	// <me@x.example>             "the message's own Message-ID"
	// <ann@example.com>          "an email address of this message, not a Message-ID"
	// <CAFx=1@mail.gmail.com>    ""
}
