package party_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/party"
)

var fuzzSeeds = []string{
	"anna@contoso.example", "Anna.Smith@Contoso.EXAMPLE", `"Smith, Anna" <Anna@contoso.example>`,
	"<@relay.example:anna@contoso.example>", "anna@contoso.example.", "anna+crm@gmail.com", "A.N.N.A@googlemail.com",
	"info@Bücher.Example", "ivan@пример.рф", "JÖRG@contoso.example", "jo\u0308rg@x.example", "山田太郎@例え.jp",
	`"anna"@x.example`, `"Anna Smith"@x.example`, `"a\"b"@x.example`, `"a\b"@x.example`, "a..b@x.example",
	"anna@[192.0.2.1]", "anna@[IPv6:2001:DB8::1]", "root@localhost", "service@pаypal.com", "service@xn--pypal-4ve.com",
	"an\x00na@x.example", "an\u200bna@x.example", "anna@\u202ex.example", "an\xffna@x.example", "a@b@c", "noat",
	"x@xn--zz-.example", "x@カ한.example", "İSTANBUL@x.example", "ǅ@x.example", "ß@x.example", "ﬃ@x.example", strings.Repeat("Ⱥ", 32) + "@x.example",
	strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + ".example", strings.Repeat("ü", 40) + "@x.example", strings.Repeat("a", 1000) + "@x.example",
}

// maxFuzzLen bounds fuzz inputs. Longer input takes the one path that
// refuses it by length (covered by the seeds and TestNormalizeHostile),
// and the fuzzer's minimizer is quadratic in input size: without a bound it
// spends whole runs minimizing kilobyte inputs instead of fuzzing.
const maxFuzzLen = 1024

// FuzzNormalize checks the normalizer's promises on hostile input: no
// panic; an error matches ErrBadAddress and comes with no result; a result
// is valid UTF-8, at most 254 octets, one local part and one ASCII domain
// split by an '@', free of control characters and ASCII capitals, and a
// fixed point (normalizing it again gives it back); the fast path agrees
// with the full path; KeepLocalCase differs only by case; provider rules
// are idempotent too.
func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	if _, ok := correlatetest.Find(); ok {
		for i, a := range corpusAddresses(f) {
			if i%20 == 0 {
				f.Add(a)
			}
		}
	}
	// StripTags with a separator that no valid address contains changes
	// nothing but takes the full path: the reference for the fast path.
	slow := party.NewNormalizer(&party.NormalizeOptions{StripTags: true, TagSeparators: "\x00"})
	keep := party.NewNormalizer(&party.NormalizeOptions{KeepLocalCase: true})
	gmail := party.NewNormalizer(&party.NormalizeOptions{StripTags: true, Providers: party.DefaultProviders()})
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > maxFuzzLen {
			return
		}
		out, err := party.Normalize(in)
		sOut, sErr := slow.Normalize(in)
		if (err == nil) != (sErr == nil) || out != sOut {
			t.Fatalf("fast and full paths disagree on %q: %q, %v vs %q, %v", in, out, err, sOut, sErr)
		}
		if err != nil {
			if !errors.Is(err, party.ErrBadAddress) {
				t.Fatalf("Normalize(%q): error %v does not match ErrBadAddress", in, err)
			}
			if out != "" {
				t.Fatalf("Normalize(%q) = %q with error %v", in, out, err)
			}
			return
		}
		checkKey(t, in, out)
		lower := out
		if i := strings.LastIndex(out, "@[IPv6:"); i >= 0 {
			lower = out[:i] // RFC 5321 spells the tag "IPv6"
		}
		for i := 0; i < len(lower); i++ {
			if 'A' <= lower[i] && lower[i] <= 'Z' {
				t.Fatalf("Normalize(%q) = %q: capital letter under the default rules", in, out)
			}
		}
		again, err := party.Normalize(out)
		if err != nil || again != out {
			t.Fatalf("Normalize is not idempotent: %q → %q → %q, %v", in, out, again, err)
		}
		if k, err := keep.Normalize(in); err == nil {
			checkKey(t, in, k)
			if low, err := party.Normalize(k); err == nil && low != out {
				t.Fatalf("KeepLocalCase(%+q) = %+q, which normalizes to %+q, not %+q", in, k, low, out)
			}
		}
		if g, err := gmail.Normalize(in); err == nil {
			checkKey(t, in, g)
			if g2, err := gmail.Normalize(g); err != nil || g2 != g {
				t.Fatalf("provider rules not idempotent: %q → %q → %q, %v", in, g, g2, err)
			}
		}
	})
}

