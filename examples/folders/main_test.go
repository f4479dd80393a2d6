package main

import (
	"context"
	"fmt"
	"os"
)

// Example_run pins the program's output, so the example and its comments stay true.
func Example_run() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// refused: folder: add mailbox "anna.berg@fabrikam.example" folder "Sent Items/Contoso" (id "AAMkSent"): not under Inbox: top-level folder "Sent Items"
	// in folder: account:contoso by FolderTracking (1.00): folder "Inbox/Clients/Contoso" of anna.berg@fabrikam.example is mapped to account:contoso
	// moved in: question@contoso.example now regarding account:contoso
	// after rename: account:contoso
	// re-linked: 2
}
