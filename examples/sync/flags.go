package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
)

// config is the parsed command line.
type config struct {
	cli.Flags    // -seed, -folders, -store, -format, -filter, -smart, -preset
	demo         bool
	imap         string
	pop3         string
	deleteMail   bool
	passwordFile string
	tokenFile    string
	mailbox      string
	sent         bool
	after        time.Time
	once         bool
	configFile   string
	export       string
	holder       string
	workers      int
	poll         time.Duration
	noIdle       bool
	quiet        bool
}

// exitCode maps the error that ended the command to its exit status: 0
// for -h, 1 for anything else (see run).
func exitCode(err error) int {
	if err == cli.ErrHelp {
		return 0
	}
	return 1
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sync -demo | -imap URL -password-file FILE [flags] | -pop3 URL -password-file FILE [flags] | -config FILE [flags] | -store URL -export FILE\n\n"+
			"Synchronizes mailboxes: over IMAP Inbox, tracked folders and Sent (-sent), over POP3 the Inbox;\ncorrelates and files every new email.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var after string
	c.Register(fs)
	fs.BoolVar(&c.demo, "demo", false, "an in-process IMAP server loaded with the embedded sample: sync it, then move an email into a tracked folder and show the relink")
	fs.StringVar(&c.imap, "imap", "", "the mailbox's server: imaps://USER@HOST[:PORT], or imap://USER@HOST[:PORT] (STARTTLS required unless loopback)")
	fs.StringVar(&c.pop3, "pop3", "", "a POP3 mailbox: pop3s://USER@HOST[:PORT], or pop3://USER@HOST[:PORT] (STLS required unless loopback); its Inbox only: no -folders, no -sent")
	fs.BoolVar(&c.deleteMail, "delete", false, "with -pop3: leave nothing on the server — delete each message once it is filed (never before)")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the password (first line)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding an OAuth2 access token for SASL XOAUTH2 (Gmail, Microsoft 365), read again on every connect")
	fs.StringVar(&c.mailbox, "mailbox", "", "the mailbox's address (the CRM user or queue); default: the URL's user when it is an address")
	fs.BoolVar(&c.sent, "sent", false, "track the Sent folder too (Dynamics' AutoTrackSentFolderItems)")
	fs.StringVar(&after, "after", "", "process only email received after this date (YYYY-MM-DD or RFC 3339)")
	fs.BoolVar(&c.once, "once", false, "make one pass and exit")
	fs.StringVar(&c.configFile, "config", "", "JSON file of many mailboxes (see the README)")
	fs.StringVar(&c.export, "export", "", "with -store and no mailbox: write the ledger (message_id, regarding, method) as JSON Lines to FILE (- for stdout) and exit")
	fs.StringVar(&c.holder, "holder", "", "this worker's name in the mailbox leases (default: host, pid and a random suffix)")
	fs.IntVar(&c.workers, "workers", 4, "mailboxes making a pass at once")
	fs.DurationVar(&c.poll, "poll", 0, "time between passes without IDLE (and the longest time between passes with it; POP3 always polls); default 60s")
	fs.BoolVar(&c.noIdle, "no-idle", false, "poll instead of IDLE")
	fs.BoolVar(&c.quiet, "q", false, "no per-message output, only the summary")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, cli.UsageError{Msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if after != "" {
		t, err := parseDate(after)
		if err != nil {
			return nil, cli.UsageError{Msg: fmt.Sprintf("-after: %v", err)}
		}
		c.after = t
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	modes := 0
	for _, on := range []bool{c.demo, c.imap != "", c.pop3 != "", c.configFile != "", c.export != ""} {
		if on {
			modes++
		}
	}
	var problem string
	switch {
	case modes == 0:
		problem = "give -demo, -imap URL, -pop3 URL, -config FILE, or -store URL -export FILE (-h for help)"
	case modes > 1:
		problem = "-demo, -imap, -pop3, -config and -export exclude each other"
	case c.imap != "" && c.passwordFile == "" && c.tokenFile == "":
		problem = "-imap needs -password-file or -token-file"
	case c.pop3 != "" && c.passwordFile == "" && c.tokenFile == "":
		problem = "-pop3 needs -password-file or -token-file"
	case c.pop3 != "" && c.Folders != "":
		problem = "-folders does not apply to -pop3: POP3 has no folders, so no folder-level tracking (use -imap for tracked folders)"
	case c.pop3 != "" && c.sent:
		problem = "-sent does not apply to -pop3: POP3 reads only the Inbox (use -imap to track Sent)"
	case c.deleteMail && c.pop3 == "":
		problem = "-delete is for -pop3 (in -config: \"delete_from_server\" on a pop3:// mailbox); the IMAP sync never deletes"
	case c.export != "" && c.Store == "memory":
		problem = "-export needs -store sqlite:PATH or postgres://… (a memory store is empty)"
	}
	if problem != "" {
		return nil, cli.UsageError{Msg: problem}
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
	// DeleteFromServer: a POP3 mailbox that leaves nothing on the
	// server (imapsync.Mailbox.DeleteFromServer).
	DeleteFromServer bool `json:"delete_from_server,omitempty"`
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

// urlUser returns the user of a mailbox URL ("" when none or unparsable).
func urlUser(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	return u.User.Username()
}
