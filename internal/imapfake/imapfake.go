// Package imapfake is an in-process IMAP server for the imapsync tests and
// the sync demo: go-imap's server over a small backend that is safe for
// concurrent use, supports MOVE and IDLE notifications, lets a test
// renumber a folder (a new UIDVALIDITY) and injects faults (the
// connection dropped in the middle of a FETCH).
//
// It has no folder ids (no MAILBOXID, no X-GUID), like many servers: the
// sync then identifies folders by name and UIDVALIDITY.
package imapfake

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/backend"
	"github.com/emersion/go-imap/server"
	"github.com/emersion/go-sasl"
)

// Delim is the hierarchy delimiter of the server's folder names.
const Delim = "/"

// A Server is a running in-process IMAP server on 127.0.0.1.
type Server struct {
	// Addr is the address it listens on ("127.0.0.1:PORT").
	Addr string

	srv     *server.Server
	ln      net.Listener
	b       *be
	connsMu sync.Mutex
	conns   map[net.Conn]bool
	// dropAfter, when > 0, counts down the messages a FETCH may still
	// return; at 0 every connection is closed (the fault injected).
	dropAfter atomic.Int64
	logins    atomic.Int64
	// xoauth2 returns the valid token of a user; nil until
	// EnableXOAUTH2 (the mechanism then refuses every token).
	xoauth2 atomic.Pointer[func(user string) string]
}

// Start starts a server. Stop it with Close.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("imapfake: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	s.b = &be{s: s, users: map[string]*user{}, updates: make(chan backend.Update, 1024), nextUV: uint32(time.Now().Unix() % 100000000)}
	s.srv = server.New(s.b)
	s.srv.AllowInsecureAuth = true
	s.srv.ErrorLog = nopLog{}
	// XOAUTH2 is registered before serving: go-imap reads its mechanisms
	// on every connection without a lock, so EnableAuth on a running
	// server is a data race (the race detector saw it, and a garbled
	// greeting once). EnableXOAUTH2 only sets the tokens.
	s.srv.EnableAuth("XOAUTH2", func(conn server.Conn) sasl.Server {
		token := func(string) string { return "" }
		if f := s.xoauth2.Load(); f != nil {
			token = *f
		}
		return &xoauth2Server{s: s, conn: conn, token: token}
	})
	go s.srv.Serve(&trackLn{Listener: ln, s: s})
	return s, nil
}

type nopLog struct{}

func (nopLog) Printf(string, ...interface{}) {}
func (nopLog) Println(...interface{})        {}

type trackLn struct {
	net.Listener
	s *Server
}

func (l *trackLn) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.connsMu.Lock()
	l.s.conns[c] = true
	l.s.connsMu.Unlock()
	return &trackConn{Conn: c, s: l.s}, nil
}

type trackConn struct {
	net.Conn
	s       *Server
	greeted atomic.Bool
}

// Write drops what the server writes before its greeting: an update meant
// for the connections in a folder (see notify) reaches every connection,
// and one accepted a moment ago would otherwise get "* 3 EXISTS" where
// the client expects "* OK" (a client then fails with "invalid
// greeting").
func (c *trackConn) Write(b []byte) (int, error) {
	if !c.greeted.Load() {
		i := bytes.Index(b, []byte("* OK"))
		if i < 0 || (i > 0 && b[i-1] != '\n') {
			return len(b), nil
		}
		c.greeted.Store(true)
		if _, err := c.Conn.Write(b[i:]); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *trackConn) Close() error {
	c.s.connsMu.Lock()
	delete(c.s.conns, c.Conn)
	c.s.connsMu.Unlock()
	return c.Conn.Close()
}

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.DropConnections()
	return err
}

// DropConnections closes every open connection, as a server restart or a
// network failure does.
func (s *Server) DropConnections() {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for c := range s.conns {
		c.Close()
		delete(s.conns, c)
	}
}

// DropAfter makes the server close every connection after n more messages
// were returned by FETCH (in the middle of the command); 0 turns it off.
func (s *Server) DropAfter(n int) { s.dropAfter.Store(int64(n)) }

// EnableXOAUTH2 lets users authenticate with SASL XOAUTH2 (Gmail,
// Microsoft 365): token returns the access token valid for a user ("" for
// none). A refused token gets the JSON error challenge, then NO.
func (s *Server) EnableXOAUTH2(token func(user string) string) {
	s.xoauth2.Store(&token)
}

