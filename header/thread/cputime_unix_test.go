//go:build unix

package thread_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used (user and system), so
// benchmarks can report CPU time per operation next to wall time: on a
// shared, oversubscribed machine wall time includes time other processes
// ran.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
