package cursor_test

import (
	"errors"
	"math"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/internal/cursor"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		at, id int64
		why    string
	}{
		{0, 0, "the zero position"},
		{1_772_355_600_000_000, 42, "a time in microseconds, a small ID"},
		{math.MinInt64, 1, "the earliest time a store keeps (times before 1678 in nanoseconds)"},
		{math.MaxInt64, math.MaxInt64, "the position before everything: the first page"},
		{-1, math.MaxInt64, "negative times (before 1970) round-trip"},
	}
	for _, c := range cases {
		s := cursor.Encode(c.at, c.id)
		at, id, err := cursor.Decode(s)
		if err != nil || at != c.at || id != c.id {
			t.Errorf("%s: Decode(Encode(%d, %d)) = %d, %d, %v", c.why, c.at, c.id, at, id, err)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := cursor.Encode(5, 7)
	cases := []struct {
		in, why string
	}{
		{"", "the empty string is the first page, never a cursor to decode"},
		{"!!!!", "not base64url"},
		{"Ag", "unknown version 2"},
		{"AQ", "a version byte and nothing else"},
		{good + "AA", "trailing bytes"},
		{good[:len(good)-1], "cut short"},
		{"AYAAAA", "a varint in a non-canonical form (0x80 0x00 for 0): one position, one cursor"},
		{string(make([]byte, 100)), "longer than any cursor"},
	}
	for _, c := range cases {
		if _, _, err := cursor.Decode(c.in); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: Decode(%q) = %v, want ErrBadCursor", c.why, c.in, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(cursor.Encode(1_772_355_600_000_000, 42))
	f.Add(cursor.Encode(math.MinInt64, math.MaxInt64))
	f.Add("AYAAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		at, id, err := cursor.Decode(s)
		if err != nil {
			if !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("Decode(%q): %v does not wrap ErrBadCursor", s, err)
			}
			return
		}
		if cursor.Encode(at, id) != s {
			t.Fatalf("Decode(%q) = %d, %d, which encodes otherwise", s, at, id)
		}
	})
}
