package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/oauth2"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/imapsync"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// fileToken is an oauth2.TokenSource that reads an access token from a
// file on every call: a token refreshed by another program is used on the
// next connect.
type fileToken string

func (f fileToken) Token() (*oauth2.Token, error) {
	s, err := readSecret(string(f))
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: s, TokenType: "Bearer"}, nil
}

// mailboxes builds the mailboxes of the command line or -config.
func mailboxes(cfg *config) ([]imapsync.Mailbox, string, error) {
	var fc fileConfig
	if cfg.configFile != "" {
		p, err := readConfigFile(cfg.configFile)
		if err != nil {
			return nil, "", cli.UsageError{Msg: fmt.Sprintf("-config: %v", err)}
		}
		fc = *p
	} else {
		url := cfg.imap
		if cfg.pop3 != "" {
			url = cfg.pop3
		}
		fc.Mailboxes = []fileMailbox{{Address: cfg.mailbox, URL: url, PasswordFile: cfg.passwordFile,
			TokenFile: cfg.tokenFile, Sent: cfg.sent, Filter: cfg.Filter, DeleteFromServer: cfg.deleteMail}}
		if !cfg.after.IsZero() {
			fc.Mailboxes[0].After = cfg.after.Format("2006-01-02T15:04:05Z07:00")
		}
	}
	var shared *folder.Rules
	var err error
	switch {
	case cfg.Folders != "":
		shared, err = cli.Files{}.ReadFolders(cfg.Folders)
	case len(fc.Folders) > 0:
		shared, err = cli.DecodeFolders(fc.Folders)
	}
	if err != nil {
		return nil, "", cli.UsageError{Msg: fmt.Sprintf("-folders: %v", err)}
	}
	var out []imapsync.Mailbox
	for i, fm := range fc.Mailboxes {
		mb := imapsync.Mailbox{Address: fm.Address, URL: fm.URL, Username: fm.Username, Folders: fm.Folders, Sent: fm.Sent,
			DeleteFromServer: fm.DeleteFromServer}
		if mb.Address == "" {
			if u := urlUser(fm.URL); strings.Contains(u, "@") {
				mb.Address = u
			} else {
				return nil, "", cli.UsageError{Msg: fmt.Sprintf("mailbox %d: give its address (-mailbox)", i+1)}
			}
		}
		switch {
		case fm.PasswordFile != "":
			pw, err := readSecret(fm.PasswordFile)
			if err != nil {
				return nil, "", cli.UsageError{Msg: fmt.Sprintf("mailbox %s: password file: %v", mb.Address, err)}
			}
			mb.Password = pw
		case fm.TokenFile != "":
			mb.TokenSource = fileToken(fm.TokenFile)
		default:
			return nil, "", cli.UsageError{Msg: fmt.Sprintf("mailbox %s: give password_file or token_file", mb.Address)}
		}
		if fm.After != "" {
			t, err := parseDate(fm.After)
			if err != nil {
				return nil, "", cli.UsageError{Msg: fmt.Sprintf("mailbox %s: after: %v", mb.Address, err)}
			}
			mb.After = t
		}
		if fm.Filter != "" {
			f, err := party.ParseFilter(fm.Filter)
			if err != nil {
				return nil, "", cli.UsageError{Msg: fmt.Sprintf("mailbox %s: %v", mb.Address, err)}
			}
			mb.Filter = f
		}
		if shared != nil {
			for _, m := range shared.Mappings(mb.Address) {
				m.Mailbox = ""
				mb.Folders = append(mb.Folders, m)
			}
		}
		out = append(out, mb)
	}
	storeURL := cfg.Store
	if storeURL == "memory" && fc.Store != "" {
		storeURL = fc.Store
	}
	return out, storeURL, nil
}

// runConfig runs the command.
func runConfig(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	if cfg.demo {
		return runDemo(ctx, cfg, stdout, stderr)
	}
	if cfg.export != "" {
		return export(ctx, cfg, stdout)
	}
	mbs, storeURL, err := mailboxes(cfg)
	if err != nil {
		return err
	}
	var seeds map[string]correlate.Record
	if cfg.Seed != "" {
		if seeds, err = (cli.Files{}).ReadLabels(cfg.Seed); err != nil {
			return cli.UsageError{Msg: fmt.Sprintf("-seed: %v", err)}
		}
	}
	st, closeStore, err := cli.OpenStore(ctx, storeURL)
	if err != nil {
		return fmt.Errorf("-store: %w", err)
	}
	defer closeStore()
	return syncMailboxes(ctx, cfg, st, mbs, seeds, stdout, stderr)
}

