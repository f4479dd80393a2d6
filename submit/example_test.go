package submit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/submit"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// printingServer is the submission server of the example: it prints the
// Subject and Message-ID of what it receives.
type printingServer struct{ keys [][]byte }

func (p printingServer) NewSession(*smtp.Conn) (smtp.Session, error) { return p, nil }
func (printingServer) Mail(string, *smtp.MailOptions) error          { return nil }
func (printingServer) Rcpt(string, *smtp.RcptOptions) error          { return nil }
func (printingServer) Reset()                                        {}
func (printingServer) Logout() error                                 { return nil }
func (p printingServer) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	m, _ := correlate.ParseMessage(bytes.NewReader(b), nil)
	rec, err := header.VerifyMessageID(m.MessageID, p.keys)
	fmt.Printf("upstream: Subject: %s\nupstream: Message-ID signed for %v (%v)\n", m.Subject, rec, err)
	fmt.Printf("upstream: X-CRM-Regarding present: %v\n", m.Header.Get("X-CRM-Regarding") != "")
	return nil
}

// The relay between a CRM and its submission server: the CRM names the
// record in X-CRM-Regarding; the server receives the email with a tracking
// token and a Message-ID signed for the record, and the store files it.
func Example() {
	ctx := context.Background()
	keys := [][]byte{[]byte("a key of sixteen bytes or more")}

	// The organization's submission server (here a go-smtp server).
	upstream, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := smtp.NewServer(printingServer{keys})
	srv.Domain = "upstream.example"
	go srv.Serve(upstream)
	defer srv.Close()

	// The relay: users, tokens, signed Message-IDs, the store.
	hash, _ := submit.HashPassword("s3cret", 1000)
	users, _ := submit.ParseUsers(strings.NewReader("alice 1 " + hash + " alice@fabrikam.example\n"))
	st := memstore.New()
	tokens, _ := token.NewGenerator(st, token.Format{})
	relay, err := submit.New(submit.Options{
		Store:    st,
		Tokens:   tokens,
		IDKeys:   keys,
		Domain:   "relay.fabrikam.example",
		Upstream: submit.Upstream{Addr: upstream.Addr().String(), TLS: submit.NoTLS},
		Auth:     users,
		Instance: "example",
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error)
	go func() { served <- relay.Serve(sctx, l) }()

	// The CRM sends an email regarding a case (from loopback, so AUTH
	// needs no TLS).
	c, _ := smtp.Dial(l.Addr().String())
	c.Auth(sasl.NewPlainClient("", "alice", "s3cret"))
	err = c.SendMail("alice@fabrikam.example", []string{"jane@contoso.example"}, strings.NewReader(
		"From: alice@fabrikam.example\r\nTo: jane@contoso.example\r\nSubject: Your printer case\r\n"+
			"X-CRM-Regarding: incident:CAS-01042\r\n\r\nWe are on it.\r\n"))
	fmt.Println("relay:", err)
	c.Quit()
	stop()
	<-served

	ts, _ := st.Scan(ctx, 0, 0)
	fmt.Printf("tracked: %v, token %s\n", ts[0].Record, ts[0].Token)
	// Output:
	// upstream: Subject: Your printer case CRM:0001001
	// upstream: Message-ID signed for incident:CAS-01042 (<nil>)
	// upstream: X-CRM-Regarding present: false
	// relay: <nil>
	// tracked: incident:CAS-01042, token CRM:0001001
}

// MaySend checks the envelope sender a user gives against the addresses
// and domains the users file lists for the user.
func ExampleUser_MaySend() {
	u := submit.User{Name: "alice", Senders: []string{"alice@fabrikam.example", "@sales.fabrikam.example"}}
	for _, from := range []string{"Alice@Fabrikam.example", "deals@sales.fabrikam.example", "ceo@fabrikam.example"} {
		fmt.Println(from, u.MaySend(from))
	}
	// Output:
	// Alice@Fabrikam.example true
	// deals@sales.fabrikam.example true
	// ceo@fabrikam.example false
}
