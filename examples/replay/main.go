// Command replay runs the correlation engine over a mailbox the way a
// mailbox sync would — every email in date order, each correlated email then
// tracked so replies to it correlate too — and shows, for every email, the
// record it was filed under, how, and why. With labels it scores itself.
//
// With no PATH it replays the embedded sample: a CRM team and its customers
// over several months, with the truth for every message.
//
//	go run ./examples/replay                       # the embedded sample
//	go run ./examples/replay -format jsonl mail/   # a Maildir, one JSON object per email
//	go run ./examples/replay -seed seed.jsonl -labels labels.jsonl archive.mbox
//	go run ./examples/replay -truth headers -preset emailrouter mail/  # smart matching against the headers
//
// PATH is an mbox file, a Maildir (sub-folders are mail folders whose paths
// feed folder rules), a folder of .eml files (recursive) or one message file.
// See the README for every flag and the jsonl schema.
package main

//go:generate go run ./gensample -out sample

import (
	"context"
	"embed"
	"fmt"
	"io"
	"os"

	"github.com/mailcorrelate/mailcorrelate/internal/cli"
)

//go:embed all:sample
var sampleFS embed.FS

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status: 0 when done, 1 for
// unusable flags or an input without a readable message, 2 when the store
// became unavailable (see exitCode).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err != cli.ErrHelp {
			fmt.Fprintln(stderr, "replay:", err)
		}
		return exitCode(err)
	}
	if cfg.truth != "" {
		return runTruth(ctx, cfg, stdout, stderr)
	}
	if cfg.export != "" {
		err = exportLedger(ctx, cfg.Store, cfg.export, stdout)
	} else {
		var r *replay
		if r, err = newReplay(ctx, cfg, stdout, stderr); err == nil {
			err = r.run(ctx)
			r.close()
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
	}
	return exitCode(err)
}
