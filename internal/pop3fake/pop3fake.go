// Package pop3fake is an in-process POP3 server for the imapsync tests:
// RFC 1939 with CAPA, PIPELINING, TOP, UIDL, STLS and AUTH (PLAIN,
// XOAUTH2), whose features can be turned off (a server without UIDL,
// without TOP, without CAPA), whose messages can be renumbered (UIDLs
// given again from 1, as a server that lost its UID list does) and which
// injects faults: the connection dropped in the middle of a response, a
// response that is not POP3, a maildrop locked by another session.
//
// Like a real server, a session sees the maildrop as it was at login, and
// DELE removes messages only when the session ends with QUIT.
package pop3fake

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Options are the server's features; the zero value is a full server
// (CAPA, TOP, UIDL, PIPELINING, USER, SASL PLAIN) without TLS.
type Options struct {
	NoCAPA, NoTOP, NoUIDL, NoPipelining bool
	// TLS, when set, offers STLS with this configuration (a certificate).
	TLS *tls.Config
	// Implicit makes the server speak TLS from the first byte (pop3s),
	// with TLS's configuration.
	Implicit bool
}

// A Server is a running in-process POP3 server on 127.0.0.1.
type Server struct {
	// Addr is the address it listens on ("127.0.0.1:PORT").
	Addr string

	o  Options
	ln net.Listener

	mu      sync.Mutex
	users   map[string]*user
	conns   map[net.Conn]bool
	faults  []*fault
	xoauth2 func(user string) string
	inUse   bool
	log     []string

	logins atomic.Int64
}

type user struct {
	password string
	msgs     []*msg
	next     int // the next UIDL number
}

type msg struct {
	uidl string
	raw  []byte // CRLF line ends
}

// fault is an injected failure of the (after+1)th response to cmd.
type fault struct {
	cmd     string
	after   int
	garbage bool // else: the connection is closed half-way
}

// Start starts a server with the features of opts (nil: all). Stop it
// with Close.
func Start(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pop3fake: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), o: o, ln: ln, users: map[string]*user{}, conns: map[net.Conn]bool{}}
	go s.serve()
	return s, nil
}

func (s *Server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		go func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			var conn net.Conn = c
			if s.o.Implicit && s.o.TLS != nil {
				conn = tls.Server(c, s.o.TLS)
			}
			(&session{s: s, conn: conn}).run()
		}()
	}
}

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.DropConnections()
	return err
}

// DropConnections closes every open connection, as a server restart does.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
		delete(s.conns, c)
	}
}

// AddUser adds an account with an empty maildrop.
func (s *Server) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = &user{password: password, next: 1}
}

// Append delivers a message to a user's maildrop and returns its UIDL.
func (s *Server) Append(username string, raw []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return "", fmt.Errorf("pop3fake: no user %q", username)
	}
	m := &msg{uidl: fmt.Sprintf("%08x", u.next), raw: crlf(raw)}
	u.next++
	u.msgs = append(u.msgs, m)
	return m.uidl, nil
}

func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// Remove removes the i-th message (from 0) of a user's maildrop, as
// another client's DELE does.
func (s *Server) Remove(username string, i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok || i < 0 || i >= len(u.msgs) {
		return fmt.Errorf("pop3fake: no message %d of %q", i, username)
	}
	u.msgs = append(u.msgs[:i:i], u.msgs[i+1:]...)
	return nil
}

// Renumber gives the user's messages new UIDLs from 1 again, in maildrop
// order, as a server that lost its UID list does: a UIDL the sync saw
// before may now name another message.
func (s *Server) Renumber(username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return fmt.Errorf("pop3fake: no user %q", username)
	}
	for i, m := range u.msgs {
		m.uidl = fmt.Sprintf("%08x", i+1)
	}
	u.next = len(u.msgs) + 1
	return nil
}

// Count returns the number of messages in a user's maildrop.
func (s *Server) Count(username string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[username]; ok {
		return len(u.msgs)
	}
	return 0
}

// Logins returns the number of successful logins so far.
func (s *Server) Logins() int { return int(s.logins.Load()) }

// Commands returns the commands received so far, in order, with their
// arguments (but not PASS's and AUTH's).
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// DropAfter makes the server close the connection half-way through the
// response to the (n+1)th cmd from now ("RETR", "TOP", "UIDL"): the
// connection dropped in the middle of a message.
func (s *Server) DropAfter(cmd string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{cmd: strings.ToUpper(cmd), after: n})
}

