package submit

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
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

	mu sync.Mutex
	up *upstreamConn
	// dialing delivers a new upstream connection, dialed while the client
	// goes on from MAIL to RCPT.
	dialing chan dialResult
	// The transaction: the client's MAIL (from, mopts) is sent upstream
	// with its first RCPT (then mailSent is set); mailErr keeps the
	// upstream's refusal of it, or the failure to reach the upstream, for
	// every RCPT. inTx: a transaction is open, no final reply yet.
	inTx     bool
	from     string
	mopts    *smtp.MailOptions
	mailSent bool
	mailErr  error
	gone     atomic.Bool // Logout ran while mu was held
}

// dialResult is a new upstream connection, or the reply for a failure to
// reach the upstream.
type dialResult struct {
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
	if lc := s.limitConn(); lc != nil {
		lc.hangUp()
	}
}

// limitConn returns the relay's connection under the session, nil when
// there is none.
func (s *session) limitConn() *limitConn {
	c := s.conn.Conn()
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*limitConn)
	return lc
}

// leaveAfterReply counts the message out once the connection has written
// its reply (at once when the connection is not one of the relay's).
func (s *session) leaveAfterReply() {
	if lc := s.limitConn(); lc != nil {
		lc.afterReply(s.r.leave)
		return
	}
	s.r.leave()
}

// Mail implements smtp.Session: it checks the sender and opens the
// upstream transaction. MAIL goes upstream with the first RCPT (pipelined)
// and the client gets the upstream's answer to it there; a new upstream
// connection is dialed meanwhile.
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
	s.inTx, s.from, s.mopts, s.mailSent, s.mailErr = true, from, o, false, nil
	if s.up == nil {
		ch := make(chan dialResult, 1)
		s.dialing = ch
		go func() { ch <- s.r.dialUpstream() }()
	}
	return nil
}

// dialUpstream opens a new upstream connection; its error is the reply
// for the client.
func (r *Relay) dialUpstream() dialResult {
	ctx, cancel := context.WithTimeout(context.Background(), r.o.Upstream.timeout())
	defer cancel()
	up, err := r.o.Upstream.dial(ctx, r.hello())
	if err != nil {
		r.log.Error("submit: upstream unavailable", "err", err)
		return dialResult{err: errNoUpstream}
	}
	return dialResult{up: up}
}

// extensionsFor refuses a message that asks for what the upstream does not
// offer (the relay advertises SMTPUTF8 before it knows its upstream), with
// a reply of its own.
func extensionsFor(up *upstreamConn, o *smtp.MailOptions) error {
	if o == nil {
		return nil
	}
	if o.UTF8 && !up.has("SMTPUTF8") {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7}, Message: "The upstream server does not take internationalized addresses (SMTPUTF8)"}
	}
	if o.RequireTLS && !up.has("REQUIRETLS") {
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

// await collects the connection being dialed; it returns the refusal of
// MAIL or the failure to reach the upstream, if any. Called with mu held.
func (s *session) await() error {
	if s.dialing != nil {
		res := <-s.dialing
		s.dialing = nil
		s.up = res.up
		if res.err != nil {
			s.inTx, s.mailErr = false, res.err
		}
	}
	return s.mailErr
}

// drop closes the upstream connection after err when err makes it
// unusable (or the connection was aborted); it reports whether it did.
// Called with mu held.
func (s *session) drop(err error) bool {
	if !unusable(err) && (s.up == nil || !s.up.broken) {
		return false
	}
	if s.up != nil {
		s.up.abort()
		s.up = nil
	}
	s.inTx = false
	return true
}

// Rcpt implements smtp.Session: the recipient is passed upstream (with
// MAIL, for the first), and the client gets the upstream's answer (or its
// answer to MAIL, when it refused that).
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	// opts carries nothing: the relay's server takes no RCPT parameters
	// (its DSN is off, so go-smtp refuses NOTIFY and ORCPT).
	s.lock()
	defer s.unlock()
	if err := s.await(); err != nil {
		return upstreamError(err)
	}
	if s.up == nil || !s.inTx {
		return errNoUpstream
	}
	if strings.ContainsAny(to, "\r\n") {
		return &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Line break in the address"}
	}
	rcpt := "RCPT TO:<" + to + ">"
	if s.mailSent {
		if _, err := s.up.roundTrip(25, rcpt); err != nil {
			s.drop(err)
			return upstreamError(err)
		}
		return nil
	}
	for try := 0; ; try++ {
		if err := extensionsFor(s.up, s.mopts); err != nil {
			s.inTx, s.mailErr = false, err
			return err
		}
		mailErr, rcptErr := s.up.mailRcpt(mailCommand(s.up, s.from, s.mopts), rcpt)
		switch {
		case mailErr == nil:
			s.mailSent = true
			if rcptErr != nil {
				s.drop(rcptErr)
				return upstreamError(rcptErr)
			}
			return nil
		case !unusable(mailErr):
			// Refused; the connection is fine, unless reading the reply
			// to the RCPT that went with MAIL failed.
			if rcptErr != nil {
				s.drop(rcptErr)
			}
			s.inTx, s.mailErr = false, mailErr
			return upstreamError(mailErr)
		}
		// A connection that sat idle since its last message may have been
		// dropped by the server: try once more on a new one.
		reused := s.up.used
		s.up.abort()
		s.up = nil
		if !reused || try > 0 {
			s.inTx, s.mailErr = false, upstreamError(mailErr)
			return s.mailErr
		}
		res := s.r.dialUpstream()
		if res.err != nil {
			s.inTx, s.mailErr = false, res.err
			return res.err
		}
		s.up = res.up
	}
}

