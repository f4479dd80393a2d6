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
