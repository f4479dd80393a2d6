// Command sync synchronizes live mailboxes the way Dynamics 365
// server-side synchronization does: over IMAP it reads Inbox, the tracked
// folders under it and (with -sent) the Sent folder, and re-links an email
// a person drags into a tracked folder; over POP3 (-pop3) it reads the
// Inbox, as Dynamics' POP3 profiles do. It correlates every new email and
// files it in a store. It prints one row per email: the replay command's
// rows, plus the mailbox, folder and UID (UIDL over POP3).
//
//	go run ./examples/sync -demo                 # an in-process server with the embedded sample
//	go run ./examples/sync -imap imap://alice@127.0.0.1:1143 -password-file pw.txt -once
//	go run ./examples/sync -pop3 pop3s://alice@mail.example -mailbox alice@example.com -password-file pw.txt -once
//	go run ./examples/sync -config mailboxes.json -store sqlite:sync.db
//	go run ./examples/sync -store sqlite:sync.db -export ledger.jsonl
//
// See the README's sync section for every flag.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mailcorrelate/mailcorrelate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit code: 0, or 1 for unusable
// flags, a failed mailbox (with -once) or a store that cannot be opened.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err != cli.ErrHelp {
			fmt.Fprintln(stderr, "sync:", err)
		}
		return exitCode(err)
	}
	if err := runConfig(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "sync:", err)
		return 1
	}
	return 0
}