// session is a Syncer with its engine, store and output.
type session struct {
	s   *imapsync.Syncer
	eng *correlate.Engine
	st  store.Store
	out *cli.Rows
	mu  sync.Mutex // guards out
}

// newSession builds the engine and the Syncer of mbs over st. The engine
// is the replay's with the same flags (cli.NewEngine), so both file the
// same mail under the same records; its folder rules start empty and the
// Syncer fills them with each mailbox's.
func newSession(cfg *config, st store.Store, mbs []imapsync.Mailbox, seeds map[string]correlate.Record, stdout io.Writer) (*session, error) {
	chain := cfg.Chain()
	chain.Folders = &folder.Rules{}
	if len(mbs) == 1 {
		// One mailbox: its domain is the organization's own (many may
		// belong to several organizations).
		chain.Mailbox = mbs[0].Address
	}
	eng, err := cli.NewEngine(st, chain)
	if err != nil {
		return nil, cli.UsageError{Msg: err.Error()}
	}
	ss := &session{eng: eng, st: st, out: newOutput(cfg.Format, cfg.quiet, stdout)}
	o := &imapsync.Options{
		Mailboxes: mbs, Rules: chain.Folders, Workers: cfg.workers, Holder: cfg.holder, PollInterval: cfg.poll, NoIdle: cfg.noIdle,
		OnMessage: func(ev imapsync.Event) {
			ss.mu.Lock()
			defer ss.mu.Unlock()
			write(ss.out, ev)
		},
	}
	if len(seeds) > 0 {
		o.Known = func(_ context.Context, m *correlate.Message) (correlate.Record, bool) {
			r, ok := seeds[m.MessageID]
			return r, ok && m.MessageID != ""
		}
	}
	if ss.s, err = imapsync.New(eng, st, o); err != nil {
		return nil, err
	}
	return ss, nil
}

func (ss *session) note(s string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.out.Note(s)
}

func (ss *session) flush() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.out.Flush()
}

// syncMailboxes syncs: one pass with -once, else until ctx ends.
func syncMailboxes(ctx context.Context, cfg *config, st store.Store, mbs []imapsync.Mailbox, seeds map[string]correlate.Record,
	stdout, stderr io.Writer) error {
	ss, err := newSession(cfg, st, mbs, seeds, stdout)
	if err != nil {
		return err
	}
	if cfg.once {
		err = ss.s.SyncOnce(ctx)
	} else {
		err = ss.s.Run(ctx)
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	}
	ferr := ss.flush()
	summary(stderr, ss.s.Status())
	if err != nil {
		return err
	}
	return ferr
}

// export writes the ledger of -store to -export.
func export(ctx context.Context, cfg *config, stdout io.Writer) error {
	st, closeStore, err := cli.OpenStore(ctx, cfg.Store)
	if err != nil {
		return fmt.Errorf("-store: %w", err)
	}
	defer closeStore()
	if _, err := cli.ExportLedger(ctx, st, cfg.export, stdout); err != nil {
		return fmt.Errorf("-export: %w", err)
	}
	return nil
}

// summary prints every mailbox's status.
func summary(w io.Writer, sts []imapsync.Status) {
	for _, st := range sts {
		c := st.Counts
		deleted := ""
		if c.Deleted > 0 {
			deleted = fmt.Sprintf(", deleted from the server %d", c.Deleted)
		}
		fmt.Fprintf(w, "\n%s: %s; fetched %d, correlated %d, tracked %d, untracked %d, already tracked %d, too old %d, errors %d%s\n",
			st.Mailbox, st.State, c.Fetched, c.Correlated, c.Tracked, c.Untracked, c.Existing, c.Skipped, c.Errors, deleted)
		if st.LastError != "" {
			fmt.Fprintf(w, "  last error (%s): %s\n", st.Cause, st.LastError)
		}
		for _, n := range st.Messages {
			fmt.Fprintf(w, "  %s  %s\n", n.Time.UTC().Format("2006-01-02 15:04:05"), n.Text)
		}
	}
}
