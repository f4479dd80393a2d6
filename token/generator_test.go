package token_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// fakeSeq is a Sequencer that starts every counter after start and records
// the names it was asked for.
type fakeSeq struct {
	mu    sync.Mutex
	start int64
	next  map[string]int64
	names []string
	err   error
}

func (s *fakeSeq) NextSequence(_ context.Context, name string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, name)
	if s.err != nil {
		return 0, s.err
	}
	if s.next == nil {
		s.next = map[string]int64{}
	}
	if _, ok := s.next[name]; !ok {
		s.next[name] = s.start
	}
	s.next[name]++
	return s.next[name], nil
}

func issue(t *testing.T, g *token.Generator, user int64, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		tok, err := g.Next(context.Background(), user)
		require.NoError(t, err)
		out[i] = tok.String()
	}
	return out
}

func TestGenerator(t *testing.T) {
	g, err := token.NewGenerator(memstore.New(), token.Format{})
	require.NoError(t, err)
	assert.Equal(t, []string{"CRM:0001001", "CRM:0001002"}, issue(t, g, 1, 2), "user 1 starts at 001 and counts up")
	assert.Equal(t, []string{"CRM:0002001"}, issue(t, g, 2, 1), "each user has a counter of its own")
	assert.Equal(t, []string{"CRM:0001003"}, issue(t, g, 1, 1), "user 1's counter was not disturbed")
	name, err := g.SequenceName(2)
	require.NoError(t, err)
	assert.Equal(t, "token.user.2", name)

	gb, err := token.NewGenerator(memstore.New(), token.Format{Base: 500})
	require.NoError(t, err)
	assert.Equal(t, []string{"CRM:0501001"}, issue(t, gb, 1, 1), "base 500: the first user is 501")
	name, err = gb.SequenceName(1)
	require.NoError(t, err)
	assert.Equal(t, "token.user.501", name, "counters are named by user number, so deployments with other bases never share one")
}

func TestGenerator_rollover(t *testing.T) {
	cases := []struct {
		name   string
		f      token.Format
		want   []string
		reason string
	}{
		{"dynamics", token.Format{}, []string{"CRM:0001999", "CRM:0001000", "CRM:0001001"},
			"'runs through 999 and then restarts at 000': the 1001st token repeats the first"},
		{"widen", token.Format{Widen: true}, []string{"CRM:0001999", "CRM:00011000", "CRM:00011001"},
			"the wider counter never repeats"},
		{"one digit", token.Format{CounterDigits: 1, MinDigits: 5}, []string{"CRM:00019", "CRM:00010", "CRM:00011"},
			"any counter width rolls over the same way"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := int64(998)
			if tc.f.CounterDigits == 1 {
				start = 8
			}
			g, err := token.NewGenerator(&fakeSeq{start: start}, tc.f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, issue(t, g, 1, 3), tc.reason)
		})
	}
}

func TestGenerator_concurrent(t *testing.T) {
	// Eight workers sharing one store never issue the same token.
	for _, f := range []token.Format{{}, {Widen: true}} {
		g, err := token.NewGenerator(memstore.New(), f)
		require.NoError(t, err)
		const workers, each = 8, 120 // 960 < 1000: no roll-over even without Widen
		got := make([][]string, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range each {
					tok, err := g.Next(context.Background(), 7)
					if err != nil {
						t.Error(err)
						return
					}
					got[w] = append(got[w], tok.String())
				}
			})
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, ts := range got {
			for _, s := range ts {
				assert.False(t, seen[s], "token %s issued twice", s)
				seen[s] = true
			}
		}
		assert.Len(t, seen, workers*each)
	}
}

func TestGenerator_errors(t *testing.T) {
	_, err := token.NewGenerator(nil, token.Format{})
	assert.Error(t, err, "a Generator needs a Sequencer")
	_, err = token.NewGenerator(memstore.New(), token.Format{Base: 1000})
	assert.ErrorIs(t, err, token.ErrInvalidFormat, "the Format is validated once, up front")

	seq := &fakeSeq{}
	g, err := token.NewGenerator(seq, token.Format{})
	require.NoError(t, err)
	_, err = g.Next(context.Background(), 1000)
	assert.ErrorIs(t, err, token.ErrUserRange, "user 1000 does not fit three digits")
	_, err = g.Next(context.Background(), 0)
	assert.ErrorIs(t, err, token.ErrUserRange, "ordinals start at 1")
	assert.Empty(t, seq.names, "no counter is consumed for a user out of range")

	boom := errors.New("database down")
	g, err = token.NewGenerator(&fakeSeq{err: boom}, token.Format{})
	require.NoError(t, err)
	_, err = g.Next(context.Background(), 1)
	assert.ErrorIs(t, err, boom, "a store failure is returned wrapped")
	assert.Contains(t, err.Error(), "token: counter of user 1")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g, err = token.NewGenerator(memstore.New(), token.Format{})
	require.NoError(t, err)
	_, err = g.Next(ctx, 1)
	assert.ErrorIs(t, err, context.Canceled, "a done ctx stops the generator")
}
