package token_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

var (
	corpusOnce sync.Once
	corpusMsgs []*correlate.Message
)

// corpusMessages returns the header of every real message of the corpora:
// spamassassin-ham, usrp-users and the notmuch Maildirs, in a fixed order.
// It returns nil when the corpora are absent.
func corpusMessages(tb testing.TB) []*correlate.Message {
	tb.Helper()
	if _, ok := correlatetest.Find(); !ok {
		return nil
	}
	corpusOnce.Do(func() {
		for _, mail := range correlatetest.Messages(tb, nil, correlatetest.Ham, correlatetest.USRP, correlatetest.Notmuch) {
			if mail.Msg != nil {
				corpusMsgs = append(corpusMsgs, mail.Msg)
			}
		}
	})
	return corpusMsgs
}

// corpusSubjects returns the decoded subjects of the corpora: every message
// subject plus the subject column of usrp-users/index.tsv. It returns nil
// when the corpora are absent.
func corpusSubjects(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for _, m := range corpusMessages(tb) {
		out = append(out, m.Subject)
	}
	dir, ok := correlatetest.Find()
	if !ok {
		return out
	}
	f, err := os.Open(filepath.Join(dir, "usrp-users/index.tsv"))
	if err != nil {
		return out
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	for i := 0; ; i++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil || i == 0 || len(rec) < 8 {
			continue
		}
		out = append(out, rec[7])
	}
	return out
}

func needCorpus(t *testing.T) {
	t.Helper()
	correlatetest.Dir(t)
}

// TestCorpus_noFalseTokens runs Find over every real subject: none of these
// mails carries a tracking token, so everything Find reports is a false
// positive. The prefix "#" is the hardest: real subjects are full of
// "#123"-style numbers.
func TestCorpus_noFalseTokens(t *testing.T) {
	needCorpus(t)
	subjects := corpusSubjects(t)
	require.Greater(t, len(subjects), 1500)
	formats := map[string]token.Format{
		"CRM:":             {},
		"#":                {Prefix: "#"},
		"# widened":        {Prefix: "#", Widen: true, MinDigits: 3},
		"Ticket# (signed)": {Prefix: "Ticket#", History: []string{"CRM:", "#"}, Keys: [][]byte{testKey}},
	}
	for name, f := range formats {
		var hits []string
		for _, s := range subjects {
			for _, fd := range f.Find(s) {
				hits = append(hits, fmt.Sprintf("%q in %q", fd.Token.String(), s))
			}
		}
		t.Logf("prefix %-16s %d subjects, %d tokens found", name, len(subjects), len(hits))
		if name == "# widened" {
			// 3 to 23 digits after '#' beginning with 0 or 1 is a loose
			// pattern; report what it catches rather than fail.
			for _, h := range hits {
				t.Logf("  %s", h)
			}
			continue
		}
		assert.Empty(t, hits, "no real subject holds a token under %s", name)
	}
}

// mutations are what mail programs and people do to a stamped subject.
var mutations = []struct {
	name string
	fn   func(stamped, tok string) string
}{
	{"as sent", func(s, _ string) string { return s }},
	{"reply", func(s, _ string) string { return "RE: " + s }},
	{"localized reply chain", func(s, _ string) string { return "AW: Re: 回复：" + s }},
	{"upper-cased", func(s, _ string) string { return strings.ToUpper("Re: " + s) }},
	{"lower-cased", func(s, _ string) string { return strings.ToLower("re: " + s) }},
	{"list tag", func(s, _ string) string { return "Re: [USRP-users] " + s }},
	{"token moved after the prefix", func(s, tok string) string {
		return "RE: " + tok + " " + strings.TrimSpace(strings.TrimSuffix(s, tok))
	}},
	{"bracketed", func(s, tok string) string { return "RE: " + strings.TrimSuffix(s, tok) + "[" + tok + "]" }},
	{"trailing punctuation", func(s, _ string) string { return "Fwd: " + s + "." }},
	{"forward trailer", func(s, _ string) string { return s + " (fwd)" }},
}