// GarbageAfter makes the server answer the (n+1)th cmd from now with a
// line that is not POP3.
func (s *Server) GarbageAfter(cmd string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{cmd: strings.ToUpper(cmd), after: n, garbage: true})
}

// SetInUse makes every login fail with -ERR [IN-USE] (the maildrop locked
// by another session) while on.
func (s *Server) SetInUse(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inUse = on
}

// EnableXOAUTH2 offers SASL XOAUTH2; token returns the valid token of a
// user ("" for none). A refused token gets the error challenge Google and
// Microsoft send (a base64 JSON status), then -ERR.
func (s *Server) EnableXOAUTH2(token func(user string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.xoauth2 = token
}

// takeFault returns the fault for this response to cmd, if one is due.
func (s *Server) takeFault(cmd string) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.cmd != cmd {
			continue
		}
		if f.after > 0 {
			f.after--
			return nil
		}
		s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		return f
	}
	return nil
}

// session is one client connection.
type session struct {
	s     *Server
	conn  net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	tls   bool
	user  string // after USER
	u     *user  // after login
	msgs  []*msg // the maildrop at login
	dele  map[int]bool
	alive bool
}

var errDrop = errors.New("dropped")

func (ss *session) run() {
	ss.reset()
	_, ss.tls = ss.conn.(*tls.Conn)
	ss.alive = true
	ss.ok("POP3 fake ready")
	ss.w.Flush()
	for ss.alive {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if err := ss.command(line); err != nil {
			return
		}
		if ss.r.Buffered() == 0 { // pipelined commands are answered together
			if err := ss.w.Flush(); err != nil {
				return
			}
		}
	}
	ss.w.Flush()
}

func (ss *session) reset() {
	ss.r = bufio.NewReader(ss.conn)
	ss.w = bufio.NewWriter(ss.conn)
}

func (ss *session) ok(text string)  { fmt.Fprintf(ss.w, "+OK %s\r\n", text) }
func (ss *session) err(text string) { fmt.Fprintf(ss.w, "-ERR %s\r\n", text) }

func (ss *session) logCmd(verb string, args []string) {
	entry := verb
	if verb != "PASS" && verb != "AUTH" && len(args) > 0 {
		entry += " " + strings.Join(args, " ")
	}
	ss.s.mu.Lock()
	ss.s.log = append(ss.s.log, entry)
	ss.s.mu.Unlock()
}

func (ss *session) command(line string) error {
	f := strings.Fields(line)
	if len(f) == 0 {
		ss.err("empty command")
		return nil
	}
	verb, args := strings.ToUpper(f[0]), f[1:]
	ss.logCmd(verb, args)
	if ft := ss.s.takeFault(verb); ft != nil {
		return ss.fault(ft, verb)
	}
	switch verb {
	case "CAPA":
		if ss.s.o.NoCAPA {
			ss.err("unknown command")
			return nil
		}
		ss.capa()
	case "STLS":
		if ss.s.o.TLS == nil || ss.tls || ss.u != nil {
			ss.err("STLS not available")
			return nil
		}
		ss.ok("begin TLS")
		ss.w.Flush()
		tc := tls.Server(ss.conn, ss.s.o.TLS)
		if err := tc.Handshake(); err != nil {
			return err
		}
		ss.conn, ss.tls = tc, true
		ss.reset()
	case "USER":
		if ss.u != nil || len(args) != 1 {
			ss.err("USER not now")
			return nil
		}
		ss.user = args[0]
		ss.ok("send PASS")
	case "PASS":
		if ss.u != nil || ss.user == "" {
			ss.err("PASS not now")
			return nil
		}
		ss.login(ss.user, strings.TrimPrefix(line[len(f[0]):], " "))
	case "AUTH":
		if ss.u != nil || len(args) < 1 {
			ss.err("AUTH not now")
			return nil
		}
		return ss.auth(strings.ToUpper(args[0]), args[1:])
	case "QUIT":
		if ss.u != nil {
			ss.commit()
		}
		ss.ok("bye")
		ss.alive = false
	default:
		if ss.u == nil {
			ss.err("log in first")
			return nil
		}
		ss.transaction(verb, args)
	}
	return nil
}

