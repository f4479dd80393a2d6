package header_test

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// corpusMsg is one file of a corpus, with its thread by the oracle.
type corpusMsg struct {
	file   string // relative to the corpus folder
	m      *correlate.Message
	thread string // record ID: the thread as refined (see refine)
	parent string // oracle parent Message-ID, "" for a root
}

// loadCorpus reads every file the oracle names, parsed, in Date order (ties
// by file name), with thread labels refined by refine and the oracle's
// known gaps joined. It returns the messages, the oracle parent of each
// Message-ID and the number of oracle threads refine split.
func loadCorpus(t testing.TB, dir, oracle string) ([]corpusMsg, map[string]string, int) {
	t.Helper()
	o := correlatetest.ReadOracle(t, oracle)
	var msgs []corpusMsg
	parents := map[string]string{}
	for ti, th := range o.Threads {
		for _, om := range th.Messages {
			p := ""
			if om.Parent != nil {
				p = correlate.NormalizeMessageID(*om.Parent)
			}
			parents[correlate.NormalizeMessageID(om.MessageID)] = p
			for _, f := range om.Files {
				b, err := os.ReadFile(filepath.Join(dir, f))
				require.NoError(t, err)
				m, err := correlate.ParseMessage(strings.NewReader(string(b)), nil)
				require.NotNil(t, m, "%s: %v", f, err)
				msgs = append(msgs, corpusMsg{file: f, m: m, thread: fmt.Sprintf("T%03d", ti), parent: p})
			}
		}
	}
	split := refine(msgs)
	// Threads the header-only oracle misses, with the reason they are one.
	oracleGaps := map[string]string{
		// SOURCE.txt: "ham/1702... and ham/1703... are one real chain (1703's
		// Thread-Index = 1702's + one 5-byte block, same GUID)"; 1703 is
		// "RE:" the same subject, from the same sender, with 1702's subject
		// as Thread-Topic, but carries no In-Reply-To or References.
		"1703.7c5ad732db66343c7c8c05b7bc66e811.eml": "1702.cbf24a3d72463a352831af8e23b02cc1.eml",
	}
	for from, to := range oracleGaps {
		var fromThread, toThread string
		for _, c := range msgs {
			switch c.file {
			case from:
				fromThread = c.thread
			case to:
				toThread = c.thread
			}
		}
		for i := range msgs {
			if fromThread != "" && toThread != "" && msgs[i].thread == fromThread {
				msgs[i].thread = toThread
			}
		}
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		if !msgs[i].m.Date.Equal(msgs[j].m.Date) {
			return msgs[i].m.Date.Before(msgs[j].m.Date)
		}
		return msgs[i].file < msgs[j].file
	})
	return msgs, parents, split
}

// refine splits oracle threads that notmuch fused only through junk ids
// (header.Junk: in lkml, 48 messages of unrelated patch series joined by
// "In-Reply-To: <yes>"). Within each oracle thread, messages stay together
// when they are connected by usable ids (their own and those they
// reference); a thread that needs a junk id to hold together is split into
// its connected parts, each named "<thread>.<n>". It returns how many
// oracle threads were split.
func refine(msgs []corpusMsg) int {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		parent[x] = x
		return x
	}
	union := func(a, b string) { parent[find(a)] = find(b) }
	node := func(th, id string) string { return th + "\x00" + id }
	for _, c := range msgs {
		self := node(c.thread, "file:"+c.file)
		if c.m.MessageID != "" {
			union(self, node(c.thread, c.m.MessageID))
		}
		for _, id := range header.ReadRefs(c.m, -1).IDs {
			union(self, node(c.thread, id))
		}
	}
	parts := map[string]map[string]int{} // thread → component root → part number
	split := map[string]bool{}
	for i := range msgs {
		c := &msgs[i]
		root := find(node(c.thread, "file:"+c.file))
		p := parts[c.thread]
		if p == nil {
			p = map[string]int{}
			parts[c.thread] = p
		}
		n, ok := p[root]
		if !ok {
			n = len(p)
			p[root] = n
		}
		if n > 0 {
			split[c.thread] = true
		}
		c.thread = fmt.Sprintf("%s.%d", c.thread, n)
	}
	return len(split)
}