type xoauth2Server struct {
	s      *Server
	conn   server.Conn
	token  func(string) string
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, true, errors.New("invalid token")
	}
	if resp == nil {
		return []byte{}, false, nil // ask for the initial response
	}
	var user, tok string
	for _, f := range strings.Split(string(resp), "\x01") {
		switch {
		case strings.HasPrefix(f, "user="):
			user = f[len("user="):]
		case strings.HasPrefix(f, "auth=Bearer "):
			tok = f[len("auth=Bearer "):]
		}
	}
	x.s.b.mu.Lock()
	u := x.s.b.users[user]
	x.s.b.mu.Unlock()
	if want := x.token(user); u == nil || want == "" || tok != want {
		x.failed = true
		return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
	}
	x.s.logins.Add(1)
	ctx := x.conn.Context()
	ctx.State = imap.AuthenticatedState
	ctx.User = u
	return nil, true, nil
}

// Logins returns the number of successful logins so far.
func (s *Server) Logins() int { return int(s.logins.Load()) }

// AddUser creates a user with an Inbox and a Sent folder (SPECIAL-USE
// \Sent).
func (s *Server) AddUser(name, password string) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u := &user{b: s.b, name: name, password: password, boxes: map[string]*mbox{}}
	s.b.users[name] = u
	u.create("INBOX")
	u.create("Sent").special = `\Sent`
}

func (s *Server) user(name string) (*user, error) {
	u := s.b.users[name]
	if u == nil {
		return nil, fmt.Errorf("imapfake: no user %q", name)
	}
	return u, nil
}

// Create creates a folder.
func (s *Server) Create(username, folder string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u, err := s.user(username)
	if err != nil {
		return err
	}
	if u.boxes[folder] != nil {
		return backend.ErrMailboxAlreadyExists
	}
	u.create(folder)
	return nil
}

// Append adds a message to a folder and returns its UID.
func (s *Server) Append(username, folder string, date time.Time, raw []byte) (uint32, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u, err := s.user(username)
	if err != nil {
		return 0, err
	}
	mb := u.boxes[folder]
	if mb == nil {
		return 0, backend.ErrNoSuchMailbox
	}
	uid := mb.add(date, nil, raw)
	s.b.notify(u, mb)
	return uid, nil
}

// Move moves the message uid of folder from to folder to, as UID MOVE
// does (a new UID there), and returns its new UID.
func (s *Server) Move(username, from string, uid uint32, to string) (uint32, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u, err := s.user(username)
	if err != nil {
		return 0, err
	}
	src, dst := u.boxes[from], u.boxes[to]
	if src == nil || dst == nil {
		return 0, backend.ErrNoSuchMailbox
	}
	i := src.index(uid)
	if i < 0 {
		return 0, fmt.Errorf("imapfake: no UID %d in %q", uid, from)
	}
	m := src.msgs[i]
	src.msgs = slices.Delete(src.msgs, i, i+1)
	nu := dst.add(m.date, m.flags, m.body)
	s.b.notifyExpunge(u, src, uint32(i+1))
	s.b.notify(u, dst)
	return nu, nil
}

// Rename renames a folder (its UIDVALIDITY stays).
func (s *Server) Rename(username, from, to string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u, err := s.user(username)
	if err != nil {
		return err
	}
	return u.rename(from, to)
}

// Delete deletes a folder and its mail.
func (s *Server) Delete(username, folder string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u, err := s.user(username)
	if err != nil {
		return err
	}
	if u.boxes[folder] == nil {
		return backend.ErrNoSuchMailbox
	}
	delete(u.boxes, folder)
	return nil
}

// Renumber gives a folder a new UIDVALIDITY and renumbers its messages
// from 1, as a server rebuilding its index does.
func (s *Server) Renumber(username, folder string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u, err := s.user(username)
	if err != nil {
		return err
	}
	mb := u.boxes[folder]
	if mb == nil {
		return backend.ErrNoSuchMailbox
	}
	mb.uidValidity = s.b.newUV()
	mb.uidNext = 1
	for _, m := range mb.msgs {
		m.uid = mb.uidNext
		mb.uidNext++
	}
	return nil
}

