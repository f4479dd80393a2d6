package bench_test

import (
	"bytes"
	"context"
	"net/mail"
	"os"
	"sort"
	"strconv"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
)

// countReps is how many operations each phase of TestInstructionCounts
// runs.
const countReps = 2000

// TestInstructionCounts is an instrument, not a test: run under valgrind's
// callgrind (bench/callgrind.sh), it counts the instructions of one
// operation of each kind the system benchmarks time — Correlate on header
// hits, token hits and new conversations, Track, ParseMessage and
// net/mail.ReadMessage on the tail messages and on a sample of the corpora
// — a figure that, unlike a time, other processes on a shared machine do
// not change. Each phase is a function of its own (count…), which the
// script collects and dumps apart; it divides by countReps.
//
// It runs only when MAILCORRELATE_BENCH_CALLGRIND holds the number of
// tracked emails of the store to build (20000 builds in a minute under
// callgrind; instruction counts barely depend on the size, cache misses
// do).
func TestInstructionCounts(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MAILCORRELATE_BENCH_CALLGRIND"))
	if n <= 0 {
		t.Skip("MAILCORRELATE_BENCH_CALLGRIND is not set: run bench/callgrind.sh")
	}
	corpus := corpusSample(t)
	w := buildWorld(n, chainDefault)
	ctx := context.Background()
	var hdr, tok, none []*correlate.Message
	for _, h := range w.held {
		switch h.method {
		case correlate.InReplyTo:
			hdr = append(hdr, h.msg)
		case correlate.TrackingToken:
			tok = append(tok, h.msg)
		case correlate.None:
			none = append(none, h.msg)
		}
	}
	if len(hdr) == 0 || len(tok) == 0 || len(none) == 0 || len(w.tailHow) < countReps || len(w.tail) < countReps {
		t.Fatalf("store too small: %d header, %d token, %d new held out, %d tail", len(hdr), len(tok), len(none), len(w.tail))
	}
	t.Logf("%d operations per phase; held out: %d header, %d token, %d none; %d corpus messages", countReps, len(hdr), len(tok), len(none), len(corpus))
	for i := range 200 { // warm the pools, as a running process has them
		correlateOne(ctx, w, hdr[i%len(hdr)])
		correlateOne(ctx, w, tok[i%len(tok)])
	}
	countHeader(ctx, w, hdr)
	countToken(ctx, w, tok)
	countNone(ctx, w, none)
	untrack(ctx, w.eng, countTrack(ctx, w))
	tail := make([][]byte, countReps)
	for i := range tail {
		r := &w.tail[i]
		tail[i] = w.blob[r.off : r.off+r.n]
	}
	countParse(tail)
	countReadMessage(tail)
	if len(corpus) > 0 {
		countParseCorpus(corpus)
		countReadMessageCorpus(corpus)
	}
}

// corpusSample reads every fourth message of the corpora BenchmarkParseMessage
// (package correlate) reads, without a leading mbox line; none when the
// corpora are absent.
func corpusSample(t *testing.T) [][]byte {
	if _, ok := correlatetest.Find(); !ok {
		return nil
	}
	files := correlatetest.Files(t, correlatetest.Ham, correlatetest.USRP, correlatetest.Notmuch+"/lkml")
	sort.Strings(files)
	var msgs [][]byte
	for i, f := range files {
		if i%4 != 0 {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(raw, []byte("From ")) {
			if j := bytes.IndexByte(raw, '\n'); j >= 0 {
				raw = raw[j+1:]
			}
		}
		msgs = append(msgs, raw)
	}
	return msgs
}

func correlateOne(ctx context.Context, w *world, m *correlate.Message) {
	if _, err := w.eng.Correlate(ctx, m); err != nil {
		panic(err)
	}
}

//go:noinline
func countHeader(ctx context.Context, w *world, ms []*correlate.Message) {
	for i := range countReps {
		correlateOne(ctx, w, ms[i%len(ms)])
	}
}

//go:noinline
func countToken(ctx context.Context, w *world, ms []*correlate.Message) {
	for i := range countReps {
		correlateOne(ctx, w, ms[i%len(ms)])
	}
}

//go:noinline
func countNone(ctx context.Context, w *world, ms []*correlate.Message) {
	for i := range countReps {
		correlateOne(ctx, w, ms[i%len(ms)])
	}
}

//go:noinline
func countTrack(ctx context.Context, w *world) []int64 {
	ids := make([]int64, 0, countReps)
	for i := range countReps {
		tr := &w.tailHow[i]
		t, err := w.eng.Track(ctx, w.tailMsgs[tr.i], tr.how)
		if err != nil {
			panic(err)
		}
		ids = append(ids, t.ID)
	}
	return ids
}

//go:noinline
func countParse(msgs [][]byte) {
	for i := range countReps {
		m, _ := correlate.ParseMessage(bytes.NewReader(msgs[i%len(msgs)]), parseOpts)
		sinkParsed = m
	}
}

//go:noinline
func countReadMessage(msgs [][]byte) {
	for i := range countReps {
		m, _ := mail.ReadMessage(bytes.NewReader(msgs[i%len(msgs)]))
		sinkStd = m
	}
}

// The corpus phases repeat the loops above rather than call them: a
// phase's function must not run inside another's, whose collection it
// would toggle.

//go:noinline
func countParseCorpus(msgs [][]byte) {
	for i := range countReps {
		m, _ := correlate.ParseMessage(bytes.NewReader(msgs[i%len(msgs)]), nil)
		sinkParsed = m
	}
}

//go:noinline
func countReadMessageCorpus(msgs [][]byte) {
	for i := range countReps {
		m, _ := mail.ReadMessage(bytes.NewReader(msgs[i%len(msgs)]))
		sinkStd = m
	}
}

var sinkParsed *correlate.Message
