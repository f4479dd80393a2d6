package submit_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate/submit"
)

// TestTLS runs the relay as it is deployed: clients on the network must
// STARTTLS before they may log in, and the relay reaches its upstream over
// STARTTLS and logs in there with its own account.
func TestTLS(t *testing.T) {
	ips := nonLoopbackIPs()
	if len(ips) == 0 {
		t.Skip("no network interface other than loopback: cannot show that AUTH needs TLS off loopback")
	}
	serverTLS, pool := testCert(t)
	up := startUpstream(t, serverTLS)
	up.user, up.password = "relay-account", "relay-secret"
	st := newMemstore()
	r, err := submit.New(submit.Options{
		Store: st,
		Upstream: submit.Upstream{
			Addr: up.Addr, TLS: submit.StartTLS, TLSConfig: &tls.Config{RootCAs: pool},
			Username: up.user, Password: up.password, Timeout: 10 * time.Second,
		},
		Auth:      testUsers(t),
		TLSConfig: serverTLS,
		Domain:    "relay.fabrikam.example",
		Instance:  "tls",
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serve(t, r, net.JoinHostPort(ips[0].String(), "0"))

	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered in plain text to a client off loopback")
	}
	if err := c.Auth(plainAuth("alice", "alice-pw")); code(err) != 538 {
		t.Errorf("AUTH before STARTTLS: %v, want 538 (encryption required)", err)
	}
	if err := c.Mail("alice@fabrikam.example", nil); code(err) != 530 {
		t.Errorf("MAIL without AUTH: %v, want 530", err)
	}

	tc, err := smtp.DialStartTLS(addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.Auth(plainAuth("alice", "alice-pw")); err != nil {
		t.Fatalf("AUTH after STARTTLS: %v", err)
	}
	if err := send(tc, "alice@fabrikam.example", []string{"jane@contoso.example"}, caseMail); err != nil {
		t.Fatalf("sending over TLS to an upstream over TLS: %v", err)
	}
	if n := len(up.messages()); n != 1 {
		t.Fatalf("upstream got %d messages, want 1", n)
	}
}
