package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/store"
)

func testLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := time.Now()
	l, err := s.Acquire(ctx, "mbx/a", "w1", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "mbx/a", l.Name)
	assert.Equal(t, "w1", l.Holder)
	assert.Positive(t, l.Token)
	assert.WithinDuration(t, before.Add(time.Minute), l.Until, 10*time.Second, "Until is about now plus ttl")

	_, err = s.Acquire(ctx, "mbx/a", "w2", time.Minute)
	assert.ErrorIs(t, err, store.ErrLeaseHeld, "another holder waits for the lease")

	r, err := s.Acquire(ctx, "mbx/a", "w1", 2*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, l.Token, r.Token, "a renewal keeps the Token")
	assert.True(t, r.Until.After(l.Until), "and extends Until")
	apply(t, s, store.Batch{Lease: &l, States: []store.State{{Name: "mbx/a/cursor", Value: []byte("1")}}})
	assert.Equal(t, "1", states(t, s, "mbx/a/")["mbx/a/cursor"], "a batch under a held lease is written (the renewal kept its Token)")

	other, err := s.Acquire(ctx, "mbx/b", "w2", time.Minute)
	require.NoError(t, err, "another name is another lease")
	_, err = s.Apply(ctx, store.Batch{Lease: &store.Lease{Name: other.Name, Holder: "w1", Token: other.Token}})
	assert.ErrorIs(t, err, store.ErrLeaseLost, "a lease is its holder's: the same name and Token under another holder is refused")

	require.NoError(t, s.Release(ctx, r))
	assert.ErrorIs(t, s.Release(ctx, r), store.ErrLeaseLost, "a lease is released once")
	_, err = s.Apply(ctx, store.Batch{Lease: &l, States: []store.State{{Name: "mbx/a/cursor", Value: []byte("2")}}})
	assert.ErrorIs(t, err, store.ErrLeaseLost, "a released lease fences nothing in")
	assert.Equal(t, "1", states(t, s, "mbx/a/")["mbx/a/cursor"])

	n, err := s.Acquire(ctx, "mbx/a", "w2", time.Minute)
	require.NoError(t, err, "a released lease is free at once")
	assert.Greater(t, n.Token, l.Token, "the lease changed hands: a new Token")
	_, err = s.Acquire(ctx, "mbx/c", "w1", 0)
	assert.Error(t, err, "ttl must be positive")
}

func testLeaseExclusive(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []store.Lease
	held := 0
	for w := range workers {
		wg.Go(func() {
			l, err := s.Acquire(ctx, "mbx/shared", fmt.Sprintf("worker-%d", w), time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, l)
			case errors.Is(err, store.ErrLeaseHeld):
				held++
			default:
				t.Errorf("Acquire: %v", err)
			}
		})
	}
	wg.Wait()
	require.Len(t, won, 1, "exactly one of many workers gets the lease")
	assert.Equal(t, workers-1, held, "every other one is told it is held")
	w := won[0]
	again, err := s.Acquire(ctx, "mbx/shared", w.Holder, time.Minute)
	require.NoError(t, err, "the winner holds it")
	assert.Equal(t, w.Token, again.Token)
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	const ttl = 50 * time.Millisecond
	wait := func() { time.Sleep(4 * ttl) }

	l1, err := s.Acquire(ctx, "mbx/t", "w1", ttl)
	require.NoError(t, err)
	wait()
	_, err = s.Apply(ctx, store.Batch{Lease: &l1, States: []store.State{{Name: "t", Value: []byte("late")}}})
	require.ErrorIs(t, err, store.ErrLeaseLost, "an expired lease is lost, even before anyone takes it over")

	l2, err := s.Acquire(ctx, "mbx/t", "w2", time.Minute)
	require.NoError(t, err, "an expired lease can be taken over")
	assert.Greater(t, l2.Token, l1.Token, "the takeover gets a new Token")
	_, err = s.Apply(ctx, store.Batch{
		Lease:   &l1,
		Puts:    []store.Entry{entry(1, "stale@x", key("msgid", "stale@x"))},
		Relinks: []store.Relink{{MessageID: "stale@x", Record: rec("X")}},
		States:  []store.State{{Name: "t", Value: []byte("stale")}},
	})
	require.ErrorIs(t, err, store.ErrLeaseLost, "the stalled worker's batch is refused")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Emails, "and writes nothing")
	assert.Empty(t, states(t, s, "t"))
	assert.ErrorIs(t, s.Release(ctx, l1), store.ErrLeaseLost, "the old holder cannot release the new holder's lease")
	apply(t, s, store.Batch{Lease: &l2, States: []store.State{{Name: "t", Value: []byte("new")}}})
	assert.Equal(t, "new", states(t, s, "t")["t"])

	l3, err := s.Acquire(ctx, "mbx/u", "w1", ttl)
	require.NoError(t, err)
	wait()
	l4, err := s.Acquire(ctx, "mbx/u", "w1", time.Minute)
	require.NoError(t, err)
	assert.Greater(t, l4.Token, l3.Token, "a holder that lets its lease expire gets it back with a new Token: its old batches stay refused")
	_, err = s.Apply(ctx, store.Batch{Lease: &l3})
	assert.ErrorIs(t, err, store.ErrLeaseLost)
}

func testLeaseNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	longest := strings.Repeat("m", store.MaxNameLen)
	l, err := s.Acquire(ctx, longest, "w", time.Minute)
	require.NoError(t, err, "a name of MaxNameLen bytes")
	require.NoError(t, s.Release(ctx, l))
	for _, name := range []string{"", longest + "m"} {
		_, err := s.Acquire(ctx, name, "w", time.Minute)
		assert.Error(t, err, "a name of %d bytes is refused", len(name))
	}
	odd, err := s.Acquire(ctx, "mbx/\x00\xff", "w\x00", time.Minute)
	require.NoError(t, err, "names and holders are bytes")
	assert.Equal(t, "w\x00", odd.Holder)
	require.NoError(t, s.Release(ctx, odd))
}
