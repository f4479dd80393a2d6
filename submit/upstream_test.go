package submit_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/submit"
)

// upstreamProxy stands between the relay and the fake upstream: it hides
// extensions from the upstream's EHLO reply (a server that offers neither
// PIPELINING nor CHUNKING, as older MTAs) and can drop every connection (a
// server closing the connections that sat idle).
type upstreamProxy struct {
	Addr     string
	hide     map[string]bool
	hidden   atomic.Int64 // EHLO lines hidden
	accepted atomic.Int64 // connections

	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, up *fakeUpstream, hide ...string) *upstreamProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &upstreamProxy{Addr: l.Addr().String(), hide: map[string]bool{}}
	for _, h := range hide {
		p.hide[h] = true
	}
	t.Cleanup(func() {
		l.Close()
		p.dropAll()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			s, err := net.Dial("tcp", up.Addr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() {
				io.Copy(s, c)
				s.Close()
				c.Close()
			}()
			go func() {
				defer c.Close()
				defer s.Close()
				br := bufio.NewReader(s)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(line, "250-") && p.hide[strings.TrimSpace(line[4:])] {
						p.hidden.Add(1)
						continue
					}
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// dropAll closes every connection through the proxy.
func (p *upstreamProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// relayVia starts a fake upstream, a proxy in front of it hiding the
// extensions hide, and a relay whose upstream is the proxy.
func relayVia(t *testing.T, hide []string) (*harness, *upstreamProxy) {
	t.Helper()
	up := startUpstream(t, nil)
	proxy := startProxy(t, up, hide...)
	h := newHarness(t, nil, func(o *submit.Options) { o.Upstream.Addr = proxy.Addr })
	h.up = up // the upstream the relay reaches, through the proxy
	return h, proxy
}

// dialects are the upstream servers the relay meets: one that pipelines
// and takes BDAT (every current MTA: Postfix, Exchange, go-smtp), and one
// that offers neither, which gets one command at a time and DATA.
var dialects = []struct {
	name string
	hide []string
}{
	{"pipelining+chunking", nil},
	{"plain", []string{"PIPELINING", "CHUNKING"}},
}

// rawSend logs in to the relay at addr as alice and sends content as it
// is: after DATA (content must end with CRLF; it is not dot-stuffed, so no
// line may start with a dot) or, with bdat, in one BDAT ... LAST chunk. It
// returns the relay's last reply line.
func rawSend(t *testing.T, addr, content string, bdat bool) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	reply := func() string {
		var last string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the relay's reply: %v", err)
			}
			last = strings.TrimRight(line, "\r\n")
			if len(last) < 4 || last[3] != '-' {
				return last
			}
		}
	}
	cmd := func(line, want string) {
		t.Helper()
		fmt.Fprintf(c, "%s\r\n", line)
		if got := reply(); !strings.HasPrefix(got, want) {
			t.Fatalf("%s: %q, want %s", line, got, want)
		}
	}
	reply() // greeting
	cmd("EHLO client.example", "250")
	cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alice-pw")), "235")
	cmd("MAIL FROM:<alice@fabrikam.example>", "250")
	cmd("RCPT TO:<jane@contoso.example>", "250")
	if bdat {
		fmt.Fprintf(c, "BDAT %d LAST\r\n%s", len(content), content)
	} else {
		cmd("DATA", "354")
		fmt.Fprintf(c, "%s.\r\n", content)
	}
	return reply()
}

// TestUpstreamDialects: whichever extensions the upstream offers, the
// relay sends it the same bytes — pipelined and in BDAT chunks, or one
// command at a time and dot-stuffed after DATA — with bare line feeds made
// CRLF and a final line break, as DATA has it; large messages go in
// several chunks; the upstream's refusals of MAIL and RCPT reach the
// client and leave the connection in step for the next command; and a
// connection the upstream dropped while it sat idle is replaced.
func TestUpstreamDialects(t *testing.T) {
	large := caseMail + strings.Repeat("The printer prints. "+strings.Repeat("x", 58)+"\r\n", 8000) // ~640 KB: three chunks
	bareLF := strings.ReplaceAll(caseMail, "\r\n", "\n") + "\r\n"                                   // the last line break only is CRLF
	noFinalBreak := strings.TrimSuffix(caseMail, "\r\n")
	messages := []struct {
		name    string
		content string
		bdat    bool // the client sends it with BDAT (raw) rather than DATA
		raw     bool // the client sends it raw
		why     string
	}{
		{"outlook", caseMail, false, false, "a plain message"},
		{"large", large, false, false, "a message larger than one BDAT chunk goes in several"},
		{"bare LF", bareLF, false, true, "bare line feeds become CRLF, as DATA's encoding makes them"},
		{"no final line break", noFinalBreak, true, true, "content sent with BDAT may end without one; the relay ends it"},
	}
	got := map[string]map[string][]byte{} // dialect → message → bytes delivered
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			h, proxy := relayVia(t, d.hide)
			got[d.name] = map[string][]byte{}
			for i, m := range messages {
				content := strings.Replace(m.content, "<outlook-1@", fmt.Sprintf("<dialect-%d@", i), 1)
				if m.raw {
					if r := rawSend(t, h.addr, content, m.bdat); !strings.HasPrefix(r, "250") {
						t.Fatalf("%s: %q", m.name, r)
					}
				} else if err := send(h.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"jane@contoso.example"}, content); err != nil {
					t.Fatalf("%s: %v", m.name, err)
				}
				ds := h.up.messages()
				if len(ds) != i+1 {
					t.Fatalf("%s: %d messages delivered, want %d", m.name, len(ds), i+1)
				}
				b := ds[i].Data
				got[d.name][m.name] = b
				if bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n")) || !bytes.HasSuffix(b, []byte("\r\n")) {
					t.Errorf("%s: %s, but the upstream got bare line feeds or no final CRLF", m.name, m.why)
				}
				_, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
				_, wantBody, _ := strings.Cut(strings.ReplaceAll(strings.ReplaceAll(content, "\r\n", "\n"), "\n", "\r\n"), "\r\n\r\n")
				if !strings.HasSuffix(wantBody, "\r\n") {
					wantBody += "\r\n"
				}
				if string(body) != wantBody {
					t.Errorf("%s: body of %d bytes, want %d: %s", m.name, len(body), len(wantBody), m.why)
				}
			}
			if n, p := len(h.tracked()), len(h.pending()); n != len(messages) || p != 0 {
				t.Errorf("%d tracked, %d pending; want %d and 0", n, p, len(messages))
			}
			if want := len(d.hide) > 0; (proxy.hidden.Load() > 0) != want {
				t.Errorf("the proxy hid %d EHLO lines; want some: %v", proxy.hidden.Load(), want)
			}
		})
	}
	for _, m := range messages {
		a, b := got[dialects[0].name][m.name], got[dialects[1].name][m.name]
		if a != nil && b != nil && !bytes.Equal(a, b) {
			t.Errorf("%s: the two upstreams got different bytes", m.name)
		}
	}
}