// checkKey checks the shape of a normalized address.
func checkKey(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("Normalize(%q) = %q: not UTF-8", in, out)
	}
	if len(out) > party.MaxAddressLen {
		t.Fatalf("Normalize(%q) = %q: %d octets", in, out, len(out))
	}
	at := strings.LastIndexByte(out, '@')
	if at <= 0 || at == len(out)-1 {
		t.Fatalf("Normalize(%q) = %q: no local part or no domain", in, out)
	}
	local, dom := out[:at], out[at+1:]
	if !strings.HasPrefix(local, `"`) && strings.IndexByte(local, '@') >= 0 {
		t.Fatalf("Normalize(%q) = %q: unquoted @ in the local part", in, out)
	}
	for i := 0; i < len(dom); i++ {
		if dom[i] >= utf8.RuneSelf {
			t.Fatalf("Normalize(%q) = %q: domain not ASCII", in, out)
		}
	}
	for _, r := range out {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("Normalize(%q) = %q: control or format character %U", in, out, r)
		}
	}
}

// FuzzLoadDirectory checks the JSON Lines loader: no panic, never more
// entries than lines, every skipped line reported, and every entry stored
// under a normalized key.
func FuzzLoadDirectory(f *testing.F) {
	f.Add([]byte(`{"address": "anna@contoso.example", "record": "contact:c-1", "active": true, "account": "account:contoso"}` + "\n" +
		`{"address": "@contoso.example", "record": "account:contoso"}` + "\n# comment\n\nnot json\n"))
	f.Add([]byte(`{"address": "A@X.example", "record": "contact:1", "active": false, "owner": "systemuser:u"}`))
	f.Add([]byte(`{"address": "a@x.example", "record": ":", "account": "x"}` + "\r\n" + `{"record": "contact:2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16*maxFuzzLen {
			return
		}
		d, err := party.LoadDirectory(bytes.NewReader(data))
		if d == nil {
			t.Fatal("LoadDirectory returned no directory")
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		if d.Len() > lines {
			t.Fatalf("%d entries from %d lines", d.Len(), lines)
		}
		var le *party.LoadError
		if err != nil && (!errors.As(err, &le) || le.Skipped == 0 || len(le.Lines) == 0) {
			t.Fatalf("unexpected error %v", err)
		}
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			var probe struct{ Address string }
			if jsonUnmarshal(line, &probe) != nil {
				continue
			}
			key, err := party.Normalize(probe.Address)
			if err != nil || strings.HasPrefix(strings.TrimSpace(probe.Address), "@") {
				continue
			}
			es, err := d.Lookup(context.Background(), key, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if e.Address != key || e.Record.Type == "" || e.Record.ID == "" {
					t.Fatalf("bad entry %+v under %q", e, key)
				}
			}
		}
	})
}

// FuzzResolve resolves messages with hostile addresses against a small
// directory: no panic, no error, one Party per address, and every
// unresolved address listed once.
func FuzzResolve(f *testing.F) {
	f.Add("anna@contoso.example", "bob@contoso.example", "not an address")
	f.Add("\x00", "@contoso.example", "anna@contoso.example")
	f.Add("", "", "")
	d := party.NewMemDirectory(nil)
	for _, e := range []party.Entry{
		{Address: "anna@contoso.example", Record: correlate.Record{Type: "contact", ID: "anna"}, Active: true, Account: correlate.Record{Type: "account", ID: "contoso"}},
		{Address: "anna@contoso.example", Record: correlate.Record{Type: "systemuser", ID: "anna"}, Active: false},
		{Address: "@contoso.example", Record: correlate.Record{Type: "account", ID: "contoso"}, Active: true},
	} {
		if err := d.Add(e); err != nil {
			f.Fatal(err)
		}
	}
	rs := []*party.Resolver{party.NewResolver(d, nil), party.NewResolver(d, &party.Options{UnresolveAmbiguous: true, IncludeInactiveRecipients: true})}
	f.Fuzz(func(t *testing.T, from, to, cc string) {
		if len(from)+len(to)+len(cc) > maxFuzzLen {
			return
		}
		m := &correlate.Message{
			From: []correlate.Address{{Address: from}, {Address: cc}},
			To:   []correlate.Address{{Address: to}, {Address: from}},
			Cc:   []correlate.Address{{Address: cc}},
		}
		authors := 0
		for _, a := range m.From {
			if strings.TrimSpace(a.Address) != "" {
				authors++
			}
		}
		for _, r := range rs {
			res, err := r.Resolve(context.Background(), m)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if len(res.To) != 2 || len(res.Cc) != 1 {
				t.Fatalf("parties lost: %v", res)
			}
			if got := len(res.OtherFrom) + min(1, len(res.From.Address)); got != authors {
				t.Fatalf("%d From parties for %d authors: %v", got, authors, res)
			}
			seen := map[string]bool{}
			for _, a := range res.Unresolved {
				if seen[a] || a == "" {
					t.Fatalf("Unresolved %q listed twice or empty: %v", a, res.Unresolved)
				}
				seen[a] = true
			}
			for _, p := range res.Parties() {
				if !p.Resolved() && p.Address != "" && !seen[p.Address] {
					t.Fatalf("unresolved %v not listed in %v", p, res.Unresolved)
				}
			}
			_ = res.String()
			for _, f := range []party.Filter{party.All, party.ResponsesToTrackedEmail, party.FromCRMRecords, party.FromEmailEnabledRecords, party.None} {
				if v := f.Accept(m, correlate.Decision{}, res); v.Reason == "" {
					t.Fatalf("%v: verdict without reason", f)
				}
			}
		}
	})
}

// FuzzOrganization checks Organization on hostile input: no panic; an
// organization is a lower-case ASCII domain of at least two labels, the
// registrable part of the address's domain, and a fixed point; ok implies
// an organization that is not a freemail provider's.
func FuzzOrganization(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range []string{"a@mail.contoso.co.uk", "a@co.uk", "a@gmail.com", "@contoso.example", "contoso.example.", "a@xn--80ak6aa92e.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > maxFuzzLen {
			return
		}
		org, ok := party.Organization(in)
		if org == "" {
			if ok {
				t.Fatalf("Organization(%q): ok without an organization", in)
			}
			return
		}
		if ok == party.IsFreemail(org) {
			t.Fatalf("Organization(%q) = %q, %v: ok must be the opposite of IsFreemail", in, org, ok)
		}
		if !strings.Contains(org, ".") || strings.ContainsAny(org, "@[] ") || strings.ToLower(org) != org {
			t.Fatalf("Organization(%q) = %q: not a lower-case domain", in, org)
		}
		for i := 0; i < len(org); i++ {
			if org[i] >= utf8.RuneSelf {
				t.Fatalf("Organization(%q) = %q: not ASCII", in, org)
			}
		}
		if again, ok2 := party.Organization(org); again != org || ok2 != ok {
			t.Fatalf("Organization(%q) = %q, %v but Organization(%q) = %q, %v", in, org, ok, org, again, ok2)
		}
	})
}
