package header_test

import (
	"context"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

var (
	sinkID  string
	sinkRec correlate.Record
)

// BenchmarkNewMessageID signs ids for a typical record (crypto/rand nonce).
func BenchmarkNewMessageID(b *testing.B) {
	rec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	keys := [][]byte{idKeyNew}
	b.ReportAllocs()
	for b.Loop() {
		id, err := header.NewMessageID(rec, "crm.fabrikam.example", keys, nil)
		if err != nil {
			b.Fatal(err)
		}
		sinkID = id
	}
}

// BenchmarkVerifyMessageID verifies a signed id: with the signing key first,
// after a rotation (second key), and a foreign id (no MAC computed).
func BenchmarkVerifyMessageID(b *testing.B) {
	rec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	id := signID(b, rec, idKeyOld)
	for _, tc := range []struct {
		name string
		id   string
		keys [][]byte
	}{
		{"first-key", id, [][]byte{idKeyOld}},
		{"rotated", id, [][]byte{idKeyNew, idKeyOld}},
		{"foreign", "CAFE1234.5678@mail.gmail.example", [][]byte{idKeyNew}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkRec, _ = header.VerifyMessageID(tc.id, tc.keys)
			}
		})
	}
}

// BenchmarkInReplyToSigned: a reply whose parent was never tracked,
// recovered from the signed id (one store lookup, one verification).
func BenchmarkInReplyToSigned(b *testing.B) {
	rec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	irt := header.NewInReplyTo(memstore.New(), &header.Options{IDKeys: [][]byte{idKeyNew}, NoAncestors: true})
	m := parse(b, "Message-ID: <r1@contoso.example>\r\nFrom: ann@example.com\r\nSubject: Re: x\r\nIn-Reply-To: "+signID(b, rec, idKeyNew)+"\r\n\r\n")
	ctx := context.Background()
	b.ReportAllocs()
	found := 0
	for b.Loop() {
		mt, err := irt.Correlate(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		if mt.Record == rec {
			found++
		}
	}
	b.ReportMetric(float64(found)/float64(b.N), "found/op")
}
