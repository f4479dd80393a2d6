package imapsync

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// Defaults of [Options].
const (
	// DefaultPollInterval is the longest time between two passes.
	DefaultPollInterval = 60 * time.Second
	// DefaultIdleRestart is how long one IDLE command lasts (RFC 2177:
	// re-issue it before the server's 30-minute timeout).
	DefaultIdleRestart = 28 * time.Minute
	// DefaultBatchSize is the number of messages per UID FETCH.
	DefaultBatchSize = 256
	// DefaultLeaseTTL is how long a mailbox's lease lasts unrenewed.
	DefaultLeaseTTL = 2 * time.Minute
	// DefaultMinBackoff is the first wait before a reconnect.
	DefaultMinBackoff = time.Second
	// DefaultMaxBackoff is the longest wait before a reconnect.
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultTimeout bounds connecting and each IMAP or POP3 command.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxMessageBytes bounds the size of a message the sync reads
	// (RFC822.SIZE); a larger one is reported and skipped.
	DefaultMaxMessageBytes = 64 << 20
	// DefaultMaxHeaderBytes bounds the header fetched of one message.
	DefaultMaxHeaderBytes = 256 << 10
	// DefaultMaxBodyBytes bounds the body fetched for a bounce, the only
	// mail whose body the sync reads (to find the message it returns).
	DefaultMaxBodyBytes = 256 << 10
)

// A Mailbox is one synchronized mailbox: a CRM user's or a queue's.
type Mailbox struct {
	// Address is the mailbox's email address, the CRM user or queue it
	// belongs to; it names the mailbox in Status, in tracked emails
	// (correlate.Tracked.Mailbox), in folder rules and in the lease.
	Address string `json:"address"`
	// URL is the server: imaps://[USER@]HOST[:PORT] (IMAP over TLS, port
	// 993), or imap://[USER@]HOST[:PORT] (port 143), where STARTTLS is
	// required unless the host is a loopback address; for a POP3 mailbox
	// pop3s://[USER@]HOST[:PORT] (TLS, port 995) or pop3://[USER@]HOST[:PORT]
	// (port 110, STLS required unless loopback). The user in the URL is the
	// login name; Username overrides it, and without either the Address
	// is the login name. A password in the URL is refused: give Password.
	URL string `json:"url"`
	// Username is the login name; see URL.
	Username string `json:"username,omitempty"`
	// Password authenticates by LOGIN (or AUTHENTICATE PLAIN); over POP3
	// by USER and PASS (or AUTH PLAIN).
	Password string `json:"-"`
	// TokenSource, when set, authenticates by SASL XOAUTH2 (Gmail,
	// Microsoft 365) with the access token it returns; it is asked on every
	// connect, so a refreshed token is used on the next connect (wrap it
	// in oauth2.ReuseTokenSource to refresh only when expired).
	TokenSource oauth2.TokenSource `json:"-"`

	// Folders are the folder-level tracking rules of this mailbox, in the
	// folder package's form: at most 25 (folder.MaxPerMailbox), each a
	// folder under Inbox. A rule whose Mailbox is empty applies to this
	// mailbox; rules of other mailboxes are refused. A rule is given by
	// path (FolderPath, "Inbox/Clients/Contoso"): at first sight it binds
	// to the folder's server id (MAILBOXID, Dovecot's X-GUID, else name and
	// UIDVALIDITY), so a rename keeps it. A FolderID equal to a server id
	// binds to that folder directly. POP3 has no folders: a POP3 mailbox
	// with folder rules is refused.
	Folders []folder.Mapping `json:"folders,omitempty"`
	// After is "process email received after" (Dynamics'
	// ProcessEmailReceivedAfter): older mail of Inbox and Sent, by the
	// server's INTERNALDATE, is never read; in a tracked folder it is
	// skipped on the folder's first pass only (later arrivals there are
	// moves a person just made). The zero time reads everything. POP3
	// has no INTERNALDATE: there, the date of the newest Received field
	// (the server's delivery) is used, else the Date field.
	After time.Time `json:"after,omitzero"`
	// Sent tracks the Sent folder (the folder with SPECIAL-USE \Sent, else
	// one named Sent, Sent Items, Sent Messages or Sent Mail), as Dynamics'
	// AutoTrackSentFolderItems: off by default. Its mail is outgoing.
	// POP3 reads only the Inbox: a POP3 mailbox with Sent is refused.
	Sent bool `json:"sent,omitempty"`
	// DeleteFromServer is for POP3 mailboxes that must leave nothing on
	// the server (the POP3 way of a mailbox dedicated to the CRM): each
	// message is deleted (DELE, then QUIT) once its email, or the fact
	// that it stays untracked, is committed in the store — never before.
	// Messages the sync could not read (Failed) or did not process
	// (TooOld) stay. Off, the default, nothing is ever deleted; an IMAP
	// mailbox with it is refused (the IMAP sync never deletes).
	DeleteFromServer bool `json:"delete_from_server,omitempty"`
	// Filter is the incoming-email filter (party.Filter); the zero value
	// is Dynamics' default, ResponsesToTrackedEmail.
	Filter party.Filter `json:"filter,omitzero"`
}

