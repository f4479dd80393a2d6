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
	want := "incident:CAS-1 by InReplyTo (1.00): In-Reply-To names a tracked email\n" +
		"  step folder: no record\n" +
		"  step header.InReplyTo: incident:CAS-1 by InReplyTo (1.00): In-Reply-To names a tracked email\n" +
		"  step token: incident:CAS-2 by TrackingToken (0.90): token CRM:0001002 names tracked email 2\n" +
		"  step header.ConversationIndex: no record\n" +
		"  conflict token: incident:CAS-2 by TrackingToken (0.90): token CRM:0001002 names tracked email 2; sender jane@contoso.example took part: a participant of tracked email 2\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
