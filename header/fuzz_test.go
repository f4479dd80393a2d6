package header_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/mail"
	"slices"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// FuzzParseIndex checks ParseIndex and every Index method on arbitrary
// bytes: no panic, errors exactly for malformed lengths, a well-formed
// prefix returned on error, and consistent relations.
func FuzzParseIndex(f *testing.F) {
	t0 := time.Date(2019, 5, 1, 12, 33, 26, 0, time.UTC)
	f.Add(classicIndex(t0, testGUID))
	f.Add(classicIndex(t0, testGUID, t0.Add(time.Minute), t0.Add(900*24*time.Hour)))
	f.Add(modernIndex(t0, testGUID, t0.Add(time.Minute), t0.Add(time.Hour)))
	f.Add(append([]byte{0x09, 0x71, 0x1c}, make([]byte, 24)...))
	f.Add([]byte{1, 2, 3})
	f.Add(bytes.Repeat([]byte{0xff}, 57))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := header.ParseIndex(b)
		n := len(b)
		valid := n >= header.IndexHeaderLen && n <= header.MaxIndexLen && (n-header.IndexHeaderLen)%header.IndexBlockLen == 0
		if (err == nil) != valid {
			t.Fatalf("ParseIndex(%d bytes) error %v, want valid=%v", n, err, valid)
		}
		got := x.Bytes()
		if !bytes.HasPrefix(b, got) {
			t.Fatalf("returned bytes are not a prefix of the input")
		}
		if len(got) != 0 && (len(got) < header.IndexHeaderLen || (len(got)-header.IndexHeaderLen)%header.IndexBlockLen != 0) {
			t.Fatalf("returned %d bytes: not a well-formed index", len(got))
		}
		if x.IsZero() {
			return
		}
		d := x.Depth()
		if p, ok := x.Parent(); ok != (d > 0) || (ok && (!x.IsChildOf(p) || p.Depth() != d-1)) {
			t.Fatalf("Parent inconsistent at depth %d", d)
		}
		if r := x.Root(); r.Depth() != 0 || !x.SameConversation(r) || r.GUID() != x.GUID() {
			t.Fatalf("Root inconsistent")
		}
		cs := x.Children()
		if len(cs) != d {
			t.Fatalf("%d children at depth %d", len(cs), d)
		}
		opaque := x.Variant() == header.OpaqueIndex
		if x.Time().IsZero() != opaque {
			t.Fatalf("Time %v for variant %v", x.Time(), x.Variant())
		}
		for i, c := range cs {
			if c.Time.IsZero() != opaque {
				t.Fatalf("child %d time %v for variant %v", i, c.Time, x.Variant())
			}
		}
		if dec, err := base64.StdEncoding.DecodeString(x.String()); err != nil || !bytes.Equal(dec, got) {
			t.Fatalf("String does not round-trip")
		}
		if len(header.IndexKey(x)) != 2*len(got) {
			t.Fatalf("IndexKey length")
		}
	})
}

// FuzzMessageIDList feeds arbitrary In-Reply-To and References text through
// correlate.ParseMessageIDs and ReadRefs, the InReplyTo Indexer and
// Correlate: no panic, at most MaxIDs ids, every id usable, normalized and
// unique, the parent among them.
func FuzzMessageIDList(f *testing.F) {
	for _, s := range [][2]string{
		{"<a@b.example>", "<c@d.example> <a@b.example>"},
		{"<yes>", "<yes>"},
		{`Message from "X" <x@y.example> of "Mon" <id@y.example>`, ""},
		{"x@y.example's message of \"Fri, 13 Sep 2002\"", ""},
		{"<a@b><c@d>", "<a@\r\n b> <<c@d>"},
		{"", "<self@x.example> <self@X.EXAMPLE>"},
		{"<>", "<@> <a@> <a b@c>"},
	} {
		f.Add(s[0], s[1], "self@x.example")
	}
	f.Fuzz(func(t *testing.T, irt, refs, self string) {
		if len(irt) > 8192 || len(refs) > 8192 {
			return
		}
		in, _ := correlate.ParseMessageIDs(irt, correlate.DefaultMaxReferences)
		rs, _ := correlate.ParseMessageIDs(refs, correlate.DefaultMaxReferences)
		m := &correlate.Message{
			MessageID:  correlate.NormalizeMessageID(self),
			InReplyTo:  in,
			References: rs,
			From:       []correlate.Address{{Address: "x@y.example"}},
			Header: mail.Header{
				"In-Reply-To":                  {irt},
				"References":                   {refs},
				"X-Google-Original-Message-Id": {irt},
			},
		}
		r := header.ReadRefs(m, 0)
		if len(r.IDs) > header.DefaultMaxIDs {
			t.Fatalf("%d ids, bound %d", len(r.IDs), header.DefaultMaxIDs)
		}
		for i, id := range r.IDs {
			if why := header.Junk(id, m); why != "" {
				t.Fatalf("id %q kept although %s", id, why)
			}
			if correlate.NormalizeMessageID(id) != id {
				t.Fatalf("id %q not normalized", id)
			}
			if slices.Contains(r.IDs[:i], id) {
				t.Fatalf("id %q twice", id)
			}
		}
		if r.Parent != "" && !slices.Contains(r.IDs, r.Parent) {
			t.Fatalf("parent %q not among the ids", r.Parent)
		}
		for _, e := range r.Dropped {
			if e.Note == "" {
				t.Fatalf("dropped %q without a reason", e.Value)
			}
		}
		s := memstore.New()
		c := header.NewInReplyTo(s, nil)
		keys := c.Index(m, &correlate.Tracked{}, nil)
		if len(keys) > header.DefaultMaxIDs+len(header.DefaultAliasFields()) {
			t.Fatalf("%d keys", len(keys))
		}
		if _, err := c.Correlate(context.Background(), m); err != nil {
			t.Fatalf("Correlate on an empty store: %v", err)
		}
	})
}
