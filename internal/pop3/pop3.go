// Package pop3 is a POP3 client (RFC 1939) with the extensions a mailbox
// sync needs: CAPA and extended response codes (RFC 2449, with
// PIPELINING), STLS (RFC 2595) and AUTH with any SASL mechanism (RFC 5034:
// PLAIN, or XOAUTH2 for Gmail and Microsoft 365).
//
// Every response is read bounded: a status line is at most MaxLineBytes,
// a multi-line response keeps at most the bytes its caller asks for and
// consumes at most Client.MaxResponseBytes, and every command has a
// deadline. A server that breaks the protocol gets an error wrapping
// ErrProtocol, never a panic; after a protocol or network error the
// Client is unusable (every later call returns that error) and should be
// closed. A -ERR answer is an *Error, after which the session goes on.
package pop3

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
)

// MaxLineBytes bounds a status line or a listing line (RFC 1939 allows
// 512 octets; servers add long texts to -ERR).
const MaxLineBytes = 4096

// DefaultMaxResponseBytes is the default of Client.MaxResponseBytes.
const DefaultMaxResponseBytes = 128 << 20

// ErrProtocol is wrapped by the errors of a response that is not POP3: a
// line that is neither +OK nor -ERR, a listing line that does not parse, a
// response longer than its bound. The connection is unusable after it.
var ErrProtocol = errors.New("pop3: protocol error")

// An Error is a -ERR answer: the server refused a command.
type Error struct {
	// Command is the command refused, without its arguments ("PASS",
	// "UIDL", "greeting" for a server that refuses the connection).
	Command string
	// Code is the extended response code (RFC 2449, RFC 3206) without
	// brackets — "IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH" —
	// or "" when the server gave none.
	Code string
	// Text is the server's text after the code, made printable and at
	// most 300 bytes.
	Text string
}

// Error returns "pop3: COMMAND refused: -ERR [CODE] text".
func (e *Error) Error() string {
	s := "pop3: " + e.Command + " refused: -ERR"
	if e.Code != "" {
		s += " [" + e.Code + "]"
	}
	if e.Text != "" {
		s += " " + e.Text
	}
	return s
}

// Temporary reports whether the server says the refusal will not last: the
// maildrop is locked by another session ([IN-USE]), logins come too often
// ([LOGIN-DELAY]) or the server has a passing problem ([SYS/TEMP]).
func (e *Error) Temporary() bool {
	switch strings.ToUpper(e.Code) {
	case "IN-USE", "LOGIN-DELAY", "SYS/TEMP":
		return true
	}
	return false
}

// Caps are a server's capabilities as CAPA lists them: the name in upper
// case, its arguments as sent.
type Caps map[string][]string

// Has reports whether the server offers the capability name.
func (c Caps) Has(name string) bool {
	_, ok := c[strings.ToUpper(name)]
	return ok
}

// SASL reports whether the server lists the SASL mechanism mech.
func (c Caps) SASL(mech string) bool {
	for _, m := range c["SASL"] {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// A Client is one POP3 session. It is not safe for concurrent use.
type Client struct {
	// MaxResponseBytes bounds the bytes one multi-line response may take
	// (the bytes read, not only those kept): longer, the response is cut
	// with an error wrapping ErrProtocol and the Client is unusable. 0
	// means DefaultMaxResponseBytes.
	MaxResponseBytes int64

	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	greet   string
	tls     bool
	broken  error
}

// NewClient starts a session on conn: it reads the server's greeting. A
// server that refuses the connection (-ERR greeting) returns an *Error.
// timeout bounds every command (the wait for each line of its response);
// 0 means none.
func NewClient(conn net.Conn, timeout time.Duration) (*Client, error) {
	c := &Client{conn: conn, timeout: timeout}
	_, c.tls = conn.(*tls.Conn)
	c.reset()
	c.deadline()
	text, err := c.status("greeting")
	if err != nil {
		return nil, err
	}
	c.greet = text
	return c, nil
}

func (c *Client) reset() {
	c.r = bufio.NewReaderSize(c.conn, 64<<10)
	c.w = bufio.NewWriterSize(c.conn, 4<<10)
}

// Greeting returns the text of the server's +OK greeting.
func (c *Client) Greeting() string { return c.greet }

// TLS reports whether the session is encrypted (a tls.Conn given to
// NewClient, or StartTLS).
func (c *Client) TLS() bool { return c.tls }

// Close closes the connection without QUIT: messages marked with DELE
// stay on the server.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) deadline() {
	if c.timeout > 0 {
		c.conn.SetDeadline(time.Now().Add(c.timeout))
	}
}

// fail marks the Client unusable after err (a network or protocol error).
func (c *Client) fail(cmd string, err error) error {
	if c.broken != nil {
		return c.broken
	}
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	c.broken = fmt.Errorf("pop3: %s: %w", cmd, err)
	return c.broken
}

// send writes one command line (without CRLF) and flushes.
func (c *Client) send(line string) error {
	if c.broken != nil {
		return c.broken
	}
	c.deadline()
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return c.fail(verb(line), err)
	}
	return nil
}

