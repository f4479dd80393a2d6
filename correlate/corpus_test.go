package correlate_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// corpusDir is where the shared test mail lives, relative to this package.
const corpusDir = "../../shared/corpora"

// corpusFiles returns every message file under the named corpus folders,
// skipping the test when the corpora are absent (a user's clone has none).
func corpusFiles(t testing.TB, dirs ...string) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("corpora not found at %s (they ship with CI, not with the module): %v", corpusDir, err)
	}
	var files []string
	for _, d := range dirs {
		root := filepath.Join(corpusDir, d)
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			name := e.Name()
			if strings.HasSuffix(name, ".txt") || strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".tsv") ||
				strings.HasPrefix(name, "COPYING") || strings.HasPrefix(name, "LICENSE") || strings.HasSuffix(name, "-output") {
				return nil
			}
			files = append(files, p)
			return nil
		})
		require.NoError(t, err)
	}
	return files
}

// TestParseCorpora parses every real message of the spamassassin-ham and
// notmuch corpora: none may panic or be lost (files in = messages out), and
// every message must yield the fields the corpora's oracles name.
func TestParseCorpora(t *testing.T) {
	files := corpusFiles(t, "spamassassin-ham/test/testdata/ham", "notmuch/test/corpora", "usrp-users/messages")
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
			t.Logf("%s: %v", strings.TrimPrefix(f, corpusDir+"/"), err)
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
