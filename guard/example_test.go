package guard_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// mustParse reads an inline message, keeping its body as bounce handling
// needs.
func mustParse(raw string) *correlate.Message {
	m, err := correlate.ParseMessage(strings.NewReader(raw), &correlate.ParseOptions{KeepBody: true})
	if m == nil {
		panic(err)
	}
	return m
}

// A bounce lands on the record of the email it returns, and is not filed as
// the customer's reply.
func Example() {
	ctx := context.Background()
	engine, err := mailcorrelate.New(memstore.New(), nil) // guardrails on by default
	if err != nil {
		panic(err)
	}
	sent := mustParse("Message-ID: <c1@crm.fabrikam.example>\r\nFrom: support@fabrikam.example\r\n" +
		"To: jnae@contoso.example\r\nSubject: Printer offline CRM:0001001\r\n\r\nHello\r\n")
	engine.Track(ctx, sent, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-01042"}})

	bounce := mustParse("From: MAILER-DAEMON@mx.fabrikam.example\r\nTo: support@fabrikam.example\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@mx.fabrikam.example>\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nUser unknown.\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.fabrikam.example\r\n\r\n" +
		"Final-Recipient: rfc822; jnae@contoso.example\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n" +
		"Message-ID: <c1@crm.fabrikam.example>\r\nSubject: Printer offline CRM:0001001\r\n" +
		"--B--\r\n")
	d, _ := engine.Correlate(ctx, bounce)
	fmt.Println(d.Class(), d.Match.Record, "tracked:", d.Track())
	fmt.Println(d.Classification.Reason)
	// Output:
	// bounce incident:CAS-01042 tracked: false
	// delivery status notification (multipart/report; report-type=delivery-status), Action failed 5.1.1; returns text/rfc822-headers <c1@crm.fabrikam.example>
}

// Classify reads header fields first: an RFC 3834 auto-reply, a list post,
// and a person's reply that merely asks not to be auto-answered.
func ExampleClassifier_Classify() {
	c := guard.New(nil)
	for _, raw := range []string{
		"From: jane@contoso.example\r\nSubject: Automatic reply: Printer\r\nAuto-Submitted: auto-replied\r\n\r\n",
		"From: jane@contoso.example\r\nSubject: [printers] Re: Printer\r\nList-Id: <printers.contoso.example>\r\nList-Unsubscribe: <mailto:leave@contoso.example>\r\n\r\n",
		"From: jane@contoso.example\r\nSubject: Re: Printer\r\nX-Auto-Response-Suppress: All\r\n\r\n",
	} {
		cl := c.Classify(mustParse(raw))
		fmt.Printf("%-9s no auto-response: %-5v %s\n", cl.Name(), cl.NoAutoResponse, cl.Reason)
	}
	// Output:
	// autoreply no auto-response: true  Auto-Submitted: auto-replied (RFC 3834)
	// bulk      no auto-response: true  mailing list (List-Id <printers.contoso.example> with List-Unsubscribe)
	// normal    no auto-response: true
}

// A Marker stamps outgoing mail; the same mail coming back is a Loop.
func ExampleMarker() {
	marker := &guard.Marker{Instance: "fabrikam-crm", Keys: [][]byte{[]byte("a secret of at least 16 bytes")}}
	field, value, err := marker.Stamp("<ack-1@crm.fabrikam.example>")
	if err != nil {
		panic(err)
	}
	fmt.Println(field + ": " + value)

	c := guard.New(&guard.Options{Marker: marker})
	back := mustParse("Message-ID: <ack-1@crm.fabrikam.example>\r\nFrom: support@fabrikam.example\r\n" +
		"Subject: Ticket received\r\n" + field + ": " + value + "\r\n\r\n")
	fmt.Println(c.Classify(back).Class)
	// Output:
	// X-Mailcorrelate-Loop: v1 fabrikam-crm p3e2heddm0x1afmz
	// loop
}

// A RateWindow flags the message that exceeds its limit.
func ExampleRateWindow() {
	w := guard.NewRateWindow(&guard.RateOptions{Limit: 2, Window: time.Hour})
	rec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		m := &correlate.Message{MessageID: fmt.Sprint(i, "@other.example"), Date: t0.Add(time.Duration(i) * time.Minute),
			From: []correlate.Address{{Address: "desk@other.example"}}}
		fmt.Println(w.Observe(m, rec))
	}
	// Output:
	// normal
	// normal
	// loop: 3 messages from desk@other.example about incident:CAS-01042 within 1h0m0s (limit 2): ping-pong?
}

// States follows merges: a reply to the merged case reaches the survivor.
func ExampleStates() {
	ctx := context.Background()
	states := &guard.States{}
	old, survivor := correlate.Record{Type: "incident", ID: "CAS-1"}, correlate.Record{Type: "incident", ID: "CAS-2"}
	states.Merge(old, survivor)
	engine, _ := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Guard: guard.Options{Records: states}})
	engine.Track(ctx, mustParse("Message-ID: <c1@crm.example>\r\nFrom: support@crm.example\r\nSubject: x\r\n\r\n"), correlate.Match{Record: old})
	d, _ := engine.Correlate(ctx, mustParse("From: jane@contoso.example\r\nSubject: Re: x\r\nIn-Reply-To: <c1@crm.example>\r\n\r\n"))
	fmt.Println(d.Match.Record, d.Merged)
	// Output:
	// incident:CAS-2 [incident:CAS-1]
}
