package main

import (
	"io/fs"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// sampleMailbox is the mailbox the embedded sample was synchronized from.
const sampleMailbox = samplegen.Mailbox

// sampleDefaults gives the flags that were not given the embedded
// sample's values: its mailbox, and withFiles its seed, labels and folder
// rules.
func (cfg *config) sampleDefaults(withFiles bool) {
	if cfg.mailbox == "" {
		cfg.mailbox = sampleMailbox
	}
	if !withFiles {
		return
	}
	for _, f := range []struct {
		flag *string
		name string
	}{
		{&cfg.Seed, "seed.jsonl"}, {&cfg.labels, "labels.jsonl"}, {&cfg.Folders, "folders.json"},
	} {
		if *f.flag == "" {
			*f.flag = cli.SamplePrefix + f.name
		}
	}
}

// files opens the files the flags name; "sample:NAME" is a file of the
// embedded sample.
func files() cli.Files {
	sub, _ := fs.Sub(sampleFS, "sample") // a valid path: no error
	return cli.Files{Sample: sub}
}

// buildEngine wires the chain the flags ask for (cli.NewEngine, as the
// sync and the HTTP service do), with the address book of -directory when
// resolver is set.
func buildEngine(store correlate.Store, cfg *config, resolver *party.Resolver) (*correlate.Engine, error) {
	chain := cfg.Chain()
	chain.Audit = cfg.audit
	for _, s := range cfg.strategies {
		chain.Strategies = append(chain.Strategies, mailcorrelate.Strategy(s))
	}
	chain.Own, chain.Mailbox, chain.Resolver = cfg.own, cfg.mailbox, resolver
	if cfg.Folders != "" {
		// The folder strategy's own rules: the replay's (replay.rules) say
		// which folders are read at all.
		rules, err := files().ReadFolders(cfg.Folders)
		if err != nil {
			return nil, cli.UsageError{Msg: "-folders: " + err.Error()}
		}
		chain.Folders = rules
	}
	return cli.NewEngine(store, chain)
}
