package smartmatch_test

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// fuzzSubjects are seeds written after quirks seen in real mail: stacked and
// localized prefixes, list tags, counters, tokens, "(was: …)", CJK, invalid
// UTF-8, control characters and very long subjects.
var fuzzSubjects = []string{
	"", "RE:", "Re: hello", "RE: FW: AW: Sv: Angebot 42", "Re[2]: Re(3): x", "Re^2: x",
	"[USRP-users] Re: [USRP-users] R: R: UHD and GPUs", "回复：答复: 打印机故障", "ΑΠ: ΣΧΕΤ: Προσφορά",
	"RE: Printer broken CRM:0001001", "[Ticket#2024120110000015] Re: Printer", "Re: New topic (was: Old topic)",
	"Economist: the week ahead", "Out of office: Re: x", "=?utf-8?q?encoded?=", "\xff\xfe\x00 RE: \x80",
	"Re:\u00a0\u2028\u200b x", strings.Repeat("Re: ", 300) + "x", strings.Repeat("word ", 2000),
	"ref:_00D1a2b3c._5001a2b3c4:ref", "#123", "[]", "[[[[", "((((was: (was: x))))",
}

var fuzzAddresses = []string{
	"", "a@x.example", "A@X.EXAMPLE, b@y.example", " , ,", "undisclosed-recipients:;", "\xff@\xfe",
	strings.Repeat("c@z.example,", 50), "@", "a@x.example,a@x.example,A@x.example",
}

// splitAddrs turns a comma-separated fuzz string into addresses, as a
// lenient parser would leave them: anything goes.
func splitAddrs(s string) []correlate.Address {
	var out []correlate.Address
	for _, a := range strings.Split(s, ",") {
		out = append(out, correlate.Address{Address: a})
	}
	return out
}

// FuzzHash checks the Dynamics-mode hashes of hostile subjects and address
// lists: no panic, bounded output, unique normalized addresses, and the
// hand-written matcher of the default filter agreeing with the translated
// regular expression.
func FuzzHash(f *testing.F) {
	for i, s := range fuzzSubjects {
		f.Add(s, fuzzAddresses[i%len(fuzzAddresses)], 0)
	}
	fast := smartmatch.New(nil, &smartmatch.Options{Mode: smartmatch.Dynamics})
	slow := smartmatch.New(nil, &smartmatch.Options{Mode: smartmatch.Dynamics, HashFilterKeywords: regexDefault})
	f.Fuzz(func(t *testing.T, subj, addrs string, max int) {
		m := &correlate.Message{Subject: subj, From: splitAddrs(addrs), Cc: splitAddrs(strings.ToUpper(addrs))}
		h := fast.Hash(m)
		if len(h.Words) > smartmatch.DefaultHashMaxCount || len(h.Addresses) > smartmatch.DefaultHashMaxCount {
			t.Fatalf("Hash(%q) = %d words, %d addresses: more than HashMaxCount", subj, len(h.Words), len(h.Addresses))
		}
		for i, a := range h.Addresses {
			if a == "" || a != correlate.NormalizeAddress(a) || slices.Contains(h.Addresses[:i], a) {
				t.Fatalf("Hash addresses %q: empty, unnormalized or repeated", h.Addresses)
			}
		}
		if s := slow.Hash(m); !slices.Equal(s.Words, h.Words) {
			t.Fatalf("Hash(%q): default matcher %x, regular expression %x", subj, h.Words, s.Words)
		}
		if !strings.ContainsFunc(subj, func(r rune) bool { return r >= utf8.RuneSelf }) {
			// ASCII case does not matter.
			if u := fast.Hash(&correlate.Message{Subject: strings.ToUpper(subj)}); !slices.Equal(u.Words, h.Words) {
				t.Fatalf("Hash(%q) differs from Hash(upper case)", subj)
			}
		}
		c := smartmatch.New(nil, &smartmatch.Options{Mode: smartmatch.Dynamics, HashMaxCount: max % 64})
		keys := c.Index(m, &correlate.Tracked{}, nil)
		if n := max % 64; n > 0 && len(keys) > 2*n || n <= 0 && len(keys) > 2*smartmatch.DefaultHashMaxCount {
			t.Fatalf("Index gave %d keys for HashMaxCount %d", len(keys), n)
		}
	})
}