// replayResult counts a replay: "should" are messages that are not the
// first of their thread (they should inherit its record), "assigned" those
// that got a record, "correct" those that got the right one, "falseStart"
// first messages of a thread that were wrongly given another thread's
// record.
//
// Records are the end-to-end view: once a message is missed and opened as a
// new case, later replies to it inherit that new record and count as wrong
// too. Links are the strategy's own view: "linked" messages were correlated
// with a tracked email of their own thread, "mislinked" with one of another
// thread.
type replayResult struct {
	messages, should, assigned, correct, wrong, falseStart int
	linked, mislinked                                      int
	parents, parentsReferenced, parentsOnOracle            int
	byMethod                                               map[string]int
	misses, wrongs                                         []string
}

func (r replayResult) precision() float64 {
	if r.assigned+r.falseStart == 0 {
		return 1
	}
	return float64(r.correct) / float64(r.assigned+r.falseStart)
}

func (r replayResult) recall() float64 {
	if r.should == 0 {
		return 1
	}
	return float64(r.correct) / float64(r.should)
}

func (r replayResult) linkPrecision() float64 {
	if r.linked+r.mislinked == 0 {
		return 1
	}
	return float64(r.linked) / float64(r.linked+r.mislinked)
}

func (r replayResult) String() string {
	return fmt.Sprintf("messages %d, should link %d, assigned %d, correct %d, wrong %d, wrong thread starts %d: precision %.4f recall %.4f; links to the own thread %d, to another %d: link precision %.4f; parents set %d, referenced by the message %d, on notmuch's ancestor path %d; by method %v",
		r.messages, r.should, r.assigned, r.correct, r.wrong, r.falseStart, r.precision(), r.recall(),
		r.linked, r.mislinked, r.linkPrecision(), r.parents, r.parentsReferenced, r.parentsOnOracle, r.byMethod)
}

// replay processes msgs in order through an Engine over memstore with the
// given correlators: the first message of each thread is tracked under a
// record named after the thread, every later one is correlated and tracked
// with its Decision; a message that gets no record is tracked under a
// record of its own (a CRM opens a new case), so later replies to it count
// as wrong.
func replay(t testing.TB, msgs []corpusMsg, parents map[string]string, build func(s *memstore.Store) []correlate.Correlator) replayResult {
	t.Helper()
	ctx := context.Background()
	s := memstore.New()
	eng := correlate.NewEngine(s, &correlate.Chain{Correlators: build(s)}, nil)
	res := replayResult{byMethod: map[string]int{}}
	started := map[string]bool{}
	isAncestor := func(id, of string) bool {
		for p, n := parents[of], 0; p != "" && n < 1000; p, n = parents[p], n+1 {
			if p == id {
				return true
			}
		}
		return false
	}
	threadOf := map[string]string{}
	for _, c := range msgs {
		threadOf[c.m.MessageID] = c.thread
	}
	for _, c := range msgs {
		res.messages++
		truth := correlate.Record{Type: "thread", ID: c.thread}
		d, err := eng.Correlate(ctx, c.m)
		require.NoError(t, err, c.file)
		if w := d.Match.CorrelatedWith; d.Found() && w != nil {
			if threadOf[w.MessageID] == c.thread {
				res.linked++
			} else {
				res.mislinked++
				res.wrongs = append(res.wrongs, fmt.Sprintf("%s (%s) linked to %s of %s: %s", c.file, c.thread, w.MessageID, threadOf[w.MessageID], d.Match))
			}
		}
		if !started[c.thread] {
			started[c.thread] = true
			if d.Found() {
				res.falseStart++
			}
			_, err := eng.Track(ctx, c.m, correlate.Match{Record: truth})
			require.NoError(t, err)
			continue
		}
		res.should++
		how := d.Match
		if d.Found() {
			res.assigned++
			res.byMethod[fmt.Sprintf("%s/%.1f", d.Match.Method, d.Match.Confidence)]++
			if d.Match.Record == truth {
				res.correct++
			} else {
				res.wrong++
			}
			if p := d.Match.Parent; p != nil {
				res.parents++
				if slices.Contains(header.ReadRefs(c.m, -1).IDs, p.MessageID) && p.Record == d.Match.Record {
					res.parentsReferenced++
				}
				if isAncestor(p.MessageID, c.m.MessageID) {
					res.parentsOnOracle++
				} else {
					t.Logf("parent of %s: %s is not an ancestor in notmuch's tree", c.file, p.MessageID)
				}
			}
		} else {
			res.misses = append(res.misses, fmt.Sprintf("%s (%s) %q", c.file, c.thread, c.m.Subject))
			how = correlate.Match{Record: correlate.Record{Type: "new", ID: c.file}}
		}
		_, err = eng.Track(ctx, c.m, how)
		require.NoError(t, err)
	}
	return res
}

