package benchutil

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramExactBelow64(t *testing.T) {
	var h Histogram
	for v := range 64 {
		h.Record(time.Duration(v))
	}
	if got := h.Quantile(0.5); got != 31 {
		t.Errorf("median of 0..63 = %v, want 31ns: values below 64 ns have buckets of their own", got)
	}
	if got := h.Quantile(1); got != 63 {
		t.Errorf("max of 0..63 = %v, want 63ns", got)
	}
	if got, want := h.Count(), uint64(64); got != want {
		t.Errorf("Count = %d, want %d", got, want)
	}
}

func TestHistogramQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]time.Duration, 100_000)
	for i := range vals {
		// log-uniform from 100 ns to 10 ms: every bucket width is exercised
		vals[i] = time.Duration(math.Exp(math.Log(100) + r.Float64()*math.Log(1e5)))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		want := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.008 {
			t.Errorf("Quantile(%v) = %v, want %v within 0.8%% (off by %.2f%%)", q, got, want, 100*rel)
		}
	}
	var sum float64
	for _, v := range vals {
		sum += float64(v)
	}
	if mean, got := sum/float64(len(vals)), float64(h.Mean()); math.Abs(got-mean)/mean > 0.008 {
		t.Errorf("Mean = %v, want %v within 0.8%%", time.Duration(got), time.Duration(mean))
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 {
		t.Error("an empty Histogram reports 0")
	}
	h.Record(-5)
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("a negative duration counts as 0, got %v", got)
	}
	h.Reset()
	h.Record(1000 * time.Hour) // beyond the last bucket
	if got := h.Quantile(1); got < 19*time.Hour {
		t.Errorf("a huge duration lands in the last bucket (about 19.5 h), got %v", got)
	}
}

type metrics map[string]float64

func (m metrics) ReportMetric(n float64, unit string) { m[unit] = n }

func TestOpTimerReport(t *testing.T) {
	var ot OpTimer
	m := metrics{}
	ot.Report(m)
	if len(m) != 0 {
		t.Errorf("no operations, no metrics; got %v", m)
	}
	ot.Start()
	for range 10 {
		ot.Begin()
		time.Sleep(time.Millisecond)
		ot.Tick()
	}
	ot.Report(m)
	if ot.Ops() != 10 {
		t.Errorf("Ops = %d, want 10", ot.Ops())
	}
	for _, unit := range []string{"timed-ns/op", "p50-ns/op", "p99-ns/op"} {
		if m[unit] < float64(time.Millisecond) {
			t.Errorf("%s = %v, want at least the 1 ms each operation slept", unit, m[unit])
		}
	}
}

func TestReportRatio(t *testing.T) {
	m := metrics{}
	ReportRatio(m, 3*time.Microsecond, time.Microsecond, "x-map")
	if m["x-map"] != 3 {
		t.Errorf("x-map = %v, want 3", m["x-map"])
	}
	ReportRatio(m, time.Second, 0, "x-none")
	if _, ok := m["x-none"]; ok {
		t.Error("a ratio to nothing is not reported")
	}
}

func TestOpTimerFloor(t *testing.T) {
	var ot, base OpTimer
	ot.Start()
	base.Start()
	ran := false
	ot.Floor(&base, func() { ran = true; time.Sleep(time.Millisecond) })
	ot.Tick()
	if !ran || base.Ops() != 1 || ot.Ops() != 1 {
		t.Fatalf("ran %v, base ops %d, ops %d", ran, base.Ops(), ot.Ops())
	}
	if base.Quantile(0.5) < time.Millisecond {
		t.Errorf("the floor took %v, less than the 1 ms it slept", base.Quantile(0.5))
	}
	if ot.Quantile(0.5) >= time.Millisecond {
		t.Errorf("the operation took %v: the floor was counted in it", ot.Quantile(0.5))
	}
}

func TestAllocs(t *testing.T) {
	o0, b0 := Allocs()
	sink = make([]byte, 1<<20)
	o1, b1 := Allocs()
	if o1 <= o0 || b1-b0 < 1<<20 {
		t.Errorf("Allocs went from %d objects, %d bytes to %d, %d across a 1 MiB allocation", o0, b0, o1, b1)
	}
}

var sink []byte