// Options configures a [Syncer]. A nil *Options is the zero value, whose
// fields mean their defaults.
type Options struct {
	// Mailboxes are the mailboxes to synchronize.
	Mailboxes []Mailbox
	// Rules are the folder rules of the engine's folder correlator, which
	// the Syncer fills from the mailboxes' Folders (binding each to its
	// folder's server id) and keeps in line with renames. nil means the
	// rules of the folder.Correlator found in the engine's chain; New
	// fails when a mailbox has folder rules and there is none.
	Rules *folder.Rules
	// Resolver resolves participants for the incoming-email filters that
	// need the sender's record (FromCRMRecords, FromEmailEnabledRecords);
	// nil leaves every sender unresolved.
	Resolver *party.Resolver
	// Known, when set, returns the record an email is already filed under
	// in the CRM — sent from the CRM, or linked by a person — so it is
	// tracked under that record when met, bypassing the chain and the
	// filter (as Dynamics matches its own email activities).
	Known func(ctx context.Context, m *correlate.Message) (correlate.Record, bool)
	// OnMessage, when set, is called with every message the sync
	// processed or skipped, after its writes committed. It is called from
	// the mailboxes' goroutines, concurrently for different mailboxes, and
	// must not block for long.
	OnMessage func(Event)

	// Workers bounds the mailboxes that make a pass at once (connect,
	// fetch, correlate, write); 0 means 4. A mailbox waiting for mail
	// (IDLE, or the next poll) holds no worker.
	Workers int
	// Holder names this process in the leases (a host name and process
	// id are a good choice); "" means a random name.
	Holder string
	// LeaseTTL is how long a mailbox's lease lasts; it is renewed every
	// third of it, and a dead worker's mailboxes are taken over when it
	// expires. 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration
	// PollInterval is the time between passes without IDLE, and the
	// longest time between passes with it (IDLE on Inbox does not report
	// moves between other folders); a POP3 mailbox, which has no IDLE, is
	// polled at this interval. 0 means DefaultPollInterval.
	PollInterval time.Duration
	// IdleRestart is how long one IDLE command lasts before it is
	// re-issued (RFC 2177: before the server's 30-minute timeout); 0 means
	// DefaultIdleRestart.
	IdleRestart time.Duration
	// NoIdle turns IDLE off: the sync polls every PollInterval.
	NoIdle bool
	// BatchSize is the number of messages fetched per UID FETCH (per
	// group of pipelined TOP commands over POP3); 0 means
	// DefaultBatchSize.
	BatchSize int
	// MinBackoff and MaxBackoff bound the wait before a reconnect after a
	// transient failure (exponential, with jitter); 0 means the defaults.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds connecting and each IMAP or POP3 command; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxMessageBytes, MaxHeaderBytes and MaxBodyBytes bound what is read
	// of one message; 0 means the defaults.
	MaxMessageBytes, MaxHeaderBytes, MaxBodyBytes int64
	// TLSConfig is used for imaps://, pop3s://, STARTTLS and STLS; nil
	// means the system roots and the URL's host name.
	TLSConfig *tls.Config
	// Dial connects to the server; nil means a net.Dialer with Timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.IdleRestart <= 0 {
		c.IdleRestart = DefaultIdleRestart
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Dial == nil {
		d := &net.Dialer{Timeout: c.Timeout}
		c.Dial = d.DialContext
	}
	return c
}

// endpoint is a parsed Mailbox.URL.
type endpoint struct {
	pop3     bool   // pop3:// or pop3s://
	tls      bool   // imaps://, pop3s://
	host     string // without port
	addr     string // host:port
	user     string
	loopback bool
}

// tlsConfig returns the TLS configuration for the server of ep: a clone of
// o.TLSConfig (or a new one) naming ep's host unless it names a server.
func (ep endpoint) tlsConfig(o *Options) *tls.Config {
	c := &tls.Config{}
	if o.TLSConfig != nil {
		c = o.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = ep.host
	}
	return c
}

// dialEndpoint connects to ep with o.Dial, and completes the TLS handshake
// at once for imaps:// and pop3s://; errors are transient (CauseConnect,
// CauseTLS).
func dialEndpoint(ctx context.Context, ep endpoint, o *Options) (net.Conn, error) {
	raw, err := o.Dial(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, transient(CauseConnect, fmt.Errorf("connect %s: %w", ep.addr, err))
	}
	if !ep.tls {
		return raw, nil
	}
	tc := tls.Client(raw, ep.tlsConfig(o))
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, transient(CauseTLS, fmt.Errorf("TLS with %s: %w", ep.addr, err))
	}
	return tc, nil
}

// parseURL reads an imap://, imaps://, pop3:// or pop3s:// URL.
func parseURL(raw string) (endpoint, error) {
	var e endpoint
	u, err := url.Parse(raw)
	if err != nil {
		return e, fmt.Errorf("bad URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "imaps":
		e.tls = true
	case "imap":
	case "pop3s":
		e.pop3, e.tls = true, true
	case "pop3":
		e.pop3 = true
	default:
		return e, fmt.Errorf("URL %q: scheme must be imap, imaps, pop3 or pop3s", redact(u))
	}
	if u.User != nil {
		if _, set := u.User.Password(); set {
			return e, fmt.Errorf("URL %q carries a password: give it as Mailbox.Password", redact(u))
		}
		e.user = u.User.Username()
	}
	e.host = u.Hostname()
	if e.host == "" {
		return e, fmt.Errorf("URL %q has no host", redact(u))
	}
	port := u.Port()
	if port == "" {
		switch {
		case e.pop3 && e.tls:
			port = "995"
		case e.pop3:
			port = "110"
		case e.tls:
			port = "993"
		default:
			port = "143"
		}
	} else if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return e, fmt.Errorf("URL %q: bad port", redact(u))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return e, fmt.Errorf("URL %q: a path or query is not supported", redact(u))
	}
	e.addr = net.JoinHostPort(e.host, port)
	e.loopback = isLoopback(e.host)
	return e, nil
}

// redact returns the URL without its password, for messages.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return c.String()
}

// isLoopback reports whether host names this machine: localhost, or an
// address in 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
