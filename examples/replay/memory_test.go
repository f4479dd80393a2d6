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
	"runtime/pprof"
	"strings"
	"testing"
	"time"

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

// heldDuring replays dir/mail.mbox with args into a new SQLite store and
// returns the most heap the replay held live (after a collection) at any
// of about twenty points of the run, and the number of messages processed.
func heldDuring(t testing.TB, dir string, args ...string) (peak uint64, processed int) {
	t.Helper()
	os.Remove(filepath.Join(dir, "ledger.db"))
	r, _, stderr := newTestReplay(t, append(args, "-store", "sqlite:"+filepath.Join(dir, "ledger.db"), filepath.Join(dir, "mail.mbox"))...)
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
	if os.Getenv("SCRATCH_HEAP") != "" {
		f, _ := os.Create(os.Getenv("SCRATCH_HEAP"))
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	return peak, r.stats.processed
}

// writeThreads writes an mbox of n messages of about 2 KB from a fixed set
// of 100 customers, in threads of five (each reply names the one before),
// a minute apart: with -filter all every message is tracked. What the
// engine keeps per sender (the loop detector's window) stays the same as
// the mailbox grows, so what grows is the replay's own.
func writeThreads(t testing.TB, path string, n int) int64 {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	body := strings.Repeat("The printer on the third floor is offline again since the update.\n", 28)
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range n {
		d := start.Add(time.Duration(i) * time.Minute)
		fmt.Fprintf(w, "From c%d@customer.example %s\n", i%100, d.Format("Mon Jan _2 15:04:05 2006"))
		fmt.Fprintf(w, "From: Customer %d <c%d@customer.example>\nTo: support@fabrikam.example\nSubject: Case %d\nDate: %s\nMessage-ID: <m%d@customer.example>\n",
			i%100, i%100, i/5, d.Format(time.RFC1123Z), i)
		if i%5 != 0 {
			fmt.Fprintf(w, "In-Reply-To: <m%d@customer.example>\n", i-1)
		}
		fmt.Fprintf(w, "\n%s\n", body)
	}
	require.NoError(t, w.Flush())
	st, err := f.Stat()
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return st.Size()
}

// TestMemoryDoesNotGrowWithTheMailbox: a replay into SQLite holds a few
// tens of bytes per message (where it is and its date), not the messages:
// the replay used to hold every message, parsed, before processing the
// first (5.7 GB for a 139 MB mbox of a million small messages). Two runs,
// over 1,500 and 6,000 messages of 2 KB (300 and 1,200 under the race
// detector), in the same process: the heap held grows by far less than a
// message's size per added message.
func TestMemoryDoesNotGrowWithTheMailbox(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 7,500 messages")
	}
	nSmall, nLarge := 1500, 6000
	if raceBuild {
		nSmall, nLarge = 300, 1200
	}
	small, large := t.TempDir(), t.TempDir()
	smallSize := writeThreads(t, filepath.Join(small, "mail.mbox"), nSmall)
	largeSize := writeThreads(t, filepath.Join(large, "mail.mbox"), nLarge)
	args := []string{"-q", "-filter", "all", "-mailbox", "support@fabrikam.example"}
	peakSmall, gotSmall := heldDuring(t, small, args...)
	peakLarge, gotLarge := heldDuring(t, large, args...)
	require.Equal(t, []int{nSmall, nLarge}, []int{gotSmall, gotLarge}, "every message processed")
	perMessage := (float64(peakLarge) - float64(peakSmall)) / float64(nLarge-nSmall)
	avgSize := float64(largeSize) / float64(nLarge)
	t.Logf("held %d KiB over %d messages (%d KiB mbox), %d KiB over %d (%d KiB): %.0f bytes per added message of %.0f bytes",
		peakSmall>>10, nSmall, smallSize>>10, peakLarge>>10, nLarge, largeSize>>10, perMessage, avgSize)
	assert.Less(t, perMessage, 100.0, "the replay holds where each message is, not the message")
}

// BenchmarkReplayHeld replays generated mailboxes into SQLite and reports
// the heap held live at the run's peak per message (held-B/msg: the first
// pass's entries, and whatever the engine keeps), with the mbox's bytes
// per message beside it: threads of 2 KB messages from 100 customers, and
// the sample's generator (a new customer every 14 messages, and a seed
// file, which the replay holds, of the mail the CRM filed).
func BenchmarkReplayHeld(b *testing.B) {
	b.Run("threads", func(b *testing.B) {
		dir := b.TempDir()
		size := writeThreads(b, filepath.Join(dir, "mail.mbox"), 20000)
		benchHeld(b, dir, size, "-q", "-filter", "all", "-mailbox", "support@fabrikam.example")
	})
	b.Run("sample", func(b *testing.B) {
		dir := b.TempDir()
		size := writeMbox(b, dir, 20000)
		benchHeld(b, dir, size, "-q", "-mailbox", samplegen.Mailbox, "-seed", filepath.Join(dir, "seed.jsonl"))
	})
}

func benchHeld(b *testing.B, dir string, size int64, args ...string) {
	b.ReportAllocs()
	var peak uint64
	var n int
	for b.Loop() {
		peak, n = heldDuring(b, dir, args...)
	}
	b.ReportMetric(float64(peak)/float64(n), "held-B/msg")
	b.ReportMetric(float64(size)/float64(n), "mbox-B/msg")
	b.ReportMetric(float64(n), "msgs")
}
