package header_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// A signed Message-ID carries its record: a reply reaches the case although
// the CRM never tracked the email it answers, and a made-up id is refused.
func ExampleNewMessageID() {
	keys := [][]byte{[]byte("a secret of at least 16 bytes")}
	rec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	// Rand is set only to make the example's output stable; leave it nil.
	id, err := header.NewMessageID(rec, "crm.fabrikam.example", keys,
		&header.IDOptions{Rand: bytes.NewReader(make([]byte, 8))})
	if err != nil {
		panic(err)
	}
	fmt.Println(id)

	irt := header.NewInReplyTo(memstore.New(), &header.Options{IDKeys: keys})
	for _, parent := range []string{id, "<mc1.0000000000000.d5q6yvk.0000000000000000@crm.fabrikam.example>"} {
		reply := mustParse("From: jane@contoso.example\r\nSubject: Re: Printer offline\r\n" +
			"Message-ID: <r1@contoso.example>\r\nIn-Reply-To: " + parent + "\r\n\r\n")
		mt, _ := irt.Correlate(context.Background(), reply)
		fmt.Println(mt)
	}
	// Output:
	// <mc1.0000000000000.11mpwrv9chjpwx23859jtc1h60t34.y9bz03ewznrc1yxv@crm.fabrikam.example>
	// incident:CAS-01042 by InReplyTo (1.00): In-Reply-To names a signed Message-ID of incident:CAS-01042 (no tracked email has it)
	// no record: a referenced signed Message-ID has a bad signature (forged or altered); it names nothing
}