// inReplyToOnly builds a chain of the InReplyTo strategy alone.
func inReplyToOnly(opts *header.Options) func(s *memstore.Store) []correlate.Correlator {
	return func(s *memstore.Store) []correlate.Correlator {
		return []correlate.Correlator{header.NewInReplyTo(s, opts)}
	}
}

// TestReplayArchives replays real list archives with only the first message
// of each thread tracked, and scores the InReplyTo strategy with and
// without ancestor memory. The floors are the figures measured when this
// test was written (see the package's issue note); they may only rise.
func TestReplayArchives(t *testing.T) {
	type corpus struct {
		name, dir, oracle string
		// Floors for InReplyTo with ancestor memory.
		minPrecision, minRecall float64
		// Floors without ancestor memory.
		minPrecisionNoAnc, minRecallNoAnc float64
		split                             int // oracle threads refine must split
		// Parents that are ancestors in notmuch's tree too (see the test
		// log for the others).
		minParentsOnOracle int
	}
	nm := "notmuch/test/corpora/"
	corpora := []corpus{
		{name: "default", dir: nm + "default", oracle: "notmuch/oracle-notmuch-0.37/default.threads.json",
			minPrecision: 1, minRecall: 1, minPrecisionNoAnc: 1, minRecallNoAnc: 1, minParentsOnOracle: 28},
		{name: "lkml", dir: nm + "lkml", oracle: "notmuch/oracle-notmuch-0.37/lkml.threads.json",
			minPrecision: 1, minRecall: 1, minPrecisionNoAnc: 1, minRecallNoAnc: 0.9947, split: 1, minParentsOnOracle: 148},
		{name: "threading", dir: nm + "threading", oracle: "notmuch/oracle-notmuch-0.37/threading.threads.json",
			minPrecision: 1, minRecall: 1, minPrecisionNoAnc: 0.4285, minRecallNoAnc: 0.3333, minParentsOnOracle: 7},
		{name: "usrp-users", dir: "usrp-users/messages", oracle: "usrp-users/oracle-notmuch-0.37.threads.json",
			minPrecision: 1, minRecall: 1, minPrecisionNoAnc: 1, minRecallNoAnc: 1, minParentsOnOracle: 293},
		// An incomplete 2002 sample: many replies answer mail that is not
		// in it, so a message can only be linked once a later one names
		// it; misses open new cases and their replies follow them (record
		// precision below 1 while link precision is 1).
		{name: "spamassassin-ham", dir: "spamassassin-ham/test/testdata/ham", oracle: "spamassassin-ham/oracle-notmuch-0.37/ham.threads.json",
			// notmuch fused 3 pairs of threads through nmh's "In-Reply-To:
			// Message from Name <address> of <date>": the addresses are junk.
			minPrecision: 0.9741, minRecall: 0.9606, minPrecisionNoAnc: 0.9357, minRecallNoAnc: 0.8829, split: 3, minParentsOnOracle: 886},
	}
	for _, cp := range corpora {
		t.Run(cp.name, func(t *testing.T) {
			dir := correlatetest.Path(t, cp.dir)
			msgs, parents, split := loadCorpus(t, dir, cp.oracle)
			assert.Equal(t, cp.split, split, "oracle threads split by dropping junk ids")

			with := replay(t, msgs, parents, inReplyToOnly(nil))
			t.Logf("%s, InReplyTo with ancestor memory: %s", cp.name, with)
			without := replay(t, msgs, parents, inReplyToOnly(&header.Options{NoAncestors: true}))
			t.Logf("%s, InReplyTo without ancestor memory: %s", cp.name, without)
			for _, s := range with.misses {
				t.Logf("  missed: %s", s)
			}
			for _, s := range with.wrongs {
				t.Logf("  wrong: %s", s)
			}
			assert.GreaterOrEqual(t, with.precision(), cp.minPrecision, "precision with ancestors")
			assert.GreaterOrEqual(t, with.recall(), cp.minRecall, "recall with ancestors")
			assert.Equal(t, 0, with.mislinked, "no email linked to another thread's")
			assert.Equal(t, 0, without.mislinked, "no email linked to another thread's")
			assert.GreaterOrEqual(t, without.precision(), cp.minPrecisionNoAnc, "precision without ancestors")
			assert.GreaterOrEqual(t, without.recall(), cp.minRecallNoAnc, "recall without ancestors")
			assert.Equal(t, with.parents, with.parentsReferenced, "every parent is an id the message references, of the same record")
			assert.GreaterOrEqual(t, with.parentsOnOracle, cp.minParentsOnOracle, "parents on notmuch's ancestor path")
		})
	}
}