// UIDs returns the UIDs of a folder's messages.
func (s *Server) UIDs(username, folder string) ([]uint32, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u, err := s.user(username)
	if err != nil {
		return nil, err
	}
	mb := u.boxes[folder]
	if mb == nil {
		return nil, backend.ErrNoSuchMailbox
	}
	var out []uint32
	for _, m := range mb.msgs {
		out = append(out, m.uid)
	}
	return out, nil
}

// Flags returns the flags of every message of a folder, by UID: the sync
// must never set one.
func (s *Server) Flags(username, folder string) (map[uint32][]string, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	u, err := s.user(username)
	if err != nil {
		return nil, err
	}
	mb := u.boxes[folder]
	if mb == nil {
		return nil, backend.ErrNoSuchMailbox
	}
	out := map[uint32][]string{}
	for _, m := range mb.msgs {
		out[m.uid] = slices.Clone(m.flags)
	}
	return out, nil
}

// be is the backend. One mutex guards every user's data.
type be struct {
	s       *Server
	mu      sync.Mutex
	users   map[string]*user
	updates chan backend.Update
	nextUV  uint32
}

func (b *be) newUV() uint32 {
	b.nextUV++
	return b.nextUV
}

func (b *be) Updates() <-chan backend.Update { return b.updates }

// notify queues an EXISTS update (for IDLE); the caller holds mu.
//
// QUIRK: go-imap v1's server reads each connection's user and selected
// folder to route an update without a lock (a data race with SELECT), so
// updates go to every connection of the server (no user, no folder): a
// client sees a spurious EXISTS now and then, which costs the sync one
// pass. Each test has its own server, so they are few.
func (b *be) notify(u *user, mb *mbox) {
	st := imap.NewMailboxStatus(mb.name, []imap.StatusItem{imap.StatusMessages})
	st.Messages = uint32(len(mb.msgs))
	select {
	case b.updates <- &backend.MailboxUpdate{Update: backend.NewUpdate("", ""), MailboxStatus: st}:
	default:
	}
}

func (b *be) notifyExpunge(u *user, mb *mbox, seq uint32) {
	select {
	case b.updates <- &backend.ExpungeUpdate{Update: backend.NewUpdate("", ""), SeqNum: seq}:
	default:
	}
}

func (b *be) Login(_ *imap.ConnInfo, username, password string) (backend.User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.users[username]
	if u == nil || u.password != password {
		return nil, backend.ErrInvalidCredentials
	}
	b.s.logins.Add(1)
	return u, nil
}

type user struct {
	b        *be
	name     string
	password string
	boxes    map[string]*mbox
}

func (u *user) create(name string) *mbox {
	mb := &mbox{u: u, name: name, uidValidity: u.b.newUV(), uidNext: 1}
	u.boxes[name] = mb
	return mb
}

func (u *user) rename(from, to string) error {
	mb := u.boxes[from]
	if mb == nil {
		return backend.ErrNoSuchMailbox
	}
	if u.boxes[to] != nil {
		return backend.ErrMailboxAlreadyExists
	}
	delete(u.boxes, from)
	mb.name = to
	u.boxes[to] = mb
	return nil
}

func (u *user) Username() string { return u.name }

func (u *user) ListMailboxes(bool) ([]backend.Mailbox, error) {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	names := make([]string, 0, len(u.boxes))
	for n := range u.boxes {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]backend.Mailbox, 0, len(names))
	for _, n := range names {
		out = append(out, &handle{u: u, name: n})
	}
	return out, nil
}

func (u *user) GetMailbox(name string) (backend.Mailbox, error) {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	if u.boxes[name] == nil {
		return nil, backend.ErrNoSuchMailbox
	}
	return &handle{u: u, name: name}, nil
}

func (u *user) CreateMailbox(name string) error {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if u.boxes[name] != nil {
		return backend.ErrMailboxAlreadyExists
	}
	u.create(name)
	return nil
}

func (u *user) DeleteMailbox(name string) error {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if name == "INBOX" {
		return errors.New("cannot delete INBOX")
	}
	if u.boxes[name] == nil {
		return backend.ErrNoSuchMailbox
	}
	delete(u.boxes, name)
	return nil
}

func (u *user) RenameMailbox(from, to string) error {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	return u.rename(from, to)
}

func (u *user) Logout() error { return nil }