func verb(line string) string {
	v, _, _ := strings.Cut(line, " ")
	return strings.ToUpper(v)
}

// readLine reads one line of at most MaxLineBytes, without its line end.
func (c *Client) readLine(cmd string) ([]byte, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > MaxLineBytes {
		return nil, c.fail(cmd, fmt.Errorf("%w: a line longer than %d bytes", ErrProtocol, MaxLineBytes))
	}
	if err != nil {
		return nil, c.fail(cmd, err)
	}
	return trimEOL(line), nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// status reads a status line: the text after +OK, an *Error for -ERR, an
// error wrapping ErrProtocol for anything else.
func (c *Client) status(cmd string) (string, error) {
	line, err := c.readLine(cmd)
	if err != nil {
		return "", err
	}
	ok, code, text, err := ParseStatus(line)
	if err != nil {
		return "", c.fail(cmd, err)
	}
	if !ok {
		return "", &Error{Command: cmd, Code: code, Text: text}
	}
	return text, nil
}

// ParseStatus parses a status line (without its line end): "+OK text" or
// "-ERR [CODE] text" (RFC 2449 response codes). Anything else is an error
// wrapping ErrProtocol. The texts are made printable and bounded.
func ParseStatus(line []byte) (ok bool, code, text string, err error) {
	var rest []byte
	switch {
	case hasPrefixFold(line, "+OK"):
		ok, rest = true, line[3:]
	case hasPrefixFold(line, "-ERR"):
		rest = line[4:]
	default:
		return false, "", "", fmt.Errorf("%w: not a status line: %q", ErrProtocol, Sanitize(string(line)))
	}
	if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
		return false, "", "", fmt.Errorf("%w: not a status line: %q", ErrProtocol, Sanitize(string(line)))
	}
	rest = bytes.TrimLeft(rest, " \t")
	if !ok && len(rest) > 0 && rest[0] == '[' {
		if end := bytes.IndexByte(rest, ']'); end > 0 && end <= 64 {
			code = Sanitize(string(rest[1:end]))
			rest = bytes.TrimLeft(rest[end+1:], " \t")
		}
	}
	return ok, code, Sanitize(string(rest)), nil
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && strings.EqualFold(string(b[:len(p)]), p)
}

// cmd sends a command and reads its status line.
func (c *Client) cmd(line string) (string, error) {
	if err := c.send(line); err != nil {
		return "", err
	}
	return c.status(verb(line))
}

// multi reads the body of a multi-line response after its +OK: the lines
// up to the terminating ".", dot-unstuffed, line ends kept as sent. At most
// keep bytes are kept (appended to dst); the rest is read and dropped, so
// the session stays in step. More than MaxResponseBytes read ends the
// session with an error wrapping ErrProtocol.
func (c *Client) multi(cmd string, keep int64, dst []byte) ([]byte, error) {
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	var read int64
	atStart := true
	last := time.Now()
	for {
		if c.timeout > 0 {
			if now := time.Now(); now.Sub(last) > c.timeout/4 {
				c.conn.SetDeadline(now.Add(c.timeout))
				last = now
			}
		}
		piece, err := c.r.ReadSlice('\n')
		complete := err == nil
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil
		}
		if err != nil {
			return dst, c.fail(cmd, err)
		}
		read += int64(len(piece))
		if read > limit {
			return dst, c.fail(cmd, fmt.Errorf("%w: a response longer than %d bytes", ErrProtocol, limit))
		}
		if atStart && len(piece) > 0 && piece[0] == '.' {
			if complete && len(trimEOL(piece)) == 1 {
				return dst, nil
			}
			piece = piece[1:]
		}
		atStart = complete
		if room := keep - int64(len(dst)); room > 0 {
			dst = append(dst, piece[:min(int64(len(piece)), room)]...)
		}
	}
}

// Capa asks for the server's capabilities (RFC 2449). A server without
// CAPA (RFC 1939 only) answers -ERR: an *Error.
func (c *Client) Capa() (Caps, error) {
	if _, err := c.cmd("CAPA"); err != nil {
		return nil, err
	}
	caps := Caps{}
	err := c.lines("CAPA", func(line []byte) error {
		f := strings.Fields(string(line))
		if len(f) > 0 && len(caps) < 256 {
			caps[strings.ToUpper(Sanitize(f[0]))] = f[1:min(len(f), 65)]
		}
		return nil
	})
	return caps, err
}

