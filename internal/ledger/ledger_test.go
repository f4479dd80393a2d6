package ledger

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// TestRoundTrip: what Export writes, Read reads back, in ID order, across
// pages.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	for i := range 1500 {
		_, err := s.Put(ctx, correlate.Tracked{MessageID: fmt.Sprintf("m%d@x", i),
			Record: correlate.Record{Type: "incident", ID: "1"}, Method: correlate.InReplyTo}, nil)
		require.NoError(t, err)
	}
	var buf bytes.Buffer
	n, err := Export(ctx, s, &buf)
	require.NoError(t, err)
	assert.Equal(t, 1500, n, "more than one Scan page")
	lines, err := Read(&buf)
	require.NoError(t, err)
	require.Len(t, lines, 1500)
	assert.Equal(t, Line{MessageID: "m0@x", Regarding: "incident:1", Method: "InReplyTo"}, lines[0])
}

func TestReadBadLine(t *testing.T) {
	lines, err := Read(bytes.NewBufferString("{\"message_id\":\"a@x\"}\nnot json\n"))
	require.ErrorContains(t, err, "line 2")
	assert.Len(t, lines, 1, "what was read before the bad line is returned")
}
