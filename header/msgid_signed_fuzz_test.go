package header_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// FuzzVerifyMessageID checks the signed-id decoder on arbitrary ids and the
// encoder on arbitrary records: no panic; an error wraps exactly one of
// ErrNotSigned and ErrBadSignature; a verified id names a non-zero record;
// every record that fits round-trips through NewMessageID and
// ParseMessageIDs; and changing any byte of a signed id's local part (other
// than its case) makes it fail, so no alteration is accepted.
func FuzzVerifyMessageID(f *testing.F) {
	keys := [][]byte{idKeyNew, idKeyOld}
	seed := func(rec correlate.Record) string {
		id, err := header.NewMessageID(rec, "crm.example", keys, &header.IDOptions{Rand: fixedRand()})
		if err != nil {
			f.Fatal(err)
		}
		return id
	}
	f.Add(seed(correlate.Record{Type: "incident", ID: "CAS-01042"}), "incident", "CAS-01042", 7, byte('x'))
	f.Add(seed(correlate.Record{Type: "x", ID: "<a@b>"}), "x", "<a@b>", 30, byte('Z'))
	f.Add("<mc1.aaaaaaaaaaaaa.c5q6yvk.aaaaaaaaaaaaaaaa@crm.example>", "", "", 0, byte('0'))
	f.Add("MC1.....@", "a\x00", "\xff", 3, byte('.'))
	f.Add("CAFE@mail.example", "opportunity", strings.Repeat("z", 300), 1, byte('@'))
	f.Add("mc1.@", "", "id", 4, byte(0))
	f.Fuzz(func(t *testing.T, id, typ, rid string, pos int, b byte) {
		rec, err := header.VerifyMessageID(id, keys)
		notSigned, bad := errors.Is(err, header.ErrNotSigned), errors.Is(err, header.ErrBadSignature)
		switch {
		case err == nil && rec.IsZero():
			t.Fatalf("VerifyMessageID(%q) verified a zero record", id)
		case err != nil && notSigned == bad:
			t.Fatalf("VerifyMessageID(%q) error %v wraps ErrNotSigned=%v ErrBadSignature=%v", id, err, notSigned, bad)
		case err != nil && !rec.IsZero():
			t.Fatalf("VerifyMessageID(%q) returned %v with error %v", id, rec, err)
		}

		want := correlate.Record{Type: typ, ID: rid}
		if want.IsZero() {
			return
		}
		signed, err := header.NewMessageID(want, "crm.example", keys, &header.IDOptions{Rand: bytes.NewReader(bytes.Repeat([]byte{b}, 8))})
		if errors.Is(err, header.ErrIDTooLong) {
			return
		}
		if err != nil {
			t.Fatalf("NewMessageID(%q): %v", want, err)
		}
		if len(signed) > header.MaxMessageIDLen {
			t.Fatalf("NewMessageID(%q) is %d long", want, len(signed))
		}
		ids, err := correlate.ParseMessageIDs(signed, 0)
		if err != nil || len(ids) != 1 || ids[0] != correlate.NormalizeMessageID(signed) {
			t.Fatalf("ParseMessageIDs(%q) = %q, %v", signed, ids, err)
		}
		got, err := header.VerifyMessageID(ids[0], keys)
		if err != nil || got != want {
			t.Fatalf("VerifyMessageID(NewMessageID(%q)) = %q, %v", want, got, err)
		}
		at := strings.LastIndexByte(ids[0], '@')
		local := ids[0][:at]
		if pos < 0 {
			pos = -pos
		}
		i := pos % len(local)
		mut := []byte(local)
		mut[i] = b
		if strings.EqualFold(string(mut), local) {
			return // a change of case only
		}
		if got, err := header.VerifyMessageID(string(mut)+ids[0][at:], keys); err == nil {
			t.Fatalf("altered id %q (byte %d of %q) verified as %q", mut, i, local, got)
		}
	})
}

// FuzzInReplyToSigned runs the InReplyTo strategy with IDKeys on arbitrary
// In-Reply-To, References and Message-ID fields, seeded with genuine, forged
// and altered signed ids: no panic, no error on an empty store, and any
// record found is one a referenced (or the own) id verifies for — a forged
// id never names a record.
func FuzzInReplyToSigned(f *testing.F) {
	keys := [][]byte{idKeyNew}
	good, err := header.NewMessageID(correlate.Record{Type: "incident", ID: "CAS-1"}, "crm.example", keys, &header.IDOptions{Rand: fixedRand()})
	if err != nil {
		f.Fatal(err)
	}
	forged, _ := header.NewMessageID(correlate.Record{Type: "incident", ID: "CAS-2"}, "crm.example", [][]byte{idKeyOld}, nil)
	f.Add(good, "", "<r@x>")
	f.Add(forged, good, "<r@x>")
	f.Add("<yes>", good+" "+forged, good)
	f.Add(strings.Replace(good, "mc1.", "MC1.", 1), "<mc1.@x>", "")
	s := memstore.New()
	c := header.NewInReplyTo(s, &header.Options{IDKeys: keys})
	f.Fuzz(func(t *testing.T, irt, refs, self string) {
		if len(irt) > 8192 || len(refs) > 8192 || len(self) > 2048 {
			return
		}
		in, _ := correlate.ParseMessageIDs(irt, correlate.DefaultMaxReferences)
		rs, _ := correlate.ParseMessageIDs(refs, correlate.DefaultMaxReferences)
		m := &correlate.Message{MessageID: correlate.NormalizeMessageID(self), InReplyTo: in, References: rs,
			From: []correlate.Address{{Address: "x@y.example"}}}
		mt, err := c.Correlate(context.Background(), m)
		if err != nil {
			t.Fatalf("Correlate on an empty store: %v", err)
		}
		if !mt.Found() {
			return
		}
		for _, id := range append(append([]string{m.MessageID}, in...), rs...) {
			if r, err := header.VerifyMessageID(id, keys); err == nil && r == mt.Record {
				return
			}
		}
		t.Fatalf("record %v found, but no id verifies for it (irt %q refs %q self %q)", mt.Record, irt, refs, self)
	})
}
