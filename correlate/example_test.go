package correlate_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// A Chain of two Func correlators: the first abstains unless the subject
// carries a case number, the second files everything from one customer
// domain under an account.
func ExampleChain() {
	caseNumber := correlate.Func(func(_ context.Context, m *correlate.Message) (correlate.Match, error) {
		i := strings.Index(m.Subject, "CAS-")
		if i < 0 {
			return correlate.Match{}, nil // no opinion
		}
		return correlate.Match{
			Record:     correlate.Record{Type: "incident", ID: m.Subject[i:]},
			Method:     correlate.CustomCorrelation,
			Confidence: correlate.High,
			Reason:     "case number in subject",
		}, nil
	})
	byDomain := correlate.Func(func(_ context.Context, m *correlate.Message) (correlate.Match, error) {
		if strings.HasSuffix(m.SenderAddress(), "@contoso.example") {
			return correlate.Match{Record: correlate.Record{Type: "account", ID: "contoso"},
				Method: correlate.CustomCorrelation, Confidence: correlate.Weak, Reason: "sender's domain"}, nil
		}
		return correlate.Match{}, nil
	})
	chain := &correlate.Chain{Correlators: []correlate.Correlator{
		correlate.Named("case-number", caseNumber),
		correlate.Named("domain", byDomain),
	}}

	for _, subject := range []string{"Printer offline CAS-01042", "Question about pricing"} {
		m := &correlate.Message{Subject: subject, From: []correlate.Address{{Address: "anna@contoso.example"}}}
		d, _ := chain.Decide(context.Background(), m)
		fmt.Println(d.Match)
	}
	// Output:
	// incident:CAS-01042 by CustomCorrelation (0.90): case number in subject
	// account:contoso by CustomCorrelation (0.40): sender's domain
}

// An Engine tracks an email sent from the CRM, then correlates the
// customer's reply to it through In-Reply-To.
func ExampleEngine() {
	ctx := context.Background()
	store := memstore.New()
	inReplyTo := correlate.Func(func(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
		for _, id := range m.InReplyTo {
			ts, err := store.Lookup(ctx, correlate.MessageIDKey(id), correlate.Query{Limit: 1})
			if err != nil {
				return correlate.Match{}, err
			}
			if len(ts) == 0 {
				continue // not tracked: try the next id
			}
			return correlate.Match{Record: ts[0].Record, Method: correlate.InReplyTo, Confidence: correlate.Certain,
				CorrelatedWith: &ts[0], Parent: &ts[0], Reason: "In-Reply-To <" + id + "> is tracked"}, nil
		}
		return correlate.Match{}, nil
	})
	engine := correlate.NewEngine(store, &correlate.Chain{Correlators: []correlate.Correlator{correlate.Named("inreplyto", inReplyTo)}}, nil)

	sent, _ := correlate.ParseMessage(strings.NewReader(
		"From: support@fabrikam.example\r\nTo: anna@contoso.example\r\n"+
			"Subject: Your case CAS-01042\r\nMessage-ID: <case-1042.1@crm.fabrikam.example>\r\n\r\n"), nil)
	engine.Track(ctx, sent, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-01042"}})

	reply, _ := correlate.ParseMessage(strings.NewReader(
		"From: Anna <anna@contoso.example>\r\nTo: support@fabrikam.example\r\n"+
			"Subject: RE: Your case CAS-01042\r\nMessage-ID: <r1@mail.contoso.example>\r\n"+
			"In-Reply-To: <case-1042.1@crm.fabrikam.example>\r\n\r\n"), nil)
	d, _ := engine.Correlate(ctx, reply)
	fmt.Println(d)
	t, _ := engine.Track(ctx, reply, d.Match)
	fmt.Println(t.Record, t.Method, "correlated with", t.CorrelatedWith)
	// Output:
	// incident:CAS-01042 by InReplyTo (1.00): In-Reply-To <case-1042.1@crm.fabrikam.example> is tracked
	//   step inreplyto: incident:CAS-01042 by InReplyTo (1.00): In-Reply-To <case-1042.1@crm.fabrikam.example> is tracked
	// incident:CAS-01042 InReplyTo correlated with 1
}

// ParseMessage returns what it could read together with the problems.
func ExampleParseMessage() {
	raw := "From: =?ISO-8859-1?Q?J=F6rg?= <joerg@contoso.example>\r\n" +
		"Cc: ok@contoso.example, <<broken\r\n" +
		"Subject: =?UTF-8?B?QVc6IFJlY2hudW5n?=\r\n" +
		"References: <a@x><b@x>\r\n\r\n"
	m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
	fmt.Println(m.From[0].Name, m.Subject, m.References, len(m.Cc))
	fmt.Println(err)
	// Output:
	// Jörg AW: Rechnung [a@x b@x] 1
	// correlate: 1 problem in message: Cc: malformed address list; recognizable addresses kept
}