// readTSV reads a tab-separated file with a header line into maps.
func readTSV(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	head, err := r.Read()
	require.NoError(t, err)
	var rows []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		row := map[string]string{}
		for i, h := range head {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// decodeB64 decodes a Thread-Index value, padding or not.
func decodeB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "="))
	require.NoError(t, err, s)
	return b
}

// TestThreadIndexPairs classifies every real (child, parent) pair of
// usrp-users/thread-index-pairs.derived.tsv, where In-Reply-To is the
// independent ground truth: Index.Parent of the child must be the parent's
// index exactly when the file says the child is the parent plus one block,
// and the GUIDs must agree exactly when the file says so.
func TestThreadIndexPairs(t *testing.T) {
	dir := correlatetest.Path(t, "usrp-users")
	rows := readTSV(t, filepath.Join(dir, "thread-index-pairs.derived.tsv"))
	require.Len(t, rows, 122, "the file holds 122 reply pairs")
	children := 0
	for _, row := range rows {
		child, err := header.ParseIndex(decodeB64(t, row["child_thread_index"]))
		require.NoError(t, err, row["child_file"])
		parent, err := header.ParseIndex(decodeB64(t, row["parent_thread_index"]))
		require.NoError(t, err, row["parent_file"])
		want := row["child_equals_parent_plus_one_5byte_block"] == "True"
		p, ok := child.Parent()
		got := ok && string(p.Bytes()) == string(parent.Bytes())
		assert.Equal(t, want, got, "%s → %s: Parent()", row["child_file"], row["parent_file"])
		assert.Equal(t, want, child.IsChildOf(parent), "%s → %s: IsChildOf", row["child_file"], row["parent_file"])
		assert.Equal(t, row["same_guid_bytes_6_to_22"] == "True", child.GUID() == parent.GUID(), "%s: GUID", row["child_file"])
		if want {
			children++
		}
	}
	t.Logf("%d pairs, %d child = parent + one block, %d replies that started a new index", len(rows), children, len(rows)-children)
	assert.Equal(t, 117, children, "117 pairs follow the Outlook rule, 5 start a new index (SOURCE.txt)")
}

