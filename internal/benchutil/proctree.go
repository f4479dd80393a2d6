package benchutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TreeCPU returns a function that reads, from Linux's /proc, the CPU time
// used so far by the process root (with its exited children's) and by
// every process it started: a server's master and its workers, such as
// Postfix's master and its daemons or PostgreSQL's postmaster and its
// backends. Where /proc is absent the function returns 0.
func TreeCPU(root string) func() time.Duration {
	const hz = 100 // USER_HZ: /proc counts CPU time in 1/100 s
	return func() time.Duration {
		ds, _ := filepath.Glob("/proc/[0-9]*/stat")
		var ticks int64
		for _, d := range ds {
			raw, err := os.ReadFile(d)
			if err != nil {
				continue // the process ended
			}
			// "pid (comm) state ppid … utime stime cutime cstime …"
			s := string(raw)
			i := strings.LastIndexByte(s, ')')
			if i < 0 {
				continue
			}
			f := strings.Fields(s[i+1:])
			if len(f) < 15 {
				continue
			}
			if pid, _, _ := strings.Cut(s, " "); pid != root && f[1] != root {
				continue
			}
			for _, v := range f[11:15] { // utime stime cutime cstime
				n, _ := strconv.ParseInt(v, 10, 64)
				ticks += n
			}
		}
		return time.Duration(ticks) * time.Second / hz
	}
}

// PIDFileRoot returns the pid on the first line of a server's pid file
// (postmaster.pid, Postfix's master.pid).
func PIDFileRoot(pidFile string) (string, error) {
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return "", err
	}
	root, _, _ := strings.Cut(string(raw), "\n")
	return strings.TrimSpace(root), nil
}
