package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// crm is the stand-in CRM of the example: a store, an engine, an address
// book, and the hooks that create records and contacts.
type crm struct {
	store    store.Store
	engine   *correlate.Engine
	dir      *party.MemDirectory
	resolver *party.Resolver
	mailbox  string
	own      []string
	tracked  int64 // emails in the store after seeding
	log      *slog.Logger
	closeFn  func() error

	contactMu sync.Mutex // one new contact per address
}

func newCRM(ctx context.Context, cfg *config, logger *slog.Logger) (*crm, error) {
	st, closeFn, err := cli.OpenStore(ctx, cfg.store)
	if err != nil {
		return nil, fmt.Errorf("-store: %w", err)
	}
	c := &crm{store: st, closeFn: closeFn, log: logger, mailbox: cfg.mailbox}
	ok := false
	defer func() {
		if !ok {
			closeFn()
		}
	}()
	sample := cfg.seed == ""
	if c.mailbox == "" && sample {
		c.mailbox = samplegen.Mailbox
	}
	// The organization's own people are no new contacts either.
	c.own = cli.OwnAddresses(cfg.own, c.mailbox)
	c.dir = party.NewMemDirectory(nil)
	if cfg.directory != "" {
		if c.dir, err = (cli.Files{}).ReadDirectory(cfg.directory); c.dir == nil {
			return nil, fmt.Errorf("-directory: %w", err)
		} else if err != nil {
			logger.Warn("server: -directory: some lines were skipped", slog.String("error", err.Error()))
		}
	}
	c.resolver = party.NewResolver(c.dir, nil)
	rules, err := folder.NewRules(nil)
	if err != nil {
		return nil, err
	}
	if sample {
		for _, f := range samplegen.Folders() {
			mp := folder.Mapping{Mailbox: f.Mailbox, FolderID: f.FolderID, FolderPath: f.FolderPath}
			if mp.Record, err = correlate.ParseRecord(f.Regarding); err != nil {
				return nil, err
			}
			if err := rules.Add(mp); err != nil {
				return nil, err
			}
		}
	}
	// The replay's and the sync's chain with their default flags
	// (cli.NewEngine), so that the service files mail as they do.
	chain := cli.DefaultChain()
	chain.Own, chain.Mailbox, chain.Folders, chain.Resolver = c.own, c.mailbox, rules, c.resolver
	if c.engine, err = cli.NewEngine(st, chain); err != nil {
		return nil, err
	}
	var mails []seedMail
	switch {
	case sample:
		mails = sampleMails()
	case cfg.seed != "none":
		var recs map[string]correlate.Record
		if cfg.regarding != "" {
			if recs, err = (cli.Files{}).ReadLabels(cfg.regarding); err != nil {
				return nil, fmt.Errorf("-regarding: %w", err)
			}
		}
		if mails, err = readSeed(cfg.seed, recs); err != nil {
			return nil, fmt.Errorf("-seed: %w", err)
		}
	}
	if err := c.file(ctx, mails); err != nil {
		return nil, err
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return nil, err
	}
	c.tracked = stats.Emails
	ok = true
	return c, nil
}

func (c *crm) close() {
	if err := c.closeFn(); err != nil {
		c.log.Error("server: closing the store: " + err.Error())
	}
}

// A seedMail is one message to file at start.
type seedMail struct {
	raw       []byte
	folder    string
	regarding correlate.Record // filed under it when seeded
	seeded    bool
}

// sampleMails returns the embedded sample: the messages the replay
// command's sample holds, generated, with the records the CRM filed its own
// mail under.
func sampleMails() []seedMail {
	s := samplegen.Generate(nil)
	out := make([]seedMail, 0, len(s.Mails))
	for _, m := range s.Mails {
		sm := seedMail{raw: m.Raw, folder: m.Folder, seeded: m.Seed}
		if m.Seed {
			rec, err := correlate.ParseRecord(m.Regarding)
			if err != nil {
				panic(fmt.Sprintf("samplegen: seed %s: %v", m.MessageID, err)) // the generator's own output
			}
			sm.regarding = rec
		}
		out = append(out, sm)
	}
	return out
}

