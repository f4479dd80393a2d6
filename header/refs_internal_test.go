package header

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

func TestNormalize(t *testing.T) {
	for _, id := range []string{
		"a@b.example", "A.b@B.Example", "<a@b>", " a@b ", "a@\r\n b", "\u00a0a@b", "a@b\u00a0", "no-at", "", "a@ÜBER.example", "x<y@z",
	} {
		assert.Equal(t, correlate.NormalizeMessageID(id), normalize(id), "%q", id)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = normalize("CAFx1=abc@mail.gmail.com") }), "a normal id costs nothing")
}

// FuzzNormalize checks that the fast path of normalize agrees with
// correlate.NormalizeMessageID on arbitrary ids.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a@b", "A@B", "<a@b>", " a@b", "\u00a0a@b", "a@\xffB", "@", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := normalize(id), correlate.NormalizeMessageID(id); got != want {
			t.Fatalf("normalize(%q) = %q, want %q", id, got, want)
		}
	})
}

// FuzzNormalizeAndCheck checks that the one-pass check agrees with
// normalize and junkForm.
func FuzzNormalizeAndCheck(f *testing.F) {
	for _, s := range []string{"a@b", "A@B", "a@B", "<a@b>", " a@b", "a@\xffB", "@", "", "a@", "@b", "ab", "a\x7f@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, junk := normalizeAndCheck(raw)
		if want := normalize(raw); id != want {
			t.Fatalf("normalizeAndCheck(%q) id = %q, want %q", raw, id, want)
		}
		if want := junkForm(normalize(raw)); junk != want {
			t.Fatalf("normalizeAndCheck(%q) junk = %q, want %q", raw, junk, want)
		}
	})
}

// FuzzPhraseField checks that the IndexByte fast path of phraseField agrees
// with the byte-by-byte scan.
func FuzzPhraseField(f *testing.F) {
	for _, s := range []string{"<a@b>", "<a@b> <c@d>", "<a@b>,<c@d>", "Message from A <a@b> of x", "<a<b>c>", "<a", "a>", "", " \t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := map[string][]string{"In-Reply-To": {v}}
		depth, slow := 0, false
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == '<':
				depth++
			case c == '>':
				if depth > 0 {
					depth--
				}
			case depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',':
				slow = true
			}
			if slow {
				break
			}
		}
		if got := phraseField(h, "In-Reply-To"); got != slow {
			t.Fatalf("phraseField(%q) = %v, the full scan says %v", v, got, slow)
		}
	})
}
