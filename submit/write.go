package submit

import (
	"context"
	"errors"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// A write is one of the two store writes of a relayed message: before
// relaying, its tracked email with its pending row (a track, put set,
// fenced by the lease); after the upstream accepted it, the clearing of
// that row (a commit: put nil, state.Value nil).
//
// The writes of the messages under way share Applies (group commit): the
// first writes at once, alone; those that come while its Apply is under way
// wait in a queue, and are written together in the next. Each write is
// still made, atomically and durably, before the relay goes on with its
// message — a track before the message goes upstream, a commit before the
// client gets its 250 — so sharing an Apply changes when a write is made,
// never what is durable when the client learns anything. Under load this
// is one Apply for several messages (one transaction, one commit) instead
// of two for each.
type write struct {
	put   *store.Entry
	state store.State
	done  chan writeResult
}

// writeResult is what a write did: for a track, the stored email and
// whether it was stored already (store.Result).
type writeResult struct {
	tracked  correlate.Tracked
	existing bool
	err      error
}

// maxGroup bounds the writes of one Apply, so that one transaction stays
// short; the rest wait for the next.
const maxGroup = 32

// write makes w, sharing an Apply with the writes under way (see write):
// it returns once w is durable or failed. A write that waits in the queue
// is not abandoned when ctx ends: it is made by the Apply after the one
// under way (bounded by storeTimeout), and its caller waits for that, so
// that a track it did not wait for never stays behind in the store.
func (r *Relay) write(ctx context.Context, w *write) writeResult {
	r.wmu.Lock()
	if r.writing {
		w.done = make(chan writeResult, 1)
		r.queue = append(r.queue, w)
		r.wmu.Unlock()
		return <-w.done
	}
	r.writing = true
	r.wmu.Unlock()
	res := r.applyWrites(ctx, []*write{w})[0]
	r.wmu.Lock()
	if len(r.queue) == 0 {
		r.writing = false
		r.wmu.Unlock()
	} else {
		// The queue is written in a goroutine of its own, so that this
		// caller's client does not wait for the others.
		r.wmu.Unlock()
		go r.writeQueued()
	}
	return res
}

// writeQueued writes the queue, maxGroup writes an Apply, until it is
// empty; writing is set while it runs.
func (r *Relay) writeQueued() {
	for {
		r.wmu.Lock()
		n := min(len(r.queue), maxGroup)
		if n == 0 {
			r.queue = nil
			r.writing = false
			r.wmu.Unlock()
			return
		}
		group := r.queue[:n:n]
		r.queue = r.queue[n:]
		r.wmu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		res := r.applyWrites(ctx, group)
		cancel()
		for i, w := range group {
			w.done <- res[i]
		}
	}
}

// applyWrites makes ws in one Apply and returns their results, in order.
// The Apply carries the lease when it holds a track (clearing rows is not
// fenced: see clearPending). When an Apply of several writes fails for a
// reason that may be one write's own (a lost lease fails the tracks but
// not the commits; a store may refuse one email), each write is made again
// on its own, so that it gets its own outcome; when the store is
// unavailable or out of time, they all fail together.
func (r *Relay) applyWrites(ctx context.Context, ws []*write) []writeResult {
	var b store.Batch
	b.States = make([]store.State, len(ws))
	for i, w := range ws {
		if w.put != nil {
			b.Puts = append(b.Puts, *w.put)
			b.Lease = r.lease.Load()
		}
		b.States[i] = w.state
	}
	out := make([]writeResult, len(ws))
	res, err := r.st.Apply(ctx, b)
	if err != nil {
		if len(ws) > 1 && ctx.Err() == nil && !errors.Is(err, store.ErrUnavailable) {
			for i, w := range ws {
				out[i] = r.applyWrites(ctx, []*write{w})[0]
			}
			return out
		}
		for i := range out {
			out[i].err = err
		}
		return out
	}
	j := 0
	for i, w := range ws {
		if w.put != nil {
			out[i] = writeResult{tracked: res.Tracked[j], existing: res.Existing[j]}
			j++
		}
	}
	return out
}
