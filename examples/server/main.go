// Command server serves the mailcorrelate HTTP API and its task pane: the
// App-for-Outlook actions (correlate, track, link, relink, convert, contacts,
// a record's emails, tracking tokens) for a CRM written in any language.
//
//	go run ./examples/server                  # the embedded sample on 127.0.0.1:8080
//	go run ./examples/server -addr :9000 -store sqlite:crm.db -token-file token.txt
//	go run ./examples/server -seed mail/ -regarding seed.jsonl -directory directory.jsonl
//
// With no -seed it files the embedded sample (the replay command's: a CRM
// team and its customers over several months) into the store first, so
// there is something to correlate against. Without -token-file it makes a
// random bearer token and prints it, with the task pane's address, on
// standard output; the access log goes to standard error, as JSON, and
// never holds the token.
//
// The CRM behind this example is a stand-in, enough to try every action:
// converting an email creates records numbered from the store's sequences
// (incident:CAS-05001, lead:LEAD-05001 …), and a new contact is a record
// contact:c-N added to the in-memory directory, so its address resolves at
// once. A real CRM passes its own actions.RecordCreator and NewContact hook
// to httpapi and actions.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/httpapi"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// config is the parsed command line.
type config struct {
	addr      string
	store     string
	tokenFile string
	seed      string
	regarding string
	directory string
	mailbox   string
	own       []string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: server [flags]\n\nServes the mailcorrelate HTTP API and the task pane.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var own string
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.store, "store", "memory", "memory, sqlite:PATH or postgres://…")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the bearer token (at least 16 bytes); default: a random token, printed")
	fs.StringVar(&c.seed, "seed", "", "mail to file at start instead of the embedded sample: an mbox, a Maildir or a folder of .eml files; \"none\" for nothing")
	fs.StringVar(&c.regarding, "regarding", "", "JSON Lines {\"message_id\", \"regarding\"}: -seed emails filed under that record (the replay's seed format)")
	fs.StringVar(&c.directory, "directory", "", "JSON Lines {\"address\", \"record\", \"active\"}: the address book (default: empty; new contacts are added to it)")
	fs.StringVar(&c.mailbox, "mailbox", "", "the mailbox (owner address) posted mail belongs to; default: the sample's")
	fs.StringVar(&own, "own", "", "the organization's addresses, comma-separated (\"@example.com\" for a domain); default: the mailbox's domain")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.own = cli.SplitList(own)
	if c.regarding != "" && (c.seed == "" || c.seed == "none") {
		return nil, errors.New("-regarding needs -seed")
	}
	return c, nil
}

// run is the whole command: it serves until ctx is done and returns the
// exit code. When ready is not nil it receives the listening address once
// the server accepts connections.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err == cli.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "server:", err)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	if err := serve(ctx, cfg, stdout, logger, ready); err != nil {
		logger.Error("server: " + err.Error())
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg *config, stdout io.Writer, logger *slog.Logger, ready chan<- string) error {
	tok, generated, err := bearerToken(cfg.tokenFile)
	if err != nil {
		return err
	}
	c, err := newCRM(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer c.close()
	act, err := actions.New(c.engine, &actions.Options{Resolver: c.resolver, NewContact: c.newContact, OwnAddresses: c.own})
	if err != nil {
		return err
	}
	h, err := httpapi.NewHandler(httpapi.Config{Actions: act, Token: tok, Creator: c, Mailbox: c.mailbox, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := httpapi.NewServer(cfg.addr, h, httpapi.Timeouts{}, logger)
	base := "http://" + ln.Addr().String() + "/"
	logger.Info("server: listening", slog.String("url", base), slog.String("store", cli.StoreName(cfg.store)),
		slog.Int64("tracked", c.tracked), slog.String("mailbox", c.mailbox))
	if generated {
		// The token goes to standard output for the person who started
		// the server, never to the log.
		fmt.Fprintf(stdout, "mailcorrelate listening on %s\nbearer token: %s\ntask pane:    %s#token=%s\n", base, tok, base, tok)
	} else {
		fmt.Fprintf(stdout, "mailcorrelate listening on %s (token from %s)\ntask pane:    %s\n", base, cfg.tokenFile, base)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("server: stopped")
	return nil
}

// bearerToken reads the token file, or makes a random token (generated
// true).
func bearerToken(file string) (string, bool, error) {
	if file == "" {
		var b [32]byte
		rand.Read(b[:])
		return base64.RawURLEncoding.EncodeToString(b[:]), true, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", false, fmt.Errorf("-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < httpapi.MinTokenLen || strings.ContainsAny(tok, " \t\r\n") {
		return "", false, fmt.Errorf("-token-file %s: the token must be one word of at least %d bytes", file, httpapi.MinTokenLen)
	}
	return tok, false, nil
}
