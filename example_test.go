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

// The presets are stage lists, in precedence order; smart matching is
// appended to turn it on.
func ExampleServerSideSync() {
	fmt.Println(mailcorrelate.ServerSideSync())
	fmt.Println(append(mailcorrelate.EmailRouter(), mailcorrelate.Smart))
	// Output:
	// [folder inreplyto token conversation]
	// [token smart]
}

// A custom strategy is a stage like the built-in ones: here a rule that
// files every mail from one customer's domain under its account, after the
// built-in strategies. It could also implement correlate.Indexer to get the
// store's index for free.
func ExampleUse() {
	ctx := context.Background()
	account := correlate.Record{Type: "account", ID: "contoso"}
	byDomain := correlate.Named("domain", correlate.Func(func(_ context.Context, m *correlate.Message) (correlate.Match, error) {
		if strings.HasSuffix(m.SenderAddress(), "@contoso.example") {
			return correlate.Match{Record: account, Method: correlate.CustomCorrelation, Confidence: 0.5, Reason: "sender at contoso.example"}, nil
		}
		return correlate.Match{}, nil
	}))
	engine, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{
		Stages: append(mailcorrelate.ServerSideSync(), mailcorrelate.Use(byDomain)),
	})
	if err != nil {
		panic(err)
	}
	msg, _ := correlate.ParseMessage(strings.NewReader(
		"From: jane@contoso.example\r\nSubject: New printer\r\nMessage-ID: <n1@contoso.example>\r\n\r\n"), nil)
	d, _ := engine.Correlate(ctx, msg)
	fmt.Println(d.Match)
	// Output:
	// account:contoso by CustomCorrelation (0.50): sender at contoso.example
}
