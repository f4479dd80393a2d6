package imapsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"golang.org/x/oauth2"

	"github.com/mailcorrelate/mailcorrelate/internal/pop3"
)

// The POP3 layer: connecting, securing (pop3s, STLS), authenticating
// (USER/PASS, AUTH PLAIN, AUTH XOAUTH2), listing and fetching. Everything
// that speaks POP3 is here; pop3pass.go is the pass over a maildrop.

// pop3Source is a POP3 mailbox's session. A POP3 session sees the maildrop
// as it was at login and, on many servers, locks it against other clients
// (a person's mail program) until QUIT: so each pass has a connection of
// its own, ended with QUIT — which is also when the server removes what
// DELE marked — and the wait between passes holds none.
type pop3Source struct {
	pc     *pop3Conn // the connection of the next pass; nil between passes
	dialed time.Time
}

// connectPOP3 opens the first session of a POP3 mailbox: its errors
// (authentication refused, no STLS) are the connect's, as over IMAP.
func connectPOP3(ctx context.Context, mb *mailbox, o *Options) (*pop3Source, error) {
	pc, err := dialPOP3(ctx, mb, o)
	if err != nil {
		return nil, err
	}
	return &pop3Source{pc: pc, dialed: time.Now()}, nil
}

func (ps *pop3Source) pass(ctx context.Context, s *Syncer, mb *mailbox) error {
	pc := ps.pc
	ps.pc = nil
	if pc != nil && time.Since(ps.dialed) > s.o.Timeout {
		// It waited long for a worker, holding the maildrop: the server
		// may have ended it (RFC 1939 allows after 10 minutes). A new one.
		pc.close()
		pc = nil
	}
	if pc == nil {
		var err error
		if pc, err = dialPOP3(ctx, mb, &s.o); err != nil {
			return err
		}
	}
	deleted, err := s.popPass(ctx, mb, pc)
	if err != nil {
		pc.close() // no QUIT: nothing marked is deleted
		return err
	}
	if err := pc.quit(); err != nil {
		if deleted > 0 {
			// The server did not confirm: the messages stay, and the next
			// pass, which finds them done, deletes them again.
			return popErr(err, "QUIT after DELE")
		}
		return nil
	}
	if deleted > 0 {
		mb.update(func(st *Status) { st.Counts.Deleted += int64(deleted) })
	}
	return nil
}

// wait sleeps until the next poll: POP3 has no IDLE, and a session shows
// no mail that arrived after its login.
func (ps *pop3Source) wait(ctx context.Context, o *Options) error {
	sleep(ctx, o.PollInterval)
	return ctx.Err()
}

func (ps *pop3Source) close() {
	if ps.pc != nil {
		ps.pc.close()
		ps.pc = nil
	}
}

// pop3Conn is one authenticated POP3 session.
type pop3Conn struct {
	c         *pop3.Client
	raw       net.Conn
	stop      func() bool // stops the context watcher
	caps      pop3.Caps   // nil: the server has no CAPA (RFC 1939 only)
	pipelined bool
	top       int // TOP support: 0 unknown, 1 it works, -1 it does not
}

