package correlatetest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlatetest"
)

// fakeCorpora writes a small corpora folder and points EnvCorpora at it.
func fakeCorpora(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"box/a.eml":         "Message-ID: <a@x>\r\nSubject: first\r\n\r\nbody\r\n",
		"box/sub/b.eml":     "Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nSubject: Re: first\r\n\r\n",
		"box/SOURCE.txt":    "notes, not mail",
		"box/.hidden":       "not mail",
		"oracle.json":       `{"threads": [{"subject": "first", "messages": [{"message_id": "a@x", "parent_message_id": null, "files": ["a.eml"]}, {"message_id": "b@x", "parent_message_id": "a@x", "files": ["sub/b.eml"]}]}]}`,
		"empty-oracle.json": `{"threads": []}`,
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	t.Setenv(correlatetest.EnvCorpora, dir)
	return dir
}

// TestCorporaFromEnv reads a corpora folder named by EnvCorpora: mail only,
// in lexical order, parsed, with paths relative to the corpora.
func TestCorporaFromEnv(t *testing.T) {
	dir := fakeCorpora(t)
	got, ok := correlatetest.Find()
	assert.True(t, ok)
	assert.Equal(t, dir, got)
	assert.Equal(t, []string{filepath.Join(dir, "box/a.eml"), filepath.Join(dir, "box/sub/b.eml")},
		correlatetest.Files(t, "box"), "SOURCE.txt and hidden files are not mail")

	mails := correlatetest.Messages(t, nil, "box")
	require.Len(t, mails, 2)
	assert.Equal(t, "box/a.eml", mails[0].File)
	assert.Equal(t, "a@x", mails[0].Msg.MessageID)
	assert.NoError(t, mails[0].Err)
	assert.Equal(t, []string{"a@x"}, mails[1].Msg.InReplyTo)

	o := correlatetest.ReadOracle(t, "oracle.json")
	require.Len(t, o.Threads, 1)
	require.Len(t, o.Threads[0].Messages, 2)
	assert.Nil(t, o.Threads[0].Messages[0].Parent, "null parent: a root")
	assert.Equal(t, "a@x", *o.Threads[0].Messages[1].Parent)
	assert.Equal(t, []string{"sub/b.eml"}, o.Threads[0].Messages[1].Files)
}

// TestAbsent: without EnvCorpora a missing corpus skips the test (a clone
// without ../shared, CI's too); with EnvCorpora it fails it, because a run
// that names its corpora must not pass without them.
func TestAbsent(t *testing.T) {
	tests := []struct {
		name    string
		env     bool
		rel     string
		skipped bool
		failed  bool
	}{
		{"named corpora, missing folder: fail", true, "no/such/folder", false, true},
		{"named corpora, present folder: run", true, "box", false, false},
		{"named corpora, empty oracle: fail", true, "empty-oracle.json", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fakeCorpora(t)
			r := run(func(tb testing.TB) {
				if filepath.Ext(tc.rel) == ".json" {
					correlatetest.ReadOracle(tb, tc.rel)
					return
				}
				correlatetest.Path(tb, tc.rel)
			})
			assert.Equal(t, tc.skipped, r.skipped, "skipped")
			assert.Equal(t, tc.failed, r.failed, "failed")
		})
	}
	t.Run("no corpora named, none next to a repository: skip", func(t *testing.T) {
		t.Setenv(correlatetest.EnvCorpora, "")
		t.Chdir(t.TempDir()) // no go.mod of the module above a temporary folder
		_, ok := correlatetest.Find()
		assert.False(t, ok)
		r := run(func(tb testing.TB) { correlatetest.Dir(tb) })
		assert.True(t, r.skipped, "skipped")
		assert.False(t, r.failed, "failed")
	})
}

// TestGolden writes a golden file under -update semantics and compares
// against it: equal passes, a changed line fails and a missing file fails.
func TestGolden(t *testing.T) {
	if correlatetest.Updating() {
		t.Skip("compares without -update")
	}
	path := filepath.Join(t.TempDir(), "testdata", "x.golden")
	r := run(func(tb testing.TB) { correlatetest.Golden(tb, path, []byte("a\nb\n")) })
	assert.True(t, r.failed, "a missing golden file fails")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("a\nb\n"), 0o644))
	r = run(func(tb testing.TB) { correlatetest.Golden(tb, path, []byte("a\nb\n")) })
	assert.False(t, r.failed, "equal output passes")
	r = run(func(tb testing.TB) { correlatetest.Golden(tb, path, []byte("a\nc\n")) })
	assert.True(t, r.failed, "a changed line fails")
	assert.Contains(t, r.log, "first difference at line 2")
	assert.Contains(t, r.log, "- b")
	assert.Contains(t, r.log, "+ c")
}

// recorder is a testing.TB that records what a helper did to it.
type recorder struct {
	testing.TB
	skipped, failed bool
	log             string
}

func (r *recorder) Helper() {}
func (r *recorder) Logf(format string, args ...any) {
	r.log += fmt.Sprintf(format, args...) + "\n"
}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.Logf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = true
	r.Logf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine, as the testing package
// runs a test, so that Fatalf and Skipf end it.
func run(f func(testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}
