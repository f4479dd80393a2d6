package subject_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// fuzzSeeds are hand-written seeds; addCorpusSeeds adds real subjects when
// the shared corpora are present.
var fuzzSeeds = []string{
	"",
	"Re: AW: RE: Sv: x",
	"Re: [USRP-users] R: R: R: UHD and GPUs",
	"[USRP-users]  Re: 回复: [USRP-users] trigger question",
	"RE: Re[2]: Wedding plans (was Re: Ouch...)",
	"[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)",
	"re: [fwd: [fwd: re: [fwd: babylon]]]",
	"[Ticket#123] Re: [list] Fwd: printer CRM:0001001",
	"回复：答复: 转发： 你好",
	"Re^2: Re(3): Re [4] : x",
	"Ответ: ΑΠ: תגובה: رد: إعادة توجيه: x",
	"´ð¸´: rfnoc \u200f\u00a0x\u3000y",
	"[PATCH v2 3/5] can: m_can: fix",
	"Ad: Re: Ad: x",
	"x (was: y (was: z))",
	"[fwd: a] b [c]",
	"\xff\xfeRe: \xc3",
	"ＲＥ：Ｒｅｆ．：x",
}

// addCorpusSeeds adds up to max subjects from the shared corpora's oracle
// files, if they are present (they are never copied into testdata).
func addCorpusSeeds(f *testing.F, max int) {
	for _, rel := range []string{
		"usrp-users/oracle-notmuch-0.37.threads.json",
		"spamassassin-ham/oracle-notmuch-0.37/ham.threads.json",
	} {
		dir, ok := correlatetest.Find()
		if !ok {
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			continue
		}
		var o correlatetest.Oracle
		if json.Unmarshal(data, &o) != nil {
			continue
		}
		n := 0
		for _, th := range o.Threads {
			for _, m := range th.Messages {
				if n < max {
					f.Add(m.Subject)
					n++
				}
			}
		}
	}
}

// FuzzBase checks that Base never panics, is idempotent in both modes, keeps
// valid UTF-8 valid, and never grows the subject.
func FuzzBase(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	addCorpusSeeds(f, 400)
	modes := []*subject.Normalizer{
		subject.New(nil),
		subject.New(&subject.Options{Mode: subject.RFC5256}),
		subject.New(&subject.Options{MaxLen: 64, ExtraReplyPrefixes: []string{"Antwoord", "Re Re"}}),
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range modes {
			b, info := n.Base(s)
			b2, _ := n.Base(b)
			if b2 != b {
				t.Fatalf("%v: Base(%q) = %q, but Base(%q) = %q", n.Mode(), s, b, b, b2)
			}
			if utf8.ValidString(s) && !utf8.ValidString(b) {
				t.Fatalf("%v: Base(%q) = %q: invalid UTF-8", n.Mode(), s, b)
			}
			if len(b) > len(s) {
				t.Fatalf("%v: Base(%q) = %q: longer than the input", n.Mode(), s, b)
			}
			if strings.HasPrefix(b, " ") || strings.HasSuffix(b, " ") {
				t.Fatalf("%v: Base(%q) = %q: not trimmed", n.Mode(), s, b)
			}
			if info.Depth < 0 || info.Depth > 0 && !info.Reply {
				t.Fatalf("%v: Base(%q): bad info %+v", n.Mode(), s, info)
			}
			_ = n.Key(s)
			_, _ = n.AutoReply(s)
		}
	})
}

// FuzzFold checks that Fold never panics, always returns valid UTF-8, is
// idempotent and trims white space.
func FuzzFold(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add("RÉSUMÉ  e\u0301 ﬃ ß İ ς Ꭰꭰ \u200b\u00ad x")
	f.Add("e\u200b\u0301")
	addCorpusSeeds(f, 100)
	f.Fuzz(func(t *testing.T, s string) {
		got := subject.Fold(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Fold(%q) = %q: invalid UTF-8", s, got)
		}
		if again := subject.Fold(got); again != got {
			t.Fatalf("Fold(%q) = %q, but Fold(%q) = %q", s, got, got, again)
		}
		if strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("Fold(%q) = %q: white space not collapsed", s, got)
		}
	})
}

// FuzzWords checks that Words never panics and returns non-empty, folded,
// valid UTF-8 words without separators.
func FuzzWords(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add("打印机故障 N310的问题 カタカナー 한국어 café")
	addCorpusSeeds(f, 100)
	f.Fuzz(func(t *testing.T, s string) {
		for _, w := range subject.Words(s) {
			if w == "" || !utf8.ValidString(w) || strings.ContainsAny(w, " \t\r\n:[]") {
				t.Fatalf("Words(%q) has bad word %q", s, w)
			}
			if subject.Fold(w) != w {
				t.Fatalf("Words(%q) has unfolded word %q", s, w)
			}
		}
	})
}

// FuzzSameKey checks that SameKey agrees with comparing Keys, on pairs of
// subjects and on a subject against a reply to it.
func FuzzSameKey(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "Re: "+s)
	}
	f.Add("Printer broken", "AW: printer  BROKEN")
	f.Add("x\x7fy", "X Y")
	f.Add("Re: ＲＥＳＵＭＥ", "resume")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, p := range [][2]string{{a, b}, {a, "Re: " + a}, {b, "AW: " + a}, {a, strings.ToUpper(a)}, {"Re: " + a, strings.ToLower(a) + " "}} {
			if got, want := subject.SameKey(p[0], p[1]), subject.Key(p[0]) == subject.Key(p[1]); got != want {
				t.Fatalf("SameKey(%q, %q) = %v, Key says %v (%q, %q)", p[0], p[1], got, want, subject.Key(p[0]), subject.Key(p[1]))
			}
		}
	})
}
