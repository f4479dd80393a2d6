// Package probe is the fast path a store offers the header strategies: for
// several keys in one call, which tracked emails are under each and under
// what records, without reading the rest of those emails. It is internal:
// the answers are those of correlate.Store.Lookup, only cheaper, so a Store
// outside this module needs nothing of it; store/memstore implements it.
package probe

import (
	"context"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// A Hit is one tracked email found by [Prober.Probe]: the position of the
// key it was found under in the keys probed, its ID and its record.
type Hit struct {
	Key    int
	ID     int64
	Record correlate.Record
}

// A Prober is a correlate.Store that can say, for several keys in one call,
// which tracked emails are under each and under what records: what a
// strategy needs to learn which of a message's ids are tracked before it
// reads the one it picks with Lookup. Strategies use it when their Store has
// it and fall back to Lookup otherwise; the answers are the same.
type Prober interface {
	// Probe appends to dst, for each key of keys in order, the tracked
	// emails under it, newest first, at most limit per key (limit <= 0
	// means correlate.DefaultLimit), and returns the extended slice. A key
	// without emails adds nothing; a repeated key is probed again.
	Probe(ctx context.Context, keys []correlate.Key, limit int, dst []Hit) ([]Hit, error)
}