// TestThreadIndexTimes decodes the header time of every conversation root
// of the usrp-users corpus (an oracle root whose index has no child block)
// and the last child block of every reply, and checks them against the Date
// field. The index records when composing started and Date when the message
// was sent, so a decoded time may be earlier than Date by the time spent
// writing, never later than Date plus its one-second resolution (and a
// little clock skew for child blocks, which Outlook and Exchange stamp on
// different machines).
func TestThreadIndexTimes(t *testing.T) {
	dir := correlatetest.Path(t, "usrp-users")
	msgs, _, _ := loadCorpus(t, filepath.Join(dir, "messages"), "usrp-users/oracle-notmuch-0.37.threads.json")
	variants := map[header.Variant]int{}
	var roots, rootsIn1h, rootsIn48h, replies, repliesIn1h, repliesIn48h int
	var worstRoot time.Duration
	guidThreads := map[header.GUID]map[string]bool{}
	for _, c := range msgs {
		if len(c.m.ThreadIndex) == 0 {
			continue
		}
		x, err := header.ParseIndex(c.m.ThreadIndex)
		require.NoError(t, err, c.file)
		v := x.Variant()
		variants[v]++
		g := x.GUID()
		if guidThreads[g] == nil {
			guidThreads[g] = map[string]bool{}
		}
		guidThreads[g][c.thread] = true
		if v == header.OpaqueIndex {
			assert.True(t, x.Time().IsZero(), "%s: opaque index has no time", c.file)
			continue
		}
		if x.Depth() == 0 && c.parent == "" {
			roots++
			lag := c.m.Date.Sub(x.Time())
			assert.GreaterOrEqual(t, lag, -time.Second, "%s: %s header time %s is after Date %s", c.file, v, x.Time(), c.m.Date)
			worstRoot = max(worstRoot, lag)
			if lag <= time.Hour {
				rootsIn1h++
			}
			if lag <= 48*time.Hour {
				rootsIn48h++
			}
		}
		if x.Depth() > 0 {
			replies++
			lag := c.m.Date.Sub(x.Child(x.Depth() - 1).Time)
			if lag >= -time.Minute && lag <= time.Hour {
				repliesIn1h++
			}
			if lag >= -time.Minute && lag <= 48*time.Hour {
				repliesIn48h++
			}
		}
	}
	t.Logf("variants: modern %d, classic %d, opaque %d", variants[header.ModernIndex], variants[header.ClassicIndex], variants[header.OpaqueIndex])
	t.Logf("roots with a time: %d; header time ≤ Date + 1 s for all; Date − header ≤ 1 h for %d, ≤ 48 h for %d (largest %s)",
		roots, rootsIn1h, rootsIn48h, worstRoot)
	t.Logf("replies with a time: %d; last block within [Date − 1 h, Date + 1 min] for %d, [Date − 48 h, Date + 1 min] for %d",
		replies, repliesIn1h, repliesIn48h)
	assert.Equal(t, roots, rootsIn48h, "every root was composed less than 48 hours before its Date")
	assert.GreaterOrEqual(t, float64(rootsIn1h), 0.85*float64(roots), "most roots were composed within the hour")
	assert.GreaterOrEqual(t, float64(repliesIn48h), 0.97*float64(replies), "reply blocks decode next to their Date")
	for g, threads := range guidThreads {
		assert.Len(t, threads, 1, "conversation %s spans several oracle threads", g)
	}
}

// TestReplayConversationIndex replays the corpora with Exchange
// conversation headers using ConversationIndex alone (References ignored:
// what Thread-Index knows by itself) and behind InReplyTo (the default
// chain order). The floors are the figures measured when this test was
// written.
func TestReplayConversationIndex(t *testing.T) {
	type corpus struct {
		name, dir, oracle                     string
		minLinkPrecisionAlone, minRecallAlone float64
		minPrecisionChain, minRecallChain     float64
	}
	corpora := []corpus{
		{name: "usrp-users", dir: "usrp-users/messages", oracle: "usrp-users/oracle-notmuch-0.37.threads.json",
			minLinkPrecisionAlone: 1, minRecallAlone: 0.5102, minPrecisionChain: 1, minRecallChain: 1},
		{name: "spamassassin-ham", dir: "spamassassin-ham/test/testdata/ham", oracle: "spamassassin-ham/oracle-notmuch-0.37/ham.threads.json",
			minLinkPrecisionAlone: 1, minRecallAlone: 0.001, minPrecisionChain: 0.9762, minRecallChain: 0.9638},
		{name: "lkml", dir: "notmuch/test/corpora/lkml", oracle: "notmuch/oracle-notmuch-0.37/lkml.threads.json",
			minLinkPrecisionAlone: 1, minRecallAlone: 0, minPrecisionChain: 1, minRecallChain: 1},
	}
	for _, cp := range corpora {
		t.Run(cp.name, func(t *testing.T) {
			dir := correlatetest.Path(t, cp.dir)
			msgs, parents, _ := loadCorpus(t, dir, cp.oracle)
			alone := replay(t, msgs, parents, func(s *memstore.Store) []correlate.Correlator {
				return []correlate.Correlator{header.NewConversationIndex(s, nil)}
			})
			t.Logf("%s, ConversationIndex alone: %s", cp.name, alone)
			for _, s := range alone.wrongs {
				t.Logf("  %s", s)
			}
			chain := replay(t, msgs, parents, func(s *memstore.Store) []correlate.Correlator {
				return []correlate.Correlator{header.NewInReplyTo(s, nil), header.NewConversationIndex(s, nil)}
			})
			t.Logf("%s, InReplyTo then ConversationIndex: %s", cp.name, chain)
			for _, s := range chain.wrongs {
				t.Logf("  %s", s)
			}
			assert.GreaterOrEqual(t, alone.linkPrecision(), cp.minLinkPrecisionAlone, "link precision alone")
			assert.GreaterOrEqual(t, alone.recall(), cp.minRecallAlone, "recall alone")
			assert.GreaterOrEqual(t, chain.precision(), cp.minPrecisionChain, "precision of the chain")
			assert.GreaterOrEqual(t, chain.recall(), cp.minRecallChain, "recall of the chain")
		})
	}
}