// readSeed reads the mail of path: the messages recs names (by
// Message-ID, from -regarding) are filed under their record.
func readSeed(path string, recs map[string]correlate.Record) ([]seedMail, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir, name := filepath.Dir(abs), filepath.Base(abs)
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		dir, name = abs, "."
	}
	var out []seedMail
	err = mailbox.Walk(os.DirFS(dir), name, func(it mailbox.Item) error {
		if it.Err != nil {
			return nil // an unreadable message is skipped, as a sync would
		}
		out = append(out, seedMail{raw: it.Raw, folder: it.Folder})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		m, _ := correlate.ParseMessage(bytes.NewReader(out[i].raw), nil)
		if m == nil {
			continue // unreadable: file skips it too
		}
		if rec, ok := recs[m.MessageID]; ok && m.MessageID != "" {
			out[i].regarding, out[i].seeded = rec, true
		}
	}
	return out, nil
}

// file files the seed mail in date order, as a mailbox sync would: seeded
// mail under its record, other mail under the record the engine finds,
// when the decision says to track it.
//
// It is not the replay's per-message processing (examples/replay, process),
// though both file a mailbox in date order with the same engine: the
// replay applies an incoming-email filter and an address book the service
// has no flag for, resumes after a crash and writes a row per email with
// its reasons. Without them the default filter, ResponsesToTrackedEmail,
// tracks what Decision.Track says (a record found, or a track-only folder
// rule), so the two file the same mail under the same records
// (TestSampleFiledAsReplay).
func (c *crm) file(ctx context.Context, mails []seedMail) error {
	type parsed struct {
		m  *correlate.Message
		sm *seedMail
	}
	var ps []parsed
	for i := range mails {
		m, _ := correlate.ParseMessage(bytes.NewReader(mails[i].raw), &correlate.ParseOptions{KeepBody: true})
		if m == nil {
			continue
		}
		cli.Place(m, c.mailbox, mails[i].folder)
		ps = append(ps, parsed{m, &mails[i]})
	}
	slices.SortStableFunc(ps, func(a, b parsed) int { return a.m.Date.Compare(b.m.Date) })
	for _, p := range ps {
		how := correlate.Match{Record: p.sm.regarding}
		if !p.sm.seeded {
			d, err := c.engine.Correlate(ctx, p.m)
			if err != nil {
				return fmt.Errorf("seeding: %w", err)
			}
			if !d.Track() {
				continue
			}
			how = d.Match
		}
		if _, err := c.engine.Track(ctx, p.m, how); err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
	}
	return nil
}

// recordFormat is how the stand-in CRM numbers the records of a type.
func recordFormat(typ string) string {
	switch typ {
	case "incident":
		return "CAS-%05d"
	case "lead":
		return "LEAD-%05d"
	case "opportunity":
		return "OPP-%05d"
	}
	return strings.ToUpper(typ) + "-%05d"
}

// CreateRecord creates a record for Convert: the next number of the type's
// sequence in the store, from 5001 (the sample's own records are lower).
func (c *crm) CreateRecord(ctx context.Context, req actions.RecordRequest) (correlate.Record, error) {
	typ := req.Type
	if typ == "" {
		typ = "incident"
	}
	n, err := c.store.NextSequence(ctx, "server.record."+typ)
	if err != nil {
		return correlate.Record{}, err
	}
	rec := correlate.Record{Type: typ, ID: fmt.Sprintf(recordFormat(typ), 5000+n)}
	c.log.Info("crm: created record", slog.String("record", rec.String()), slog.String("title", req.Title),
		slog.String("sender", req.Sender.Address), slog.String("actor", req.Actor))
	return rec, nil
}

// newContact creates a contact for an address the directory does not know
// and adds it to the directory (with the account of its domain), so it
// resolves from now on. An address that resolves by now gets its record.
func (c *crm) newContact(ctx context.Context, _ *correlate.Message, p party.Party) (correlate.Record, error) {
	c.contactMu.Lock()
	defer c.contactMu.Unlock()
	have, err := c.dir.Lookup(ctx, p.Address, nil)
	if err != nil {
		return correlate.Record{}, err
	}
	for _, e := range have {
		if e.Active {
			return e.Record, nil
		}
	}
	n, err := c.store.NextSequence(ctx, "server.contact")
	if err != nil {
		return correlate.Record{}, err
	}
	e := party.Entry{Address: p.Address, Record: correlate.Record{Type: party.TypeContact, ID: fmt.Sprintf("c-%d", n)}, Active: true}
	if len(p.Accounts) > 0 {
		e.Account = p.Accounts[0]
	}
	if err := c.dir.Add(e); err != nil {
		return correlate.Record{}, err
	}
	c.log.Info("crm: created contact", slog.String("record", e.Record.String()), slog.String("address", p.Address))
	return e.Record, nil
}
