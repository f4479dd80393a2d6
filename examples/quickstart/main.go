// Command quickstart is the smallest complete use of mailcorrelate: parse an
// email the CRM sent, track it under a case, then parse the customer's reply,
// correlate it and track it too.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

const sent = "From: Fabrikam Support <support@fabrikam.example>\r\n" +
	"To: Jane Doe <jane@contoso.example>\r\n" +
	"Subject: Your printer case CRM:0001001\r\n" +
	"Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n" +
	"Message-ID: <case-1042.1@crm.fabrikam.example>\r\n\r\n" +
	"We are looking into it.\r\n"

const reply = "From: Jane Doe <jane@contoso.example>\r\n" +
	"To: Fabrikam Support <support@fabrikam.example>\r\n" +
	"Subject: AW: Your printer case CRM:0001001\r\n" +
	"Date: Mon, 2 Mar 2026 10:30:00 +0100\r\n" +
	"Message-ID: <CAJ1x@mail.contoso.example>\r\n" +
	"In-Reply-To: <case-1042.1@crm.fabrikam.example>\r\n\r\n" +
	"It is offline again.\r\n"

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	// 1. An engine over an in-memory store, with the default chain.
	engine, err := mailcorrelate.New(memstore.New(), nil)
	if err != nil {
		return err
	}

	// 2. The CRM sent an email regarding a case: track it.
	out, err := correlate.ParseMessage(strings.NewReader(sent), nil)
	if err != nil {
		return err // a *correlate.ParseError would still come with a usable message
	}
	caseRec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	if _, err := engine.Track(ctx, out, correlate.Match{Record: caseRec}); err != nil {
		return err
	}

	// 3. The reply arrives: correlate it (this never writes) …
	in, err := correlate.ParseMessage(strings.NewReader(reply), nil)
	if err != nil {
		return err
	}
	d, err := engine.Correlate(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, d.Match)

	// … and track it under the record found, so its replies correlate too.
	if d.Found() {
		t, err := engine.Track(ctx, in, d.Match)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "tracked %s as email %d, correlated with email %d\n", t.MessageID, t.ID, t.CorrelatedWith)
	}
	return nil
}
