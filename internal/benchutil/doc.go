// Package benchutil holds what the module's benchmarks share: the CPU time
// the process has used, and per-operation timing for quantiles.
//
// The machines this project is measured on are shared and oversubscribed:
// wall-clock ns/op includes the time other processes held the cores. CPU
// time per operation ([CPUTime] before and after a loop) measures the code;
// benchmarks report both. A Go benchmark reports a mean; an [OpTimer] times
// every operation of a loop (one monotonic clock read per operation, so each
// operation's time is the interval between two reads) into a [Histogram]
// and reports the median and the 99th percentile beside it.
//
// The package is for benchmarks and tests only. Its functions are safe for
// concurrent use; a Histogram or OpTimer belongs to one goroutine.
package benchutil
