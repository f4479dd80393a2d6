// Command submit runs the SMTP submission relay of package submit: it sits
// between the CRM (or the users' mail programs) and the organization's
// submission server, and files every email it relays under its CRM record —
// a tracking token in the subject, a Message-ID signed for the record, the
// email tracked in the store — so that the customer's reply correlates.
//
//	go run ./examples/submit -upstream smtp.example.com:587 -users users.txt -id-keys keys.txt
//	go run ./examples/submit -hash-password < password.txt   # a users-file hash
//
// Clients log in with AUTH PLAIN (over STARTTLS, or without TLS from
// loopback) and name a message's record in an X-CRM-Regarding header
// ("incident:CAS-01042"); a reply to a tracked email inherits its record.
// The password of the relay's own upstream account comes from the
// environment variable SUBMIT_UPSTREAM_PASSWORD, never from a flag. See the
// README for every flag.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/submit"
	"github.com/mailcorrelate/mailcorrelate/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// config is the parsed command line.
type config struct {
	listen, upstream, upstreamTLS, upstreamUser, upstreamCA string
	users, store, domain, instance                          string
	tlsCert, tlsKey, idKeys                                 string
	tokens                                                  bool
	tokenPrefix, tokenKeys                                  string
	tokenBase                                               int64
	tokenUserDigits, tokenCounterDigits                     int
	tokenWiden                                              bool
	maxSubject, maxRcpt, maxConns                           int
	maxSize                                                 int64
	leaseTTL                                                time.Duration
	skipUnregarded, hashPassword                            bool
}

var errHelp = errors.New("help requested")

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: submit -upstream HOST:PORT -users FILE [flags]\n"+
			"       submit -hash-password < password\n\n"+
			"An SMTP submission relay that stamps, signs and tracks outgoing CRM mail.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.listen, "listen", "127.0.0.1:2587", "address the relay listens on")
	fs.StringVar(&c.upstream, "upstream", "", "the submission server mail is relayed to, HOST:PORT (required)")
	fs.StringVar(&c.upstreamTLS, "upstream-tls", "starttls", "TLS to the upstream: starttls, tls or none")
	fs.StringVar(&c.upstreamUser, "upstream-user", "", "the relay's account on the upstream (AUTH PLAIN); its password is read from $SUBMIT_UPSTREAM_PASSWORD")
	fs.StringVar(&c.upstreamCA, "upstream-ca", "", "PEM file of the CA that signed the upstream's certificate (default: the system roots)")
	fs.StringVar(&c.users, "users", "", "users file: NAME TOKENUSER HASH [SENDER ...] per line (required; see -hash-password)")
	fs.StringVar(&c.store, "store", "sqlite:submit.db", "memory, sqlite:PATH or postgres://… (memory forgets everything at exit)")
	fs.StringVar(&c.domain, "domain", "", "the relay's host name, in replies and in the Message-IDs it writes (default: the host name)")
	fs.StringVar(&c.instance, "instance", "", "this relay's name among relays sharing the store (default: the host name)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate chain for STARTTLS (without it only loopback clients can log in)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key for STARTTLS")
	fs.StringVar(&c.idKeys, "id-keys", "", "file of keys that sign Message-IDs, one per line, 16 bytes or more, the first signs (default: no signed ids)")
	fs.BoolVar(&c.tokens, "tokens", true, "stamp tracking tokens on subjects")
	fs.StringVar(&c.tokenPrefix, "token-prefix", token.DefaultPrefix, "token prefix, separator included")
	fs.Int64Var(&c.tokenBase, "token-base", 0, "deployment base tracking number")
	fs.IntVar(&c.tokenUserDigits, "token-user-digits", token.DefaultUserDigits, "digits of the user number")
	fs.IntVar(&c.tokenCounterDigits, "token-counter-digits", token.DefaultCounterDigits, "digits of the per-user counter")
	fs.BoolVar(&c.tokenWiden, "token-widen", false, "let the counter grow past its digits instead of restarting at 000")
	fs.StringVar(&c.tokenKeys, "token-keys", "", "file of keys that sign tokens, one per line (default: unsigned, Dynamics-compatible tokens)")
	fs.IntVar(&c.maxSubject, "max-subject", token.DefaultMaxSubjectLen, "longest subject, in UTF-16 code units, a token is stamped within")
	fs.Int64Var(&c.maxSize, "max-size", submit.DefaultMaxMessageBytes, "largest message in bytes (552 beyond)")
	fs.IntVar(&c.maxRcpt, "max-rcpt", submit.DefaultMaxRecipients, "most recipients per message (452 beyond)")
	fs.IntVar(&c.maxConns, "max-conns", submit.DefaultMaxConnections, "most clients at once (421 beyond)")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", submit.DefaultLeaseTTL, "lease on the instance name; after a crash the next start waits for it to expire")
	fs.BoolVar(&c.skipUnregarded, "skip-unregarded", false, "relay mail naming no record untouched and untracked")
	fs.BoolVar(&c.hashPassword, "hash-password", false, "read a password from standard input, print its users-file hash, exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.hashPassword {
		return c, nil
	}
	if c.upstream == "" || c.users == "" {
		fs.Usage()
		return nil, errors.New("-upstream and -users are required")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	return c, nil
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err == errHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "submit:", err)
		return 2
	}
	if cfg.hashPassword {
		pw, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintln(stderr, "submit:", err)
			return 1
		}
		pw = strings.TrimRight(pw, "\r\n")
		if pw == "" {
			fmt.Fprintln(stderr, "submit: empty password on standard input")
			return 1
		}
		h, err := submit.HashPassword(pw, 0)
		if err != nil {
			fmt.Fprintln(stderr, "submit:", err)
			return 1
		}
		fmt.Fprintln(stdout, h)
		return 0
	}
	if err := serve(ctx, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, "submit:", err)
		return 1
	}
	return 0
}

