package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// inReplyTo is the simplest header strategy, written here so that the test
// depends on no other package of the module: a reply inherits the record of
// the tracked email its In-Reply-To names. As an Indexer it files the
// tracking token stamped on the subject under the key kind "token".
type inReplyTo struct{ store correlate.Store }

var tokenRE = regexp.MustCompile(`\[(CRM:[0-9]{7})\]`)

func (c inReplyTo) String() string { return "test-inreplyto" }

func (c inReplyTo) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	for _, id := range m.InReplyTo {
		ts, err := c.store.Lookup(ctx, correlate.MessageIDKey(id), correlate.Query{Limit: 1})
		if err != nil {
			return correlate.Match{}, fmt.Errorf("test-inreplyto: lookup %q: %w", id, err)
		}
		if len(ts) == 1 {
			parent := ts[0]
			return correlate.Match{Record: parent.Record, Method: correlate.InReplyTo, Confidence: correlate.Certain,
				CorrelatedWith: &parent, Parent: &parent, Reason: "In-Reply-To names a tracked email"}, nil
		}
	}
	return correlate.Match{}, nil
}

func (c inReplyTo) Index(m *correlate.Message, t *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	if sm := tokenRE.FindStringSubmatch(m.Subject); sm != nil {
		t.Token = sm[1]
		dst = append(dst, correlate.Key{Kind: "token", Value: sm[1]})
	}
	return dst
}