// TestThreadingCorpus replays notmuch's threading and broken corpora (first
// message of each thread tracked, the rest correlated) and checks every
// decision: ghost roots, In-Reply-To trusted over a wrong References, the RT
// ticket thread held together by a ghost id, and the In-Reply-To loop.
func TestThreadingCorpus(t *testing.T) {
	type want struct {
		file       string
		confidence float64 // 0: not correlated (first of its thread)
		parent     string  // Message-ID of Match.Parent, "" for none
		with       string  // Message-ID of Match.CorrelatedWith
		reason     string
	}
	cases := []struct {
		corpus string
		want   []want // in replay order (Date, then file name)
	}{
		{corpus: "threading", want: []want{
			{file: "ghost-root/fake-root", reason: "first of the ghost-root thread by Date (it ties with real-root and sorts first)"},
			{file: "ghost-root/real-root", confidence: correlate.High, with: "001-fake-message-root@example.org",
				reason: "no references of its own, but the tracked fake-root lists it in References: its reply arrived first"},
			{file: "parent-priority/cur/root", reason: "first of the parent-priority thread"},
			{file: "ghost-root/child", confidence: correlate.Certain, parent: "000-real-root@example.org", with: "000-real-root@example.org",
				reason: "In-Reply-To names real-root"},
			{file: "parent-priority/cur/child", confidence: correlate.Certain, parent: "B00-root@example.org", with: "B00-root@example.org",
				reason: "In-Reply-To names the root; its References names a non-existent <B00--root> and is not trusted over In-Reply-To"},
			{file: "ghost-root/grand-child", confidence: correlate.Certain, parent: "001-child@example.org", with: "001-child@example.org",
				reason: "In-Reply-To names child"},
			{file: "parent-priority/cur/grand-child", confidence: correlate.Certain, parent: "B01-child@example.org", with: "B01-child@example.org",
				reason: "In-Reply-To names child"},
			{file: "ghost-root/grand-child2", confidence: correlate.Certain, parent: "001-child@example.org", with: "001-child@example.org",
				reason: "In-Reply-To names child"},
			{file: "ghost-root/great-grand-child", confidence: correlate.Certain, parent: "001-grand-child@example.org", with: "001-grand-child@example.org",
				reason: "In-Reply-To names grand-child"},
			{file: "ghost-root/1529425589.M615261P21663.len:2,S", reason: "first of the RT ticket thread"},
			{file: "ghost-root/1532672447.R3166642290392477575.len:2,S", confidence: correlate.Certain,
				parent: "87bmc6lp3h.fsf@len.workgroup", with: "87bmc6lp3h.fsf@len.workgroup",
				reason: "RT's AutoReply: In-Reply-To names the ticket's first message"},
			{file: "ghost-root/1532672447.R6968667928580738175.len:2,S", confidence: correlate.Likely,
				with:   "rt-4.2.8-22046-1529425595-591.33575-211-0@xxxxxxx-xxxxxxxxxxxxxxxxx-xxxxxxxxx-xxxxxxxxx.de",
				reason: "RT's Resolved references only the ghost <RT-Ticket-33575@…>, which the tracked AutoReply also references: ancestor memory"},
		}},
		{corpus: "broken", want: []want{
			{file: "broken-cc", reason: "a thread of its own (same Date as loop-12, sorts first)"},
			{file: "loop/loop-12", reason: "first of the loop thread (it claims to answer loop-21, which is not tracked yet)"},
			{file: "loop/loop-21", confidence: correlate.Certain, parent: "mid-loop-12@example.org", with: "mid-loop-12@example.org",
				reason: "In-Reply-To names loop-12; the loop back from loop-12 is never followed"},
			{file: "empty-part", reason: "a thread of its own"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.corpus, func(t *testing.T) {
			dir := correlatetest.Path(t, "notmuch/test/corpora/"+tc.corpus)
			msgs, _, _ := loadCorpus(t, dir, "notmuch/oracle-notmuch-0.37/"+tc.corpus+".threads.json")
			require.Len(t, msgs, len(tc.want))
			ctx := context.Background()
			s := memstore.New()
			eng := correlate.NewEngine(s, &correlate.Chain{Correlators: []correlate.Correlator{
				header.NewInReplyTo(s, nil), header.NewConversationIndex(s, nil)}}, nil)
			started := map[string]bool{}
			for i, c := range msgs {
				w := tc.want[i]
				require.Equal(t, w.file, c.file, "replay order")
				d, err := eng.Correlate(ctx, c.m)
				require.NoError(t, err)
				how := d.Match
				if w.confidence == 0 {
					assert.False(t, d.Found(), "%s: %s\n%s", c.file, w.reason, d)
					assert.False(t, started[c.thread], "%s starts its thread", c.file)
					how = correlate.Match{Record: correlate.Record{Type: "thread", ID: c.thread}}
				} else if assert.True(t, d.Found(), "%s: %s", c.file, w.reason) {
					assert.Equal(t, c.thread, d.Match.Record.ID, "%s: record (%s)", c.file, w.reason)
					assert.Equal(t, w.confidence, d.Match.Confidence, "%s: confidence (%s)", c.file, w.reason)
					assert.Equal(t, w.with, d.Match.CorrelatedWith.MessageID, "%s: correlated with (%s)", c.file, w.reason)
					gotParent := ""
					if d.Match.Parent != nil {
						gotParent = d.Match.Parent.MessageID
					}
					assert.Equal(t, w.parent, gotParent, "%s: parent (%s)", c.file, w.reason)
					t.Logf("%s: %s", c.file, d)
				}
				started[c.thread] = true
				_, err = eng.Track(ctx, c.m, how)
				require.NoError(t, err)
			}
		})
	}
}

// TestReplayShuffled replays the archives in a shuffled order (fixed
// seeds): mail synchronized from several mailboxes, or imported late,
// arrives out of order, and a reply may be tracked before the email it
// answers. Ancestor memory (a tracked email that references this one, or
// shares an ancestor with it) is what links such mail; the floors are the
// figures measured when this test was written.
func TestReplayShuffled(t *testing.T) {
	type corpus struct {
		name, dir, oracle       string
		minPrecision, minRecall float64
	}
	corpora := []corpus{
		{name: "lkml", dir: "notmuch/test/corpora/lkml", oracle: "notmuch/oracle-notmuch-0.37/lkml.threads.json",
			minPrecision: 0.8473, minRecall: 0.8429},
		{name: "usrp-users", dir: "usrp-users/messages", oracle: "usrp-users/oracle-notmuch-0.37.threads.json",
			minPrecision: 0.9517, minRecall: 0.9387},
	}
	for _, cp := range corpora {
		t.Run(cp.name, func(t *testing.T) {
			dir := correlatetest.Path(t, cp.dir)
			msgs, parents, _ := loadCorpus(t, dir, cp.oracle)
			for seed := range uint64(3) {
				shuffled := slices.Clone(msgs)
				r := rand.New(rand.NewPCG(seed, 42))
				r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				with := replay(t, shuffled, parents, inReplyToOnly(nil))
				without := replay(t, shuffled, parents, inReplyToOnly(&header.Options{NoAncestors: true}))
				t.Logf("%s, seed %d, with ancestor memory: %s", cp.name, seed, with)
				t.Logf("%s, seed %d, without: %s", cp.name, seed, without)
				assert.Zero(t, with.mislinked, "no email linked to another thread's")
				assert.GreaterOrEqual(t, with.precision(), cp.minPrecision, "seed %d: precision", seed)
				assert.GreaterOrEqual(t, with.recall(), cp.minRecall, "seed %d: recall", seed)
				assert.Greater(t, with.recall(), without.recall()+0.4, "seed %d: ancestor memory is what links mail out of order", seed)
			}
		})
	}
}
