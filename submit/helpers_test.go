package submit_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/internal/syncbuf"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/submit"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// A delivery is one message the fake upstream server accepted.
type delivery struct {
	From string
	To   []string
	Data []byte
}

// fakeUpstream is a real go-smtp server standing in for the organization's
// submission server: it records what it accepts and can refuse on demand.
type fakeUpstream struct {
	Addr string
	srv  *smtp.Server
	l    net.Listener

	mu        sync.Mutex
	delivered []delivery
	// refuseMail refuses every MAIL; refuseRcpt refuses these recipients;
	// refuseData refuses every message at the end of DATA; onData runs
	// when DATA begins.
	refuseMail *smtp.SMTPError
	refuseRcpt map[string]*smtp.SMTPError
	refuseData *smtp.SMTPError
	onData     func()
	// sink, when set, replaces recording: it consumes each message.
	sink func(r io.Reader) error
	// user and password, when set, are required (AUTH PLAIN).
	user, password string
}

func startUpstream(t testing.TB, tlsConfig *tls.Config) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &upSession{u: u}, nil }))
	s.Domain = "upstream.test"
	s.AllowInsecureAuth = true
	s.TLSConfig = tlsConfig
	s.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Addr, u.srv, u.l = l.Addr().String(), s, l
	go s.Serve(l)
	t.Cleanup(u.close)
	return u
}

// close stops the server: its listener at once (Serve may not have
// registered it yet), then waits a little for its connections to end
// (the relay under test has closed its own by now). It does not call
// go-smtp's Close: that races with a connection's BDAT handling (it
// resets the BDAT pipe, which the handler reads without the lock), and
// after Shutdown it would do nothing anyway. A connection still open
// after two seconds is its client's to close.
func (u *fakeUpstream) close() {
	u.l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	u.srv.Shutdown(ctx)
}

func (u *fakeUpstream) messages() []delivery {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]delivery(nil), u.delivered...)
}

type upSession struct {
	u      *fakeUpstream
	authed bool
	from   string
	to     []string
}

func (s *upSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *upSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.u.user || pass != s.u.password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}
func (s *upSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.u.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.u.mu.Lock()
	refuse := s.u.refuseMail
	s.u.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	s.from = from
	return nil
}
func (s *upSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	if e := s.u.refuseRcpt[to]; e != nil {
		return e
	}
	s.to = append(s.to, to)
	return nil
}
func (s *upSession) Data(r io.Reader) error {
	s.u.mu.Lock()
	hook, refuse, sink := s.u.onData, s.u.refuseData, s.u.sink
	s.u.mu.Unlock()
	if hook != nil {
		hook()
	}
	if sink != nil {
		return sink(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if refuse != nil {
		return refuse
	}
	s.u.mu.Lock()
	s.u.delivered = append(s.u.delivered, delivery{From: s.from, To: s.to, Data: b})
	s.u.mu.Unlock()
	return nil
}
func (s *upSession) Reset()        { s.from, s.to = "", nil }
func (s *upSession) Logout() error { return nil }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// testKey signs Message-IDs in the tests.
var testKey = []byte("0123456789abcdef-test-id-key")

// harness is a relay in front of a fake upstream, over a memstore.
type harness struct {
	t      testing.TB
	up     *fakeUpstream
	store  store.Store
	engine *correlate.Engine
	relay  *submit.Relay
	addr   string
	users  *submit.Users
	logs   *syncBuffer
	stop   func() error
}

// syncBuffer is the log of the code under test, written concurrently.
type syncBuffer = syncbuf.Buffer

// usersFile has alice (token user 1, may send as alice@fabrikam.example)
// and bob (token user 2, any sender).
func testUsers(t testing.TB) *submit.Users {
	t.Helper()
	file := fmt.Sprintf("alice 1 %s alice@fabrikam.example\nbob 2 %s\n", mustHash(t, "alice-pw"), mustHash(t, "bob-pw"))
	u, err := submit.ParseUsers(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newHarness starts an upstream and a relay; edit adjusts the relay's
// options before it starts (st, when not nil, replaces the memstore).
func newHarness(t testing.TB, st store.Store, edit func(*submit.Options)) *harness {
	t.Helper()
	h := &harness{t: t, up: startUpstream(t, nil), users: testUsers(t), logs: &syncBuffer{}}
	if st == nil {
		st = newMemstore()
	}
	h.store = st
	format := token.Format{}
	gen, err := token.NewGenerator(st, format)
	if err != nil {
		t.Fatal(err)
	}
	opts := &mailcorrelate.Options{Token: format}
	opts.Header.IDKeys = [][]byte{testKey}
	h.engine, err = mailcorrelate.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	o := submit.Options{
		Store:    st,
		Engine:   h.engine,
		Tokens:   gen,
		IDKeys:   [][]byte{testKey},
		Domain:   "relay.fabrikam.example",
		Upstream: submit.Upstream{Addr: h.up.Addr, TLS: submit.NoTLS, Timeout: 10 * time.Second},
		Auth:     h.users,
		Instance: "test",
		Logger:   slog.New(slog.NewTextHandler(h.logs, nil)),
	}
	if edit != nil {
		edit(&o)
	}
	h.relay, err = submit.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.addr, h.stop = serve(t, h.relay, "127.0.0.1:0")
	return h
}

// serve runs r on a new listener at addr until the test ends; stop stops it
// early and returns Serve's error.
func serve(t testing.TB, r *submit.Relay, addr string) (string, func() error) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, l) }()
	var once sync.Once
	var serveErr error
	var checked atomic.Bool // the test read Serve's error itself
	halt := func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(30 * time.Second):
				serveErr = errors.New("Serve did not return")
			}
		})
		return serveErr
	}
	stop := func() error {
		checked.Store(true)
		return halt()
	}
	t.Cleanup(func() {
		if err := halt(); err != nil && !checked.Load() {
			t.Errorf("Serve: %v", err)
		}
	})
	// Serve greets clients once it holds its lease and has recovered.
	addr = l.Addr().String()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil {
		t.Fatalf("the relay does not answer: %v", err)
	}
	return addr, stop
}

