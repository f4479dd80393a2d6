package thread_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/header/thread"
)

// words collapses white space, so subjects compare as displayed.
func words(s string) string { return strings.Join(strings.Fields(s), " ") }

// notmuchSubject is a subject as notmuch names a thread by it: leading
// "Re:", "Aw:", "Vs:" and "Sv:" removed (notmuch T200-thread-naming).
func notmuchSubject(s string) string {
	s = words(s)
	for len(s) >= 3 && s[2] == ':' && strings.Contains("re aw vs sv", strings.ToLower(s[:2])) {
		s = strings.TrimSpace(s[3:])
	}
	return s
}

// searchLine is "  2009-11-18 [2/2]   Authors  Subject (tags)".
var searchLine = regexp.MustCompile(`^\s*\S+ \[(\d+)/(\d+)\]\s+(.*) \([^()]*\)$`)

// TestNotmuch_default threads notmuch's "default" corpus (53 files, 52
// messages) in RealMail mode without subject grouping and compares it with
// notmuch's own test expectation: the 24 threads of "notmuch search
// tag:inbox" with their sizes ([n/n]).
func TestNotmuch_default(t *testing.T) {
	dir := correlatetest.Path(t, "notmuch/test/corpora/default")
	all := loadDir(t, dir, false)
	require.Len(t, all, 53, "files in the corpus")
	msgs := loadDir(t, dir, true)
	require.Len(t, msgs, 52, "one Message-ID is stored in two files: notmuch indexes one message")
	roots := thread.Thread(messagesOf(msgs), nil)

	f, err := os.Open(filepath.Join(correlatetest.Path(t, "notmuch/test/emacs.expected-output"), "notmuch-search-tag-inbox"))
	require.NoError(t, err)
	defer f.Close()
	type want struct {
		size int
		text string // authors and subject
	}
	var wants []want
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := searchLine.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[2])
			require.Equal(t, m[1], m[2], "every message of a thread matches tag:inbox")
			wants = append(wants, want{n, words(m[3])})
		}
	}
	require.NoError(t, sc.Err())
	require.Len(t, wants, 24, "threads in the expected output")

	// Match each expected line with a thread of the same size one of whose
	// subjects ends the line (the thread subject notmuch shows is the
	// subject of one of its messages, reply prefixes removed).
	used := make([]bool, len(roots))
	for _, w := range wants {
		found := -1
		for i, r := range roots {
			if used[i] || r.Size() != w.size {
				continue
			}
			thread.Walk([]*thread.Node{r}, func(n *thread.Node, _ int) bool {
				if n.Message != nil && found < 0 && strings.HasSuffix(w.text, notmuchSubject(n.Message.Subject)) {
					found = i
				}
				return found < 0
			})
			if found >= 0 {
				break
			}
		}
		if assert.GreaterOrEqual(t, found, 0, "no thread of %d messages for %q", w.size, w.text) {
			used[found] = true
		}
	}
	assert.Len(t, roots, 24, "as many threads as notmuch")
}

// TestNotmuch_T510 checks the trees of notmuch's T510-thread-replies test
// on its "threading" corpus: a reply to a missing message, an RT ticket
// thread joined by a ticket id no message carries, and In-Reply-To trusted
// over a broken References. The tree view draws one line per message; the
// glyphs before '►' give the depth (one column for the thread, so a
// thread with several top-level messages has them at depth 0, as children
// of our dummy root).
func TestNotmuch_T510(t *testing.T) {
	dir := correlatetest.Path(t, "notmuch/test/corpora/threading")
	roots := thread.Thread(messagesOf(loadDir(t, dir, true)), nil)
	raw, err := os.ReadFile(correlatetest.Path(t, "notmuch/EXPECTED-T510-thread-replies.txt"))
	require.NoError(t, err)

	type subtest struct {
		name, id string
		lines    []string
	}
	var tests []subtest
	inExpected := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "=== subtest: "):
			tests = append(tests, subtest{name: strings.TrimPrefix(line, "=== subtest: ")})
			inExpected = false
		case len(tests) > 0 && strings.HasPrefix(strings.TrimSpace(line), "thread of: id:"):
			tests[len(tests)-1].id = strings.TrimPrefix(strings.TrimSpace(line), "thread of: id:")
		case line == "--- expected:":
			inExpected = true
		case inExpected && line != "" && line != "End of search results.":
			tests[len(tests)-1].lines = append(tests[len(tests)-1].lines, line)
		}
	}
	require.Len(t, tests, 5, "subtests in the expected file")

	for _, st := range tests {
		t.Run(st.name, func(t *testing.T) {
			id := correlate.NormalizeMessageID(st.id)
			var root *thread.Node
			for _, r := range roots {
				thread.Walk([]*thread.Node{r}, func(n *thread.Node, _ int) bool {
					if n.Message != nil && n.Message.MessageID == id {
						root = r
					}
					return root == nil
				})
			}
			require.NotNil(t, root, "thread of %s", id)
			// Our tree: depth counts message ancestors (a dummy root is the
			// thread itself).
			var got []string
			var walk func(n *thread.Node, depth int)
			walk = func(n *thread.Node, depth int) {
				if n.Message != nil {
					got = append(got, strconv.Itoa(depth)+" "+words(n.Message.Subject))
					depth++
				}
				for _, c := range n.Children {
					walk(c, depth)
				}
			}
			walk(root, 0)

			if !strings.Contains(st.name, "tree view") {
				require.Len(t, st.lines, 1)
				assert.Equal(t, words(strings.TrimPrefix(st.lines[0], "Subject: ")), got[0][2:], "the thread's first message")
				return
			}
			var want []string
			for _, line := range st.lines {
				i := strings.Index(line, "►")
				require.Positive(t, i, "tree line %q", line)
				// Date (2+10), two spaces, the author column (21): the
				// glyphs start at byte 35, all columns before are ASCII.
				depth := utf8.RuneCountInString(line[35:i+len("►")]) - 3
				subj := line[i+len("►"):]
				subj = strings.TrimSpace(subj[:strings.LastIndex(subj, "(")])
				want = append(want, strconv.Itoa(depth)+" "+words(subj))
			}
			assert.Equal(t, want, got, "depth and subject of each message, in thread order")
		})
	}
}
