// Command outlook follows one Outlook conversation: the CRM stamps a
// tracking token on an outgoing email, and the customer's Outlook answers
// twice — once keeping the token but dropping In-Reply-To (an edited
// subject), once dropping both but keeping the Thread-Index. Each reply is
// still filed under the case, each by a different strategy.
package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// Outlook's conversation index of the CRM's email (22-byte header) and of the
// two replies (one 5-byte block more each time).
var (
	rootIndex   = []byte{0x01, 0xdc, 0x8a, 0x11, 0x22, 0x33, 0x9e, 0x4b, 0x2f, 0x10, 0xaa, 0x41, 0x4c, 0x0b, 0x9d, 0x3e, 0x77, 0x21, 0x5a, 0x60, 0x0c, 0x81}
	replyIndex  = append(append([]byte{}, rootIndex...), 0x00, 0x00, 0x21, 0x4f, 0x93)
	secondIndex = append(append([]byte{}, replyIndex...), 0x00, 0x01, 0x10, 0x02, 0x5e)
)

func msg(from, to, subject, id, extra string, index []byte) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n" +
		"Date: Tue, 3 Mar 2026 09:00:00 +0100\r\nMessage-ID: <" + id + ">\r\n" + extra +
		"Thread-Topic: Printer offline\r\nThread-Index: " + base64.StdEncoding.EncodeToString(index) + "\r\n\r\nbody\r\n"
}

func run(ctx context.Context, w io.Writer) error {
	store := memstore.New()
	engine, err := mailcorrelate.New(store, nil)
	if err != nil {
		return err
	}

	// The CRM issues the next token of user 1 from the store's counter and
	// stamps it on the subject, within Exchange's 255 characters.
	gen, err := token.NewGenerator(store, token.Format{})
	if err != nil {
		return err
	}
	tok, err := gen.Next(ctx, 1)
	if err != nil {
		return err
	}
	subject, err := token.Stamp("Printer offline", tok.String(), 0)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "sent:", subject)
	sent, err := correlate.ParseMessage(strings.NewReader(msg("support@fabrikam.example", "jane@contoso.example", subject, "c1@crm.fabrikam.example", "", rootIndex)), nil)
	if err != nil {
		return err
	}
	sent.Direction = correlate.Outgoing
	if _, err := engine.Track(ctx, sent, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-01042"}}); err != nil {
		return err
	}

	replies := []string{
		// The customer edited the subject; this Outlook dropped In-Reply-To.
		msg("jane@contoso.example", "support@fabrikam.example", "AW: Printer offline – still broken "+tok.String(), "r1@contoso.example", "", replyIndex),
		// A later answer: the token deleted too, only Thread-Index is left.
		msg("jane@contoso.example", "support@fabrikam.example", "AW: Printer offline", "r2@contoso.example", "", secondIndex),
	}
	for _, raw := range replies {
		m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
		if err != nil {
			return err
		}
		d, err := engine.Correlate(ctx, m)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n  -> %s\n", m.Subject, d.Match)
		if _, err := engine.Track(ctx, m, d.Match); err != nil {
			return err
		}
	}

	// The conversation index itself, decoded.
	ix, err := header.ParseIndex(secondIndex)
	if err != nil {
		return err
	}
	parent, _ := ix.Parent()
	fmt.Fprintf(w, "Thread-Index: conversation %s, depth %d, child of the first reply: %v\n", ix.GUID(), ix.Depth(), parent.IsChildOf(ix.Root()))
	return nil
}
