package pop3fake_test

import (
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/internal/pop3fake"
)

// A server that lost its UID list gives its messages UIDLs from 1 again:
// after a message was deleted, a new one gets a UIDL seen before.
func ExampleServer_Renumber() {
	srv, _ := pop3fake.Start(&pop3fake.Options{NoTOP: true})
	defer srv.Close()
	srv.AddUser("anna", "secret")
	for _, s := range []string{"one", "two", "three"} {
		uidl, _ := srv.Append("anna", []byte("Subject: "+s+"\r\n\r\n"))
		fmt.Println(s, uidl)
	}
	srv.Remove("anna", 0)
	srv.Renumber("anna")
	uidl, _ := srv.Append("anna", []byte("Subject: four\r\n\r\n"))
	fmt.Println("four", uidl)
	// Output:
	// one 00000001
	// two 00000002
	// three 00000003
	// four 00000003
}
