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
	want := "sent: Printer offline CRM:0001001\n" +
		"AW: Printer offline – still broken CRM:0001001\n" +
		"  -> incident:CAS-01042 by TrackingToken (0.90): token CRM:0001001 names tracked email 1; sender jane@contoso.example took part: a participant of tracked email 1\n" +
		"AW: Printer offline\n" +
		"  -> incident:CAS-01042 by ConversationIndex (0.90): Thread-Index extends a tracked email's index by one block: a reply to it\n" +
		"Thread-Index: conversation 9e4b2f10-aa41-4c0b-9d3e-77215a600c81, depth 2, child of the first reply: true\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