// TestEnginesShareDatabase runs 4 workers, each with its own Store and
// Engine on one PostgreSQL database, correlating and tracking 10,000
// messages (1,000 threads of 10) plus 1,000 redeliveries of messages
// already sent, all in parallel. A message that does not correlate opens a
// case numbered by NextSequence("case"); every delivery is stamped with a
// token numbered by NextSequence("token") before it is tracked.
func TestEnginesShareDatabase(t *testing.T) {
	url := pgURL(t)
	schema := newSchema(t, url)
	const (
		workers  = 4
		threads  = 1000
		perTh    = 10
		messages = threads * perTh
		redeliv  = 1000
	)
	ctx := context.Background()

	// The workers open the database at the same time, as a fleet starting
	// up does: the migrations run once.
	stores := make([]*sqlstore.Store, workers)
	var wg sync.WaitGroup
	for w := range stores {
		wg.Go(func() {
			s, err := sqlstore.Open(ctx, url, &sqlstore.Options{Schema: schema})
			if assert.NoError(t, err) {
				stores[w] = s
			}
		})
	}
	wg.Wait()
	for _, s := range stores {
		require.NotNil(t, s)
		defer s.Close()
	}

	msgID := func(th, j int) string { return fmt.Sprintf("t%04d.m%02d@customer.example", th, j) }
	message := func(th, j int) *correlate.Message {
		m := &correlate.Message{
			MessageID: msgID(th, j),
			Subject:   fmt.Sprintf("Printer %d offline", th),
			From:      []correlate.Address{{Address: fmt.Sprintf("c%d@customer.example", th)}},
			To:        []correlate.Address{{Address: "support@fabrikam.example"}},
			Date:      t0.Add(time.Duration(j)*time.Hour + time.Duration(th)*time.Second),
		}
		if j > 0 {
			m.InReplyTo = []string{msgID(th, j-1)}
		}
		return m
	}
	// Deliveries: round j of every thread before round j+1, so most parents
	// are tracked before their replies, but the four workers race within a
	// round and across its edges; redeliveries are mixed in.
	type delivery struct{ th, j int }
	var order []delivery
	rng := rand.New(rand.NewPCG(1, 2))
	for j := 0; j < perTh; j++ {
		for th := 0; th < threads; th++ {
			order = append(order, delivery{th, j})
			if rng.IntN(messages) < redeliv && len(order) > 1 {
				order = append(order, order[rng.IntN(len(order)-1)])
			}
		}
	}
	for len(order) < messages+redeliv {
		order = append(order, order[rng.IntN(messages)])
	}

	var (
		mu       sync.Mutex
		seqs     = map[string]map[int64]int{"case": {}, "token": {}}
		trackIDs = map[string]map[int64]bool{}
		correl   int
	)
	next := func(s *sqlstore.Store, name string) (int64, error) {
		n, err := s.NextSequence(ctx, name)
		if err == nil {
			mu.Lock()
			seqs[name][n]++
			mu.Unlock()
		}
		return n, err
	}
	work := make(chan delivery)
	start := time.Now()
	for w := 0; w < workers; w++ {
		s := stores[w]
		// Each delivery stamps a new token on the subject: a delivery of a
		// message already tracked is still the same email (not a
		// Message-ID collision) when the subjects agree but for the token.
		engine := correlate.NewEngine(s, &correlate.Chain{Correlators: []correlate.Correlator{inReplyTo{s}}},
			&correlate.EngineOptions{SameSubject: func(a, b string) bool { return stripToken(a) == stripToken(b) }})
		wg.Go(func() {
			for d := range work {
				m := message(d.th, d.j)
				dec, err := engine.Correlate(ctx, m)
				if !assert.NoError(t, err) {
					continue
				}
				how := dec.Match
				if how.Record.IsZero() {
					n, err := next(s, "case")
					if !assert.NoError(t, err) {
						continue
					}
					how = correlate.Match{Record: correlate.Record{Type: "incident", ID: fmt.Sprintf("CAS-%06d", n)}}
				}
				tok, err := next(s, "token")
				if !assert.NoError(t, err) {
					continue
				}
				m.Subject += fmt.Sprintf(" [CRM:%07d]", tok)
				got, err := engine.Track(ctx, m, how)
				if !assert.NoError(t, err) {
					continue
				}
				mu.Lock()
				if trackIDs[m.MessageID] == nil {
					trackIDs[m.MessageID] = map[int64]bool{}
				}
				trackIDs[m.MessageID][got.ID] = true
				if how.Method == correlate.InReplyTo {
					correl++
				}
				mu.Unlock()
			}
		})
	}
	for _, d := range order {
		work <- d
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d deliveries (%d messages) by %d engines in %v (%.0f deliveries/s); %d correlated by In-Reply-To",
		len(order), messages, workers, elapsed.Round(time.Millisecond), float64(len(order))/elapsed.Seconds(), correl)

	// Exactly once: one tracked email per message, and every delivery of a
	// message was answered with that email.
	st, err := stores[0].Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, messages, st.Emails, "every message is tracked exactly once")
	assert.EqualValues(t, 2*messages, st.Keys, "each tracked email has its Message-ID and token keys")
	require.Len(t, trackIDs, messages)
	for id, set := range trackIDs {
		assert.Len(t, set, 1, "every delivery of %s returned the same tracked email", id)
	}

	// No sequence value was ever issued twice.
	for name, vals := range seqs {
		for v, n := range vals {
			if n != 1 {
				t.Errorf("NextSequence(%q) returned %d %d times", name, v, n)
			}
		}
	}
	assert.Len(t, seqs["token"], len(order), "one token per delivery")

	// Every key is present and leads back to its email; replies that
	// correlated carry their parent's record.
	var byID = map[int64]correlate.Tracked{}
	tokens := map[string]bool{}
	for th := 0; th < threads; th++ {
		for j := 0; j < perTh; j++ {
			s := stores[(th+j)%workers]
			ts, err := s.Lookup(ctx, correlate.MessageIDKey(msgID(th, j)), correlate.Query{Limit: -1})
			require.NoError(t, err)
			require.Len(t, ts, 1, "message %s is under its Message-ID key once", msgID(th, j))
			tr := ts[0]
			byID[tr.ID] = tr
			require.NotEmpty(t, tr.Token, "the token indexer ran")
			assert.False(t, tokens[tr.Token], "token %s stored on one email", tr.Token)
			tokens[tr.Token] = true
			tk, err := s.Lookup(ctx, correlate.Key{Kind: "token", Value: tr.Token}, correlate.Query{Limit: -1})
			require.NoError(t, err)
			require.Len(t, tk, 1)
			assert.Equal(t, tr.ID, tk[0].ID, "the token key names the email")
		}
	}
	for _, tr := range byID {
		if tr.Method != correlate.InReplyTo {
			continue
		}
		parent, ok := byID[tr.Parent]
		require.True(t, ok, "the parent of %s is tracked", tr.MessageID)
		assert.Equal(t, parent.Record, tr.Record, "%s inherits its parent's record", tr.MessageID)
	}
	assert.Greater(t, correl, messages/2, "most replies found their parent tracked")
}

// stripToken removes the " [CRM:nnnnnnn]" stamp TestEnginesShareDatabase
// adds to a subject.
func stripToken(s string) string {
	if i := strings.LastIndex(s, " [CRM:"); i >= 0 && strings.HasSuffix(s, "]") {
		return s[:i]
	}
	return s
}
