package submit

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"sync"
	"sync/atomic"
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
//
// go-smtp calls a session's methods one at a time, except Logout, which a
// server that is closing calls from another goroutine: mu is held by every
// method that uses the upstream connection, and a Logout that finds it held
// leaves the connection to be closed by the method holding it.
type session struct {
	r     *Relay
	conn  *smtp.Conn
	user  *User
	fails int

	mu   sync.Mutex
	up   *upstreamConn
	inTx bool // an upstream transaction is open: MAIL accepted, no final reply yet
	// pending delivers the upstream's answer to MAIL, sent while the
	// client goes on to RCPT; mailErr keeps a refusal for every RCPT.
	pending chan mailResult
	mailErr error
	gone    atomic.Bool // Logout ran while mu was held
}

// mailResult is the outcome of MAIL upstream: the connection (nil when it
// was lost) and the upstream's refusal or the failure to reach it.
type mailResult struct {
	up  *upstreamConn
	err error
}

// lock takes mu; unlock releases it, first closing the upstream connection
// when Logout ran meanwhile.
func (s *session) lock() { s.mu.Lock() }

func (s *session) unlock() {
	if s.gone.Load() {
		s.await()
		if s.up != nil {
			s.up.abort()
			s.up = nil
		}
	}
	s.mu.Unlock()
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

// Mail implements smtp.Session: it checks the sender, and sends MAIL
// upstream (connecting first when needed) without waiting for the answer,
// which the client gets at its first RCPT: the two round trips overlap.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.user == nil {
		return errAuthRequired
	}
	if s.r.isClosing() {
		return errShuttingDown
	}
	if !s.user.MaySend(from) {
		return senderRefused(s.user.Name, from)
	}
	var o *smtp.MailOptions
	if opts != nil {
		c := *opts
		c.Auth = nil
		o = &c
	}
	s.lock()
	defer s.unlock()
	s.await()
	up := s.up
	s.up, s.inTx, s.mailErr = nil, true, nil
	ch := make(chan mailResult, 1)
	s.pending = ch
	go func() { ch <- s.r.mail(up, from, o) }()
	return nil
}

// mail sends MAIL on up, or on a new connection when up is nil.
func (r *Relay) mail(up *upstreamConn, from string, o *smtp.MailOptions) mailResult {
	for try := 0; ; try++ {
		if up == nil {
			ctx, cancel := context.WithTimeout(context.Background(), r.o.Upstream.timeout())
			var err error
			up, err = r.o.Upstream.dial(ctx, r.hello())
			cancel()
			if err != nil {
				r.log.Error("submit: upstream unavailable", "err", err)
				return mailResult{err: errNoUpstream}
			}
		}
		if err := extensionsFor(up, o); err != nil {
			return mailResult{up: up, err: err}
		}
		err := up.c.Mail(from, o)
		if err == nil {
			return mailResult{up: up}
		}
		if !unusable(err) {
			return mailResult{up: up, err: err} // refused; the connection is fine
		}
		// A connection that sat idle since its last message may have been
		// dropped by the server: try once more on a new one.
		reused := up.used
		up.abort()
		up = nil
		if !reused || try > 0 {
			return mailResult{err: upstreamError(err)}
		}
	}
}

// extensionsFor refuses a message that asks for what the upstream does not
// offer (the relay advertises SMTPUTF8 before it knows its upstream), with
// a reply of its own rather than the client library's bare error.
func extensionsFor(up *upstreamConn, o *smtp.MailOptions) error {
	if o == nil {
		return nil
	}
	if ok, _ := up.c.Extension("SMTPUTF8"); o.UTF8 && !ok {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7}, Message: "The upstream server does not take internationalized addresses (SMTPUTF8)"}
	}
	if ok, _ := up.c.Extension("REQUIRETLS"); o.RequireTLS && !ok {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 30}, Message: "The upstream server does not offer REQUIRETLS"}
	}
	return nil
}

// unusable reports whether err leaves the upstream connection unusable: an
// I/O error, or the server's 421 (it is closing the connection).
func unusable(err error) bool {
	var se *smtp.SMTPError
	return !errors.As(err, &se) || se.Code == 421
}