// dial connects to the relay and logs in (no login when user is "").
func (h *harness) dial(user, password string) *smtp.Client {
	h.t.Helper()
	c, err := smtp.Dial(h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
			h.t.Fatalf("AUTH %s: %v", user, err)
		}
	}
	return c
}

// send sends msg from alice through c and returns the error of the step
// that failed, nil when the relay accepted it.
func send(c *smtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

// code returns the SMTP reply code of err, 0 when it is none.
func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// tracked returns every email in the store, in ID order.
func (h *harness) tracked() []correlate.Tracked {
	h.t.Helper()
	ts, err := h.store.Scan(context.Background(), 0, -1)
	if err != nil {
		h.t.Fatal(err)
	}
	return ts
}

// pending returns the relay's pending rows.
func (h *harness) pending() []store.State {
	h.t.Helper()
	ss, err := h.store.States(context.Background(), "submit/pending/")
	if err != nil {
		h.t.Fatal(err)
	}
	return ss
}

// parse reads a relayed message.
func parse(t testing.TB, b []byte) *correlate.Message {
	t.Helper()
	m, err := correlate.ParseMessage(bytes.NewReader(b), &correlate.ParseOptions{KeepBody: true})
	if m == nil {
		t.Fatalf("relayed message unreadable: %v", err)
	}
	return m
}

// testCert returns a TLS configuration with a new self-signed certificate
// for 127.0.0.1, 192.0.2.x and localhost, and a pool that trusts it.
func testCert(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "relay test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	tmpl.IPAddresses = append(tmpl.IPAddresses, nonLoopbackIPs()...)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// nonLoopbackIPs returns the machine's IPv4 addresses that are not
// loopback.
func nonLoopbackIPs() []net.IP {
	addrs, _ := net.InterfaceAddrs()
	var out []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			out = append(out, n.IP)
		}
	}
	return out
}

func plainAuth(user, password string) sasl.Client { return sasl.NewPlainClient("", user, password) }

func newMemstore() store.Store { return memstore.New() }

func discardSlog() *slog.Logger { return slog.New(slog.DiscardHandler) }
