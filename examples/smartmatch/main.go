// Command smartmatch runs the same mail through Dynamics' smart matching and
// through this library's improved smart matching. Two customers send
// "Service Details" to the same support reps — the false positive Microsoft
// itself documents — and one of them follows up from a mail program that
// keeps no threading header and no token.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

var day = time.Date(2026, 4, 3, 9, 0, 0, 0, time.UTC)

func email(id, from, subject string, at time.Duration) *correlate.Message {
	return &correlate.Message{
		MessageID: id, Subject: subject, Date: day.Add(at), Mailbox: "support@fabrikam.example",
		From: []correlate.Address{{Address: from}},
		To:   []correlate.Address{{Address: "support@fabrikam.example"}},
		Cc:   []correlate.Address{{Address: "anna.berg@fabrikam.example"}},
	}
}

func run(ctx context.Context, w io.Writer) error {
	for _, mode := range []struct {
		name string
		mode smartmatch.Mode
	}{{"dynamics", smartmatch.Dynamics}, {"improved", smartmatch.Improved}} {
		engine, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{
			Stages: append(mailcorrelate.ServerSideSync(), mailcorrelate.Smart),
			// The organization's own addresses say nothing about the customer.
			Smart: smartmatch.Options{Mode: mode.mode, OwnAddresses: []string{"@fabrikam.example"}},
		})
		if err != nil {
			return err
		}
		// Two cases, filed by hand: same subject, same reps, different customers.
		proseware := email("a@proseware.example", "dana@proseware.example", "Service Details", 0)
		northwind := email("b@northwind.example", "sam@northwind.example", "Service Details", 24*time.Hour)
		for _, c := range []struct {
			m  *correlate.Message
			id string
		}{{proseware, "CAS-01019"}, {northwind, "CAS-01020"}} {
			if _, err := engine.Track(ctx, c.m, correlate.Match{Record: correlate.Record{Type: "incident", ID: c.id}}); err != nil {
				return err
			}
		}
		// Proseware follows up; its mail program wrote no In-Reply-To.
		follow := email("c@proseware.example", "dana@proseware.example", "RE: Service Details", 48*time.Hour)
		d, err := engine.Correlate(ctx, follow)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%-8s %s\n", mode.name, d.Match)
	}
	return nil
}
