package thread_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/header/thread"
)

// corpusMsg is one file of a corpus.
type corpusMsg struct {
	file string // relative to the corpus folder, "/"-separated
	m    *correlate.Message
}

// loadDir parses every regular file below dir (Maildir cur/ and new/,
// loose files, sub-folders), in path order. With dedupe, a file whose
// Message-ID an earlier file already had is left out: the same message
// stored twice (notmuch indexes it once).
func loadDir(t testing.TB, dir string, dedupe bool) []corpusMsg {
	t.Helper()
	var out []corpusMsg
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		m, perr := correlate.ParseMessage(f, nil)
		require.NotNil(t, m, "%s: %v", path, perr)
		if dedupe && m.MessageID != "" {
			if seen[m.MessageID] {
				return nil
			}
			seen[m.MessageID] = true
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, corpusMsg{file: filepath.ToSlash(rel), m: m})
		return nil
	})
	require.NoError(t, err)
	return out
}

func messagesOf(cs []corpusMsg) []*correlate.Message {
	out := make([]*correlate.Message, len(cs))
	for i, c := range cs {
		out[i] = c.m
	}
	return out
}

// readOracle returns the oracle's threads as sets of Message-IDs (in the
// form of correlate.NormalizeMessageID) and the parent notmuch shows for
// each id ("" for a root).
func readOracle(t testing.TB, rel string) (threads [][]string, parent map[string]string) {
	t.Helper()
	o := correlatetest.ReadOracle(t, rel)
	parent = map[string]string{}
	for _, th := range o.Threads {
		var ids []string
		for _, m := range th.Messages {
			id := correlate.NormalizeMessageID(m.MessageID)
			ids = append(ids, id)
			parent[id] = ""
			if m.Parent != nil {
				parent[id] = correlate.NormalizeMessageID(*m.Parent)
			}
		}
		slices.Sort(ids)
		threads = append(threads, ids)
	}
	slices.SortFunc(threads, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return threads, parent
}

// partition returns the threads of a forest as sorted sets of Message-IDs
// (each id once), sorted by their first id.
func partition(roots []*thread.Node) [][]string {
	var out [][]string
	for _, r := range roots {
		var ids []string
		thread.Walk([]*thread.Node{r}, func(n *thread.Node, _ int) bool {
			if n.Message != nil && !slices.Contains(ids, n.Message.MessageID) {
				ids = append(ids, n.Message.MessageID)
			}
			return true
		})
		slices.Sort(ids)
		out = append(out, ids)
	}
	slices.SortFunc(out, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// parents returns the parent message each message has in a forest: the
// nearest ancestor that is a message ("" for none), as notmuch shows it
// (it does not show missing messages).
func parents(roots []*thread.Node) map[string]string {
	out := map[string]string{}
	thread.Walk(roots, func(n *thread.Node, _ int) bool {
		if n.Message == nil {
			return true
		}
		p := n.Parent
		for p != nil && p.Message == nil {
			p = p.Parent
		}
		if _, dup := out[n.Message.MessageID]; !dup {
			out[n.Message.MessageID] = ""
			if p != nil {
				out[n.Message.MessageID] = p.Message.MessageID
			}
		}
		return true
	})
	return out
}

// diffPartition lists the threads of got that are not threads of want and
// the other way round.
func diffPartition(got, want [][]string) (extra, missing [][]string) {
	key := func(ids []string) string { return strings.Join(ids, " ") }
	w := map[string]bool{}
	for _, ids := range want {
		w[key(ids)] = true
	}
	g := map[string]bool{}
	for _, ids := range got {
		g[key(ids)] = true
		if !w[key(ids)] {
			extra = append(extra, ids)
		}
	}
	for _, ids := range want {
		if !g[key(ids)] {
			missing = append(missing, ids)
		}
	}
	return extra, missing
}

// TestOracles compares RealMail threading (no subject grouping: notmuch
// never threads by subject) with the threads and parents notmuch 0.37 wrote
// for each corpus.
func TestOracles(t *testing.T) {
	cases := []struct {
		name, dir, oracle string
		// exact: the same threads and the same parent for every message.
		// Otherwise notmuch trusts ids our rules reject: every thread of
		// ours must lie within one of notmuch's, and every notmuch thread
		// we split must be joined only through such ids.
		exact  bool
		reason string
	}{
		{"default", "notmuch/test/corpora/default", "notmuch/oracle-notmuch-0.37/default.threads.json", true,
			"clean list mail: header threading must agree with notmuch exactly, parents included"},
		{"threading", "notmuch/test/corpora/threading", "notmuch/oracle-notmuch-0.37/threading.threads.json", true,
			"ghost roots, a reply to a missing message, an RT thread joined by a missing ticket id, In-Reply-To against a wrongly ordered References"},
		{"broken", "notmuch/test/corpora/broken", "notmuch/oracle-notmuch-0.37/broken.threads.json", true,
			"an In-Reply-To loop: the older message is the root, as in notmuch"},
		{"duplicate", "notmuch/test/corpora/duplicate", "notmuch/oracle-notmuch-0.37/duplicate.threads.json", true,
			"different copies of the same Message-ID are one message"},
		{"lkml", "notmuch/test/corpora/lkml", "notmuch/oracle-notmuch-0.37/lkml.threads.json", false,
			"notmuch fuses 48 messages of unrelated patch threads through In-Reply-To/References <yes>; junk ids must not join them"},
		{"spamassassin-ham", "spamassassin-ham/test/testdata/ham", "spamassassin-ham/oracle-notmuch-0.37/ham.threads.json", false,
			"notmuch joins unrelated replies through addresses that nmh, exmh and Zmail write into In-Reply-To (\"Message from Name <address> of date\")"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msgs := loadDir(t, correlatetest.Path(t, tc.dir), true)
			want, wantParent := readOracle(t, tc.oracle)
			roots := thread.Thread(messagesOf(msgs), nil)
			got := partition(roots)
			extra, missing := diffPartition(got, want)
			fused, unexplained := explainSplits(t, msgs, got, want)
			t.Logf("%d messages: %d threads, notmuch %d; %d of notmuch's threads split into %d", len(msgs), len(got), len(want), len(missing), len(extra))
			if tc.exact {
				assert.Equal(t, want, got, "threads: %s", tc.reason)
				assert.Equal(t, wantParent, parents(roots), "parents: %s", tc.reason)
				return
			}
			assert.Empty(t, fused, "threads of ours spanning two of notmuch's: %s", tc.reason)
			assert.Empty(t, unexplained, "notmuch threads split without a junk id or address to explain it: %s", tc.reason)
			assert.NotEmpty(t, missing, "the corpus is here because notmuch trusts junk: %s", tc.reason)
		})
	}
}

// explainSplits checks that our partition refines the oracle's (no thread
// of ours spans two oracle threads) and that each oracle thread we split is
// joined, in the oracle, only through ids our rules reject: junk ids (see
// header.Junk) and email addresses written into In-Reply-To. It returns
// the unexplained oracle threads.
func explainSplits(t *testing.T, msgs []corpusMsg, got, want [][]string) (fused, unexplained [][]string) {
	t.Helper()
	oracleOf := map[string]int{}
	for i, ids := range want {
		for _, id := range ids {
			oracleOf[id] = i
		}
	}
	for _, ids := range got {
		for _, id := range ids[1:] {
			if oracleOf[id] != oracleOf[ids[0]] {
				fused = append(fused, ids)
				break
			}
		}
	}
	addresses := map[string]bool{}
	byID := map[string]*correlate.Message{}
	for _, c := range msgs {
		byID[c.m.MessageID] = c.m
		for _, a := range c.m.Participants() {
			addresses[a] = true
		}
		for _, a := range c.m.ReplyTo {
			addresses[correlate.NormalizeAddress(a.Address)] = true
		}
	}
	ourOf := map[string]int{}
	for i, ids := range got {
		for _, id := range ids {
			ourOf[id] = i
		}
	}
	for _, ids := range want {
		pieces := map[int]bool{}
		for _, id := range ids {
			pieces[ourOf[id]] = true
		}
		if len(pieces) == 1 {
			continue
		}
		// Join the oracle thread's messages through clean ids only.
		uf := map[string]string{}
		var find func(string) string
		find = func(x string) string {
			if p, ok := uf[x]; ok && p != x {
				r := find(p)
				uf[x] = r
				return r
			}
			uf[x] = x
			return x
		}
		for _, id := range ids {
			m := byID[id]
			find(id)
			for _, ref := range slices.Concat(m.InReplyTo, m.References) {
				if header.Junk(ref, m) != "" || addresses[strings.ToLower(ref)] || strings.Contains(ref, "'") {
					continue
				}
				uf[find(ref)] = find(id)
			}
		}
		roots := map[string]bool{}
		for _, id := range ids {
			roots[find(id)] = true
		}
		if len(roots) != len(pieces) {
			unexplained = append(unexplained, ids)
		}
	}
	return fused, unexplained
}
