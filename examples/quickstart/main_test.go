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
	want := "incident:CAS-01042 by InReplyTo (1.00): In-Reply-To names a tracked email\n" +
		"tracked CAJ1x@mail.contoso.example as email 2, correlated with email 1\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
