package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// config is the parsed command line.
type config struct {
	cli.Flags  // -seed, -folders, -store, -format, -filter, -smart, -preset
	paths      []string
	order      string // "date" or "input"
	labels     string
	labelsOut  string
	mailbox    string
	strategies []string
	directory  string
	own        []string
	audit      bool
	quiet      bool
	truth      string
	allFolders bool   // -all-folders: every folder, not only those Dynamics reads
	sent       bool   // -sent: read the Sent folder
	export     string // -export FILE: write the ledger and exit
}

// The exit statuses of the command (the README lists them).
const (
	// exitOK: every message was processed (or skipped as processed by an
	// earlier run); problems with single messages are in the output.
	exitOK = 0
	// exitUsage: unusable flags, or an input without one readable message.
	exitUsage = 1
	// exitStore: the store became unavailable (connection lost, server
	// shut down, disk full); the run stopped at once, and the next run
	// resumes where it stopped.
	exitStore = 2
)

// exitCode maps the error that ended the command to its exit status.
func exitCode(err error) int {
	switch {
	case err == nil, err == cli.ErrHelp:
		return exitOK
	case errors.Is(err, store.ErrUnavailable):
		return exitStore
	}
	return exitUsage
}

var strategyNames = []string{"folder", "inreplyto", "token", "conversation", "smart"}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: replay [flags] [PATH ...]\n\n"+
			"Replays mailboxes (mbox, Maildir, folders of .eml) through the correlation engine.\n"+
			"With no PATH, replays the embedded sample with its seed, labels and folder rules.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var strategies, own string
	c.Register(fs)
	fs.StringVar(&c.order, "order", "date", "processing order: date (Date header, ties keep input order) or input")
	fs.StringVar(&c.labels, "labels", "", "JSON Lines {\"message_id\", \"regarding\"}: expected answers; prints precision and recall")
	fs.StringVar(&c.labelsOut, "labels-out", "", "write the decisions as a labels file")
	fs.StringVar(&c.mailbox, "mailbox", "", "the synchronized mailbox (owner address); default: the sample's, or none")
	fs.StringVar(&strategies, "strategies", "", "precedence order from "+strings.Join(strategyNames, ",")+" (default: the preset's chain)")
	fs.StringVar(&c.directory, "directory", "", "JSON Lines {\"address\", \"record\", \"active\"}: the address book for participants")
	fs.StringVar(&own, "own", "", "the organization's addresses, comma-separated (\"@example.com\" for a domain), ignored by smart matching; default: the -mailbox domain")
	fs.BoolVar(&c.audit, "audit", true, "consult every strategy and report conflicts")
	fs.BoolVar(&c.quiet, "q", false, "no per-message output, only the summary (and the unreadable messages)")
	fs.BoolVar(&c.allFolders, "all-folders", false, "process every folder; by default only Inbox, the folders with a rule (-folders) and Sent, as Dynamics")
	fs.BoolVar(&c.sent, "sent", true, "process the Sent folder (Dynamics' AutoTrackSentFolderItems)")
	fs.StringVar(&c.export, "export", "", "write the ledger of -store (message_id, regarding, method of every tracked email) as JSON Lines to FILE (- for stdout) and exit without replaying")
	fs.StringVar(&c.truth, "truth", "", "headers or labels: evaluate the chain without header strategies (smart matching improved, Dynamics, and the plain subject rule) against labels from the mailbox's headers or from -seed/-labels")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	c.paths = fs.Args()
	if c.export != "" {
		if len(c.paths) > 0 {
			return nil, cli.UsageError{Msg: "-export writes the ledger of -store and replays nothing: give no PATH"}
		}
		if c.Store == "" || c.Store == "memory" {
			return nil, cli.UsageError{Msg: "-export needs a persistent -store (sqlite:PATH or postgres://…)"}
		}
	}
	c.own = cli.SplitList(own)
	if err := checkTruth(c); err != nil {
		return nil, err
	}
	switch c.order {
	case "date", "input":
	default:
		return nil, cli.UsageError{Msg: fmt.Sprintf("-order %q: want date or input", c.order)}
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	if strategies != "" {
		for _, s := range strings.Split(strategies, ",") {
			s = strings.TrimSpace(strings.ToLower(s))
			known := false
			for _, n := range strategyNames {
				known = known || n == s
			}
			if !known {
				return nil, cli.UsageError{Msg: fmt.Sprintf("-strategies: unknown strategy %q (want %s)", s, strings.Join(strategyNames, ","))}
			}
			c.strategies = append(c.strategies, s)
		}
	}
	return c, nil
}