// Reset implements smtp.Session: an upstream transaction left open is
// aborted (one whose MAIL has not gone upstream needs nothing).
func (s *session) Reset() {
	s.lock()
	defer s.unlock()
	s.await()
	if s.up != nil && s.inTx && s.mailSent {
		if _, err := s.up.roundTrip(250, "RSET"); err != nil {
			s.drop(err)
		}
	}
	s.inTx, s.mailSent, s.mailErr = false, false, nil
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

// Data implements smtp.Session: it decides what to do with the message,
// tracks it (with a pending row), relays it, and commits or rolls back.
// An upstream that offers CHUNKING gets the message in one BDAT once it is
// tracked; to one that does not, DATA goes at once and its 354 is read
// once the message is tracked, so that round trip overlaps reading and
// tracking.
func (s *session) Data(r io.Reader) error {
	s.lock()
	defer s.unlock()
	if err := s.await(); err != nil {
		return upstreamError(err)
	}
	if s.up == nil || !s.inTx || !s.mailSent {
		return errNoUpstream
	}
	if !s.r.enter() {
		return errShuttingDown
	}
	// The message counts as under way until its reply is written: Serve's
	// drain closes the connections once none is, and a reply lost then
	// would make the client send the message again.
	defer s.leaveAfterReply()
	d := &dataExchange{s: s, up: s.up}
	if !d.up.has("CHUNKING") {
		d.up.deadline(s.r.o.Upstream.timeout())
		d.up.queue("DATA")
		err := d.up.flush()
		d.up.deadline(0)
		if err != nil {
			s.drop(err)
			return upstreamError(err)
		}
		d.sent = true
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
		d.abandon()
		return err
	}
	var attempt string
	var t correlate.Tracked
	if p.track {
		var existing bool
		attempt, t, existing, err = s.r.track(ctx, p, s.user.Name)
		if err != nil {
			s.r.log.Error("submit: tracking failed; message not sent", "user", s.user.Name, "message_id", p.id, "err", err)
			d.abandon()
			// A failed commit may still have been made (a connection lost
			// during COMMIT): roll the attempt back, so that no tracked
			// email of a message the client was told to send again stays.
			rctx, rcancel := context.WithTimeout(context.Background(), storeTimeout)
			s.r.finish(rctx, attempt, true)
			rcancel()
			return errTrackFailed
		}
		p.retry = existing
	}
	if d.sent {
		err = d.reply()
	}
	if err == nil {
		err = s.send(p, br)
	} else {
		// A refused DATA leaves the transaction to Reset.
		s.drop(err)
		err = upstreamError(err)
	}
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
	s.logRelayed(p, t)
	return nil
}

// A dataExchange is the DATA command of one message to the upstream,
// which an upstream without CHUNKING gets before the message is tracked.
type dataExchange struct {
	s    *session
	up   *upstreamConn
	sent bool  // DATA was sent
	read bool  // its reply was read, into err
	err  error // the reply's error
}

// reply reads the answer to DATA (once).
func (d *dataExchange) reply() error {
	if !d.read {
		d.up.deadline(d.s.r.o.Upstream.timeout())
		_, d.err = d.up.reply(354)
		d.up.deadline(0)
		d.read = true
	}
	return d.err
}

// abandon makes sure nothing the relay decided against is delivered: once
// the upstream said 354 the only way out is to drop the connection, before
// that RSET ends the transaction.
func (d *dataExchange) abandon() {
	s := d.s
	if d.sent {
		if d.reply() == nil {
			d.up.abort()
			s.up = nil
		} else {
			s.drop(d.err)
		}
	} else if _, err := d.up.roundTrip(250, "RSET"); err != nil {
		s.drop(err)
	}
	s.inTx, s.mailSent = false, false
}

// logRelayed logs a message relayed: tracked as t, a retry, or untracked.
func (s *session) logRelayed(p *plan, t correlate.Tracked) {
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
}

// send relays the message's content: the planned header, then the body,
// from the plan or straight from the client, and returns the upstream's
// answer. A failure reading from the client aborts the upstream
// transaction without ending the message, so nothing is delivered.
func (s *session) send(p *plan, br *bufio.Reader) error {
	up := s.up
	err := up.sendContent(p.header, p.body, br)
	s.inTx, s.mailSent = false, false
	if errors.Is(err, errClientRead) {
		up.abort()
		s.up = nil
		return readError(err)
	}
	if err != nil {
		s.drop(err)
		return upstreamError(err)
	}
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