// dialPOP3 dials, secures and authenticates a POP3 session for mb.
func dialPOP3(ctx context.Context, mb *mailbox, o *Options) (*pop3Conn, error) {
	ep := mb.ep
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	raw, err := dialEndpoint(dctx, ep, o)
	if err != nil {
		return nil, err
	}
	pc := &pop3Conn{raw: raw}
	// The client blocks; closing the connection is how a cancelled
	// context ends a command.
	pc.stop = context.AfterFunc(ctx, func() { raw.Close() })
	c, err := pop3.NewClient(raw, o.Timeout)
	if err != nil {
		pc.close()
		return nil, popErr(err, "greeting from "+ep.addr)
	}
	pc.c = c
	// A response may be a whole message (a bounce's RETR) or a listing of
	// a large maildrop.
	c.MaxResponseBytes = max(2*o.MaxMessageBytes, 64<<20)
	if err := pc.capa(); err != nil {
		pc.close()
		return nil, err
	}
	if !ep.tls {
		switch {
		case pc.caps.Has("STLS") && !ep.loopback:
			if err := c.StartTLS(ep.tlsConfig(o)); err != nil {
				pc.close()
				return nil, transient(CauseTLS, fmt.Errorf("STLS with %s: %w", ep.addr, err))
			}
			if err := pc.capa(); err != nil {
				pc.close()
				return nil, err
			}
		case !ep.loopback:
			pc.close()
			return nil, permanent(CauseTLS, fmt.Errorf("%s offers no STLS: refusing to send credentials in clear text (use pop3s://)", ep.addr))
		}
	}
	if err := pc.login(mb); err != nil {
		pc.close()
		return nil, err
	}
	if pc.caps != nil {
		// RFC 2449: the capabilities may change once authenticated.
		if err := pc.capa(); err != nil {
			pc.close()
			return nil, err
		}
	}
	pc.pipelined = pc.caps.Has("PIPELINING")
	if pc.caps != nil && !pc.caps.Has("TOP") {
		pc.top = -1
	}
	return pc, nil
}

// capa asks for the capabilities; a server without CAPA has none.
func (pc *pop3Conn) capa() error {
	caps, err := pc.c.Capa()
	var pe *pop3.Error
	switch {
	case err == nil:
		pc.caps = caps
	case errors.As(err, &pe):
		pc.caps = nil
	default:
		return popErr(err, "CAPA")
	}
	return nil
}

// login authenticates with the mailbox's password (USER and PASS, or AUTH
// PLAIN where the server offers no USER) or its XOAUTH2 token. A -ERR is
// permanent — the password or token was refused — unless the server says
// the refusal is temporary ([IN-USE], [LOGIN-DELAY], [SYS/TEMP]).
func (pc *pop3Conn) login(mb *mailbox) error {
	user := mb.user
	var err error
	var x *xoauth2
	switch {
	case mb.cfg.TokenSource != nil:
		tok, terr := accessToken(mb)
		if terr != nil {
			return terr
		}
		x = &xoauth2{user: user, token: tok}
		err = pc.c.Auth(x)
	case strings.ContainsAny(user+mb.cfg.Password, "\r\n"):
		return permanent(CauseConfig, errors.New("a user name or password with a line break"))
	case pc.caps != nil && !pc.caps.Has("USER") && pc.caps.SASL("PLAIN"):
		err = pc.c.Auth(sasl.NewPlainClient("", user, mb.cfg.Password))
	default:
		err = pc.c.Login(user, mb.cfg.Password)
	}
	var pe *pop3.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		text := pe.Error()
		if x != nil && len(x.failed) > 0 {
			text += " (" + sanitize(string(x.failed)) + ")"
		}
		msg := fmt.Errorf("login as %q refused: %s", user, text)
		if pe.Temporary() {
			return transient(CauseServer, msg)
		}
		return permanent(CauseAuth, msg)
	}
	return popErr(err, "login")
}

// close closes the connection without QUIT: nothing marked with DELE is
// deleted.
func (pc *pop3Conn) close() {
	pc.raw.Close()
	if pc.c != nil {
		pc.c.Close()
	}
	if pc.stop != nil {
		pc.stop()
	}
}

// quit ends the session with QUIT: the server removes what DELE marked.
func (pc *pop3Conn) quit() error {
	err := pc.c.Quit()
	pc.close()
	return err
}

// popErr classifies a failed POP3 command: refused (-ERR) or not POP3 is
// a server error, anything else a lost connection; all are transient.
func popErr(err error, op string) error {
	var pe *pop3.Error
	if errors.As(err, &pe) || errors.Is(err, pop3.ErrProtocol) {
		return transient(CauseServer, fmt.Errorf("%s: %w", op, err))
	}
	return transient(CauseConnect, fmt.Errorf("%s: %w", op, err))
}

