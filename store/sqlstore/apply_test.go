package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// TestApplyShapes makes Applies of the shapes each database writes its own
// way — one Put, a few, more than SQLite writes one by one and more than a
// PostgreSQL statement takes (BatchSize 3: chunks of three, and of one) —
// with Message-IDs stored before and repeated within the batch, a Relink of
// one of its Puts, and States naming the same state twice: every shape
// gives the same answers.
func TestApplyShapes(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		s := open(t, &sqlstore.Options{BatchSize: 3})
		ctx := context.Background()
		old, err := s.Put(ctx, mail(0, "old@x").Tracked, mail(0, "old@x").Keys)
		require.NoError(t, err)
		for _, n := range []int{1, 2, 4, 6, 17, 25} {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				msg := func(i int) string { return fmt.Sprintf("s%d.%d@x", n, i) }
				var puts []store.Entry
				for i := range n {
					switch {
					case i == 1:
						puts = append(puts, mail(1000+i, "old@x")) // stored before
					case i == 3:
						puts = append(puts, mail(1000+i, msg(0))) // repeats the first
					case i == 5:
						puts = append(puts, mail(1000+i, "")) // no Message-ID
					default:
						puts = append(puts, mail(1000+i, msg(i)))
					}
				}
				name := fmt.Sprintf("shape/%d", n)
				res, err := s.Apply(ctx, store.Batch{
					Puts:    puts,
					Relinks: []store.Relink{{MessageID: msg(0), Record: rec(name)}},
					States: []store.State{{Name: name, Value: []byte("first")}, {Name: name + "/gone", Value: []byte("x")},
						{Name: name, Value: []byte("last")}, {Name: name + "/gone"}},
				})
				require.NoError(t, err)
				require.Len(t, res.Tracked, n)
				var last int64
				for i, tr := range res.Tracked {
					switch {
					case i == 1:
						assert.True(t, res.Existing[i], "stored before")
						assert.Equal(t, old.ID, tr.ID)
						assert.Equal(t, old.Record, tr.Record)
					case i == 3:
						assert.True(t, res.Existing[i], "a repeat within the batch")
						assert.Equal(t, res.Tracked[0], tr)
					default:
						assert.False(t, res.Existing[i], "put %d is new", i)
						assert.Greater(t, tr.ID, last, "IDs in batch order")
						last = tr.ID
						want := puts[i].Tracked
						want.ID = tr.ID
						assert.Equal(t, want, tr)
						back, err := s.Get(ctx, tr.ID)
						require.NoError(t, err)
						if i == 0 {
							want.Record = rec(name) // relinked after the Put
						}
						equalTracked(t, want, back)
					}
				}
				require.Len(t, res.Changes, 1)
				assert.Equal(t, res.Tracked[0].ID, res.Changes[0].Email, "the Relink reached the batch's Put")
				got, err := s.States(ctx, name)
				require.NoError(t, err)
				assert.Equal(t, []store.State{{Name: name, Value: []byte("last")}}, got,
					"the last write of a name wins, a deletion too")
				for _, k := range puts[min(1, n-1)].Keys {
					if k.Kind == "token" && n > 1 {
						n, err := s.Count(ctx, k)
						require.NoError(t, err)
						assert.Zero(t, n, "nothing of an existing email's entry is written")
					}
				}
			})
		}
	})
}

func rec(id string) correlate.Record { return correlate.Record{Type: "incident", ID: id} }

func equalTracked(t *testing.T, want, got correlate.Tracked) {
	t.Helper()
	assert.True(t, want.Time.Equal(got.Time), "time %v, want %v", got.Time, want.Time)
	got.Time = want.Time
	assert.Equal(t, want, got)
}
