package benchutil

import (
	"math"
	"math/bits"
	"runtime"
	"time"
)

// A Reporter receives benchmark metrics; *testing.B is one.
type Reporter interface {
	ReportMetric(n float64, unit string)
}

// ReportCPU reports the CPU time per operation since cpu0 (a [CPUTime]
// reading) over n operations, as "cpu-ns/op". It reports nothing when no
// CPU time was measured or n is not positive.
func ReportCPU(r Reporter, cpu0 time.Duration, n int) {
	if d := CPUTime() - cpu0; d > 0 && n > 0 {
		r.ReportMetric(float64(d.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// Histogram buckets: exact below 64 ns, then 64 buckets per power of two
// (a relative resolution of 1/64, 1.6 %), up to 2⁴⁶ ns (19.5 hours);
// longer durations count in the last bucket.
const (
	subBits  = 6
	subCount = 1 << subBits
	maxExp   = 40
	nBuckets = (maxExp + 1) * subCount
)

// A Histogram counts durations in log-linear buckets, so quantiles of any
// number of operations cost a fixed 21 KB and no allocation. The zero
// Histogram is empty and ready to use.
type Histogram struct {
	counts [nBuckets]uint64
	n      uint64
}

func bucket(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [subCount, 2*subCount)
	if e >= maxExp {
		return nBuckets - 1
	}
	return (e+1)*subCount + int(v>>e) - subCount
}

// bounds returns the lowest value of bucket i and its width.
func bounds(i int) (lo, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	e := i/subCount - 1
	return uint64(i%subCount+subCount) << e, 1 << e
}

// Record counts one duration; negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	h.counts[bucket(uint64(max(d, 0)))]++
	h.n++
}

// Mean returns the mean of the recorded durations, each counted at the
// middle of its bucket; 0 for an empty Histogram.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	var sum float64
	for i, c := range h.counts {
		if c != 0 {
			lo, w := bounds(i)
			sum += float64(c) * (float64(lo) + float64(w)/2)
		}
	}
	return time.Duration(sum / float64(h.n))
}

// Count returns the number of durations recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the recorded durations: the
// middle of the bucket holding the ⌈q·n⌉-th smallest, within 0.8 % of the
// true value. It returns 0 for an empty Histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(min(max(q, 0), 1) * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := bounds(i)
			return time.Duration(lo + w/2)
		}
	}
	return 0 // not reached
}

// An OpTimer times every operation of a benchmark loop:
//
//	var ot benchutil.OpTimer
//	ot.Start()
//	for b.Loop() {
//		op()
//		ot.Tick()
//	}
//	ot.Report(b)
//
// Tick reads the monotonic clock once; an operation's time is the interval
// since the previous Tick (or Start, or Resume), so it includes the loop's
// own few nanoseconds and one clock read (20–40 ns on Linux's vDSO). Work
// between Pause and Resume is left out of the times and of the CPU time.
type OpTimer struct {
	h      Histogram
	last   time.Time
	cpu0   time.Duration
	paused time.Duration // CPU time spent paused
	cpuP   time.Duration // CPUTime at Pause
}

// Start starts timing; call it just before the loop.
func (t *OpTimer) Start() {
	t.h.Reset()
	t.paused = 0
	t.cpu0 = CPUTime()
	t.last = time.Now()
}

// Tick ends one operation.
func (t *OpTimer) Tick() {
	now := time.Now()
	t.h.Record(now.Sub(t.last))
	t.last = now
}

// Begin marks the start of an operation: work since the last Tick (setup
// the benchmark does not want in the operation's time) is left out of the
// quantiles. It is not left out of the CPU time.
func (t *OpTimer) Begin() { t.last = time.Now() }

// Pause stops timing, for untimed work inside the loop (pair it with
// b.StopTimer).
func (t *OpTimer) Pause() { t.cpuP = CPUTime() }

// Resume starts timing again after Pause.
func (t *OpTimer) Resume() {
	t.paused += CPUTime() - t.cpuP
	t.last = time.Now()
}

// Ops returns the number of operations timed.
func (t *OpTimer) Ops() int { return int(t.h.Count()) }

// Mean returns the mean of the operation times, from the bucket middles.
func (t *OpTimer) Mean() time.Duration { return t.h.Mean() }

// Quantile returns the q-quantile of the operation times.
func (t *OpTimer) Quantile(q float64) time.Duration { return t.h.Quantile(q) }

// Report reports the mean of the operation times ("timed-ns/op": unlike
// the benchmark's ns/op it leaves out what came before Begin), the median
// ("p50-ns/op"), the 99th percentile ("p99-ns/op") and the CPU time per
// operation ("cpu-ns/op") to r.
func (t *OpTimer) Report(r Reporter) {
	n := t.Ops()
	if n == 0 {
		return
	}
	r.ReportMetric(float64(t.h.Mean().Nanoseconds()), "timed-ns/op")
	r.ReportMetric(float64(t.h.Quantile(0.5).Nanoseconds()), "p50-ns/op")
	r.ReportMetric(float64(t.h.Quantile(0.99).Nanoseconds()), "p99-ns/op")
	ReportCPU(r, t.cpu0+t.paused, n)
}

// ReportRatio reports num/den as unit ("x-map-p50"), when den is positive:
// a ratio of two durations measured in the same run, which carries over from
// one machine to another where the durations do not.
func ReportRatio(r Reporter, num, den time.Duration, unit string) {
	if den > 0 {
		r.ReportMetric(float64(num)/float64(den), unit)
	}
}

// Floor runs op, one operation of a baseline interleaved with the
// benchmark's own (a map lookup, net/mail.ReadMessage), and times it in
// base, leaving it out of t's times (not of its CPU time, nor of the
// benchmark's ns/op, B/op and allocs/op: stopping the benchmark's timer
// reads MemStats, which flushes the allocation caches and would slow the
// next operation). Measured so, operation by operation, the baseline meets
// the same state of the caches and the same minute of a shared machine as
// the operations it is compared with.
func (t *OpTimer) Floor(base *OpTimer, op func()) {
	base.Begin()
	op()
	base.Tick()
	t.last = time.Now()
}

// Allocs returns the heap allocations of the process so far, objects and
// bytes, as testing counts them (runtime.MemStats; it stops the world, so
// call it outside timed loops).
func Allocs() (objects, bytes uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs, ms.TotalAlloc
}