// fault answers verb with the injected fault ft: garbage, or a dropped
// connection, after half a response for a command that has a multi-line
// one.
func (ss *session) fault(ft *fault, verb string) error {
	if ft.garbage {
		ss.w.WriteString("* BYE this is not POP3\r\n")
		return nil
	}
	if verb != "RETR" && verb != "TOP" && verb != "UIDL" && verb != "LIST" {
		ss.w.Flush()
		return errDrop
	}
	// Half a response, then the connection ends.
	ss.ok("here it comes")
	ss.w.WriteString("From: half@way.example\r\nSubject: cut")
	ss.w.Flush()
	return errDrop
}

// capa answers CAPA with the capabilities of the server's options.
func (ss *session) capa() {
	ss.ok("capabilities")
	caps := []string{"USER", "RESP-CODES", "AUTH-RESP-CODE"}
	if !ss.s.o.NoTOP {
		caps = append(caps, "TOP")
	}
	if !ss.s.o.NoUIDL {
		caps = append(caps, "UIDL")
	}
	if !ss.s.o.NoPipelining {
		caps = append(caps, "PIPELINING")
	}
	if ss.s.o.TLS != nil && !ss.tls && ss.u == nil {
		caps = append(caps, "STLS")
	}
	sasl := "SASL PLAIN"
	ss.s.mu.Lock()
	if ss.s.xoauth2 != nil {
		sasl += " XOAUTH2"
	}
	ss.s.mu.Unlock()
	caps = append(caps, sasl)
	for _, c := range caps {
		ss.w.WriteString(c + "\r\n")
	}
	ss.w.WriteString(".\r\n")
}

func (ss *session) login(name, password string) {
	s := ss.s
	s.mu.Lock()
	u, ok := s.users[name]
	inUse := s.inUse
	s.mu.Unlock()
	switch {
	case !ok || u.password != password:
		ss.err("[AUTH] Authentication failed.")
	case inUse:
		ss.err("[IN-USE] the maildrop is locked by another session")
	default:
		ss.begin(u)
	}
}

func (ss *session) begin(u *user) {
	ss.s.mu.Lock()
	ss.u = u
	ss.msgs = append([]*msg(nil), u.msgs...)
	ss.s.mu.Unlock()
	ss.dele = map[int]bool{}
	ss.s.logins.Add(1)
	ss.ok(fmt.Sprintf("logged in, %d messages", len(ss.msgs)))
}

func (ss *session) readResponse() (string, error) {
	ss.w.Flush()
	l, err := ss.r.ReadString('\n')
	return strings.TrimRight(l, "\r\n"), err
}

func (ss *session) auth(mech string, args []string) error {
	var ir []byte
	if len(args) > 0 {
		if args[0] != "=" {
			b, err := base64.StdEncoding.DecodeString(args[0])
			if err != nil {
				ss.err("bad base64")
				return nil
			}
			ir = b
		} else {
			ir = []byte{}
		}
	}
	if ir == nil {
		ss.w.WriteString("+ \r\n")
		l, err := ss.readResponse()
		if err != nil {
			return err
		}
		if l == "*" {
			ss.err("cancelled")
			return nil
		}
		if ir, err = base64.StdEncoding.DecodeString(l); err != nil {
			ss.err("bad base64")
			return nil
		}
	}
	switch mech {
	case "PLAIN":
		parts := strings.Split(string(ir), "\x00")
		if len(parts) != 3 {
			ss.err("bad PLAIN")
			return nil
		}
		ss.login(parts[1], parts[2])
	case "XOAUTH2":
		ss.s.mu.Lock()
		valid := ss.s.xoauth2
		ss.s.mu.Unlock()
		if valid == nil {
			ss.err("unknown mechanism")
			return nil
		}
		var name, tok string
		for _, kv := range strings.Split(string(ir), "\x01") {
			switch {
			case strings.HasPrefix(kv, "user="):
				name = kv[5:]
			case strings.HasPrefix(kv, "auth=Bearer "):
				tok = kv[12:]
			}
		}
		ss.s.mu.Lock()
		u, ok := ss.s.users[name]
		ss.s.mu.Unlock()
		if !ok || tok == "" || valid(name) != tok {
			ss.w.WriteString("+ " + base64.StdEncoding.EncodeToString([]byte(`{"status":"401","schemes":"bearer"}`)) + "\r\n")
			if _, err := ss.readResponse(); err != nil {
				return err
			}
			ss.err("[AUTH] token refused")
			return nil
		}
		ss.begin(u)
	default:
		ss.err("unknown mechanism")
	}
	return nil
}

