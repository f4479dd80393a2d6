package submit

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// backend makes a session per client connection.
type backend struct{ r *Relay }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{r: b.r, conn: c}, nil
}

// A session is one client connection, with the upstream connection it
// opened at its first MAIL command.
type session struct {
	r     *Relay
	conn  *smtp.Conn
	user  *User
	fails int

	up   *upstreamConn
	inTx bool // an upstream transaction is open: MAIL sent, no final reply yet
}

// canAuth reports whether the connection may authenticate: it runs over
// TLS, or comes from the loopback interface.
func (s *session) canAuth() bool {
	if _, ok := s.conn.TLSConnectionState(); ok {
		return true
	}
	return isLoopback(s.conn.Conn().RemoteAddr())
}

// AuthMechanisms implements smtp.AuthSession: PLAIN, offered only where
// the password cannot be read on the way.
func (s *session) AuthMechanisms() []string {
	if s.canAuth() {
		return []string{sasl.Plain}
	}
	return nil
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.canAuth() {
		return nil, errEncryptFirst
	}
	if s.fails >= MaxAuthFailures {
		s.hangUp()
		return nil, errTooManyAuth
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			s.fails++
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authorization identity must be the user's own"}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u, err := s.r.o.Auth.Authenticate(ctx, username, password)
		switch {
		case errors.Is(err, ErrBadCredentials):
			s.fails++
			s.r.log.Warn("submit: authentication failed", "user", truncate(username, 100), "remote", s.conn.Conn().RemoteAddr().String(), "failures", s.fails)
			if s.fails >= MaxAuthFailures {
				s.hangUp()
				return errTooManyAuth
			}
			return smtp.ErrAuthFailed
		case err != nil:
			s.r.log.Error("submit: authenticator failed", "user", truncate(username, 100), "err", err)
			return errAuthTemporary
		}
		s.user = &u
		return nil
	}), nil
}

// hangUp makes the connection end once the reply being prepared is
// written.
func (s *session) hangUp() {
	c := s.conn.Conn()
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitConn); ok {
		lc.hangUp()
	}
}

// Mail implements smtp.Session: it checks the sender and opens the upstream
// transaction.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.user == nil {
		return errAuthRequired
	}
	if !s.r.enter() {
		return errShuttingDown
	}
	s.r.leave()
	if !s.user.MaySend(from) {
		return senderRefused(s.user.Name, from)
	}
	var o *smtp.MailOptions
	if opts != nil {
		c := *opts
		c.Auth = nil
		o = &c
	}
	for try := 0; ; try++ {
		if s.up == nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.r.o.Upstream.timeout())
			up, err := s.r.o.Upstream.dial(ctx, s.r.hello())
			cancel()
			if err != nil {
				s.r.log.Error("submit: upstream unavailable", "err", err)
				return errNoUpstream
			}
			s.up = up
		}
		err := s.up.c.Mail(from, o)
		if err == nil {
			s.inTx = true
			return nil
		}
		// A connection that sat idle since its last message may have been
		// dropped by the server: try once more on a new one.
		reused := s.up.used
		if !s.upstreamFailed(err) || !reused || try > 0 {
			return upstreamError(err)
		}
	}
}

// upstreamFailed drops the upstream connection when err means it is no
// longer usable (an I/O error, or the server's 421); it reports whether it
// did.
func (s *session) upstreamFailed(err error) bool {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code != 421 {
		return false
	}
	if s.up != nil {
		s.up.abort()
		s.up = nil
	}
	s.inTx = false
	return true
}

// Rcpt implements smtp.Session: the recipient is passed upstream, and the
// client gets the upstream's answer.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.up == nil || !s.inTx {
		return errNoUpstream
	}
	if err := s.up.c.Rcpt(to, opts); err != nil {
		s.upstreamFailed(err)
		return upstreamError(err)
	}
	return nil
}

// Reset implements smtp.Session: an upstream transaction left open is
// aborted.
func (s *session) Reset() {
	if s.up != nil && s.inTx {
		if err := s.up.c.Reset(); err != nil {
			s.upstreamFailed(err)
		}
		s.inTx = false
	}
}

