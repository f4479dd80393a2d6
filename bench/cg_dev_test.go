package bench_test

import (
	"bytes"
	"context"
	"net/mail"
	"os"
	"strconv"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// TestCallgrindDev runs each phase N times for callgrind's --toggle-collect.
// MC_CG=size (e.g. 20000).
func TestCallgrindDev(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MC_CG"))
	if n == 0 {
		t.Skip("MC_CG not set")
	}
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
	t.Logf("held %d: header %d token %d none %d; tail %d", len(w.held), len(hdr), len(tok), len(none), len(w.tail))
	for i := 0; i < 200; i++ { // warm up pools
		cgHeader(ctx, w, hdr[i%len(hdr)])
		cgToken(ctx, w, tok[i%len(tok)])
	}
	phaseHeader(ctx, w, hdr)
	phaseToken(ctx, w, tok)
	phaseNone(ctx, w, none)
	ids := phaseTrack(ctx, w)
	untrack(ctx, w.eng, ids)
	phaseParse(w)
	phaseStd(w)
	var msgs [][]byte
	blob, err := os.ReadFile("/tmp/h21/corpus.bin")
	if err != nil {
		t.Fatal(err)
	}
	for len(blob) > 4 {
		n := int(blob[0]) | int(blob[1])<<8 | int(blob[2])<<16 | int(blob[3])<<24
		msgs = append(msgs, blob[4:4+n])
		blob = blob[4+n:]
	}
	phaseCorpusParse(msgs)
	phaseCorpusStd(msgs)
}

//go:noinline
func phaseCorpusParse(msgs [][]byte) {
	for i := 0; i < reps; i++ {
		m, _ := correlate.ParseMessage(bytes.NewReader(msgs[i%len(msgs)]), nil)
		sinkMsg = m
	}
}

//go:noinline
func phaseCorpusStd(msgs [][]byte) {
	for i := 0; i < reps; i++ {
		m, _ := mail.ReadMessage(bytes.NewReader(msgs[i%len(msgs)]))
		sinkStd = m
	}
}

const reps = 2000

//go:noinline
func phaseHeader(ctx context.Context, w *world, ms []*correlate.Message) {
	for i := 0; i < reps; i++ {
		cgHeader(ctx, w, ms[i%len(ms)])
	}
}

//go:noinline
func phaseToken(ctx context.Context, w *world, ms []*correlate.Message) {
	for i := 0; i < reps; i++ {
		cgToken(ctx, w, ms[i%len(ms)])
	}
}

//go:noinline
func phaseNone(ctx context.Context, w *world, ms []*correlate.Message) {
	for i := 0; i < reps; i++ {
		cgNone(ctx, w, ms[i%len(ms)])
	}
}

//go:noinline
func phaseTrack(ctx context.Context, w *world) []int64 {
	var ids []int64
	for i := 0; i < reps && i < len(w.tailHow); i++ {
		tr := &w.tailHow[i]
		tt := cgTrack(ctx, w, w.tailMsgs[tr.i], tr.how)
		ids = append(ids, tt.ID)
	}
	return ids
}

//go:noinline
func phaseParse(w *world) {
	for i := 0; i < reps; i++ {
		r := &w.tail[i]
		cgParse(w.blob[r.off : r.off+r.n])
	}
}

//go:noinline
func phaseStd(w *world) {
	for i := 0; i < reps; i++ {
		r := &w.tail[i]
		cgStd(w.blob[r.off : r.off+r.n])
	}
}

//go:noinline
func cgHeader(ctx context.Context, w *world, m *correlate.Message) {
	if _, err := w.eng.Correlate(ctx, m); err != nil {
		panic(err)
	}
}

//go:noinline
func cgToken(ctx context.Context, w *world, m *correlate.Message) {
	if _, err := w.eng.Correlate(ctx, m); err != nil {
		panic(err)
	}
}

//go:noinline
func cgNone(ctx context.Context, w *world, m *correlate.Message) {
	if _, err := w.eng.Correlate(ctx, m); err != nil {
		panic(err)
	}
}

//go:noinline
func cgTrack(ctx context.Context, w *world, m *correlate.Message, how correlate.Match) correlate.Tracked {
	t, err := w.eng.Track(ctx, m, how)
	if err != nil {
		panic(err)
	}
	return t
}

//go:noinline
func cgParse(raw []byte) {
	m, _ := correlate.ParseMessage(bytes.NewReader(raw), parseOpts)
	sinkMsg = m
}

//go:noinline
func cgStd(raw []byte) {
	m, _ := mail.ReadMessage(bytes.NewReader(raw))
	sinkStd = m
}

var sinkMsg *correlate.Message
