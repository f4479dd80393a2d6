package token_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// Issue a token, stamp it on an outgoing subject, track the email, and
// correlate the customer's reply by its token.
func Example() {
	ctx := context.Background()
	store := memstore.New()
	tokens := token.New(store, nil) // Dynamics' default format, CRM:
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{tokens}}, nil)
	gen, _ := token.NewGenerator(store, token.Format{})

	tok, _ := gen.Next(ctx, 1) // user 1's first token
	subject, _ := token.Stamp("Your printer repair", tok.String(), 0)
	sent := &correlate.Message{MessageID: "case-42.1@crm.fabrikam.example", Subject: subject,
		From: []correlate.Address{{Address: "support@fabrikam.example"}}, To: []correlate.Address{{Address: "anna@contoso.example"}}}
	engine.Track(ctx, sent, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-42"}})

	// Anna's mail program dropped In-Reply-To and lower-cased the subject.
	reply := &correlate.Message{MessageID: "r1@contoso.example", Subject: "re: your printer repair crm:0001001",
		From: []correlate.Address{{Address: "anna@contoso.example"}}}
	d, _ := engine.Correlate(ctx, reply)
	fmt.Println(subject)
	fmt.Println(d.Match)
	// Output:
	// Your printer repair CRM:0001001
	// incident:CAS-42 by TrackingToken (0.90): token crm:0001001 names tracked email 1
}

// Dynamics' token layout: prefix, online/offline digit, user number (base
// plus ordinal) and a counter that restarts at 000 after 999, unless Widen.
func ExampleFormat_Make() {
	for _, f := range []token.Format{{}, {Base: 500}, {UserDigits: 4, CounterDigits: 5}, {Prefix: "eLogic:"}} {
		t, _ := f.Make(1, 1)
		fmt.Println(t)
	}
	for _, seq := range []int64{999, 1000, 1001} {
		plain, _ := token.Format{}.Make(1, seq)
		wide, _ := token.Format{Widen: true}.Make(1, seq)
		fmt.Println(seq, plain, wide)
	}
	// Output:
	// CRM:0001001
	// CRM:0501001
	// CRM:0000100001
	// eLogic:0001001
	// 999 CRM:0001999 CRM:0001999
	// 1000 CRM:0001000 CRM:00011000
	// 1001 CRM:0001001 CRM:00011001
}

// Find reads tokens as mail programs leave them, under the current prefix
// and the older ones of the history, and ignores other systems' numbers.
func ExampleFormat_Find() {
	f := token.Format{Prefix: "Case#", History: []string{"CRM:"}}
	for _, s := range []string{
		"AW: CASE#0001001 Drucker defekt",
		"RE: Printer (crm:0001002).",
		"[Ticket#2021080410000011] RE: [#123] ref:_00D1gEW._5001Yktl:ref",
		"XCRM:0001003 CRM:0001004abc",
	} {
		var got []string
		for _, fd := range f.Find(s) {
			got = append(got, fmt.Sprintf("%s at %d", fd.Token, fd.Start))
		}
		fmt.Printf("%q: %v\n", s, got)
	}
	// Output:
	// "AW: CASE#0001001 Drucker defekt": [Case#0001001 at 4]
	// "RE: Printer (crm:0001002).": [CRM:0001002 at 13]
	// "[Ticket#2021080410000011] RE: [#123] ref:_00D1gEW._5001Yktl:ref": []
	// "XCRM:0001003 CRM:0001004abc": []
}

// After the counter grows from three digits to four, the earlier layout
// stays in LayoutHistory: the tokens already sent are still found, and
// new ones have the current layout.
func ExampleFormat_layoutHistory() {
	f := token.Format{CounterDigits: 4, LayoutHistory: []token.Layout{{CounterDigits: 3}}}
	for _, fd := range f.Find("RE: Printer CRM:0001005, and CRM:00010006") {
		parts, _ := f.Split(fd.Token)
		fmt.Println(fd.Token, parts.User, parts.Counter)
	}
	next, _ := f.Make(1, 7)
	fmt.Println(next)
	// Output:
	// CRM:0001005 1 5
	// CRM:00010006 1 6
	// CRM:00010007
}

// Stamp shortens the subject, never the token, to stay within Dynamics'
// 255-character limit; it never splits a character.
func ExampleStamp() {
	long := strings.Repeat("Сервер недоступен. ", 20)
	s, _ := token.Stamp(long, "CRM:0001001", 0)
	r := []rune(s)
	fmt.Printf("%d characters, ending %q\n", len(r), string(r[len(r)-25:]))

	s, err := token.Stamp("Printer", "CRM:0001001", 8)
	fmt.Printf("%q %v\n", s, err)
	// Output:
	// 255 characters, ending "рвер недоступ CRM:0001001"
	// "Printer" token: token longer than the subject limit: 11 characters, limit 8
}

// With signing keys, a token that was never issued is refused with the
// evidence "bad signature"; keys rotate by putting the new one first.
func ExampleFormat_Verify() {
	oldKey := []byte("signing key of 2025, 32 bytes..")
	newKey := []byte("signing key of 2026, 32 bytes..")
	before := token.Format{Keys: [][]byte{oldKey}}
	after := token.Format{Keys: [][]byte{newKey, oldKey}}

	issued, _ := before.Make(1, 1)
	guessed, _ := after.Parse("CRM:0001001-ABCDEFGH")
	unsigned, _ := after.Parse("CRM:0001001")
	fmt.Println(after.Verify(issued))
	fmt.Println(after.Verify(guessed))
	fmt.Println(after.Verify(unsigned))
	// Output:
	// <nil>
	// token: bad signature: CRM:0001001-ABCDEFGH
	// token: unsigned token: CRM:0001001
}

// A sender policy stops a stranger who pastes a token into a subject (the
// hijack of Zammad #5064); the Decision says why.
func ExampleOptions_policy() {
	ctx := context.Background()
	store := memstore.New()
	tokens := token.New(store, &token.Options{Policy: guard.ParticipantPolicy})
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{tokens}}, nil)
	engine.Track(ctx, &correlate.Message{MessageID: "s1@crm.example", Subject: "Your case CRM:0001001",
		From: []correlate.Address{{Address: "support@fabrikam.example"}}, To: []correlate.Address{{Address: "anna@contoso.example"}}},
		correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-42"}})

	for _, from := range []string{"mallory@evil.example", "anna@contoso.example"} {
		d, _ := engine.Correlate(ctx, &correlate.Message{Subject: "RE: Your case CRM:0001001",
			From: []correlate.Address{{Address: from}}})
		fmt.Println(d.Match)
		for _, e := range d.Steps[0].Match.Evidence {
			fmt.Println("  ", e)
		}
	}
	// Output:
	// no record
	//    From mallory@evil.example: sender policy refused token CRM:0001001 of tracked email 1: did not take part: not a participant of tracked email 1, nor a colleague of one
	// incident:CAS-42 by TrackingToken (0.90): token CRM:0001001 names tracked email 1
	//    From anna@contoso.example: took part: a participant of tracked email 1
	//    Subject CRM:0001001: names tracked email 1
}
