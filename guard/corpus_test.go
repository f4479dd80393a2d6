package guard_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// corpusRoots are the folders of the corpora that hold mail, and which of
// their files are mail.
var corpusRoots = []struct {
	name, dir string
	mail      func(name string) bool
}{
	{"imaptest", correlatetest.IMAPTest, func(n string) bool { return strings.HasSuffix(n, ".mbox") }},
	{"notmuch", correlatetest.Notmuch, func(string) bool { return true }},
	{"spamassassin-ham", correlatetest.Ham, func(string) bool { return true }},
	{"usrp-users", correlatetest.USRP, func(string) bool { return true }},
}

// corpusItem is one message of a corpus.
type corpusItem struct {
	corpus, where string
	raw           []byte
	err           error
}

func corpusItems(t *testing.T) []corpusItem {
	t.Helper()
	corpusDir := correlatetest.Dir(t)
	var items []corpusItem
	for _, root := range corpusRoots {
		dir := correlatetest.Path(t, root.dir)
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !root.mail(e.Name()) {
				return err
			}
			return mailbox.Walk(os.DirFS(filepath.Dir(p)), e.Name(), func(it mailbox.Item) error {
				rel, _ := filepath.Rel(corpusDir, filepath.Join(filepath.Dir(p), it.Where()))
				items = append(items, corpusItem{corpus: root.name, where: rel, raw: it.Raw, err: it.Err})
				return nil
			})
		})
		require.NoError(t, err)
	}
	return items
}

// TestCorpusSweep parses every message of every corpus with KeepBody,
// classifies it and correlates it through the default engine (audit mode,
// smart matching on), in parallel, tracking what the Decision says to
// track: no panic, no error, no message lost. Run it under -race.
func TestCorpusSweep(t *testing.T) {
	items := corpusItems(t)
	require.NotEmpty(t, items)
	ctx := context.Background()
	eng, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Audit: true, Stages: append(mailcorrelate.ServerSideSync(), mailcorrelate.Smart)})
	require.NoError(t, err)

	type result struct {
		class    string
		decided  bool
		tracked  bool
		original bool
		found    bool
		// headerless marks a message without any header field.
		headerless bool
	}
	results := make([]result, len(items))
	var mu sync.Mutex
	var failures []string
	fail := func(s string) {
		mu.Lock()
		failures = append(failures, s)
		mu.Unlock()
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				it := items[i]
				if it.err != nil {
					fail(it.where + ": unreadable: " + it.err.Error())
					continue
				}
				m, err := correlate.ParseMessage(bytes.NewReader(it.raw), &correlate.ParseOptions{KeepBody: true})
				headerless := false
				if errors.Is(err, correlate.ErrNoHeader) {
					// imaptest has a message with an empty header: an ingestion
					// pipeline still files it, as a message with nothing to say.
					m, headerless = &correlate.Message{Body: it.raw}, true
				}
				if m == nil {
					fail(it.where + ": lost: " + err.Error())
					continue
				}
				m.Mailbox = "support@fabrikam.example"
				d, err := eng.Correlate(ctx, m)
				if err != nil {
					fail(it.where + ": " + err.Error())
					continue
				}
				r := result{class: d.Class(), decided: true, original: d.Classification.Original != nil, found: d.Found(), headerless: headerless}
				how := d.Match
				if !d.Found() && d.Action == guard.Proceed && d.NoTrack == "" && m.MessageID != "" {
					// A helpdesk opens a case for new mail, so later
					// replies have something to correlate with.
					how = correlate.Match{Record: correlate.Record{Type: "case", ID: m.MessageID}}
				}
				if !how.Record.IsZero() && d.NoTrack == "" || d.Track() {
					if _, err := eng.Track(ctx, m, how); err != nil {
						fail(it.where + ": track: " + err.Error())
						continue
					}
					r.tracked = true
				}
				results[i] = r
			}
		}()
	}
	for i := range items {
		work <- i
	}
	close(work)
	wg.Wait()
	assert.Empty(t, failures, "every message is read, decided and, when asked, tracked")

	type counts struct{ messages, tracked, found, originals int }
	byClass := map[string]map[string]*counts{}
	decided, headerless := 0, 0
	for i, r := range results {
		if !r.decided {
			continue
		}
		decided++
		if r.headerless {
			headerless++
		}
		c := items[i].corpus
		if byClass[c] == nil {
			byClass[c] = map[string]*counts{}
		}
		k := byClass[c][r.class]
		if k == nil {
			k = &counts{}
			byClass[c][r.class] = k
		}
		k.messages++
		if r.tracked {
			k.tracked++
		}
		if r.found {
			k.found++
		}
		if r.original {
			k.originals++
		}
	}
	assert.Equal(t, len(items), decided, "messages in = decisions out")
	names := make([]string, 0, len(byClass))
	for n := range byClass {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d messages (%d without any header field)", len(items), headerless)
	for _, n := range names {
		for _, c := range []string{guard.Normal, guard.Bulk, guard.AutoReply, guard.Bounce, guard.Loop} {
			if k := byClass[n][c]; k != nil {
				t.Logf("%-16s %-9s %5d messages, %5d with a record, %5d tracked, %d bounce originals read", n, c, k.messages, k.found, k.tracked, k.originals)
			}
		}
	}
}

// TestCorpusClassesSequential classifies the corpora alone and lists what
// is not Normal, so a reviewer can check the non-Normal verdicts by eye
// (go test -run CorpusClasses -v).
func TestCorpusClassesSequential(t *testing.T) {
	items := corpusItems(t)
	c := newDefaultClassifier()
	perClass := map[string]int{}
	reasons := map[string]int{}
	for _, it := range items {
		if it.err != nil {
			continue
		}
		m, _ := correlate.ParseMessage(bytes.NewReader(it.raw), &correlate.ParseOptions{KeepBody: true})
		if m == nil {
			continue
		}
		cl := c.Classify(m)
		perClass[cl.Class]++
		if cl.Class != guard.Normal {
			key := cl.Class + ": " + firstWords(cl.Reason, 4)
			reasons[key]++
			if testing.Verbose() && cl.Class != guard.Bulk {
				t.Logf("%s: %s (subject %q)", it.where, cl, m.Subject)
			}
		}
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%5d  %s", reasons[k], k)
	}
	t.Logf("per class: %v", perClass)
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}
