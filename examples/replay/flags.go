package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// config is the parsed command line.
type config struct {
	paths      []string
	order      string // "date" or "input"
	seed       string
	labels     string
	labelsOut  string
	folders    string
	mailbox    string
	strategies []string
	smart      string
	preset     string
	store      string
	format     string
	directory  string
	filter     string
	own        []string
	audit      bool
	quiet      bool
	truth      string
	progress   bool
}

var errHelp = errors.New("help requested")

// usageError marks a bad command line (exit code 1 with usage printed).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	if err == errHelp {
		return 0
	}
	return 1
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
	fs.StringVar(&c.order, "order", "date", "processing order: date (Date header, ties keep input order) or input")
	fs.StringVar(&c.seed, "seed", "", "JSON Lines {\"message_id\", \"regarding\"}: emails filed under that record when met")
	fs.StringVar(&c.labels, "labels", "", "JSON Lines {\"message_id\", \"regarding\"}: expected answers; prints precision and recall")
	fs.StringVar(&c.labelsOut, "labels-out", "", "write the decisions as a labels file")
	fs.StringVar(&c.folders, "folders", "", "folder rules in the folder package's JSON form")
	fs.StringVar(&c.mailbox, "mailbox", "", "the synchronized mailbox (owner address); default: the sample's, or none")
	fs.StringVar(&strategies, "strategies", "", "precedence order from "+strings.Join(strategyNames, ",")+" (default: the preset's chain)")
	fs.StringVar(&c.smart, "smart", "improved", "smart matching: off, dynamics or improved")
	fs.StringVar(&c.preset, "preset", "serversidesync", "serversidesync (all strategies) or emailrouter (token and smart matching only)")
	fs.StringVar(&c.store, "store", "memory", "memory, sqlite:PATH or postgres://…")
	fs.StringVar(&c.format, "format", "table", "table or jsonl")
	fs.StringVar(&c.directory, "directory", "", "JSON Lines {\"address\", \"record\", \"active\"}: the address book for participants")
	fs.StringVar(&c.filter, "filter", "", "incoming email filter: all, responses (default), crm, enabled, none")
	fs.StringVar(&own, "own", "", "the organization's addresses, comma-separated (\"@example.com\" for a domain), ignored by smart matching; default: the -mailbox domain")
	fs.BoolVar(&c.audit, "audit", true, "consult every strategy and report conflicts")
	fs.BoolVar(&c.quiet, "q", false, "no per-message output, only the summary")
	fs.StringVar(&c.truth, "truth", "", "headers or labels: evaluate the chain without header strategies (smart matching improved, Dynamics, and the plain subject rule) against labels from the mailbox's headers or from -seed/-labels")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usageError{err.Error()}
	}
	c.paths = fs.Args()
	for _, a := range strings.Split(own, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.own = append(c.own, a)
		}
	}
	if err := checkTruth(c); err != nil {
		return nil, err
	}
	switch c.order {
	case "date", "input":
	default:
		return nil, usageError{fmt.Sprintf("-order %q: want date or input", c.order)}
	}
	switch c.format {
	case "table", "jsonl":
	default:
		return nil, usageError{fmt.Sprintf("-format %q: want table or jsonl", c.format)}
	}
	switch c.smart {
	case "off", "dynamics", "improved":
	default:
		return nil, usageError{fmt.Sprintf("-smart %q: want off, dynamics or improved", c.smart)}
	}
	switch c.preset {
	case "serversidesync", "emailrouter":
	default:
		return nil, usageError{fmt.Sprintf("-preset %q: want serversidesync or emailrouter", c.preset)}
	}
	if strategies != "" {
		for _, s := range strings.Split(strategies, ",") {
			s = strings.TrimSpace(strings.ToLower(s))
			known := false
			for _, n := range strategyNames {
				known = known || n == s
			}
			if !known {
				return nil, usageError{fmt.Sprintf("-strategies: unknown strategy %q (want %s)", s, strings.Join(strategyNames, ","))}
			}
			c.strategies = append(c.strategies, s)
		}
	}
	return c, nil
}
