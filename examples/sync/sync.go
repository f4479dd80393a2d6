package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/oauth2"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/imapsync"
	"github.com/mailcorrelate/mailcorrelate/internal/ledger"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// openStore opens the -store URL: memory, sqlite:PATH or postgres://….
func openStore(ctx context.Context, url string) (store.Store, func() error, error) {
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

// buildEngine wires the chain as the replay command does with the same
// flags (audit on, the default sender policy — a participant or a colleague
// at the same organization —, smart matching improved, the mailbox's domain
// as the organization's own), so both file the same mail under the same
// records.
func buildEngine(st correlate.Store, cfg *config, rules *folder.Rules, own []string) (*correlate.Engine, error) {
	opts := &mailcorrelate.Options{Audit: true, Folders: rules}
	if cfg.preset == "emailrouter" {
		opts.Preset = mailcorrelate.EmailRouter
	}
	switch cfg.smart {
	case "improved":
		opts.Smart = mailcorrelate.SmartImproved
	case "dynamics":
		opts.Smart = mailcorrelate.SmartDynamics
	}
	opts.SmartOptions.OwnAddresses = own
	return mailcorrelate.New(st, opts)
}

// readSeed reads a seed file: JSON Lines of message_id and regarding.
func readSeed(name string) (map[string]correlate.Record, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSeed(f, name)
}

func parseSeed(r io.Reader, name string) (map[string]correlate.Record, error) {
	out := map[string]correlate.Record{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l struct {
			MessageID string `json:"message_id"`
			Regarding string `json:"regarding"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		rec, err := correlate.ParseRecord(l.Regarding)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		id := correlate.NormalizeMessageID(l.MessageID)
		if id == "" {
			return nil, fmt.Errorf("%s:%d: empty message_id", name, line)
		}
		out[id] = rec
	}
	return out, sc.Err()
}

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
			return nil, "", usageError{fmt.Sprintf("-config: %v", err)}
		}
		fc = *p
	} else {
		fc.Mailboxes = []fileMailbox{{Address: cfg.mailbox, URL: cfg.imap, PasswordFile: cfg.passwordFile,
			TokenFile: cfg.tokenFile, Sent: cfg.sent, Filter: cfg.filter}}
		if !cfg.after.IsZero() {
			fc.Mailboxes[0].After = cfg.after.Format("2006-01-02T15:04:05Z07:00")
		}
	}
	var shared *folder.Rules
	rulesFile := cfg.folders
	if rulesFile != "" || len(fc.Folders) > 0 {
		shared = &folder.Rules{}
		var b []byte = fc.Folders
		if rulesFile != "" {
			var err error
			if b, err = os.ReadFile(rulesFile); err != nil {
				return nil, "", usageError{fmt.Sprintf("-folders: %v", err)}
			}
		}
		if err := json.Unmarshal(b, shared); err != nil {
			return nil, "", usageError{fmt.Sprintf("-folders: %v", err)}
		}
	}
	var out []imapsync.Mailbox
	for i, fm := range fc.Mailboxes {
		mb := imapsync.Mailbox{Address: fm.Address, URL: fm.URL, Username: fm.Username, Folders: fm.Folders, Sent: fm.Sent}
		if mb.Address == "" {
			if u := urlUser(fm.URL); strings.Contains(u, "@") {
				mb.Address = u
			} else {
				return nil, "", usageError{fmt.Sprintf("mailbox %d: give its address (-mailbox)", i+1)}
			}
		}
		switch {
		case fm.PasswordFile != "":
			pw, err := readSecret(fm.PasswordFile)
			if err != nil {
				return nil, "", usageError{fmt.Sprintf("mailbox %s: password file: %v", mb.Address, err)}
			}
			mb.Password = pw
		case fm.TokenFile != "":
			mb.TokenSource = fileToken(fm.TokenFile)
		default:
			return nil, "", usageError{fmt.Sprintf("mailbox %s: give password_file or token_file", mb.Address)}
		}
		if fm.After != "" {
			t, err := parseDate(fm.After)
			if err != nil {
				return nil, "", usageError{fmt.Sprintf("mailbox %s: after: %v", mb.Address, err)}
			}
			mb.After = t
		}
		if fm.Filter != "" {
			f, err := party.ParseFilter(fm.Filter)
			if err != nil {
				return nil, "", usageError{fmt.Sprintf("mailbox %s: %v", mb.Address, err)}
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
	storeURL := cfg.store
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
	if cfg.seed != "" {
		if seeds, err = readSeed(cfg.seed); err != nil {
			return usageError{fmt.Sprintf("-seed: %v", err)}
		}
	}
	st, closeStore, err := openStore(ctx, storeURL)
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
	out *output
	mu  sync.Mutex // guards out
}

// newSession builds the engine and the Syncer of mbs over st.
func newSession(cfg *config, st store.Store, mbs []imapsync.Mailbox, seeds map[string]correlate.Record, stdout io.Writer) (*session, error) {
	rules := &folder.Rules{}
	var own []string
	if len(mbs) == 1 {
		if at := strings.LastIndexByte(mbs[0].Address, '@'); at >= 0 {
			// The mailbox's domain is the organization's own: its reps
			// say nothing about which conversation an email continues.
			own = []string{mbs[0].Address[at:]}
		}
	}
	eng, err := buildEngine(st, cfg, rules, own)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	ss := &session{eng: eng, st: st, out: newOutput(cfg.format, stdout)}
	ss.out.quiet = cfg.quiet
	o := &imapsync.Options{
		Mailboxes: mbs, Rules: rules, Workers: cfg.workers, Holder: cfg.holder, PollInterval: cfg.poll, NoIdle: cfg.noIdle,
		OnMessage: func(ev imapsync.Event) {
			ss.mu.Lock()
			defer ss.mu.Unlock()
			ss.out.write(ev)
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
	ss.out.note(s)
}

func (ss *session) flush() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.out.flush()
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
	st, closeStore, err := openStore(ctx, cfg.store)
	if err != nil {
		return fmt.Errorf("-store: %w", err)
	}
	defer closeStore()
	w := stdout
	var f *os.File
	if cfg.export != "-" {
		if f, err = os.Create(cfg.export); err != nil {
			return fmt.Errorf("-export: %w", err)
		}
		w = f
	}
	if _, err := ledger.Export(ctx, st, w); err != nil {
		if f != nil {
			f.Close()
		}
		return fmt.Errorf("-export: %w", err)
	}
	if f != nil {
		return f.Close()
	}
	return nil
}

// summary prints every mailbox's status.
func summary(w io.Writer, sts []imapsync.Status) {
	for _, st := range sts {
		c := st.Counts
		fmt.Fprintf(w, "\n%s: %s; fetched %d, correlated %d, tracked %d, untracked %d, already tracked %d, too old %d, errors %d\n",
			st.Mailbox, st.State, c.Fetched, c.Correlated, c.Tracked, c.Untracked, c.Existing, c.Skipped, c.Errors)
		if st.LastError != "" {
			fmt.Fprintf(w, "  last error (%s): %s\n", st.Cause, st.LastError)
		}
		for _, n := range st.Messages {
			fmt.Fprintf(w, "  %s  %s\n", n.Time.UTC().Format("2006-01-02 15:04:05"), n.Text)
		}
	}
}