// commit removes the messages marked with DELE (QUIT in the TRANSACTION
// state).
func (ss *session) commit() {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	gone := map[*msg]bool{}
	for i := range ss.dele {
		gone[ss.msgs[i]] = true
	}
	kept := ss.u.msgs[:0:0]
	for _, m := range ss.u.msgs {
		if !gone[m] {
			kept = append(kept, m)
		}
	}
	ss.u.msgs = kept
}

// message returns message n of the session (1-based), or nil.
func (ss *session) message(arg string) (int, *msg) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > len(ss.msgs) || ss.dele[n-1] {
		return 0, nil
	}
	return n - 1, ss.msgs[n-1]
}

func (ss *session) transaction(verb string, args []string) {
	switch verb {
	case "NOOP":
		ss.ok("")
	case "RSET":
		ss.dele = map[int]bool{}
		ss.ok("")
	case "STAT":
		n, size := 0, 0
		for i, m := range ss.msgs {
			if !ss.dele[i] {
				n++
				size += len(m.raw)
			}
		}
		ss.ok(fmt.Sprintf("%d %d", n, size))
	case "LIST", "UIDL":
		if verb == "UIDL" && ss.s.o.NoUIDL {
			ss.err("unknown command")
			return
		}
		item := func(i int, m *msg) string {
			if verb == "UIDL" {
				return fmt.Sprintf("%d %s", i+1, m.uidl)
			}
			return fmt.Sprintf("%d %d", i+1, len(m.raw))
		}
		if len(args) > 0 {
			i, m := ss.message(args[0])
			if m == nil {
				ss.err("no such message")
				return
			}
			ss.ok(item(i, m))
			return
		}
		ss.ok("listing follows")
		for i, m := range ss.msgs {
			if !ss.dele[i] {
				ss.w.WriteString(item(i, m) + "\r\n")
			}
		}
		ss.w.WriteString(".\r\n")
	case "TOP", "RETR":
		if verb == "TOP" && (ss.s.o.NoTOP || len(args) != 2) {
			ss.err("TOP not supported")
			return
		}
		if len(args) < 1 {
			ss.err("which message?")
			return
		}
		_, m := ss.message(args[0])
		if m == nil {
			ss.err("no such message")
			return
		}
		data := m.raw
		if verb == "TOP" {
			lines, err := strconv.Atoi(args[1])
			if err != nil || lines < 0 {
				ss.err("bad line count")
				return
			}
			data = top(m.raw, lines)
		}
		ss.ok(fmt.Sprintf("%d octets", len(data)))
		writeStuffed(ss.w, data)
	case "DELE":
		if len(args) != 1 {
			ss.err("which message?")
			return
		}
		i, m := ss.message(args[0])
		if m == nil {
			ss.err("no such message")
			return
		}
		ss.dele[i] = true
		ss.ok("marked")
	default:
		ss.err("unknown command")
	}
}

// top returns the header, the blank line and the first n lines of the
// body.
func top(raw []byte, n int) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return append(append([]byte{}, raw...), "\r\n"...)
	}
	out := append([]byte{}, raw[:end+4]...)
	body := raw[end+4:]
	for range n {
		if len(body) == 0 {
			break
		}
		i := bytes.Index(body, []byte("\r\n"))
		if i < 0 {
			out = append(out, body...)
			break
		}
		out = append(out, body[:i+2]...)
		body = body[i+2:]
	}
	return out
}

// writeStuffed writes a message as a multi-line response: a dot doubled at
// the start of a line, CRLF at the end, then the terminator.
func writeStuffed(w *bufio.Writer, data []byte) {
	for len(data) > 0 {
		line := data
		if i := bytes.Index(data, []byte("\r\n")); i >= 0 {
			line, data = data[:i], data[i+2:]
		} else {
			data = nil
		}
		if len(line) > 0 && line[0] == '.' {
			w.WriteByte('.')
		}
		w.Write(line)
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
}
