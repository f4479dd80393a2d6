package mailcorrelate_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// New wires the default chain; a reply that lost its In-Reply-To is still
// filed by the tracking token in its subject.
func ExampleNew() {
	ctx := context.Background()
	engine, err := mailcorrelate.New(memstore.New(), nil)
	if err != nil {
		panic(err)
	}
	sent, _ := correlate.ParseMessage(strings.NewReader(
		"From: support@fabrikam.example\r\nTo: jane@contoso.example\r\n"+
			"Subject: Printer offline CRM:0001001\r\nMessage-ID: <c1@crm.fabrikam.example>\r\n\r\n"), nil)
	engine.Track(ctx, sent, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-01042"}})

	reply, _ := correlate.ParseMessage(strings.NewReader(
		"From: jane@contoso.example\r\nTo: support@fabrikam.example\r\n"+
			"Subject: AW: Printer offline CRM:0001001\r\nMessage-ID: <r1@contoso.example>\r\n\r\n"), nil)
	d, _ := engine.Correlate(ctx, reply)
	fmt.Println(d.Match)
	// Output:
	// incident:CAS-01042 by TrackingToken (0.90): token CRM:0001001 names tracked email 1; sender jane@contoso.example took part: a participant of tracked email 1
}

// DefaultStrategies lists each preset's chain in precedence order.
func ExampleDefaultStrategies() {
	fmt.Println(mailcorrelate.DefaultStrategies(mailcorrelate.ServerSideSync))
	fmt.Println(mailcorrelate.DefaultStrategies(mailcorrelate.EmailRouter))
	// Output:
	// [folder inreplyto token conversation smart]
	// [token smart]
}
