package check_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/internal/check"
)

func TestBatch(t *testing.T) {
	cases := []struct {
		name string
		b    store.Batch
		ok   bool
		why  string
	}{
		{"empty", store.Batch{}, true, "nothing to refuse"},
		{"relink-by-id", store.Batch{Relinks: []store.Relink{{ID: 3}}}, true, "an ID names an email"},
		{"relink-by-message-id", store.Batch{Relinks: []store.Relink{{MessageID: "a@x"}}}, true, "so does a Message-ID"},
		{"relink-of-nothing", store.Batch{Relinks: []store.Relink{{ID: 3}, {}}}, false, "a Relink without either names no email"},
		{"state", store.Batch{States: []store.State{{Name: "imap/a"}}}, true, "a state with a name (nil Value: a deletion)"},
		{"state-without-name", store.Batch{States: []store.State{{Value: []byte("v")}}}, false, "a state needs a name"},
		{"state-name-longest", store.Batch{States: []store.State{{Name: strings.Repeat("n", store.MaxNameLen)}}}, true, "MaxNameLen bytes"},
		{"state-name-too-long", store.Batch{States: []store.State{{Name: strings.Repeat("n", store.MaxNameLen+1)}}}, false, "one byte more"},
	}
	for _, c := range cases {
		if err := check.Batch(&c.b); (err == nil) != c.ok {
			t.Errorf("%s: Batch = %v; %s", c.name, err, c.why)
		}
	}
}

func ExampleName() {
	fmt.Println(check.Name("lease", "imap/support@example.com"))
	fmt.Println(check.Name("lease", ""))
	// Output:
	// <nil>
	// lease name of 0 bytes: want 1 to 1024
}
