package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/routereval"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// Values of -truth.
const (
	truthHeaders = "headers" // labels from Message-ID, In-Reply-To and References
	truthLabels  = "labels"  // labels from -seed and -labels
)

// checkTruth validates -truth.
func checkTruth(c *config) error {
	switch c.truth {
	case "", truthHeaders, truthLabels:
		return nil
	}
	return cli.UsageError{Msg: fmt.Sprintf("-truth %q: want headers or labels", c.truth)}
}

// runTruth is the command with -truth: it labels the mailbox (by its own
// headers, or by -seed and -labels), replays it without the header
// strategies three times — smart matching in Improved mode, in Dynamics
// mode, and the plain unique-base-subject rule in its place — and prints
// precision and recall overall and per method for each (package
// internal/routereval). The replay runs in memory; -store, -smart, -format,
// -filter and -order do not apply.
func runTruth(ctx context.Context, cfg *config, stdout, stderr io.Writer) int {
	items, opts, err := truthInput(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return exitCode(err)
	}
	if cfg.truth == truthHeaders {
		n := routereval.ByHeaders(items)
		fmt.Fprintf(stdout, "labels from the headers: %d threads; the earliest message of each is filed under thread:N\n", n)
	} else {
		seeds, labels, err := truthLabelFiles(cfg)
		if err != nil {
			fmt.Fprintln(stderr, "replay:", err)
			return 1
		}
		routereval.ByLabels(items, seeds, labels)
		fmt.Fprintf(stdout, "labels from %s, seeds from %s\n", cfg.labels, cfg.Seed)
	}
	rep, err := routereval.Evaluate(ctx, items, opts)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	if err := rep.Write(stdout, !cfg.quiet); err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	return 0
}

// truthInput reads the messages (the embedded sample without PATH) and the
// evaluation's options from the flags.
func truthInput(cfg *config, stderr io.Writer) ([]routereval.Item, *routereval.Options, error) {
	var items []routereval.Item
	if len(cfg.paths) == 0 {
		sub, err := fs.Sub(sampleFS, "sample/mail")
		if err != nil {
			return nil, nil, err
		}
		if items, _, err = routereval.ReadFS(sub, "."); err != nil {
			return nil, nil, err
		}
		cfg.sampleDefaults(cfg.truth == truthLabels)
	}
	for _, p := range cfg.paths {
		got, skipped, err := routereval.Read(p)
		if err != nil {
			fmt.Fprintf(stderr, "replay: %s: %v\n", p, err)
			continue
		}
		if skipped > 0 {
			fmt.Fprintf(stderr, "replay: %s: %d unreadable messages skipped\n", p, skipped)
		}
		items = append(items, got...)
	}
	if len(items) == 0 {
		return nil, nil, errors.New("no readable input")
	}
	opts := &routereval.Options{Mailbox: cfg.mailbox}
	opts.Engine.Smart.OwnAddresses = cfg.own
	if cfg.directory != "" {
		dir, err := files().ReadDirectory(cfg.directory)
		if dir == nil {
			return nil, nil, cli.UsageError{Msg: fmt.Sprintf("-directory: %v", err)}
		}
		opts.Engine.Guard.SenderPolicy = guard.AnyOf(guard.NewParticipantPolicy(), party.NewResolver(dir, nil).SenderPolicy())
	}
	if cfg.Folders != "" {
		rules, err := files().ReadFolders(cfg.Folders)
		if err != nil {
			return nil, nil, cli.UsageError{Msg: fmt.Sprintf("-folders: %v", err)}
		}
		opts.Engine.Folders = rules
	}
	opts.Strategies = []mailcorrelate.Strategy{mailcorrelate.Folder, mailcorrelate.InReplyTo, mailcorrelate.Token, mailcorrelate.Conversation, mailcorrelate.Smart}
	if cfg.Preset == "emailrouter" {
		opts.Strategies = []mailcorrelate.Strategy{mailcorrelate.Token, mailcorrelate.Smart}
	}
	if len(cfg.strategies) > 0 {
		opts.Strategies = opts.Strategies[:0:0]
		for _, s := range cfg.strategies {
			opts.Strategies = append(opts.Strategies, mailcorrelate.Strategy(s))
		}
	}
	return items, opts, nil
}

// truthLabelFiles reads -seed and -labels for -truth labels.
func truthLabelFiles(cfg *config) (seeds, labels map[string]correlate.Record, err error) {
	if cfg.labels == "" {
		return nil, nil, cli.UsageError{Msg: "-truth labels needs -labels (and -seed for the emails filed by hand)"}
	}
	read := func(name string) (map[string]correlate.Record, error) {
		if name == "" {
			return nil, nil
		}
		return files().ReadLabels(name)
	}
	if seeds, err = read(cfg.Seed); err != nil {
		return nil, nil, fmt.Errorf("-seed: %w", err)
	}
	if labels, err = read(cfg.labels); err != nil {
		return nil, nil, fmt.Errorf("-labels: %w", err)
	}
	return seeds, labels, nil
}
