package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

// writeMbox writes n generated messages (the sample's generator, in date
// order) as an mbox, with a seed file of the messages the CRM filed, and
// returns the mbox's size.
func writeMbox(t testing.TB, dir string, n int) int64 {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "mail.mbox"))
	require.NoError(t, err)
	seed, err := os.Create(filepath.Join(dir, "seed.jsonl"))
	require.NoError(t, err)
	w, sw := bufio.NewWriter(f), bufio.NewWriter(seed)
	quote := regexp.MustCompile(`(?m)^(>*From )`)
	samplegen.Stream(&samplegen.Options{ExtraCustomers: n/14 + 1}, func(m samplegen.Mail) bool {
		fmt.Fprintf(w, "From sender %s\n", m.Date.UTC().Format("Mon Jan _2 15:04:05 2006"))
		w.Write(quote.ReplaceAll(bytes.TrimRight(m.Raw, "\n"), []byte(">$1")))
		w.WriteString("\n\n")
		if m.Seed {
			fmt.Fprintf(sw, "{\"message_id\": %q, \"regarding\": %q}\n", m.MessageID, m.Regarding)
		}
		n--
		return n > 0
	})
	require.NoError(t, w.Flush())
	require.NoError(t, sw.Flush())
	require.NoError(t, seed.Close())
	st, err := f.Stat()
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return st.Size()
}

// heldDuring replays the mbox of dir into a new SQLite store and returns
// the most heap the replay held live (after a collection) at any of about
// twenty points of the run, and the number of messages processed.
func heldDuring(t testing.TB, dir string) (peak uint64, processed int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cfg, err := parseFlags([]string{"-q", "-mailbox", samplegen.Mailbox, "-seed", filepath.Join(dir, "seed.jsonl"),
		"-store", "sqlite:" + filepath.Join(dir, "ledger.db"), filepath.Join(dir, "mail.mbox")}, &stderr)
	require.NoError(t, err)
	r, err := newReplay(context.Background(), cfg, &stdout, &stderr)
	require.NoError(t, err)
	defer r.close()
	var ms runtime.MemStats
	sample := func() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	n := 0
	every := 1
	r.afterEach = func() {
		if n++; n%every == 0 {
			sample()
		}
	}
	// The first pass alone: how many messages there are.
	p, err := r.scan()
	require.NoError(t, err)
	every = max(1, len(p.entries)/20)
	p.close()
	require.NoError(t, r.run(context.Background()), stderr.String())
	sample()
	return peak, r.stats.processed
}

// TestMemoryDoesNotGrowWithTheMailbox: a replay into SQLite holds a few
// tens of bytes per message (where it is and its date), not the messages:
// the replay used to hold every message, parsed, before processing the
// first (5.7 GB for a 139 MB mbox of a million small messages). Two runs,
// over 1,500 and 6,000 messages, in the same process: the heap held grows
// by far less than a message's size per added message.
func TestMemoryDoesNotGrowWithTheMailbox(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 7,500 messages")
	}
	small, large := t.TempDir(), t.TempDir()
	smallSize := writeMbox(t, small, 1500)
	largeSize := writeMbox(t, large, 6000)
	peakSmall, nSmall := heldDuring(t, small)
	peakLarge, nLarge := heldDuring(t, large)
	require.Greater(t, nLarge, nSmall)
	perMessage := (float64(peakLarge) - float64(peakSmall)) / float64(nLarge-nSmall)
	avgSize := float64(largeSize) / float64(nLarge)
	t.Logf("held %d KiB over %d messages (%d KiB mbox), %d KiB over %d (%d KiB): %.0f bytes per added message of %.0f bytes on average",
		peakSmall>>10, nSmall, smallSize>>10, peakLarge>>10, nLarge, largeSize>>10, perMessage, avgSize)
	assert.Less(t, perMessage, 200.0, "the replay holds where each message is, not the message")
}

// BenchmarkReplayHeld replays a generated mbox of 20,000 messages into
// SQLite and reports the heap held live at the run's peak per message
// (held-B/msg: the entries of the first pass, a message's date and place,
// and whatever else grows), with the mbox's bytes per message beside it.
func BenchmarkReplayHeld(b *testing.B) {
	dir := b.TempDir()
	size := writeMbox(b, dir, 20000)
	b.ReportAllocs()
	var peak uint64
	var n int
	for b.Loop() {
		os.Remove(filepath.Join(dir, "ledger.db"))
		peak, n = heldDuring(b, dir)
	}
	b.ReportMetric(float64(peak)/float64(n), "held-B/msg")
	b.ReportMetric(float64(size)/float64(n), "mbox-B/msg")
	b.ReportMetric(float64(n), "msgs")
}
