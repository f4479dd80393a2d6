package submit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/submit"
)

// testIterations keeps password hashing fast in tests; production hashes
// use submit.DefaultIterations.
const testIterations = 1000

func mustHash(t testing.TB, password string) string {
	t.Helper()
	h, err := submit.HashPassword(password, testIterations)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestUsers(t *testing.T) {
	file := fmt.Sprintf("# name token-user hash senders\n\nalice 1 %s alice@fabrikam.example @sales.fabrikam.example\nbob 0 %s\n",
		mustHash(t, "alice-secret"), mustHash(t, "bob secret with spaces"))
	users, err := submit.ParseUsers(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if users.Len() != 2 {
		t.Fatalf("%d users, want 2", users.Len())
	}
	ctx := context.Background()
	cases := []struct {
		user, password string
		ok             bool
		why            string
	}{
		{"alice", "alice-secret", true, "the right password"},
		{"alice", "alice-secreT", false, "a wrong password"},
		{"alice", "", false, "an empty password"},
		{"bob", "bob secret with spaces", true, "passwords may hold spaces"},
		{"carol", "alice-secret", false, "an unknown user, with another user's password"},
		{"Alice", "alice-secret", false, "names are exact"},
	}
	for _, c := range cases {
		u, err := users.Authenticate(ctx, c.user, c.password)
		if c.ok != (err == nil) {
			t.Errorf("%s (%s/%s): err %v", c.why, c.user, c.password, err)
			continue
		}
		if !c.ok && !errors.Is(err, submit.ErrBadCredentials) {
			t.Errorf("%s: error %v does not wrap ErrBadCredentials", c.why, err)
		}
		if c.ok && u.Name != c.user {
			t.Errorf("%s: user %q", c.why, u.Name)
		}
	}
	alice, _ := users.Authenticate(ctx, "alice", "alice-secret")
	if alice.TokenUser != 1 {
		t.Errorf("alice's token user %d, want 1", alice.TokenUser)
	}
	senders := []struct {
		from string
		ok   bool
		why  string
	}{
		{"alice@fabrikam.example", true, "her own address"},
		{"Alice@Fabrikam.Example", true, "addresses compare without regard to case"},
		{"deals@sales.fabrikam.example", true, "a domain she may send for"},
		{"ceo@fabrikam.example", false, "another person's address"},
		{"x@evil-sales.fabrikam.example", false, "a domain only ending like hers"},
		{"", false, "the null sender is no address of hers"},
	}
	for _, c := range senders {
		if got := alice.MaySend(c.from); got != c.ok {
			t.Errorf("%s: MaySend(%q) = %v", c.why, c.from, got)
		}
	}
	bob, _ := users.Authenticate(ctx, "bob", "bob secret with spaces")
	if !bob.MaySend("anyone@anywhere.example") {
		t.Error("a user without senders may use any sender: the upstream's checks apply")
	}
}

func TestParseUsersErrors(t *testing.T) {
	good := mustHash(t, "x")
	cases := []struct {
		file, want, why string
	}{
		{"alice 1\n", "line 1: want NAME TOKENUSER HASH", "a line without a hash"},
		{"alice x " + good + "\n", "line 1: token user \"x\"", "a token user that is no number"},
		{"alice -1 " + good + "\n", "line 1: token user \"-1\"", "a negative token user"},
		{"alice 1 plain-password\n", "line 1: password hash", "a password written in clear"},
		{"alice 1 " + good + "\nalice 2 " + good + "\n", "line 2: user \"alice\" listed twice", "a user listed twice"},
		{"a 1 pbkdf2-sha256$0$AAAAAAAAAAA$" + strings.Repeat("A", 43) + "\n", "iterations \"0\"", "zero iterations"},
	}
	for _, c := range cases {
		u, err := submit.ParseUsers(strings.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.why, err, c.want)
		}
		if u != nil {
			t.Errorf("%s: users returned with the error", c.why)
		}
	}
}

func TestHashPasswordSalted(t *testing.T) {
	a, b := mustHash(t, "same"), mustHash(t, "same")
	if a == b {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if !strings.HasPrefix(a, fmt.Sprintf("pbkdf2-sha256$%d$", testIterations)) {
		t.Fatalf("hash %q does not name its scheme and iterations", a)
	}
}
