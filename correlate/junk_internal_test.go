package correlate

import (
	"bytes"
	"net/textproto"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNormalizeID(t *testing.T) {
	for _, id := range []string{
		"a@b.example", "A.b@B.Example", "<a@b>", " a@b ", "a@\r\n b", "\u00a0a@b", "a@b\u00a0", "no-at", "", "a@ÜBER.example", "x<y@z",
	} {
		assert.Equal(t, NormalizeMessageID(id), normalizeID(id), "%q", id)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = normalizeID("CAFx1=abc@mail.gmail.com") }), "a normal id costs nothing")
}

// FuzzNormalizeID checks that the fast path of normalizeID agrees with
// NormalizeMessageID on arbitrary ids.
func FuzzNormalizeID(f *testing.F) {
	for _, s := range []string{"a@b", "A@B", "<a@b>", " a@b", "\u00a0a@b", "a@\xffB", "@", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := normalizeID(id), NormalizeMessageID(id); got != want {
			t.Fatalf("normalizeID(%q) = %q, want %q", id, got, want)
		}
	})
}

// FuzzNormalizeAndCheck checks that the one-pass check agrees with
// normalizeID and junkForm.
func FuzzNormalizeAndCheck(f *testing.F) {
	for _, s := range []string{"a@b", "A@B", "a@B", "<a@b>", " a@b", "a@\xffB", "@", "", "a@", "@b", "ab", "a\x7f@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, junk := normalizeAndCheck(raw)
		if want := normalizeID(raw); id != want {
			t.Fatalf("normalizeAndCheck(%q) id = %q, want %q", raw, id, want)
		}
		if want := junkForm(normalizeID(raw)); junk != want {
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
		if got := phraseField([]string{v}); got != slow {
			t.Fatalf("phraseField(%q) = %v, the full scan says %v", v, got, slow)
		}
	})
}

// FuzzCanonicalizeName checks that canonicalizeName accepts the valid field names (1 to
// 200 bytes of printable ASCII without ':') and canonicalizes them as
// textproto.CanonicalMIMEHeaderKey does.
func FuzzCanonicalizeName(f *testing.F) {
	for _, s := range []string{"Message-ID", "message-id", "MIME-Version", "x(y", "X-MS-Exchange-Message-Is-NDR", "subject", "a-b-c", "-x", "x--y", "Ünter", "x y", "", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		valid := name != "" && len(name) <= 200 && !strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ':' })
		b := []byte(name)
		ok := canonicalizeName(b)
		if ok != valid {
			t.Fatalf("canonicalizeName(%q) ok = %v, want %v", name, ok, valid)
		}
		if got, want := string(b), textproto.CanonicalMIMEHeaderKey(name); ok && got != want {
			t.Fatalf("canonicalizeName(%q) = %q, want %q", name, got, want)
		}
	})
}

// unfoldRef is what a field value must read as: trimmed, its CR and LF
// bytes removed (RFC 5322 §2.2.3).
func unfoldRef(v string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(strings.TrimSpace(v))
}

// FuzzUnfoldInPlace checks unfoldInPlace against unfoldRef.
func FuzzUnfoldInPlace(f *testing.F) {
	for _, s := range []string{" x\r\n y", "a\r\n\tb\r\n c", "\r\n", "a\rb\nc\r\n\r\nd", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := string(unfoldInPlace(bytes.TrimSpace([]byte(v)))), unfoldRef(v); got != want {
			t.Fatalf("unfoldInPlace(%q) = %q, want %q", v, got, want)
		}
	})
}

// FuzzTrimValue checks that trimValueInPlace, for the value of a field on
// one line, agrees with unfoldRef.
func FuzzTrimValue(f *testing.F) {
	for _, s := range []string{" x\r\n", "x", " x \r\n", "\u00a0x\n", " a\rb\r\n", "\r\n", " ", "x\r\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if i := strings.IndexByte(v, '\n'); i >= 0 && i != len(v)-1 {
			return // not one line
		}
		if got, want := string(trimValueInPlace([]byte(v))), unfoldRef(v); got != want {
			t.Fatalf("trimValueInPlace(%q) = %q, want %q", v, got, want)
		}
	})
}

// FuzzIndexCRLF checks indexCRLF against strings.IndexAny.
func FuzzIndexCRLF(f *testing.F) {
	for _, s := range []string{"", "a", "a\r\nb", "a\nb\rc", "\r", "ab\rc\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := indexCRLF([]byte(v)), strings.IndexAny(v, "\r\n"); got != want {
			t.Fatalf("indexCRLF(%q) = %d, want %d", v, got, want)
		}
	})
}