// serve builds the relay from cfg and runs it until ctx is done.
func serve(ctx context.Context, cfg *config, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	st, closeStore, err := cli.OpenStore(octx, cfg.store)
	cancel()
	if err != nil {
		return err
	}
	defer closeStore()

	users, err := readUsers(cfg.users)
	if err != nil {
		return err
	}
	idKeys, err := readKeys(cfg.idKeys)
	if err != nil {
		return fmt.Errorf("-id-keys: %w", err)
	}
	format := token.Format{
		Prefix: cfg.tokenPrefix, Base: cfg.tokenBase, UserDigits: cfg.tokenUserDigits,
		CounterDigits: cfg.tokenCounterDigits, Widen: cfg.tokenWiden,
	}
	if format.Keys, err = readKeys(cfg.tokenKeys); err != nil {
		return fmt.Errorf("-token-keys: %w", err)
	}
	var gen *token.Generator
	if cfg.tokens {
		if gen, err = token.NewGenerator(st, format); err != nil {
			return err
		}
	}
	// The engine decides the record of replies; it knows the same token
	// format and Message-ID keys the relay writes with.
	eopts := &mailcorrelate.Options{Token: format}
	eopts.Header.IDKeys = idKeys
	engine, err := mailcorrelate.New(st, eopts)
	if err != nil {
		return err
	}

	up := submit.Upstream{Addr: cfg.upstream, Username: cfg.upstreamUser, Password: os.Getenv("SUBMIT_UPSTREAM_PASSWORD")}
	if up.TLS, err = submit.ParseTLSMode(cfg.upstreamTLS); err != nil {
		return err
	}
	if cfg.upstreamCA != "" {
		if up.TLSConfig, err = caConfig(cfg.upstreamCA); err != nil {
			return fmt.Errorf("-upstream-ca: %w", err)
		}
	}
	var serverTLS *tls.Config
	if cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	relay, err := submit.New(submit.Options{
		Store: st, Engine: engine, Tokens: gen, MaxSubjectLen: cfg.maxSubject,
		IDKeys: idKeys, Domain: cfg.domain,
		Upstream: up, Auth: users, TLSConfig: serverTLS,
		MaxMessageBytes: cfg.maxSize, MaxRecipients: cfg.maxRcpt, MaxConnections: cfg.maxConns,
		SkipUnregarded: cfg.skipUnregarded, Instance: cfg.instance, LeaseTTL: cfg.leaseTTL,
		Logger: log,
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	log.Info("submit: listening", "addr", l.Addr().String(), "upstream", cfg.upstream, "store", cli.StoreName(cfg.store),
		"users", users.Len(), "tokens", cfg.tokens, "signed_ids", len(idKeys) > 0, "starttls", serverTLS != nil)
	return relay.Serve(ctx, l)
}

func readUsers(name string) (*submit.Users, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u, err := submit.ParseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if u.Len() == 0 {
		return nil, fmt.Errorf("%s: no users", name)
	}
	return u, nil
}

// readKeys reads a key file: one key per non-blank line, its bytes as
// written. "" means no keys.
func readKeys(name string) ([][]byte, error) {
	if name == "" {
		return nil, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < 16 {
			return nil, fmt.Errorf("line %d: a key of %d bytes; want 16 or more", i+1, len(line))
		}
		keys = append(keys, []byte(line))
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}

func caConfig(name string) (*tls.Config, error) {
	pem, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	// Only this CA: no other can stand in for the upstream.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in the file")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
