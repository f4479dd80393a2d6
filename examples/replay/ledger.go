package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"path/filepath"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// Re-runs and crashes.
//
// A replay into a persistent store (-store sqlite:… or postgres://…) may be
// killed at any instant and run again; the ledger it leaves (the tracked
// emails and their records) must not depend on how often that happened: N
// interrupted runs leave the ledger of one uninterrupted run.
//
// Skipping the messages already tracked is not enough. A message left
// untracked (nothing matched it) and processed again after later messages
// were tracked may now correlate with them: the ledger would grow with
// every re-run. What a re-run must skip is every message an earlier run
// processed, tracked or not, and only those.
//
// So the replay keeps a cursor in the store's sync state: the position, in
// processing order, of the last message whose effects are in the store,
// and a hash of the ids of every message up to it (so that a cursor is
// used only on the very input it was written for). The cursor is written
// by the same Apply as each tracked email (store.Batch.States with the
// Put), so a crash at any instant leaves both or neither. Between the
// cursor and the crash, every message was left untracked: the store is
// exactly as it was when they were first processed, so processing them
// again decides exactly what the first run decided. A run that ends moves
// the cursor to the last message, and a run after it processes nothing.
//
// (Resuming after the last message found in the ledger instead would need
// no state, but an input that holds the same email twice — a copy in two
// folders — makes the second copy look processed and would skip every
// message between the two.)
//
// When the input changed since the cursor was written (messages added
// among older ones, another folder filter), positions no longer match: the
// cursor is not used and the replay says so. It then skips each message
// tracked before the run began (by Message-ID, or by
// correlate.FingerprintID for an email without one, as Engine.Prepare
// stores it) and processes the others; that is ledger-neutral for the
// messages it skips, but an old untracked message may now correlate with
// a later one, as it would in a live sync meeting late mail.
//
// Limit: the engine's loop detector (guard.RateWindow) counts messages in
// memory over a two-hour window; a resumed run starts it empty, so a mail
// loop that spans a crash is flagged up to its limit (20 messages) later.

// cursorPrefix starts the names of the replay's sync state.
const cursorPrefix = "replay/"

// cursorValue is the stored cursor.
type cursorValue struct {
	// Position is the index, in processing order, of the last message
	// whose effects are in the store.
	Position int `json:"position"`
	// Prefix is the hash of the ids of the messages 0..Position.
	Prefix string `json:"prefix"`
}

// A cursor follows one run through the processing order.
type cursor struct {
	st   store.Store
	name string
	// next is the first position this run processes: 0, or the one after
	// a valid stored cursor.
	next int
	// pos and prefix: the last position met and the hash of ids through it.
	pos    int
	prefix uint64
	// stored is the position of the cursor in the store (-1: none).
	stored int
	// preexisting: the ledger held emails when the run began; firstID is
	// the ID of the first email this run stored (0: none yet).
	preexisting bool
	firstID     int64
}

// inputKey names the input of a run for its cursor: the processing order
// and every PATH, resolved (or the embedded sample).
func inputKey(cfg *config) string {
	h := sha256.New()
	fmt.Fprintf(h, "order=%s\x00", cfg.order)
	if len(cfg.paths) == 0 {
		h.Write([]byte("sample\x00"))
	}
	for _, p := range cfg.paths {
		if abs, err := filepath.Abs(p); err == nil {
			if real, err := filepath.EvalSymlinks(abs); err == nil {
				p = real
			} else {
				p = abs
			}
		}
		fmt.Fprintf(h, "%s\x00", p)
	}
	return cursorPrefix + hex.EncodeToString(h.Sum(nil)[:12])
}

// mix adds one message id to a prefix hash.
func mix(prefix uint64, e entry) uint64 {
	h := fnv.New64a()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], prefix)
	binary.BigEndian.PutUint64(b[8:], e.id)
	h.Write(b[:])
	return h.Sum64()
}