// FuzzCorrelate tracks one email and correlates another against it in both
// modes: never a panic or an error (hostile input is an abstention), and a
// match always within the documented bounds.
func FuzzCorrelate(f *testing.F) {
	for i, s := range fuzzSubjects {
		f.Add(s, "Re: "+s, fuzzAddresses[i%len(fuzzAddresses)], fuzzAddresses[(i+1)%len(fuzzAddresses)], false)
		f.Add(s, fuzzSubjects[(i+3)%len(fuzzSubjects)], "a@x.example", "a@x.example, b@y.example", true)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, subj1, subj2, addrs1, addrs2 string, outgoing bool) {
		for _, mode := range []smartmatch.Mode{smartmatch.Improved, smartmatch.Dynamics} {
			st := memstore.New()
			opts := &smartmatch.Options{Mode: mode, MatchFresh: outgoing, HubRefresh: -1, HashDeltaSubjectCount: 1}
			c := smartmatch.New(st, opts)
			eng := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)
			t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			a := &correlate.Message{MessageID: "a@x", Subject: subj1, From: splitAddrs(addrs1), To: splitAddrs(addrs2), Date: t0}
			if _, err := eng.Track(ctx, a, correlate.Match{Record: correlate.Record{Type: "incident", ID: "A"}}); err != nil {
				t.Fatal(err)
			}
			b := &correlate.Message{MessageID: "b@x", Subject: subj2, From: splitAddrs(addrs2), To: splitAddrs(addrs1),
				Cc: splitAddrs(addrs1), Date: t0.Add(time.Hour), Mailbox: addrs1}
			if outgoing {
				b.Direction = correlate.Outgoing
			}
			got, err := c.Correlate(ctx, b)
			if err != nil {
				t.Fatalf("%v: Correlate(%q after %q) failed: %v", mode, subj2, subj1, err)
			}
			if got.Found() {
				if got.Confidence <= 0 || got.Confidence > correlate.Likely || got.CorrelatedWith == nil || got.Method != correlate.SmartMatching {
					t.Fatalf("%v: Correlate(%q after %q) = %v: out of bounds", mode, subj2, subj1, got)
				}
			}
			if again, _ := c.Correlate(ctx, b); again.Record != got.Record || again.Confidence != got.Confidence {
				t.Fatalf("%v: Correlate is not deterministic: %v, then %v", mode, got, again)
			}
			if self, _ := c.Correlate(ctx, a); self.Found() {
				t.Fatalf("%v: a tracked email correlated with itself: %v", mode, self)
			}
		}
	})
}

// FuzzCompileFilter checks that translating any pattern never panics and
// that a translated pattern runs.
func FuzzCompileFilter(f *testing.F) {
	for _, p := range []string{smartmatch.DefaultHashFilterKeywords, `^[\s]*([\w]+\s?:[\s]*)+|Out of office:`,
		`[\W]`, `\`, `[]\w]`, `[[:alpha:]\d]+`, `(?i)re\s*:`, `[^\]\s]`, `\p{L}\w\\w`, `[\w-\d]`} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		re, err := smartmatch.CompileFilter(p)
		if err != nil {
			return
		}
		_ = re.ReplaceAllString("RE: AW: ΑΠ: 回复：x \xff", "")
	})
}

// FuzzImprovedParticipants feeds arbitrary List-Post fields, own
// addresses and participant addresses (organizations come from their
// domains, through the public suffix list) to Improved mode: it never
// panics or fails, and a match names the tracked email's record.
func FuzzImprovedParticipants(f *testing.F) {
	f.Add("Printer offline", "<mailto:list@lists.example>", "@fabrikam.example", "a@b.co.uk, c@d.github.io")
	f.Add("Re: x", "<MAILTO:", "@", "@@, a@, @b, a@b@c")
	f.Add("\xff", "mailto:x@y>", "x@y", "x@y")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, subj, listPost, own, addrs string) {
		st := memstore.New()
		c := smartmatch.New(st, &smartmatch.Options{OwnAddresses: strings.Split(own, ","), HubRefresh: -1})
		eng := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)
		t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		head := mail.Header{"List-Post": {listPost}}
		a := &correlate.Message{MessageID: "a@x", Subject: subj, From: splitAddrs(addrs), Cc: splitAddrs(addrs), Date: t0, Header: head}
		if _, err := eng.Track(ctx, a, correlate.Match{Record: correlate.Record{Type: "incident", ID: "A"}}); err != nil {
			t.Fatal(err)
		}
		b := &correlate.Message{MessageID: "b@x", Subject: "Re: " + subj, To: splitAddrs(addrs), From: splitAddrs(strings.ToUpper(addrs)),
			Date: t0.Add(time.Hour), Header: head}
		got, err := c.Correlate(ctx, b)
		if err != nil {
			t.Fatalf("Correlate: %v", err)
		}
		if got.Found() && got.Record.String() != "incident:A" {
			t.Fatalf("matched %v", got.Record)
		}
	})
}
