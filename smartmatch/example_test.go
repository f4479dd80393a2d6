package smartmatch_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// parse reads an inline RFC 5322 message.
func parse(raw string) *correlate.Message {
	m, err := correlate.ParseMessage(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")), nil)
	if err != nil {
		panic(err)
	}
	return m
}

// A reply that lost its headers finds its case by its base subject and the
// customer who wrote both emails.
func Example() {
	ctx := context.Background()
	st := memstore.New()
	sm := smartmatch.New(st, &smartmatch.Options{OwnAddresses: []string{"@contoso.example"}})
	eng := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{sm}}, nil)

	first := parse(`From: Anna <anna@fabrikam.example>
To: help@contoso.example
Subject: Printer on floor 3 is offline
Message-ID: <a1@fabrikam.example>
Date: Mon, 3 Mar 2025 09:00:00 +0000

`)
	if _, err := eng.Track(ctx, first, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-1042"}}); err != nil {
		panic(err)
	}

	reply := parse(`From: anna@fabrikam.example
To: help@contoso.example
Subject: AW: [Contoso] Printer on floor 3 is offline
Message-ID: <a2@fabrikam.example>
Date: Tue, 4 Mar 2025 10:00:00 +0000

`)
	d, err := eng.Correlate(ctx, reply)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Match.Record, d.Match.Method, d.Match.Confidence > correlate.Weak)
	fmt.Println(d.Match.Reason)
	// Output:
	// incident:CAS-1042 SmartMatching true
	// same base subject as tracked email 1, sharing anna@fabrikam.example
}

// Microsoft's own example of a false positive: another customer's "Service
// Details" to the same two service reps. Dynamics mode merges it into the
// first customer's case; Improved mode does not: the two customers share
// only a rep (not configured as own, so counted as a hub), the subject is
// made of generic words and the message has no reply prefix.
func Example_serviceDetails() {
	ctx := context.Background()
	msg := func(id, from string, day int) *correlate.Message {
		return &correlate.Message{
			MessageID: id,
			Subject:   "Service Details",
			From:      []correlate.Address{{Address: from}},
			To:        []correlate.Address{{Address: "rep1@contoso.example"}, {Address: "rep2@contoso.example"}},
			Date:      time.Date(2025, 3, day, 9, 0, 0, 0, time.UTC),
			Mailbox:   "rep1@contoso.example",
		}
	}
	for _, mode := range []smartmatch.Mode{smartmatch.Dynamics, smartmatch.Improved} {
		st := memstore.New()
		sm := smartmatch.New(st, &smartmatch.Options{Mode: mode})
		eng := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{sm}}, nil)
		_, err := eng.Track(ctx, msg("a@fabrikam.example", "anna@fabrikam.example", 3),
			correlate.Match{Record: correlate.Record{Type: "incident", ID: "Fabrikam"}})
		if err != nil {
			panic(err)
		}
		got, err := sm.Correlate(ctx, msg("b@northwind.example", "bob@northwind.example", 5))
		if err != nil {
			panic(err)
		}
		fmt.Printf("%v: %q (%s)\n", mode, got.Record, got.Reason)
	}
	// Output:
	// Dynamics: "incident:Fabrikam" (subject words and 2 addresses match tracked email 1 (Dynamics smart matching))
	// Improved: "" (no tracked email qualifies; closest: tracked email 1 (incident:Fabrikam), shares only hub rep2@contoso.example, and the base subject is not specific enough (score 0.0 bits = hub 4.0 + subject 0.0 - fresh 4.0 (MinScore 8.0)))
}

// CompileFilter evaluates a Dynamics HashFilterKeywords pattern with .NET's
// Unicode classes.
func ExampleCompileFilter() {
	re, err := smartmatch.CompileFilter(`^[\s]*([\w]+\s?:[\s]*)+|Out of office:`)
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"RE: AW: Angebot 42", "ΑΠ: Προσφορά", "Out of office: Angebot 42"} {
		fmt.Printf("%q\n", re.ReplaceAllString(s, ""))
	}
	// Output:
	// "Angebot 42"
	// "Προσφορά"
	// " Angebot 42"
}

// Hash shows what Dynamics mode stores for an email: one 32-bit hash per
// subject word, after the filter, and the unique addresses.
func ExampleCorrelator_Hash() {
	sm := smartmatch.New(nil, &smartmatch.Options{Mode: smartmatch.Dynamics})
	h := sm.Hash(&correlate.Message{
		Subject: "RE: Hello world",
		From:    []correlate.Address{{Address: "Anna@Fabrikam.example"}},
		To:      []correlate.Address{{Address: "help@contoso.example"}, {Address: "anna@fabrikam.example"}},
	})
	fmt.Printf("%d words, %08x = %08x: %v\n", len(h.Words), h.Words[0],
		sm.Hash(&correlate.Message{Subject: "HELLO"}).Words[0], h.Addresses)
	// Output:
	// 2 words, 4f9f2cab = 4f9f2cab: [anna@fabrikam.example help@contoso.example]
}
