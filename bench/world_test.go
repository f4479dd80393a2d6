package bench_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// huge turns on the 10,000,000-email store (also MAILCORRELATE_BENCH_HUGE=1).
var huge = flag.Bool("bench.huge", false, "also build and measure the 10,000,000-email store (several GB, minutes)")

func hugeOn() bool { return *huge || os.Getenv("MAILCORRELATE_BENCH_HUGE") == "1" }

// The generator settings of every benchmark store.
const (
	// genGap is the mean time between two thread starts: a million
	// tracked emails span about two years, threads of many customers
	// interleave.
	genGap = 5 * time.Minute
	// heldOutOf holds one message in heldOutOf out of the store.
	heldOutOf = 100
	// tailSize is the number of fresh messages kept after the store is
	// full, for the Track and Parse+Correlate+Track benchmarks.
	tailSize = 50_000
)

// A chain names the engine configuration a store is built and measured
// with.
type chain string

const (
	chainDefault chain = "default" // mailcorrelate.New with the sample's folder rules
	chainSmart   chain = "smart"   // the same, with improved smart matching on
)

// engineOptions returns the options mailcorrelate.New gets for c: the
// defaults (Dynamics' settings, guardrails on) plus the sample mailbox's
// folder rules; the smart chain turns improved smart matching on with the
// organization's domain as its own, as the replay command does.
func engineOptions(c chain) *mailcorrelate.Options {
	rules, err := folder.NewRules(nil)
	if err != nil {
		panic(err)
	}
	for _, f := range samplegen.Folders() {
		mp := folder.Mapping{Mailbox: f.Mailbox, FolderID: f.FolderID, FolderPath: f.FolderPath}
		if f.Regarding != "" {
			if mp.Record, err = correlate.ParseRecord(f.Regarding); err != nil {
				panic(err)
			}
		}
		if err := rules.Add(mp); err != nil {
			panic(err)
		}
	}
	o := &mailcorrelate.Options{Folders: rules}
	if c == chainSmart {
		o.Stages = append(mailcorrelate.ServerSideSync(), mailcorrelate.Smart)
		o.Smart.OwnAddresses = []string{samplegen.Mailbox[strings.IndexByte(samplegen.Mailbox, '@'):]}
	}
	return o
}

// A raw is one generated message kept as bytes: an offset into a blob, its
// folder and, for messages the CRM filed itself, the record it is filed
// under (Mail.Seed).
type raw struct {
	off, n  int
	folder  string
	seed    correlate.Record
	seeded  bool
	label   correlate.Record
	labeled bool // Regarding is not empty
}

// A held is a held-out message, parsed, with how the full store decided it.
type held struct {
	msg    *correlate.Message
	label  correlate.Record
	method correlate.Method // the winning method on the full store; None when no record
	raw    []byte           // the message as generated (a slice of the world's blob)
	folder string
}

// A world is a store of tracked emails built by replaying generated mail
// through an engine, with the messages held out of it.
type world struct {
	size  int
	chain chain
	store *memstore.Store
	eng   *correlate.Engine

	emails        int64   // tracked emails
	keys          int64   // (key, email) index entries
	bytesPerEmail float64 // heap held by the store per tracked email
	build         time.Duration
	generated     int // messages generated to build it

	blob []byte
	held []held
	tail []raw // fresh messages after the store is full, in date order

	// tailMsgs are the tail messages parsed, and tailHow how the replay
	// pass tracked them (index into tail, and the Match); for Track.
	tailMsgs []*correlate.Message
	tailHow  []tracked

	// floor is the plain map of the map-lookup floor (see mapFloor),
	// floorKeys the ids it is looked up with.
	floorOnce sync.Once
	floor     map[string]int64
	floorKeys []string
}

type tracked struct {
	i   int
	how correlate.Match
}

var (
	worldsMu sync.Mutex
	worlds   = map[string]*world{}
)