// TestUpstreamConversation: over either dialect, the upstream's refusal of
// MAIL or of one recipient reaches the client, and the connection stays in
// step (the next reply read is the next command's, though MAIL went
// pipelined with a RCPT the upstream answered too); a reset transaction
// and a connection the upstream dropped while it sat idle leave the next
// message unharmed.
func TestUpstreamConversation(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			h, proxy := relayVia(t, d.hide)
			c := h.dial("alice", "alice-pw")
			n := 0
			msg := func() string {
				n++
				return strings.Replace(caseMail, "<outlook-1@", fmt.Sprintf("<conv-%d@", n), 1)
			}

			// MAIL refused, then the next message on the same connection.
			h.up.mu.Lock()
			h.up.refuseMail = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender blocked"}
			h.up.mu.Unlock()
			if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, msg()); code(err) != 550 || !strings.Contains(err.Error(), "Sender blocked") {
				t.Fatalf("MAIL refused upstream: %v, want its 550", err)
			}
			if err := c.Reset(); err != nil {
				t.Fatal(err)
			}
			h.up.mu.Lock()
			h.up.refuseMail = nil
			h.up.refuseRcpt = map[string]*smtp.SMTPError{"nobody@contoso.example": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}}
			h.up.mu.Unlock()

			// One recipient refused, the other taken.
			if err := c.Mail("alice@fabrikam.example", nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt("nobody@contoso.example", nil); code(err) != 550 {
				t.Fatalf("refused recipient: %v, want 550", err)
			}
			if err := c.Rcpt("jane@contoso.example", nil); err != nil {
				t.Fatalf("the next recipient: %v", err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, msg())
			if err := w.Close(); err != nil {
				t.Fatalf("the message to the recipient taken: %v", err)
			}

			// A transaction reset after RCPT, then a message.
			if err := c.Mail("alice@fabrikam.example", nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt("jane@contoso.example", nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Reset(); err != nil {
				t.Fatal(err)
			}
			if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, msg()); err != nil {
				t.Fatalf("after a reset: %v", err)
			}

			// A large message refused before the upstream read it: with
			// BDAT, at its first chunk (the relay then drops the
			// connection, which the server may hold in the failed
			// transaction), with DATA at its end.
			h.up.mu.Lock()
			h.up.sink = func(io.Reader) error {
				return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Too big for us"}
			}
			h.up.mu.Unlock()
			large := strings.Replace(caseMail, "<outlook-1@", "<conv-large@", 1) + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 8000)
			conns := proxy.accepted.Load()
			if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, large); code(err) != 552 {
				t.Fatalf("large message refused upstream: %v, want its 552", err)
			}
			h.up.mu.Lock()
			h.up.sink = nil
			h.up.mu.Unlock()
			if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, msg()); err != nil {
				t.Fatalf("after a refused large message: %v", err)
			}
			want := int64(1)
			if len(d.hide) > 0 {
				want = 0
			}
			if got := proxy.accepted.Load() - conns; got != want {
				t.Errorf("%d new upstream connections after the refused large message; want %d (a refused chunk drops the connection, a refused DATA does not)", got, want)
			}

			// The upstream drops the idle connection.
			proxy.dropAll()
			time.Sleep(20 * time.Millisecond)
			if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, msg()); err != nil {
				t.Fatalf("after the upstream dropped the idle connection: %v", err)
			}

			ds := h.up.messages()
			if len(ds) != 4 || strings.Join(ds[0].To, ",") != "jane@contoso.example" {
				t.Fatalf("delivered %d messages (first to %v); want 4, the first to jane only", len(ds), ds[0].To)
			}
			if n, p := len(h.tracked()), len(h.pending()); n != 4 || p != 0 {
				t.Errorf("%d tracked, %d pending; want 4 and 0", n, p)
			}
		})
	}
}
