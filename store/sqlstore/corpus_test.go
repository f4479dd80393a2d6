package sqlstore_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

type corpusMsg struct {
	file string // relative to the corpora folder
	m    *correlate.Message
}

// corpus parses every message under the named corpus folders, oldest Date
// first, skipping the test when the corpora are absent (a user's clone has
// none).
func corpus(t testing.TB, dirs ...string) []corpusMsg {
	t.Helper()
	var out []corpusMsg
	for _, mail := range correlatetest.Messages(t, nil, dirs...) {
		if mail.Msg != nil { // problems are reported, the message kept
			out = append(out, corpusMsg{file: mail.File, m: mail.Msg})
		}
	}
	slices.SortStableFunc(out, func(a, b corpusMsg) int { return a.m.Date.Compare(b.m.Date) })
	return out
}

// TestCorpusTrack tracks real mail (the usrp-users list: Outlook
// Thread-Index, Chinese and Turkish subjects; SpamAssassin ham: a thousand
// mail programs of 2002; notmuch: duplicates, loops, junk ids) through an
// Engine on each database, oldest first, correlating replies by
// In-Reply-To. Then every tracked field must read back exactly as parsed,
// and every (reply, parent) pair of the usrp-users oracle must have been
// correlated to its parent.
func TestCorpusTrack(t *testing.T) {
	dirs := []string{"usrp-users/messages", "spamassassin-ham/test/testdata/ham", "notmuch/test/corpora"}
	if raceEnabled {
		dirs = dirs[:1] // SQLite under the race detector is ~100× slower
	}
	msgs := corpus(t, dirs...)
	require.NotEmpty(t, msgs)
	pairs := usrpPairs(t)
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		ctx := context.Background()
		s := open(t, nil)
		engine := correlate.NewEngine(s, &correlate.Chain{Correlators: []correlate.Correlator{inReplyTo{s}}}, nil)
		first := map[string]*correlate.Message{}
		firstFile := map[string]string{}
		fileID := map[string]int64{}
		var tracked, dups, collisions, correlated int
		for _, cm := range msgs {
			d, err := engine.Correlate(ctx, cm.m)
			require.NoError(t, err, cm.file)
			how := d.Match
			if how.Record.IsZero() {
				how = correlate.Match{Record: correlate.Record{Type: "thread", ID: cm.m.MessageID}}
			} else {
				correlated++
			}
			got, err := engine.Track(ctx, cm.m, how)
			require.NoError(t, err, cm.file)
			fileID[filepath.Base(cm.file)] = got.ID
			if cm.m.MessageID == "" {
				tracked++
				continue
			}
			if f, ok := first[cm.m.MessageID]; ok {
				// A copy of an email already tracked is tracked once; another
				// email reusing its Message-ID (the notmuch "duplicate"
				// corpus has some) is a collision, tracked as its own email.
				if got.ID != fileID[firstFile[cm.m.MessageID]] {
					same, _ := correlate.SameEmail(cm.m, &correlate.Tracked{Subject: f.Subject, Participants: f.Participants(), Time: f.Date}, nil)
					require.False(t, same, "%s: a copy of %s must be tracked once", cm.file, firstFile[cm.m.MessageID])
					collisions++
					tracked++
					continue
				}
				dups++
				continue
			}
			firstFile[cm.m.MessageID] = filepath.Base(cm.file)
			first[cm.m.MessageID] = cm.m
			tracked++
		}
		st, err := s.Stats(ctx)
		require.NoError(t, err)
		t.Logf("%d files: %d tracked, %d repeated Message-IDs tracked once, %d collisions tracked on their own, %d correlated by In-Reply-To",
			len(msgs), tracked, dups, collisions, correlated)
		assert.EqualValues(t, tracked, st.Emails, "every message tracked once; a repeated Message-ID is not tracked again")

		for id, m := range first {
			ts, err := s.Lookup(ctx, correlate.MessageIDKey(id), correlate.Query{Limit: -1})
			require.NoError(t, err)
			require.Len(t, ts, 1, id)
			got := ts[0]
			assert.Equal(t, m.Subject, got.Subject, "%s: subject round-trips", id)
			assert.Equal(t, len(m.ThreadIndex) > 0, len(got.ConversationIndex) > 0, id)
			if len(m.ThreadIndex) > 0 {
				assert.Equal(t, m.ThreadIndex, got.ConversationIndex, "%s: Thread-Index round-trips", id)
			}
			if want := m.Participants(); len(want) > 0 {
				assert.Equal(t, want, got.Participants, "%s: participants round-trip", id)
			}
			if !m.Date.IsZero() {
				assert.True(t, m.Date.Truncate(1000).Equal(got.Time), "%s: date round-trips", id)
			}
		}

		found := 0
		for _, p := range pairs {
			child, ok := fileID[p[0]]
			require.True(t, ok, "pair child %s tracked", p[0])
			got, err := s.Get(ctx, child)
			require.NoError(t, err)
			if got.Method == correlate.InReplyTo && got.Parent == fileID[p[1]] {
				found++
			} else {
				t.Logf("pair %s → %s not correlated (method %v, parent %d, want %d)", p[0], p[1], got.Method, got.Parent, fileID[p[1]])
			}
		}
		t.Logf("usrp-users oracle pairs correlated to their parent: %d of %d", found, len(pairs))
		assert.Equal(t, len(pairs), found, "every oracle reply finds its parent through the store")
	})
}

// usrpPairs returns the (child file, parent file) pairs of the usrp-users
// oracle thread-index-pairs.derived.tsv.
func usrpPairs(t testing.TB) [][2]string {
	f, err := os.Open(correlatetest.Path(t, "usrp-users/thread-index-pairs.derived.tsv"))
	require.NoError(t, err)
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 2 || cols[0] == "child_file" {
			continue
		}
		out = append(out, [2]string{cols[0], cols[1]})
	}
	require.NoError(t, sc.Err())
	return out
}
