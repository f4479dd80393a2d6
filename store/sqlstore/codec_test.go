package sqlstore

// Internal tests: the column codec and the migration splitter are
// unexported, and a database a stranger can write to is untrusted input.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

func TestStringsCodec(t *testing.T) {
	cases := []struct {
		name   string
		in     []string
		reason string
	}{
		{"None", nil, "no participants is NULL"},
		{"One", []string{"anna@contoso.example"}, "the common case"},
		{"EmptyAddress", []string{"", "b@x"}, "an empty string is a participant of length 0"},
		{"Binary", []string{"a\x00b", "\xff\xfe", strings.Repeat("x", 300)}, "any bytes; a length above 127 takes two varint bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := encodeStrings(c.in)
			if len(c.in) == 0 {
				assert.Nil(t, b, c.reason)
			}
			got, err := decodeStrings(b)
			require.NoError(t, err, c.reason)
			assert.Equal(t, c.in, got, c.reason)
		})
	}
}

func TestStringsCorrupt(t *testing.T) {
	cases := []struct {
		name   string
		b      []byte
		reason string
	}{
		{"LengthPastEnd", []byte{5, 'a', 'b'}, "a length longer than the rest of the column"},
		{"TruncatedVarint", []byte{0x80}, "a varint cut short"},
		{"OverlongVarint", slices.Repeat([]byte{0xff}, 11), "a varint beyond 64 bits"},
		{"HugeLength", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'a'}, "a length near 2⁶³ must not overflow into a slice bound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeStrings(c.b)
			assert.ErrorIs(t, err, errCorrupt, c.reason)
			_, err = splitStrings(string(c.b))
			assert.ErrorIs(t, err, errCorrupt, "splitStrings: %s", c.reason)
		})
	}
}

// FuzzDecodeStrings feeds arbitrary column bytes to the decoder (a database
// others can write to is untrusted input): it must not panic, must allocate
// no more than the column holds, and what it reads must survive a
// re-encoding. Every column it decodes is also read as keys, and by
// splitStrings, PostgreSQL's reader, which must agree.
func FuzzDecodeStrings(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeStrings([]string{"anna@contoso.example", "support@fabrikam.example"}))
	f.Add(encodeStrings([]string{"", "a\x00b"}))
	f.Add([]byte{0x80})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := decodeStrings(b)
		split, serr := splitStrings(string(b))
		if (serr == nil) != (err == nil) || err == nil && !slices.Equal(ps, split) {
			t.Fatalf("splitStrings = %q, %v; decodeStrings = %q, %v", split, serr, ps, err)
		}
		total := 0
		for _, p := range ps {
			total += len(p)
		}
		if total > len(b) {
			t.Fatalf("decoded %d bytes of text from a %d-byte column", total, len(b))
		}
		keys, kerr := decodeKeys(b)
		if (kerr == nil) != (err == nil && len(ps)%2 == 0) {
			t.Fatalf("decodeKeys error %v for %d strings (error %v)", kerr, len(ps), err)
		}
		if kerr == nil && !slices.Equal(keys, mustKeys(t, encodeKeys(keys))) {
			t.Fatalf("keys round trip: %q", keys)
		}
		if err != nil {
			return
		}
		again, err := decodeStrings(encodeStrings(ps))
		if err != nil {
			t.Fatalf("re-encoding %q: %v", ps, err)
		}
		if !slices.Equal(ps, again) {
			t.Fatalf("round trip: %q became %q", ps, again)
		}
	})
}

func mustKeys(t *testing.T, b []byte) []correlate.Key {
	keys, err := decodeKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// FuzzStringsRoundTrip encodes arbitrary string lists (the input split at
// one byte value) and decodes them back.
func FuzzStringsRoundTrip(f *testing.F) {
	f.Add("anna@contoso.example\nsupport@fabrikam.example", byte('\n'))
	f.Add("\x00\x00", byte(0))
	f.Fuzz(func(t *testing.T, s string, sep byte) {
		ps := strings.Split(s, string([]byte{sep}))
		got, err := decodeStrings(encodeStrings(ps))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ps, got) {
			t.Fatalf("%q became %q", ps, got)
		}
	})
}

func TestKeysCodec(t *testing.T) {
	keys := []correlate.Key{{Kind: "msgid", Value: "a1@crm.example"}, {Kind: "folder", Value: "mbx\x00F1"}, {Kind: "", Value: ""}}
	got, err := decodeKeys(encodeKeys(keys))
	require.NoError(t, err)
	assert.Equal(t, keys, got, "kinds and values round-trip, NUL and empty strings included")
	assert.Nil(t, encodeKeys(nil), "no keys is NULL")
	got, err = decodeKeys(nil)
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = decodeKeys(encodeStrings([]string{"kind-without-value"}))
	assert.ErrorIs(t, err, errCorrupt, "an odd number of strings is not a key list")
}

func TestBoundMicro(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		t      time.Time
		want   int64
		reason string
	}{
		{at, at.UnixMicro(), "an instant on a microsecond is its own bound"},
		{at.Add(1), at.UnixMicro() + 1, "a nanosecond later, the first stored instant not before it is the next microsecond"},
		{at.Add(999), at.UnixMicro() + 1, "the same for the last nanosecond of the microsecond"},
		{at.Add(-1), at.UnixMicro(), "a nanosecond earlier rounds up to the microsecond"},
		{time.Unix(0, -1500), -1, "before 1970: up, toward the future, too"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, boundMicro(c.t), c.reason)
	}
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements("-- comment\nCREATE TABLE a (\n\tx INT\n);\n\nCREATE INDEX b ON a (x);\n-- trailing\n")
	assert.Equal(t, []string{"CREATE TABLE a (\n\tx INT\n);", "CREATE INDEX b ON a (x);"}, got)
}

func TestMigrationsEmbedded(t *testing.T) {
	for _, d := range []string{"sqlite", "postgres"} {
		ms, err := migrations(d)
		require.NoError(t, err)
		require.NotEmpty(t, ms)
		for i, m := range ms {
			assert.Equal(t, i+1, m.version, "%s: versions are 1, 2, 3 … without gaps", d)
			assert.NotEmpty(t, m.stmts)
		}
	}
}