// await collects the answer to a MAIL sent upstream; it returns the
// refusal, if any. Called with mu held.
func (s *session) await() error {
	if s.pending != nil {
		res := <-s.pending
		s.pending = nil
		s.up, s.mailErr = res.up, res.err
		if res.err != nil {
			s.inTx = false
		}
	}
	return s.mailErr
}

// drop closes the upstream connection after err when err makes it
// unusable; it reports whether it did. Called with mu held.
func (s *session) drop(err error) bool {
	if !unusable(err) {
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
// client gets the upstream's answer (or its answer to MAIL, when it refused
// that).
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	s.lock()
	defer s.unlock()
	if err := s.await(); err != nil {
		return upstreamError(err)
	}
	if s.up == nil || !s.inTx {
		return errNoUpstream
	}
	if err := s.up.c.Rcpt(to, opts); err != nil {
		s.drop(err)
		return upstreamError(err)
	}
	return nil
}

// Reset implements smtp.Session: an upstream transaction left open is
// aborted.
func (s *session) Reset() {
	s.lock()
	defer s.unlock()
	s.await()
	if s.up != nil && s.inTx {
		if err := s.up.c.Reset(); err != nil {
			s.drop(err)
		}
	}
	s.inTx, s.mailErr = false, nil
}

// Logout implements smtp.Session.
func (s *session) Logout() error {
	if !s.mu.TryLock() {
		// A method is using the connection (the server is closing):
		// it closes the upstream connection when it is done.
		s.gone.Store(true)
		return nil
	}
	defer s.mu.Unlock()
	s.await()
	if s.up != nil {
		s.up.close()
		s.up = nil
	}
	return nil
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}
var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// storeTimeout bounds the store work of one message before it is relayed,
// and again after.
const storeTimeout = time.Minute

// dataResult is the upstream's answer to DATA.
type dataResult struct {
	wc  *smtp.DataCommand
	err error
}

// Data implements smtp.Session: it decides what to do with the message,
// tracks it (with a pending row), relays it, and commits or rolls back.
// DATA goes upstream while the relay reads the header and tracks, so that
// round trip overlaps them.
func (s *session) Data(r io.Reader) error {
	s.lock()
	defer s.unlock()
	if err := s.await(); err != nil {
		return upstreamError(err)
	}
	if s.up == nil || !s.inTx {
		return errNoUpstream
	}
	if !s.r.enter() {
		return errShuttingDown
	}
	defer s.r.leave()
	up := s.up
	dch := make(chan dataResult, 1)
	go func() {
		wc, err := up.c.Data()
		dch <- dataResult{wc, err}
	}()
	// upstreamData waits for the upstream's answer to DATA; abandon makes
	// sure nothing the relay decided against is delivered: once the
	// upstream said 354 the only way out is to drop the connection.
	var dres *dataResult
	upstreamData := func() dataResult {
		if dres == nil {
			d := <-dch
			dres = &d
		}
		return *dres
	}
	abandon := func() {
		d := upstreamData()
		if d.err == nil {
			s.up.abort()
			s.up, s.inTx = nil, false
		} else {
			s.drop(d.err)
		}
	}

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
		abandon()
		return err
	}
	var attempt string
	var t correlate.Tracked
	if p.track {
		var existing bool
		attempt, t, existing, err = s.r.track(ctx, p, s.user.Name)
		if err != nil {
			s.r.log.Error("submit: tracking failed; message not sent", "user", s.user.Name, "message_id", p.id, "err", err)
			abandon()
			return errTrackFailed
		}
		p.retry = existing
	}
	err = s.send(p, br, upstreamData())
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

// send relays the message once the upstream answered DATA (d): the
// planned header, then the body, from the plan or straight from the
// client. A failure reading from the client aborts the upstream
// transaction without ending the message, so nothing is delivered.
func (s *session) send(p *plan, br *bufio.Reader, d dataResult) error {
	up := s.up
	if d.err != nil {
		// A refused DATA leaves the transaction to Reset.
		s.drop(d.err)
		return upstreamError(d.err)
	}
	wc := d.wc
	up.conn.SetWriteDeadline(time.Now().Add(s.r.o.Upstream.submissionTimeout()))
	werr := func(err error) error {
		up.abort()
		s.up, s.inTx = nil, false
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
	_, err := wc.CloseWithResponse()
	s.inTx = false
	if err != nil {
		s.drop(err)
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