// lines reads a multi-line response of short lines (CAPA, UIDL, LIST),
// each given to f without its line end.
func (c *Client) lines(cmd string, f func(line []byte) error) error {
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	var read int64
	for n := 0; ; n++ {
		if n%1024 == 0 {
			c.deadline()
		}
		line, err := c.readLine(cmd)
		if err != nil {
			return err
		}
		if read += int64(len(line)) + 2; read > limit {
			return c.fail(cmd, fmt.Errorf("%w: a response longer than %d bytes", ErrProtocol, limit))
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return nil
			}
			line = line[1:]
		}
		if err := f(line); err != nil {
			return c.fail(cmd, err)
		}
	}
}

// StartTLS upgrades the session to TLS (STLS, RFC 2595) with config, which
// must name the server (ServerName) unless it skips verification. The
// capabilities must be asked again afterwards.
func (c *Client) StartTLS(config *tls.Config) error {
	if _, err := c.cmd("STLS"); err != nil {
		return err
	}
	if c.r.Buffered() > 0 {
		// Bytes sent before the handshake could be injected by anyone on
		// the path (the STARTTLS command injection of CVE-2011-0411).
		return c.fail("STLS", fmt.Errorf("%w: data after the +OK to STLS", ErrProtocol))
	}
	tc := tls.Client(c.conn, config)
	c.deadline()
	if err := tc.Handshake(); err != nil {
		return c.fail("STLS", err)
	}
	c.conn = tc
	c.tls = true
	c.reset()
	return nil
}

// Login authenticates with USER and PASS.
func (c *Client) Login(user, password string) error {
	if strings.ContainsAny(user, "\r\n") || strings.ContainsAny(password, "\r\n") {
		return errors.New("pop3: a user name or password with a line break")
	}
	if _, err := c.cmd("USER " + user); err != nil {
		return err
	}
	_, err := c.cmd("PASS " + password)
	return err
}

// maxAuthLine is the longest AUTH command line that may carry the initial
// response (RFC 5034, section 4: 255 octets); a longer initial response is
// sent after the server's empty challenge.
const maxAuthLine = 255

// Auth authenticates with a SASL mechanism (RFC 5034). A mechanism whose
// initial response fits the 255-octet command line sends it there (an empty
// one as "="), else after the server's first, empty challenge. A refusal
// is an *Error.
func (c *Client) Auth(sc sasl.Client) error {
	mech, ir, err := sc.Start()
	if err != nil {
		return fmt.Errorf("pop3: AUTH: %w", err)
	}
	line := "AUTH " + mech
	pending := ir
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		if len(line)+1+len(enc) <= maxAuthLine {
			line += " " + enc
			pending = nil
		}
	}
	if err := c.send(line); err != nil {
		return err
	}
	for range 16 {
		l, err := c.readLine("AUTH")
		if err != nil {
			return err
		}
		if len(l) == 0 || l[0] != '+' || (len(l) > 1 && l[1] != ' ') {
			_, serr := c.statusOf("AUTH", l)
			return serr
		}
		// A challenge: "+ base64" (or "+" alone).
		chal, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(l[1:])))
		var resp []byte
		switch {
		case derr != nil:
			c.send("*")
			c.status("AUTH")
			return c.fail("AUTH", fmt.Errorf("%w: a challenge that is not base64", ErrProtocol))
		case pending != nil && len(chal) == 0:
			resp, pending = pending, nil
		default:
			if resp, err = sc.Next(chal); err != nil {
				c.send("*")
				_, serr := c.status("AUTH")
				if serr == nil {
					serr = err
				}
				return serr
			}
		}
		if err := c.send(base64.StdEncoding.EncodeToString(resp)); err != nil {
			return err
		}
	}
	return c.fail("AUTH", fmt.Errorf("%w: more than 16 challenges", ErrProtocol))
}

// statusOf interprets a line already read as a status line.
func (c *Client) statusOf(cmd string, line []byte) (string, error) {
	ok, code, text, err := ParseStatus(line)
	if err != nil {
		return "", c.fail(cmd, err)
	}
	if !ok {
		return "", &Error{Command: cmd, Code: code, Text: text}
	}
	return text, nil
}

// Noop does nothing (NOOP): it proves the session works.
func (c *Client) Noop() error {
	_, err := c.cmd("NOOP")
	return err
}

// Quit ends the session (QUIT): the server removes the messages marked
// with DELE and answers +OK, or -ERR when it could not (an *Error: some
// may be left). The connection is closed in every case.
func (c *Client) Quit() error {
	defer c.conn.Close()
	_, err := c.cmd("QUIT")
	return err
}

// Sanitize bounds a server's text for an error or a status (300 bytes)
// and replaces control characters and invalid UTF-8.
func Sanitize(s string) string {
	if len(s) > 1200 {
		s = s[:1200]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= 300 {
		return s
	}
	cut := 300
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
