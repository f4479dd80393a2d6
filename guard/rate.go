package guard

import (
	"encoding/binary"
	"hash/maphash"
	"strconv"
	"sync"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// Defaults of [RateOptions]: Odoo's loop detection flags 20 mails from one
// sender about one record within 120 minutes.
const (
	DefaultRateWindow  = 2 * time.Hour
	DefaultRateLimit   = 20
	DefaultRateMaxKeys = 100_000
)

// RateOptions configures a [RateWindow]. A nil *RateOptions is equivalent
// to the zero value, and zero fields mean the documented defaults.
type RateOptions struct {
	// Window is the span messages are counted over; 0 means
	// DefaultRateWindow (2 hours).
	Window time.Duration
	// Limit is how many messages from one sender about one record the
	// Window may hold; the next one is a Loop. 0 means DefaultRateLimit (20).
	Limit int
	// MaxKeys bounds the (sender, record) pairs remembered; when exceeded,
	// pairs with nothing inside the Window are dropped first, then
	// arbitrary ones. 0 means DefaultRateMaxKeys (100,000).
	MaxKeys int
	// Clock returns the time a message counts at; nil means its Date, or
	// time.Now when it has none. Dates make a replay of old mail count as
	// the mail happened; a live system that distrusts senders' clocks can
	// count arrival times instead.
	Clock func(m *correlate.Message) time.Time
}

// A RateWindow is a [LoopDetector]: it counts the messages each
// sender sends about each record (the zero Record counts the sender's mail
// that matched nothing, where a loop would open a new record each time) in
// a sliding window, and flags the message that exceeds the limit as a Loop:
// two helpdesks acknowledging each other's acknowledgements, an
// out-of-office notice answering a notification (FreeScout #2445, osTicket
// #1041). A message seen again (the same Message-ID) is not counted twice.
// Messages without a sender address are not counted, nor outgoing ones
// (Direction Outgoing): the organization's own mail, such as a notice sent
// to every contact of a major incident, is not ping-pong, and the other side
// of a loop shows in the incoming mail.
//
// It keeps its state in memory, bounded by MaxKeys; each process has its own
// window. It is safe for concurrent use.
type RateWindow struct {
	window  time.Duration
	limit   int
	maxKeys int
	clock   func(m *correlate.Message) time.Time
	seed    maphash.Seed

	mu      sync.Mutex
	keys    map[uint64]*rateEntry // by keyOf(sender, record)
	latest  int64                 // the latest event time seen, for sweeping
	observe int
	// New pairs take their entry from free (the entries of pairs swept
	// out, kept for reuse) or else from chunk (entries allocated
	// rateChunk at a time), so that a new pair costs no allocation of its
	// own; both together hold at most as many entries as the most pairs
	// ever remembered at once, which MaxKeys bounds.
	free  []*rateEntry
	chunk []rateEntry
}

// rateChunk is how many entries of new pairs are allocated at once.
const rateChunk = 64

// keyOf returns the key of (sender, r) in w.keys: a 64-bit hash under the
// window's random seed, so that the map keeps no copy of the strings (one
// allocation less per new pair); the chance that two of its at most
// MaxKeys pairs share a key (and a count) is about MaxKeys²/2^65, 3·10^-10
// at the default MaxKeys.
func (w *RateWindow) keyOf(sender string, r correlate.Record) uint64 {
	var h maphash.Hash
	h.SetSeed(w.seed)
	// Each string is preceded by its length, so that no two pairs write
	// the same bytes.
	for _, s := range [3]string{sender, r.Type, r.ID} {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.WriteString(s)
	}
	return h.Sum64()
}

// rateEntry holds the newest limit+1 events of a key. Most keys see one
// or two messages: their events live in the entry itself.
type rateEntry struct {
	at    []int64  // unix nanoseconds
	ids   []uint64 // Message-ID hashes, 0 for none
	atBuf [2]int64
	idBuf [2]uint64
}

var _ LoopDetector = (*RateWindow)(nil)

// NewRateWindow returns a RateWindow; a nil opts means the defaults.
func NewRateWindow(opts *RateOptions) *RateWindow {
	var o RateOptions
	if opts != nil {
		o = *opts
	}
	w := &RateWindow{window: o.Window, limit: o.Limit, maxKeys: o.MaxKeys, clock: o.Clock,
		seed: maphash.MakeSeed(), keys: make(map[uint64]*rateEntry)}
	if w.window <= 0 {
		w.window = DefaultRateWindow
	}
	if w.limit <= 0 {
		w.limit = DefaultRateLimit
	}
	if w.maxKeys <= 0 {
		w.maxKeys = DefaultRateMaxKeys
	}
	return w
}

// String returns "guard.RateWindow".
func (w *RateWindow) String() string { return "guard.RateWindow" }

// Observe implements LoopDetector.
func (w *RateWindow) Observe(m *correlate.Message, r correlate.Record) correlate.Classification {
	if m == nil || m.Direction == correlate.Outgoing {
		return correlate.Classification{}
	}
	sender := m.SenderAddress()
	if sender == "" {
		return correlate.Classification{}
	}
	var t time.Time
	switch {
	case w.clock != nil:
		t = w.clock(m)
	case !m.Date.IsZero():
		t = m.Date
	default:
		t = time.Now()
	}
	at := t.UnixNano()
	var id uint64
	if m.MessageID != "" {
		id = maphash.String(w.seed, m.MessageID) | 1 // never 0
	}
	k := w.keyOf(sender, r)

	w.mu.Lock()
	e := w.keys[k]
	if e == nil {
		e = w.addLocked(k)
	}
	seen := false
	for _, x := range e.ids {
		if id != 0 && x == id {
			seen = true
			break
		}
	}
	if !seen {
		if len(e.at) > w.limit { // keep the newest limit+1 events
			copy(e.at, e.at[1:])
			copy(e.ids, e.ids[1:])
			e.at, e.ids = e.at[:len(e.at)-1], e.ids[:len(e.ids)-1]
		}
		// Insert in time order, so a replay slightly out of order still
		// counts the right events.
		i := len(e.at)
		for i > 0 && e.at[i-1] > at {
			i--
		}
		e.at = append(e.at, 0)
		e.ids = append(e.ids, 0)
		copy(e.at[i+1:], e.at[i:])
		copy(e.ids[i+1:], e.ids[i:])
		e.at[i], e.ids[i] = at, id
	}
	n := 0
	from := at - int64(w.window)
	for _, x := range e.at {
		if x > from && x <= at {
			n++
		}
	}
	if at > w.latest {
		w.latest = at
	}
	// Sweep the keys that fell out of the window now and then: once per as
	// many observations as there are keys (at least 4096), so that a sweep
	// costs each observation about one key's visit however many keys there
	// are.
	w.observe++
	if w.observe >= max(4096, len(w.keys)) {
		w.observe = 0
		w.sweepLocked()
	}
	w.mu.Unlock()

	if n <= w.limit {
		return correlate.Classification{}
	}
	return w.loop(n, sender, r)
}

// addLocked adds an empty entry for k, which has none, sweeping first when
// the map is full, and returns it.
func (w *RateWindow) addLocked(k uint64) *rateEntry {
	if len(w.keys) >= w.maxKeys {
		w.sweepLocked()
	}
	var e *rateEntry
	if n := len(w.free); n > 0 {
		// Reused: its event slices keep what they grew to.
		e = w.free[n-1]
		w.free[n-1] = nil
		w.free = w.free[:n-1]
		e.at, e.ids = e.at[:0], e.ids[:0]
	} else {
		if len(w.chunk) == 0 {
			w.chunk = make([]rateEntry, rateChunk)
		}
		e = &w.chunk[0]
		w.chunk = w.chunk[1:]
		e.at, e.ids = e.atBuf[:0], e.idBuf[:0]
	}
	w.keys[k] = e
	return e
}

// loop is the classification of a message that makes n messages from
// sender about r within the window, more than the limit.
func (w *RateWindow) loop(n int, sender string, r correlate.Record) correlate.Classification {
	about := "about " + r.String()
	if r.IsZero() {
		about = "that matched no record"
	}
	return correlate.Classification{
		Class:          Loop,
		Reason:         strconv.Itoa(n) + " messages from " + sender + " " + about + " within " + w.window.String() + " (limit " + strconv.Itoa(w.limit) + "): ping-pong?",
		NoAutoResponse: true,
		Evidence: []correlate.Evidence{{Field: "From", Value: sender,
			Note: strconv.Itoa(n) + " messages " + about + " within " + w.window.String() + ", more than " + strconv.Itoa(w.limit)}},
	}
}

// sweepLocked drops the keys with no event inside the window of the latest
// event seen, then, if still over MaxKeys, arbitrary keys down to 90%.
func (w *RateWindow) sweepLocked() {
	from := w.latest - int64(w.window)
	for k, e := range w.keys {
		if len(e.at) == 0 || e.at[len(e.at)-1] <= from {
			delete(w.keys, k)
			w.free = append(w.free, e)
		}
	}
	for k, e := range w.keys {
		if len(w.keys) < w.maxKeys*9/10 {
			break
		}
		delete(w.keys, k)
		w.free = append(w.free, e)
	}
}

// Len returns the number of (sender, record) pairs remembered.
func (w *RateWindow) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.keys)
}