// resume reads the cursor of this input from the store and decides where
// the run starts.
func (r *replay) resume(ctx context.Context, p *plan) (*cursor, error) {
	c := &cursor{st: r.ledger, name: inputKey(r.cfg), pos: -1, stored: -1}
	some, err := r.ledger.Scan(ctx, 0, 1)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	c.preexisting = len(some) > 0
	if !c.preexisting {
		return c, nil
	}
	states, err := r.ledger.States(ctx, c.name)
	if err != nil {
		return nil, fmt.Errorf("reading the cursor: %w", err)
	}
	var v *cursorValue
	for _, s := range states {
		if s.Name == c.name {
			v = &cursorValue{}
			if err := json.Unmarshal(s.Value, v); err != nil {
				fmt.Fprintf(r.stderr, "replay: the store's cursor for this input is unreadable (%v): it is not used\n", err)
				v = nil
			}
		}
	}
	if v == nil {
		return c, nil
	}
	var prefix uint64
	if v.Position < len(p.entries) {
		for i := 0; i <= v.Position; i++ {
			prefix = mix(prefix, p.entries[i])
		}
	}
	if v.Position >= len(p.entries) || fmt.Sprintf("%016x", prefix) != v.Prefix {
		fmt.Fprintf(r.stderr, "replay: the input changed since the store's cursor was written (at message %d): it is not used; "+
			"messages already tracked are skipped, the others processed\n", v.Position+1)
		return c, nil
	}
	c.next, c.pos, c.prefix, c.stored = v.Position+1, v.Position, prefix, v.Position
	if c.next > 0 {
		fmt.Fprintf(r.stderr, "replay: resuming after message %d of %d: earlier runs processed those\n", c.next, len(p.entries))
	}
	return c, nil
}

// at moves the cursor to position i, whose entry is e.
// The run meets every position in order from next.
func (c *cursor) at(i int, e entry) {
	c.pos, c.prefix = i, mix(c.prefix, e)
}

// state is the cursor at its current position, as stored.
func (c *cursor) state() store.State {
	b, _ := json.Marshal(cursorValue{Position: c.pos, Prefix: fmt.Sprintf("%016x", c.prefix)})
	return store.State{Name: c.name, Value: b}
}

// known reports whether m was tracked before this run began: processed by
// an earlier run, it is skipped.
func (c *cursor) known(ctx context.Context, eng *correlate.Engine, m *correlate.Message) (bool, error) {
	if !c.preexisting {
		return false, nil
	}
	id := m.MessageID
	if id == "" {
		id = correlate.FingerprintID(m)
	}
	if id == "" {
		return false, nil
	}
	t, err := eng.Lookup(ctx, id)
	if errors.Is(err, correlate.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return c.firstID == 0 || t.ID < c.firstID, nil
}

// track files m as how says, and moves the stored cursor to the current
// position in the same Apply.
func (c *cursor) track(ctx context.Context, eng *correlate.Engine, m *correlate.Message, how correlate.Match) error {
	t, keys := eng.Prepare(m, how)
	res, err := c.st.Apply(ctx, store.Batch{Puts: []store.Entry{{Tracked: t, Keys: keys}}, States: []store.State{c.state()}})
	if err != nil {
		return fmt.Errorf("track %q: %w", t.MessageID, err)
	}
	c.stored = c.pos
	if !res.Existing[0] && c.firstID == 0 {
		c.firstID = res.Tracked[0].ID
	}
	return nil
}

// finish moves the stored cursor to the last message once every message
// was processed, so that a run after this one processes nothing.
func (c *cursor) finish(ctx context.Context, n int) error {
	if n == 0 || c.stored == n-1 {
		return nil
	}
	if _, err := c.st.Apply(ctx, store.Batch{States: []store.State{c.state()}}); err != nil {
		return fmt.Errorf("writing the cursor: %w", err)
	}
	c.stored = c.pos
	return nil
}

// openLedger opens the -store URL: a store that cannot be reached ends
// the run with exit status 2, any other problem is a usage error.
func openLedger(ctx context.Context, url string) (store.Store, func() error, error) {
	st, closeStore, err := cli.OpenStore(ctx, url)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return nil, nil, fmt.Errorf("-store: %w", err)
		}
		return nil, nil, cli.UsageError{Msg: fmt.Sprintf("-store: %v", err)}
	}
	return st, closeStore, nil
}

// exportLedger writes every tracked email of the store at url as JSON
// Lines, sorted by message_id, so that two ledgers compare with diff
// (internal/ledger).
func exportLedger(ctx context.Context, url, file string, stdout io.Writer) error {
	st, closeStore, err := openLedger(ctx, url)
	if err != nil {
		return err
	}
	defer closeStore()
	if _, err := cli.ExportLedger(ctx, st, file, stdout); err != nil {
		return fmt.Errorf("-export: %w", err)
	}
	return nil
}
