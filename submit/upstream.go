package submit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// A TLSMode says how the relay secures its connection to the upstream
// server.
type TLSMode int

const (
	// StartTLS connects in plain text and upgrades with STARTTLS before
	// anything else (the submission port, 587). The upstream must offer it.
	StartTLS TLSMode = iota
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS
	// NoTLS never encrypts: for an upstream on the loopback interface or a
	// private link. Credentials are sent over it only to a loopback address.
	NoTLS
)

// String returns "starttls", "tls" or "none".
func (m TLSMode) String() string {
	switch m {
	case StartTLS:
		return "starttls"
	case ImplicitTLS:
		return "tls"
	case NoTLS:
		return "none"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// ParseTLSMode reads the names String returns.
func ParseTLSMode(s string) (TLSMode, error) {
	switch s {
	case "starttls", "":
		return StartTLS, nil
	case "tls":
		return ImplicitTLS, nil
	case "none":
		return NoTLS, nil
	}
	return 0, fmt.Errorf("submit: TLS mode %q: want starttls, tls or none", s)
}

// Upstream is the submission server the relay forwards mail to. The relay
// opens one connection to it per client connection, at the client's first
// MAIL command, and passes MAIL and RCPT through, so the client sees the
// upstream's answer to each.
type Upstream struct {
	// Addr is the server's host:port.
	Addr string
	// TLS is how the connection is secured; StartTLS by default.
	TLS TLSMode
	// TLSConfig configures TLS; nil means the system roots and Addr's
	// host as the server name.
	TLSConfig *tls.Config
	// Username and Password, when Username is set, authenticate the
	// relay (AUTH PLAIN). They are never logged.
	Username, Password string
	// Hello is the name the relay gives in EHLO; "" means the relay's
	// Options.Domain.
	Hello string
	// Timeout bounds connecting and each command; 0 means one minute.
	Timeout time.Duration
	// SubmissionTimeout bounds sending a message's content and waiting for
	// the answer to it; 0 means ten minutes (RFC 5321 §4.5.3.2.6).
	SubmissionTimeout time.Duration
}

// upstreamConn is one open connection to the upstream server.
type upstreamConn struct {
	c    *smtp.Client
	conn net.Conn
	// used is set once a transaction went through, so that a failure of
	// the next MAIL is taken for a connection the server dropped while it
	// sat idle and is tried again on a new one.
	used bool
}

func (u *Upstream) timeout() time.Duration {
	if u.Timeout > 0 {
		return u.Timeout
	}
	return time.Minute
}

func (u *Upstream) submissionTimeout() time.Duration {
	if u.SubmissionTimeout > 0 {
		return u.SubmissionTimeout
	}
	return 10 * time.Minute
}

// dial connects, greets, secures and authenticates a new connection.
func (u *Upstream) dial(ctx context.Context, hello string) (*upstreamConn, error) {
	d := net.Dialer{Timeout: u.timeout()}
	conn, err := d.DialContext(ctx, "tcp", u.Addr)
	if err != nil {
		return nil, fmt.Errorf("submit: upstream %s: %w", u.Addr, err)
	}
	host, _, _ := net.SplitHostPort(u.Addr)
	cfg := u.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	// The greeting and the TLS handshake are bounded by the same deadline.
	conn.SetDeadline(time.Now().Add(u.timeout()))
	var c *smtp.Client
	switch u.TLS {
	case ImplicitTLS:
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("submit: upstream %s: TLS: %w", u.Addr, err)
		}
		conn = tc
		c = smtp.NewClient(conn)
	case NoTLS:
		c = smtp.NewClient(conn)
	default:
		c, err = smtp.NewClientStartTLS(conn, cfg)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("submit: upstream %s: STARTTLS: %w", u.Addr, err)
		}
	}
	conn.SetDeadline(time.Time{})
	c.CommandTimeout = u.timeout()
	c.SubmissionTimeout = u.submissionTimeout()
	if err := c.Hello(hello); err != nil {
		c.Close()
		return nil, fmt.Errorf("submit: upstream %s: EHLO: %w", u.Addr, err)
	}
	if u.Username != "" {
		if _, secure := c.TLSConnectionState(); !secure && !isLoopback(conn.RemoteAddr()) {
			c.Close()
			return nil, fmt.Errorf("submit: upstream %s: refusing to send credentials without TLS to an address that is not loopback", u.Addr)
		}
		if err := c.Auth(sasl.NewPlainClient("", u.Username, u.Password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("submit: upstream %s: AUTH as %q: %w", u.Addr, u.Username, err)
		}
	}
	return &upstreamConn{c: c, conn: conn}, nil
}

// abort drops the connection without ending the message being sent, so the
// upstream server discards it: nothing is delivered without the final dot.
func (uc *upstreamConn) abort() { uc.conn.Close() }

// close ends the connection politely.
func (uc *upstreamConn) close() {
	uc.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := uc.c.Quit(); err != nil {
		uc.c.Close()
	}
}

// isLoopback reports whether a is a loopback address.
func isLoopback(a net.Addr) bool {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case *net.UnixAddr:
		return true
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return false
		}
		ip = net.ParseIP(host)
	}
	return ip != nil && ip.IsLoopback()
}

// upstreamError returns the error to give the client for err, an error of
// the upstream server or of the connection to it: the upstream's own reply
// when it sent one, else a temporary failure (the client retries later).
func upstreamError(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Upstream server connection failed; try again later"}
}
