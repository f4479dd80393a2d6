//go:build !unix

package benchutil

import "time"

// CPUTime returns the CPU time the process has used so far; on this
// platform it is not measured and always 0, so ReportCPU reports nothing.
func CPUTime() time.Duration { return 0 }
