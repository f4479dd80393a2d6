package correlate

import (
	"math/rand/v2"
	"net/mail"
	"strings"
	"testing"
)

// FuzzFastAddressList checks that the fast path for simple address lists
// agrees with net/mail on every list it accepts.
func FuzzFastAddressList(f *testing.F) {
	for _, s := range []string{"a@x", "Alice <a@x>", "a@x, b@y", "Alice  Smith <a@x>,b@y", "a@x,", ", a@x", "a@x,,b@y", "<a@x>", "a.b@c.d", "x <a@x> y", "a@@x", ".a@x",
		`"Alice Smith" <a@x>`, `"Smith, Alice" <a@x>, b@y`, `"" <a@x>`, `"a"<a@x>`, `"a" "b" <a@x>`, `"a  b" <a@x>`, `" a " <a@x>`, `"a" b <a@x>`, `"a"`, `"a" <a@x> c`,
		strings.Repeat(`"x, y" <a@x>, b@y, `, 12) + "c@z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := fastAddressList(s)
		if !ok {
			return
		}
		slow, err := mail.ParseAddressList(s)
		if err != nil {
			t.Fatalf("fast path accepted %q, net/mail refused it: %v", s, err)
		}
		if len(slow) != len(fast) {
			t.Fatalf("%q: fast %v, net/mail %v", s, fast, slow)
		}
		for i := range fast {
			if fast[i] != *slow[i] {
				t.Fatalf("%q: fast %v, net/mail %v", s, fast[i], *slow[i])
			}
		}
	})
}

// FuzzFastDate checks that the fast date reader agrees with net/mail on
// every date both accept, and that it accepts the common forms.
func FuzzFastDate(f *testing.F) {
	for _, s := range []string{
		"Thu, 22 Aug 2002 09:44:04 -0400", "22 Aug 2002 09:44 +0000", "Thu, 22 Aug 2002 09:44:04 -0400 (EDT)",
		"Mon, 31 Feb 2026 10:00:00 +0100", "Tue,  3 Mar 2026 10:15:00 +0530", "Thu, 22 aug 2002 09:44:04 -0400",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := fastDate(s)
		if !ok {
			return
		}
		slow, err := mail.ParseDate(s)
		if err != nil {
			return // fast is more lenient only where net/mail is stricter than real mail
		}
		if !fast.Equal(slow) {
			t.Fatalf("%q: fast %v, net/mail %v", s, fast, slow)
		}
		_, off1 := fast.Zone()
		_, off2 := slow.Zone()
		if off1 != off2 {
			t.Fatalf("%q: zone %d vs %d", s, off1, off2)
		}
	})
}

func TestFastDateAcceptsCommonForms(t *testing.T) {
	for _, s := range []string{
		"Thu, 22 Aug 2002 09:44:04 -0400",
		"Thu, 22 Aug 2002 09:44:04 -0400 (EDT)",
		"22 Aug 2002 09:44:04 -0400",
		"Tue, 3 Mar 2026 10:15 +0100",
	} {
		if _, ok := fastDate(s); !ok {
			t.Errorf("fastDate(%q) refused a common form", s)
		}
	}
	for _, s := range []string{"Mon, 31 Feb 2026 10:00:00 +0100", "Thu, 22 Aug 2002 25:44:04 -0400", "22 Aug 2002 09:44:04 EDT"} {
		if _, ok := fastDate(s); ok {
			t.Errorf("fastDate(%q) accepted what it must leave to net/mail", s)
		}
	}
}

// TestFastAddressListRandom runs the comparison of FuzzFastAddressList on
// random lists made of the bytes that matter to it (quotes, commas,
// brackets, '@', dots, spaces).
func TestFastAddressListRandom(t *testing.T) {
	pieces := []string{`"`, `"a b"`, `"a, b"`, `""`, ` `, `,`, `<`, `>`, `a@b.c`, `<a@b.c>`, `x`, `x y`, `.`, `@`, "\t"}
	rng := rand.New(rand.NewPCG(3, 4))
	accepted := 0
	for range 200000 {
		var sb strings.Builder
		for range rng.IntN(6) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		fast, ok := fastAddressList(s)
		if !ok {
			continue
		}
		accepted++
		slow, err := mail.ParseAddressList(s)
		if err != nil {
			t.Fatalf("fast path accepted %q, net/mail refused it: %v", s, err)
		}
		if len(slow) != len(fast) {
			t.Fatalf("%q: fast %v, net/mail %v", s, fast, slow)
		}
		for i := range fast {
			if fast[i] != *slow[i] {
				t.Fatalf("%q: fast %v, net/mail %v", s, fast[i], *slow[i])
			}
		}
	}
	if accepted < 100 {
		t.Fatalf("only %d random lists took the fast path: the test says little", accepted)
	}
}
