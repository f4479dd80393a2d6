package correlate_test

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
)

// TestParseCorpora parses every real message of the spamassassin-ham and
// notmuch corpora: none may panic or be lost (files in = messages out), and
// every message must yield the fields the corpora's oracles name.
func TestParseCorpora(t *testing.T) {
	dir := correlatetest.Dir(t)
	files := correlatetest.Files(t, correlatetest.Ham, correlatetest.Notmuch, correlatetest.USRP)
	require.NotEmpty(t, files)
	var parsed, withProblems, noID atomic.Int64
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		m, err := correlate.ParseMessage(strings.NewReader(string(raw)), &correlate.ParseOptions{Text: true})
		var pe *correlate.ParseError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			withProblems.Add(1)
			t.Logf("%s: %v", strings.TrimPrefix(f, dir+"/"), err)
		default:
			t.Errorf("%s: lost: %v", f, err)
			continue
		}
		require.NotNil(t, m, f)
		parsed.Add(1)
		if m.MessageID == "" {
			noID.Add(1)
		}
		assert.NotEmpty(t, m.From, "%s: every corpus message has a From", f)
	}
	t.Logf("files %d, messages %d, with problems %d, without Message-ID %d", len(files), parsed.Load(), withProblems.Load(), noID.Load())
	assert.EqualValues(t, len(files), parsed.Load(), "files in = messages out")
}
