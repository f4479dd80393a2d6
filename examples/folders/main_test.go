package main

import (
	"bytes"
	"context"
	"testing"
)

// TestRun pins the program's output, so the example and its comments stay true.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	want := "refused: folder: add mailbox \"anna.berg@fabrikam.example\" folder \"Sent Items/Contoso\" (id \"AAMkSent\"): not under Inbox: top-level folder \"Sent Items\"\n" +
		"in folder: account:contoso by FolderTracking (1.00): folder \"Inbox/Clients/Contoso\" of anna.berg@fabrikam.example is mapped to account:contoso\n" +
		"moved in: question@contoso.example now regarding account:contoso\n" +
		"after rename: account:contoso\n" +
		"re-linked: 2\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