// TestCorpus_stampFind stamps every real subject with a token, mutates it as
// mail programs do, and checks that Find reads exactly that token back.
func TestCorpus_stampFind(t *testing.T) {
	needCorpus(t)
	subjects := corpusSubjects(t)
	for _, f := range []token.Format{{}, {Keys: [][]byte{testKey}, Widen: true}} {
		g, err := token.NewGenerator(memstore.New(), f)
		require.NoError(t, err)
		total, ok := 0, 0
		var misses []string
		for i, s := range subjects {
			tok, err := g.Next(context.Background(), int64(1+i%50))
			require.NoError(t, err)
			stamped, err := token.Stamp(s, tok.String(), 0)
			require.NoError(t, err)
			for _, mu := range mutations {
				got := f.Find(mu.fn(stamped, tok.String()))
				total++
				if len(got) == 1 && got[0].Token == tok && f.Verify(got[0].Token) == nil {
					ok++
				} else if len(misses) < 10 {
					misses = append(misses, fmt.Sprintf("%s: %q -> %v", mu.name, mu.fn(stamped, tok.String()), got))
				}
			}
		}
		t.Logf("signed=%v: %d subjects x %d mutations: %d/%d tokens read back exactly (recall %.4f)",
			len(f.Keys) > 0, len(subjects), len(mutations), ok, total, float64(ok)/float64(total))
		assert.Equal(t, total, ok, "misses: %v", misses)
	}
}

// TestCorpus_rollover replays the worst case of Dynamics' 3-digit counter:
// one user sends every corpus message (more than 1,000, so tokens repeat),
// each filed under a record of its own with its real participants, and then
// the original sender of each answers. It compares the record chosen by the
// Correlator with Dynamics' rule (the newest tracked email with the token)
// and with a widened counter. A reply whose sender took part in several of
// the emails sharing its token cannot be told apart by participants; the
// Correlator then picks the newest, as Dynamics does.
func TestCorpus_rollover(t *testing.T) {
	needCorpus(t)
	ctx := context.Background()
	msgs := slices.Clone(corpusMessages(t))
	require.Greater(t, len(msgs), 1000, "enough mail to roll a 3-digit counter over")
	// A fixed shuffle mixes the corpora, so that tokens repeat between mails
	// of the same list and often the same people, as in one CRM mailbox.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })

	for _, f := range []token.Format{{}, {Widen: true}} {
		st := memstore.New()
		c := token.New(st, &token.Options{Format: f})
		e := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)
		g, err := token.NewGenerator(st, f)
		require.NoError(t, err)

		type sentMail struct {
			tok    string
			record correlate.Record
			from   string
		}
		var sentMails []sentMail
		seen := map[string]bool{}
		for i, m := range msgs {
			from := m.SenderAddress()
			if from == "" || seen[m.MessageID] {
				continue
			}
			seen[m.MessageID] = true
			tok, err := g.Next(ctx, 1)
			require.NoError(t, err)
			out := *m
			out.MessageID = fmt.Sprintf("sent-%d@crm.example", i)
			out.Subject, err = token.Stamp(m.Subject, tok.String(), 0)
			require.NoError(t, err)
			out.Date = t0.Add(time.Duration(i) * time.Minute)
			rec := correlate.Record{Type: "incident", ID: fmt.Sprint(i)}
			_, err = e.Track(ctx, &out, correlate.Match{Record: rec})
			require.NoError(t, err)
			sentMails = append(sentMails, sentMail{tok: out.Subject, record: rec, from: from})
		}

		ours, dynamics, ambiguous := 0, 0, 0
		for i, s := range sentMails {
			reply := &correlate.Message{
				MessageID: fmt.Sprintf("reply-%d@customer.example", i),
				Subject:   "RE: " + s.tok,
				From:      []correlate.Address{{Address: s.from}},
				To:        []correlate.Address{{Address: "support@crm.example"}},
				Date:      t0.Add(1000 * time.Hour),
			}
			m, err := c.Correlate(ctx, reply)
			require.NoError(t, err)
			if m.Record == s.record {
				ours++
			}
			if slices.ContainsFunc(m.Evidence, func(e correlate.Evidence) bool { return strings.Contains(e.Note, "share this token") }) {
				ambiguous++
			}
			fd := f.Find(s.tok)
			ts, err := st.Lookup(ctx, fd[len(fd)-1].Key(), correlate.Query{Limit: 1})
			require.NoError(t, err)
			if len(ts) == 1 && ts[0].Record == s.record {
				dynamics++
			}
		}
		n := len(sentMails)
		t.Logf("widen=%v: %d emails sent by one user, %d replies: correct record %d (%.1f%%) vs Dynamics' newest-token rule %d (%.1f%%); %d replies met a shared token",
			f.Widen, n, n, ours, 100*float64(ours)/float64(n), dynamics, 100*float64(dynamics)/float64(n), ambiguous)
		if f.Widen {
			assert.Equal(t, n, ours, "a widened counter never repeats a token")
			assert.Zero(t, ambiguous)
		} else {
			assert.Greater(t, ambiguous, 0, "the counter rolled over")
			assert.GreaterOrEqual(t, ours, dynamics, "participants resolve roll-over duplicates at least as well as Dynamics")
		}
	}
}
