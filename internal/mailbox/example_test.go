package mailbox_test

import (
	"fmt"
	"testing/fstest"

	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
)

// Walk meets each message with where it is; a Reader reads one again by
// its Path and Offset, so a caller can sort a large mailbox by date holding
// only where each message is.
func ExampleReader() {
	fsys := fstest.MapFS{
		"archive.mbox": {Data: []byte("From a@x Mon Mar  2 10:00:00 2026\nSubject: second\n\n" +
			"From b@x Mon Mar  2 09:00:00 2026\nSubject: first\n\n>From the body\n")},
		"Maildir/cur/2:2,S":                  {Data: []byte("Subject: in the Inbox\n\n")},
		"Maildir/.Clients.Contoso/cur/1:2,S": {Data: []byte("Subject: filed\n\n")},
	}
	type place struct {
		path   string
		offset int64
	}
	var places []place
	for _, name := range []string{"archive.mbox", "Maildir"} {
		mailbox.Walk(fsys, name, func(it mailbox.Item) error {
			fmt.Printf("%s in %s\n", it.Where(), it.Folder)
			places = append(places, place{it.Path, it.Offset})
			return nil
		})
	}
	r := mailbox.NewReader(fsys)
	defer r.Close()
	raw, _ := r.Read(places[1].path, places[1].offset)
	fmt.Printf("%q\n", raw)
	// Output:
	// archive.mbox@0 in Inbox
	// archive.mbox@51 in Inbox
	// cur/2:2,S in Inbox
	// .Clients.Contoso/cur/1:2,S in Inbox/Clients/Contoso
	// "Subject: first\n\nFrom the body\n"
}
