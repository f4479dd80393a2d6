package main

import (
	"bytes"
	"context"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	want := "dynamics incident:CAS-01020 by SmartMatching (0.40): subject words and 2 addresses match tracked email 2 (Dynamics smart matching)\n" +
		"improved incident:CAS-01019 by SmartMatching (0.69): same base subject as tracked email 1, sharing dana@proseware.example\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
