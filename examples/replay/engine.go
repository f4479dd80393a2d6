package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/ledger"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// sampleMailbox is the mailbox the embedded sample was synchronized from.
const sampleMailbox = samplegen.Mailbox

// openStore opens the -store URL: memory, sqlite:PATH or postgres://….
func openStore(ctx context.Context, url string) (correlate.Store, func() error, error) {
	switch {
	case url == "" || url == "memory":
		return memstore.New(), func() error { return nil }, nil
	case strings.HasPrefix(url, "sqlite:"), strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s, err := sqlstore.Open(ctx, url, nil)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	return nil, nil, fmt.Errorf("%q: want memory, sqlite:PATH or postgres://…", url)
}

// buildEngine wires the chain the flags ask for through mailcorrelate.New.
func buildEngine(store correlate.Store, cfg *config, resolver *party.Resolver) (*correlate.Engine, error) {
	opts := &mailcorrelate.Options{Audit: cfg.audit, TokenPolicy: token.ParticipantPolicy}
	if resolver != nil {
		// With an address book, "took part" also counts the sender's
		// colleagues at the same customer account.
		opts.TokenPolicy = resolver.SenderPolicy()
	}
	if cfg.preset == "emailrouter" {
		opts.Preset = mailcorrelate.EmailRouter
	}
	for _, s := range cfg.strategies {
		opts.Strategies = append(opts.Strategies, mailcorrelate.Strategy(s))
	}
	switch cfg.smart {
	case "improved":
		opts.Smart = mailcorrelate.SmartImproved
	case "dynamics":
		opts.Smart = mailcorrelate.SmartDynamics
	}
	opts.SmartOptions.OwnAddresses = cfg.own
	if len(cfg.own) == 0 && cfg.mailbox != "" {
		// The mailbox's domain is the organization's own: its reps and
		// queues say nothing about which conversation an email continues.
		if at := strings.LastIndexByte(cfg.mailbox, '@'); at >= 0 {
			opts.SmartOptions.OwnAddresses = []string{cfg.mailbox[at:]}
		}
	}
	if cfg.folders != "" {
		rules, err := readFolders(cfg.folders)
		if err != nil {
			return nil, fmt.Errorf("-folders: %w", err)
		}
		opts.Folders = rules
	}
	return mailcorrelate.New(store, opts)
}

// exportLedger writes the ledger of -store to -export: every tracked
// email's message_id, regarding and method, in ID order.
func exportLedger(ctx context.Context, cfg *config, stdout io.Writer) error {
	st, closeStore, err := openStore(ctx, cfg.store)
	if err != nil {
		return fmt.Errorf("-store: %w", err)
	}
	defer closeStore()
	sc, ok := st.(ledger.Scanner)
	if !ok {
		return fmt.Errorf("-export: the store of %q cannot list its emails", cfg.store)
	}
	w := stdout
	var f *os.File
	if cfg.export != "-" {
		if f, err = os.Create(cfg.export); err != nil {
			return fmt.Errorf("-export: %w", err)
		}
		defer f.Close()
		w = f
	}
	if _, err := ledger.Export(ctx, sc, w); err != nil {
		return fmt.Errorf("-export: %w", err)
	}
	if f != nil {
		return f.Close()
	}
	return nil
}

func readFolders(name string) (*folder.Rules, error) {
	f, err := openFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	rules, err := folder.NewRules(nil)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, rules); err != nil {
		return nil, err
	}
	return rules, nil
}