// uidl lists the maildrop's unique ids. A server that refuses UIDL cannot
// say which messages were read before: the mailbox stops with a status.
func (pc *pop3Conn) uidl() ([]pop3.Entry, error) {
	l, err := pc.c.UIDL()
	var pe *pop3.Error
	if errors.As(err, &pe) {
		return nil, permanent(CauseUnsupported, fmt.Errorf("the POP3 server has no UIDL (%s): without unique ids the sync cannot tell the mail it read from new mail, and would file every message again on every pass", pe.Text))
	}
	if err != nil {
		return nil, popErr(err, "UIDL")
	}
	return l, nil
}

// list lists the maildrop's sizes.
func (pc *pop3Conn) list() ([]pop3.Entry, error) {
	l, err := pc.c.List()
	if err != nil {
		return nil, popErr(err, "LIST")
	}
	return l, nil
}

// popHeader is one message's header as fetched, or the server's refusal.
type popHeader struct {
	data []byte
	err  error
}

// headers fetches the headers of nums, at most keep bytes each: TOP n 0
// (pipelined where the server offers it), or, from a server without TOP,
// RETR cut after the header (the whole message crosses the wire).
func (pc *pop3Conn) headers(nums []int, keep int64) ([]popHeader, error) {
	out := make([]popHeader, 0, len(nums))
	if pc.top == 0 && len(nums) > 0 {
		// No CAPA to say whether TOP works: try it once.
		h, err := pc.c.Top(nums[0], 0, keep)
		var pe *pop3.Error
		switch {
		case err == nil:
			pc.top = 1
			out = append(out, popHeader{data: h})
			nums = nums[1:]
		case errors.As(err, &pe):
			pc.top = -1
		default:
			return nil, popErr(err, "TOP")
		}
	}
	if pc.top > 0 {
		res, err := pc.c.TopMany(nums, 0, keep, pc.pipelined)
		if err != nil {
			return nil, popErr(err, "TOP")
		}
		for _, r := range res {
			out = append(out, popHeader{data: r.Data, err: r.Err})
		}
		return out, nil
	}
	for _, n := range nums {
		b, err := pc.c.Retr(n, keep)
		var pe *pop3.Error
		switch {
		case errors.As(err, &pe):
			out = append(out, popHeader{err: err})
		case err != nil:
			return nil, popErr(err, "RETR")
		default:
			out = append(out, popHeader{data: headerPart(b)})
		}
	}
	return out, nil
}

// body fetches message num with RETR and returns at most maxBody bytes of
// its body (after the header, of at most maxHeader bytes).
func (pc *pop3Conn) body(num int, maxHeader, maxBody int64) ([]byte, error) {
	b, err := pc.c.Retr(num, maxHeader+maxBody)
	if err != nil {
		return nil, popErr(err, fmt.Sprintf("RETR %d", num))
	}
	h := headerPart(b)
	if len(h) == len(b) {
		return nil, nil // no body, or a header larger than maxHeader
	}
	body := b[len(h):]
	return body[:min(int64(len(body)), maxBody)], nil
}

// headerPart returns b up to and including the blank line that ends the
// header (all of b when there is none).
func headerPart(b []byte) []byte {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	j := bytes.Index(b, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return b[:i+4]
	case j >= 0:
		return b[:j+2]
	}
	return b
}

// accessToken asks the mailbox's TokenSource for an access token: a
// refusal by the token endpoint (HTTP 4xx) is permanent, anything else
// transient.
func accessToken(mb *mailbox) (string, error) {
	tok, err := mb.cfg.TokenSource.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return "", permanent(CauseAuth, fmt.Errorf("OAuth2 token refused: %w", err))
		}
		return "", transient(CauseAuth, fmt.Errorf("OAuth2 token: %w", err))
	}
	return tok.AccessToken, nil
}
