package submit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

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
// MAIL command, and passes each recipient through, so the client sees the
// upstream's answer to each. Commands are pipelined (RFC 2920) and the
// content sent in one BDAT chunk (RFC 3030) when the server offers them,
// as every current MTA does: MAIL goes with the first RCPT, the content
// with its command, so that a message costs the upstream round trips of
// its recipients and one more.
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

// upstreamConn is one open connection to the upstream server: an SMTP
// client of the commands the relay sends. Commands are buffered (queue)
// and written together (flush); replies are read in order (reply), so that
// commands can be pipelined.
type upstreamConn struct {
	conn net.Conn
	bw   *bufio.Writer
	text *textproto.Reader
	ext  map[string]string // EHLO keywords (upper case) and their parameters
	u    *Upstream
	// used is set once a transaction went through, so that a failure of
	// the next MAIL is taken for a connection the server dropped while it
	// sat idle and is tried again on a new one.
	used bool
	// broken is set once the connection is dropped (abort).
	broken bool
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
	fail := func(step string, err error) (*upstreamConn, error) {
		conn.Close()
		return nil, fmt.Errorf("submit: upstream %s: %s: %w", u.Addr, step, err)
	}
	// The greeting, the TLS handshakes, EHLO and AUTH are bounded by the
	// same deadline.
	conn.SetDeadline(time.Now().Add(u.timeout()))
	if u.TLS == ImplicitTLS {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS", err)
		}
		conn = tc
	}
	c := &upstreamConn{u: u}
	c.setConn(conn)
	if _, err := c.reply(220); err != nil {
		return fail("greeting", err)
	}
	if err := c.hello(hello); err != nil {
		return fail("EHLO", err)
	}
	if u.TLS == StartTLS {
		if _, ok := c.ext["STARTTLS"]; !ok {
			return fail("STARTTLS", errors.New("the server does not offer STARTTLS"))
		}
		if _, err := c.roundTrip(220, "STARTTLS"); err != nil {
			return fail("STARTTLS", err)
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("STARTTLS", err)
		}
		conn = tc
		c.setConn(conn)
		if err := c.hello(hello); err != nil {
			return fail("EHLO", err)
		}
	}
	if u.Username != "" {
		if _, secure := conn.(*tls.Conn); !secure && !isLoopback(conn.RemoteAddr()) {
			conn.Close()
			return nil, fmt.Errorf("submit: upstream %s: refusing to send credentials without TLS to an address that is not loopback", u.Addr)
		}
		if err := c.auth(u.Username, u.Password); err != nil {
			return fail(fmt.Sprintf("AUTH as %q", u.Username), err)
		}
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

func (c *upstreamConn) setConn(conn net.Conn) {
	c.conn = conn
	c.bw = bufio.NewWriterSize(conn, 4096)
	c.text = textproto.NewReader(bufio.NewReaderSize(conn, 4096))
}

// hello sends EHLO (HELO when the server does not know EHLO) and keeps the
// extensions the server offers.
func (c *upstreamConn) hello(name string) error {
	msg, err := c.roundTrip(250, "EHLO "+name)
	var se *smtp.SMTPError
	if errors.As(err, &se) && (se.Code == 500 || se.Code == 502) {
		c.ext = map[string]string{}
		_, err = c.roundTrip(250, "HELO "+name)
		return err
	}
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

// has reports whether the server offers an extension.
func (c *upstreamConn) has(ext string) bool {
	_, ok := c.ext[ext]
	return ok
}

// auth authenticates with AUTH PLAIN (RFC 4954), the initial response in
// the command when it fits the command line.
func (c *upstreamConn) auth(user, password string) error {
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if len(resp) <= 490 {
		_, err := c.roundTrip(235, "AUTH PLAIN "+resp)
		return err
	}
	if _, err := c.roundTrip(334, "AUTH PLAIN"); err != nil {
		return err
	}
	_, err := c.roundTrip(235, resp)
	return err
}

// queue buffers a command line; flush sends what is buffered.
func (c *upstreamConn) queue(line string) {
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
}

func (c *upstreamConn) flush() error { return c.bw.Flush() }

// reply reads the next reply. A reply of another code than want (or, when
// want is one digit, of another class) is an error: the server's
// *smtp.SMTPError, with its enhanced status code. Other errors are the
// connection's.
func (c *upstreamConn) reply(want int) (string, error) {
	_, msg, err := c.text.ReadResponse(want)
	var pe *textproto.Error
	if errors.As(err, &pe) {
		return msg, replyError(pe.Code, pe.Msg)
	}
	return msg, err
}

// roundTrip sends a command and reads its reply, within the command
// timeout.
func (c *upstreamConn) roundTrip(want int, line string) (string, error) {
	c.deadline(c.u.timeout())
	defer c.deadline(0)
	c.queue(line)
	if err := c.flush(); err != nil {
		return "", err
	}
	return c.reply(want)
}

// deadline bounds the connection's reads and writes from now on by d; 0
// lifts the bound.
func (c *upstreamConn) deadline(d time.Duration) {
	if d == 0 {
		c.conn.SetDeadline(time.Time{})
		return
	}
	c.conn.SetDeadline(time.Now().Add(d))
}

// replyError is the *smtp.SMTPError of a reply: its enhanced status code
// (RFC 2034) read from the front of its text, and taken off every line.
func replyError(code int, msg string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, Message: msg}
	first, rest, ok := strings.Cut(msg, " ")
	if !ok {
		return e
	}
	var enh smtp.EnhancedCode
	parts := strings.Split(first, ".")
	if len(parts) != 3 {
		return e
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 {
			return e
		}
		enh[i] = n
	}
	e.EnhancedCode = enh
	e.Message = strings.ReplaceAll(rest, "\n"+first+" ", "\n")
	return e
}

// mailCommand returns the MAIL command for from and o, with the
// parameters c's server offers. The relay's own server takes no others (no
// DSN, DELIVERBY or MT-PRIORITY), and has read from off one command line.
func mailCommand(c *upstreamConn, from string, o *smtp.MailOptions) string {
	var b strings.Builder
	b.Grow(len(from) + 64)
	b.WriteString("MAIL FROM:<")
	b.WriteString(from)
	b.WriteString(">")
	switch {
	case o != nil && o.Body == smtp.BodyBinaryMIME && c.has("BINARYMIME"):
		b.WriteString(" BODY=BINARYMIME")
	case c.has("8BITMIME"):
		b.WriteString(" BODY=8BITMIME")
	}
	if o != nil && o.Size > 0 && c.has("SIZE") {
		b.WriteString(" SIZE=")
		b.WriteString(strconv.FormatInt(o.Size, 10))
	}
	if o != nil && o.RequireTLS {
		b.WriteString(" REQUIRETLS")
	}
	if o != nil && o.UTF8 {
		b.WriteString(" SMTPUTF8")
	}
	return b.String()
}

// mailRcpt sends MAIL and the first RCPT of a transaction, in one write
// when the server offers PIPELINING, and returns the errors of their
// replies: mailErr is MAIL's refusal or the connection's failure (then
// rcptErr is the failure to read the reply to RCPT, if any); rcptErr is
// RCPT's refusal or failure.
func (c *upstreamConn) mailRcpt(mail, rcpt string) (mailErr, rcptErr error) {
	c.deadline(c.u.timeout())
	defer c.deadline(0)
	c.queue(mail)
	if !c.has("PIPELINING") {
		if err := c.flush(); err != nil {
			return err, nil
		}
		if _, err := c.reply(250); err != nil {
			return err, nil
		}
		c.queue(rcpt)
		if err := c.flush(); err != nil {
			return nil, err
		}
		_, err := c.reply(25)
		return nil, err
	}
	c.queue(rcpt)
	if err := c.flush(); err != nil {
		return err, nil
	}
	if _, err := c.reply(250); err != nil {
		if !unusable(err) {
			// The server answers the RCPT that went with a refused MAIL
			// too (503): read it, so that the next reply is the next
			// command's.
			if _, rerr := c.reply(0); rerr != nil && unusable(rerr) {
				return err, rerr
			}
		}
		return err, nil
	}
	_, err := c.reply(25)
	return nil, err
}

// bdatChunk is the most content the relay holds to send in one BDAT
// command; a larger message goes in chunks of this size. bdatRoom is the
// room kept before a chunk for its command line, so that both go in one
// write.
const (
	bdatChunk = 256 << 10
	bdatRoom  = 32
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// sendContent sends a message's content, header (with its separator line)
// and then body (or, when body is nil, what is left to read of br), and
// returns the server's reply to it: in BDAT chunks when the server offers
// CHUNKING — the whole message in one BDAT ... LAST when it is not larger
// than bdatChunk, so that it costs one write and one reply — else
// dot-stuffed after DATA (whose 354 the caller read). Either way bare line
// feeds become CRLF and the content ends with a line break, as the DATA
// encoding has it. A failure to read from the client is returned wrapping
// errClientRead; the connection is then in the middle of a message (the
// caller drops it, so nothing is delivered).
func (c *upstreamConn) sendContent(header, body []byte, br *bufio.Reader) error {
	c.deadline(c.u.submissionTimeout())
	defer c.deadline(0)
	if !c.has("CHUNKING") {
		return c.sendData(header, body, br)
	}
	bp := chunkPool.Get().(*[]byte)
	buf := (*bp)[:bdatRoom]
	defer func() {
		if cap(buf) <= 2*bdatChunk {
			*bp = buf[:0]
			chunkPool.Put(bp)
		}
	}()
	var n crlf
	buf = n.append(buf, header)
	if body != nil {
		buf = n.end(n.append(buf, body))
		return c.bdat(buf, true)
	}
	rp := copyPool.Get().(*[]byte)
	defer copyPool.Put(rp)
	for {
		k, err := br.Read(*rp)
		buf = n.append(buf, (*rp)[:k])
		last := errors.Is(err, io.EOF)
		if err != nil && !last {
			return fmt.Errorf("%w: %w", errClientRead, err)
		}
		if last {
			buf = n.end(buf)
		}
		if last || len(buf)-bdatRoom >= bdatChunk {
			err := c.bdat(buf, last)
			if err != nil && !last {
				// A refused chunk fails the transaction, which the
				// server may still hold open (RFC 3030 §2): drop it.
				c.abort()
			}
			if err != nil || last {
				return err
			}
			buf = buf[:bdatRoom]
		}
	}
}

// sendData sends the content dot-stuffed, ends it, and reads the reply.
func (c *upstreamConn) sendData(header, body []byte, br *bufio.Reader) error {
	dw := textproto.NewWriter(c.bw).DotWriter()
	if _, err := dw.Write(header); err != nil {
		return err
	}
	if body != nil {
		if _, err := dw.Write(body); err != nil {
			return err
		}
	} else {
		rp := copyPool.Get().(*[]byte)
		defer copyPool.Put(rp)
		for {
			k, err := br.Read(*rp)
			if k > 0 {
				if _, err := dw.Write((*rp)[:k]); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%w: %w", errClientRead, err)
			}
		}
	}
	if err := dw.Close(); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	_, err := c.reply(250)
	return err
}

// errClientRead reports a failure reading the message from the client.
var errClientRead = errors.New("submit: reading the message from the client")

// bdat sends one chunk, buf after its first bdatRoom bytes, with its
// command line written into that room, and reads the reply to it.
func (c *upstreamConn) bdat(buf []byte, last bool) error {
	cmd := "BDAT " + strconv.Itoa(len(buf)-bdatRoom)
	if last {
		cmd += " LAST"
	}
	cmd += "\r\n"
	off := bdatRoom - len(cmd)
	copy(buf[off:], cmd)
	if err := c.flush(); err != nil {
		return err
	}
	if _, err := c.conn.Write(buf[off:]); err != nil {
		return err
	}
	_, err := c.reply(250)
	return err
}

// crlf turns bare line feeds into CRLF across the pieces of a message, as
// textproto's DotWriter does for DATA.
type crlf struct {
	cr bool // the last byte appended was a CR
}

// append appends p to dst with every LF not preceded by CR made CRLF.
func (n *crlf) append(dst, p []byte) []byte {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			dst = append(dst, p...)
			n.cr = p[len(p)-1] == '\r'
			return dst
		}
		prevCR := n.cr
		if i > 0 {
			prevCR = p[i-1] == '\r'
		}
		dst = append(dst, p[:i]...)
		if !prevCR {
			dst = append(dst, '\r')
		}
		dst = append(dst, '\n')
		n.cr = false
		p = p[i+1:]
	}
	return dst
}

// end ends dst, a message's content after bdatRoom, with a line break, as
// DotWriter's Close does.
func (n *crlf) end(dst []byte) []byte {
	switch {
	case len(dst) == bdatRoom || dst[len(dst)-1] == '\n':
		return dst
	case n.cr:
		return append(dst, '\n')
	}
	return append(dst, '\r', '\n')
}

// abort drops the connection without ending the message being sent, so the
// upstream server discards it: nothing is delivered without the final dot
// or the last chunk.
func (c *upstreamConn) abort() {
	c.broken = true
	c.conn.Close()
}

// close ends the connection politely.
func (c *upstreamConn) close() {
	c.deadline(5 * time.Second)
	c.queue("QUIT")
	if c.flush() == nil {
		c.reply(221)
	}
	c.conn.Close()
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