// getWorld returns the world of the given size and chain, built once per
// test binary.
func getWorld(b testing.TB, size int, c chain) *world {
	worldsMu.Lock()
	defer worldsMu.Unlock()
	key := fmt.Sprintf("%d/%s", size, c)
	if w := worlds[key]; w != nil {
		return w
	}
	t0 := time.Now()
	w := buildWorld(size, c)
	w.build = time.Since(t0)
	b.Logf("built %s store: %d tracked emails, %d keys, %.0f bytes/email, %d held out, %d tail; %d messages generated in %v",
		key, w.emails, w.keys, w.bytesPerEmail, len(w.held), len(w.tail), w.generated, w.build.Round(time.Second))
	worlds[key] = w
	return w
}

// sizeName returns "100k", "1M", "10M".
func sizeName(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// isHeld reports whether a message is held out of the store: one in
// heldOutOf, by a hash of its Message-ID.
func isHeld(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%heldOutOf == 0
}

// prepare sets the fields ParseMessage leaves to the caller, as the replay
// command does: the mailbox, the folder, the direction.
func prepare(m *correlate.Message, folder string) {
	m.Mailbox = samplegen.Mailbox
	m.FolderPath = folder
	m.FolderID = folder
	if strings.HasSuffix(folder, "/Sent Items") || m.SenderAddress() == samplegen.Mailbox {
		m.Direction = correlate.Outgoing
	}
}

// parseOpts are the options messages are parsed with: the body is kept, so
// a bounce can be correlated through the message it returns (the replay
// command does the same).
var parseOpts = &correlate.ParseOptions{KeepBody: true}

func parse(raw []byte, folder string) *correlate.Message {
	m, err := correlate.ParseMessage(bytes.NewReader(raw), parseOpts)
	if m == nil {
		panic(err)
	}
	prepare(m, folder)
	return m
}

// replayOne correlates m and tracks it as the replay command does: under
// its seed record when the CRM filed it, under the decision's record when
// the decision says to track it, not at all otherwise. It returns the
// Decision and the Match it was tracked with (ok false when not tracked).
func replayOne(ctx context.Context, eng *correlate.Engine, m *correlate.Message, r *raw) (correlate.Decision, correlate.Match, correlate.Tracked, bool) {
	d, err := eng.Correlate(ctx, m)
	if err != nil {
		panic(err)
	}
	how := d.Match
	switch {
	case r.seeded:
		how = correlate.Match{Record: r.seed}
	case !d.Track():
		return d, how, correlate.Tracked{}, false
	}
	t, err := eng.Track(ctx, m, how)
	if err != nil {
		panic(err)
	}
	return d, how, t, true
}

// heapAlloc returns the live heap after two collections.
func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// buildWorld generates mail with samplegen.Stream and replays it, in date
// order, through the engine mailcorrelate.New builds, until size emails
// are tracked; then keeps tailSize more messages for Track. One message in
// heldOutOf is held out; so are the later messages of a held-out message's
// record, so that a held-out message meets the store its thread had when it
// arrived (its own replies are not yet tracked). Mail the CRM files itself
// (Mail.Seed: sent from the CRM, filed by hand) is never held out: it is
// tracked when it is sent, before any mailbox synchronization reads it, so
// correlating it would measure a case that does not occur (and, once the
// token counters have rolled over, would find the token's older use).
func buildWorld(size int, c chain) *world {
	ctx := context.Background()
	w := &world{size: size, chain: c}
	before := heapAlloc()
	w.store = memstore.New()
	eng, err := mailcorrelate.New(w.store, engineOptions(c))
	if err != nil {
		panic(err)
	}
	customers := size/13 + 10 // about 13 messages and 6.6 tracked emails per customer; Stream stops early
	heldLabels := map[correlate.Record]bool{}
	var heldRaw []raw
	blob := make([]byte, 0, 64<<20)
	keep := func(m *samplegen.Mail, r raw) raw {
		r.off = len(blob)
		blob = append(blob, m.Raw...)
		r.n = len(m.Raw)
		return r
	}
	var ntracked int64
	w.generated = samplegen.Stream(&samplegen.Options{ExtraCustomers: 2 * customers, Reps: samplegen.MaxReps, Gap: genGap},
		func(m samplegen.Mail) bool {
			r := raw{folder: m.Folder, seeded: m.Seed, labeled: m.Regarding != ""}
			if m.Regarding != "" {
				rec, err := correlate.ParseRecord(m.Regarding)
				if err != nil {
					panic(err)
				}
				r.label = rec
				if m.Seed {
					r.seed = rec
				}
			}
			if ntracked >= int64(size) {
				w.tail = append(w.tail, keep(&m, r))
				return len(w.tail) < tailSize
			}
			if r.labeled && heldLabels[r.label] {
				return true // the thread of a held-out message goes on without it
			}
			if isHeld(m.MessageID) && !m.Seed {
				heldRaw = append(heldRaw, keep(&m, r))
				if r.labeled {
					heldLabels[r.label] = true
				}
				return true
			}
			msg := parse(m.Raw, m.Folder)
			if _, _, _, ok := replayOne(ctx, eng, msg, &r); ok {
				ntracked++
			}
			return true
		})
	if ntracked < int64(size) {
		panic(fmt.Sprintf("bench: the generator ran out after %d tracked emails", ntracked))
	}
	w.blob = blob
	st, err := w.store.Stats(ctx)
	if err != nil {
		panic(err)
	}
	w.emails, w.keys = st.Emails, st.Keys

	// Measure the store alone: the engine (its loop detector's window) is
	// dropped, the kept messages are one blob of known size.
	eng = nil
	heldLabels = nil
	after := heapAlloc()
	kept := uint64(cap(w.blob)) + uint64(cap(heldRaw)+cap(w.tail))*uint64(unsafe.Sizeof(raw{}))
	w.bytesPerEmail = (float64(after) - float64(before) - float64(kept)) / float64(w.emails)

	// A fresh engine for the benchmarks, then the held-out messages
	// decided once on the full store (to pick the header and token hits)
	// and the tail replayed once (to know how Track files each message),
	// then untracked again.
	if w.eng, err = mailcorrelate.New(w.store, engineOptions(c)); err != nil {
		panic(err)
	}
	for i := range heldRaw {
		r := &heldRaw[i]
		m := parse(w.blob[r.off:r.off+r.n], r.folder)
		d, err := w.eng.Correlate(ctx, m)
		if err != nil {
			panic(err)
		}
		h := held{msg: m, label: r.label, raw: w.blob[r.off : r.off+r.n : r.off+r.n], folder: r.folder}
		if d.Found() {
			h.method = d.Match.Method
		}
		w.held = append(w.held, h)
	}
	var ids []int64
	for i := range w.tail {
		r := &w.tail[i]
		m := parse(w.blob[r.off:r.off+r.n], r.folder)
		w.tailMsgs = append(w.tailMsgs, m)
		_, how, t, ok := replayOne(ctx, w.eng, m, r)
		if ok {
			w.tailHow = append(w.tailHow, tracked{i: i, how: detach(how)})
			ids = append(ids, t.ID)
		}
	}
	untrack(ctx, w.eng, ids)
	return w
}

// detach keeps what Track reads of a Match (the record, the method, the
// ids of the emails it correlated with), not the store rows it points to.
func detach(how correlate.Match) correlate.Match {
	out := correlate.Match{Record: how.Record, Method: how.Method}
	if how.CorrelatedWith != nil {
		out.CorrelatedWith = &correlate.Tracked{ID: how.CorrelatedWith.ID}
	}
	if how.Parent != nil {
		out.Parent = &correlate.Tracked{ID: how.Parent.ID}
	}
	return out
}

// untrack removes tracked emails again, newest first.
func untrack(ctx context.Context, eng *correlate.Engine, ids []int64) {
	for i := len(ids) - 1; i >= 0; i-- {
		if err := eng.Untrack(ctx, ids[i]); err != nil {
			panic(err)
		}
	}
}
