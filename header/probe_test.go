package header_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// lookupOnly hides memstore's Probe: the strategies read it with Lookup
// alone, as they read a store that is not a probe.Prober.
type lookupOnly struct{ s *memstore.Store }

func (l lookupOnly) Lookup(ctx context.Context, k correlate.Key, q correlate.Query) ([]correlate.Tracked, error) {
	return l.s.Lookup(ctx, k, q)
}

// decisions replays msgs through InReplyTo and ConversationIndex over a
// memstore read through idx, tracking each message under the record its
// decision names or, when none, a record of its own, and returns every
// decision as text.
func decisions(t *testing.T, msgs []*correlate.Message, opts *header.Options, probe bool) []string {
	t.Helper()
	ctx := context.Background()
	s := memstore.New()
	var idx correlate.Lookuper = lookupOnly{s}
	if probe {
		idx = s
	}
	chain := &correlate.Chain{Correlators: []correlate.Correlator{header.NewInReplyTo(idx, opts), header.NewConversationIndex(idx, opts)}}
	eng := correlate.NewEngine(s, chain, nil)
	var out []string
	for i, m := range msgs {
		d, err := eng.Correlate(ctx, m)
		require.NoError(t, err)
		out = append(out, d.String())
		how := d.Match
		if !d.Found() {
			how = correlate.Match{Record: correlate.Record{Type: "new", ID: fmt.Sprint(i)}}
		}
		_, err = eng.Track(ctx, m, how)
		require.NoError(t, err)
	}
	return out
}

// TestProbeAgreesWithLookup checks that InReplyTo decides the same, to the
// last Evidence note, whether its store answers probes (one call for all of
// a message's ids) or only lookups (one call per id).
func TestProbeAgreesWithLookup(t *testing.T) {
	var synthetic []*correlate.Message
	for i := range 60 {
		raw := fmt.Sprintf("Message-ID: <m%d@x.example>\r\nSubject: Re: thread %d\r\n", i, i%7)
		if i >= 7 {
			raw += fmt.Sprintf("In-Reply-To: <m%d@x.example>\r\nReferences: <m%d@x.example> <junk> <m%d@x.example>\r\n", i-7, i%7, i-7)
		}
		if i%11 == 0 {
			raw += fmt.Sprintf("X-Google-Original-Message-ID: <orig%d@x.example>\r\n", i/11)
		}
		m, err := correlate.ParseMessage(strings.NewReader(raw+"\r\n"), nil)
		require.NotNil(t, m, "%v", err) // the junk id is a problem, dropped
		synthetic = append(synthetic, m)
	}
	sets := []struct {
		name   string
		msgs   func(t *testing.T) []*correlate.Message
		reason string
	}{
		{"synthetic", func(*testing.T) []*correlate.Message { return append(synthetic, synthetic[:15]...) },
			"replies, junk ids, aliases, and duplicates at the end"},
		{"lkml-shuffled", func(t *testing.T) []*correlate.Message {
			dir := correlatetest.Path(t, "notmuch/test/corpora/lkml")
			cms, _, _ := loadCorpus(t, dir, "notmuch/oracle-notmuch-0.37/lkml.threads.json")
			var ms []*correlate.Message
			for _, c := range cms {
				ms = append(ms, c.m)
			}
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
			return ms
		}, "out of order: duplicates, descendants and siblings"},
		{"spamassassin-ham", func(t *testing.T) []*correlate.Message {
			dir := correlatetest.Path(t, "spamassassin-ham/test/testdata/ham")
			cms, _, _ := loadCorpus(t, dir, "spamassassin-ham/oracle-notmuch-0.37/ham.threads.json")
			var ms []*correlate.Message
			for _, c := range cms {
				ms = append(ms, c.m)
			}
			return ms
		}, "real mail with junk and phrase In-Reply-To"},
	}
	options := []*header.Options{nil, {FirstHit: true}, {AbstainOnConflict: true}, {NoAncestors: true}}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			msgs := set.msgs(t)
			for _, o := range options {
				want := decisions(t, msgs, o, false)
				got := decisions(t, msgs, o, true)
				require.Len(t, got, len(want))
				for i := range want {
					if !assert.Equal(t, want[i], got[i], "message %d with %+v: %s", i, o, set.reason) {
						break
					}
				}
				assert.True(t, slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "by InReplyTo") }), "the replay matches something")
			}
		})
	}
}
