package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// config is the parsed command line.
type config struct {
	demo         bool
	imap         string
	passwordFile string
	tokenFile    string
	mailbox      string
	folders      string
	seed         string
	store        string
	sent         bool
	after        time.Time
	once         bool
	format       string
	configFile   string
	export       string
	filter       string
	smart        string
	preset       string
	holder       string
	workers      int
	poll         time.Duration
	noIdle       bool
	quiet        bool
}

var errHelp = errors.New("help requested")

// usageError marks a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	if err == errHelp {
		return 0
	}
	return 1
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sync -demo | -imap URL -password-file FILE [flags] | -config FILE [flags] | -store URL -export FILE\n\n"+
			"Synchronizes IMAP mailboxes: Inbox, tracked folders, Sent (-sent); correlates and files every new email.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var after string
	fs.BoolVar(&c.demo, "demo", false, "an in-process IMAP server loaded with the embedded sample: sync it, then move an email into a tracked folder and show the relink")
	fs.StringVar(&c.imap, "imap", "", "the mailbox's server: imaps://USER@HOST[:PORT], or imap://USER@HOST[:PORT] (STARTTLS required unless loopback)")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the password (first line)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding an OAuth2 access token for SASL XOAUTH2 (Gmail, Microsoft 365), read again on every connect")
	fs.StringVar(&c.mailbox, "mailbox", "", "the mailbox's address (the CRM user or queue); default: the URL's user when it is an address")
	fs.StringVar(&c.folders, "folders", "", "folder rules in the folder package's JSON form (rules of this mailbox, or without a mailbox)")
	fs.StringVar(&c.seed, "seed", "", "JSON Lines {\"message_id\", \"regarding\"}: emails already filed in the CRM, tracked under that record when met")
	fs.StringVar(&c.store, "store", "memory", "memory, sqlite:PATH or postgres://…: where tracked emails and the sync state live")
	fs.BoolVar(&c.sent, "sent", false, "track the Sent folder too (Dynamics' AutoTrackSentFolderItems)")
	fs.StringVar(&after, "after", "", "process only email received after this date (YYYY-MM-DD or RFC 3339)")
	fs.BoolVar(&c.once, "once", false, "make one pass and exit")
	fs.StringVar(&c.format, "format", "table", "table or jsonl")
	fs.StringVar(&c.configFile, "config", "", "JSON file of many mailboxes (see the README)")
	fs.StringVar(&c.export, "export", "", "with -store and no mailbox: write the ledger (message_id, regarding, method) as JSON Lines to FILE (- for stdout) and exit")
	fs.StringVar(&c.filter, "filter", "", "incoming email filter: all, responses (default), crm, enabled, none")
	fs.StringVar(&c.smart, "smart", "improved", "smart matching: off, dynamics or improved")
	fs.StringVar(&c.preset, "preset", "serversidesync", "serversidesync or emailrouter")
	fs.StringVar(&c.holder, "holder", "", "this worker's name in the mailbox leases (default: host, pid and a random suffix)")
	fs.IntVar(&c.workers, "workers", 4, "mailboxes making a pass at once")
	fs.DurationVar(&c.poll, "poll", 0, "time between passes without IDLE (and the longest time between passes with it); default 60s")
	fs.BoolVar(&c.noIdle, "no-idle", false, "poll instead of IDLE")
	fs.BoolVar(&c.quiet, "q", false, "no per-message output, only the summary")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if after != "" {
		t, err := parseDate(after)
		if err != nil {
			return nil, usageError{fmt.Sprintf("-after: %v", err)}
		}
		c.after = t
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
	if c.filter != "" {
		if _, err := party.ParseFilter(c.filter); err != nil {
			return nil, usageError{fmt.Sprintf("-filter: %v", err)}
		}
	}
	modes := 0
	for _, on := range []bool{c.demo, c.imap != "", c.configFile != "", c.export != ""} {
		if on {
			modes++
		}
	}
	switch {
	case modes == 0:
		return nil, usageError{"give -demo, -imap URL, -config FILE, or -store URL -export FILE (-h for help)"}
	case modes > 1:
		return nil, usageError{"-demo, -imap, -config and -export exclude each other"}
	case c.imap != "" && c.passwordFile == "" && c.tokenFile == "":
		return nil, usageError{"-imap needs -password-file or -token-file"}
	case c.export != "" && c.store == "memory":
		return nil, usageError{"-export needs -store sqlite:PATH or postgres://… (a memory store is empty)"}
	}
	return c, nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD or RFC 3339", s)
	}
	return t, nil
}

// fileConfig is the JSON of -config.
type fileConfig struct {
	// Store is the store URL, overridden by -store when given.
	Store     string          `json:"store,omitempty"`
	Mailboxes []fileMailbox   `json:"mailboxes"`
	Folders   json.RawMessage `json:"folders,omitempty"` // rules of every mailbox, the folder package's JSON
}

type fileMailbox struct {
	Address      string           `json:"address"`
	URL          string           `json:"url"`
	Username     string           `json:"username,omitempty"`
	PasswordFile string           `json:"password_file,omitempty"`
	TokenFile    string           `json:"token_file,omitempty"`
	Folders      []folder.Mapping `json:"folders,omitempty"`
	Sent         bool             `json:"sent,omitempty"`
	After        string           `json:"after,omitempty"`
	Filter       string           `json:"filter,omitempty"`
}

func readConfigFile(name string) (*fileConfig, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(fc.Mailboxes) == 0 {
		return nil, fmt.Errorf("%s: no mailboxes", name)
	}
	return &fc, nil
}

// readSecret reads the first line of a file (a password or a token).
func readSecret(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimRight(s, "\r")
	if s == "" {
		return "", fmt.Errorf("%s: empty", name)
	}
	return s, nil
}

// urlUser returns the user of an IMAP URL ("" when none or unparsable).
func urlUser(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	return u.User.Username()
}