// Logout implements smtp.Session.
func (s *session) Logout() error {
	if s.up != nil {
		s.up.close()
		s.up = nil
	}
	return nil
}

// storeTimeout bounds the store work of one message before it is relayed,
// and again after.
const storeTimeout = time.Minute

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}
var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Data implements smtp.Session: it decides what to do with the message,
// tracks it (with a pending row), relays it, and commits or rolls back.
func (s *session) Data(r io.Reader) error {
	if s.up == nil || !s.inTx {
		return errNoUpstream
	}
	if !s.r.enter() {
		return errShuttingDown
	}
	defer s.r.leave()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	p, err := s.r.prepare(ctx, s.user, br)
	if p != nil && p.claimed != "" {
		defer s.r.unclaim(p.claimed)
	}
	if err != nil {
		return err // the server calls Reset, which aborts the upstream transaction
	}
	var attempt string
	var t correlate.Tracked
	if p.track {
		var existing bool
		attempt, t, existing, err = s.r.track(ctx, p, s.user.Name)
		if err != nil {
			s.r.log.Error("submit: tracking failed; message not sent", "user", s.user.Name, "message_id", p.id, "err", err)
			return errTrackFailed
		}
		p.retry = existing
	}
	err = s.send(p, br)
	// The commit or rollback gets time of its own: sending may have taken
	// most of ctx's.
	fctx, fcancel := context.WithTimeout(context.Background(), storeTimeout)
	defer fcancel()
	if err != nil {
		if attempt != "" {
			s.r.finish(fctx, attempt, true)
		}
		s.r.log.Warn("submit: not relayed", "user", s.user.Name, "message_id", p.id, "err", err)
		return err
	}
	if attempt != "" {
		s.r.finish(fctx, attempt, false)
	}
	attrs := []any{"user", s.user.Name, "message_id", p.id}
	switch {
	case p.retry:
		attrs = append(attrs, "retry", true, "record", p.record.String(), "token", p.token)
	case p.track:
		attrs = append(attrs, "tracked", t.ID, "record", p.record.String(), "method", p.method.String(), "token", p.token)
	default:
		attrs = append(attrs, "untracked", p.reason)
	}
	s.r.log.Info("submit: relayed", attrs...)
	return nil
}

// send relays the message: the planned header, then the body, from the
// plan or straight from the client. A failure reading from the client
// aborts the upstream transaction without ending the message, so nothing
// is delivered.
func (s *session) send(p *plan, br *bufio.Reader) error {
	up := s.up
	wc, err := up.c.Data()
	if err != nil {
		// A refused DATA leaves the transaction to Reset.
		s.upstreamFailed(err)
		return upstreamError(err)
	}
	up.conn.SetWriteDeadline(time.Now().Add(s.r.o.Upstream.submissionTimeout()))
	werr := func(err error) error {
		s.upstreamFailed(err)
		return upstreamError(err)
	}
	if _, err := wc.Write(p.header); err != nil {
		return werr(err)
	}
	if p.body != nil {
		if _, err := wc.Write(p.body); err != nil {
			return werr(err)
		}
	} else {
		bp := copyPool.Get().(*[]byte)
		defer copyPool.Put(bp)
		buf := *bp
		for {
			n, rerr := br.Read(buf)
			if n > 0 {
				if _, err := wc.Write(buf[:n]); err != nil {
					return werr(err)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				up.abort()
				s.up, s.inTx = nil, false
				return readError(rerr)
			}
		}
	}
	_, err = wc.CloseWithResponse()
	s.inTx = false
	if err != nil {
		s.upstreamFailed(err)
		return upstreamError(err)
	}
	up.conn.SetWriteDeadline(time.Time{})
	up.used = true
	return nil
}

// hello is the name the relay gives the upstream server.
func (r *Relay) hello() string {
	if r.o.Upstream.Hello != "" {
		return r.o.Upstream.Hello
	}
	return r.o.Domain
}
