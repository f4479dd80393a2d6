package benchutil

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestTreeCPU: the CPU time of this process's tree grows while it works,
// and a pid file's first line names the root.
func TestTreeCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	pidFile := filepath.Join(t.TempDir(), "x.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n/data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := PIDFileRoot(pidFile)
	if err != nil || root != strconv.Itoa(os.Getpid()) {
		t.Fatalf("PIDFileRoot = %q, %v", root, err)
	}
	cpu := TreeCPU(root)
	before := cpu()
	deadline := time.Now().Add(5 * time.Second)
	for x := 0; cpu() == before; x++ {
		if time.Now().After(deadline) {
			t.Fatalf("the tree's CPU time stayed at %v through 5 s of work", before)
		}
		// Busy until /proc's 10 ms tick counts it.
		for i := range 1_000_000 {
			x += i
		}
	}
	if _, err := PIDFileRoot(filepath.Join(t.TempDir(), "missing.pid")); err == nil {
		t.Error("PIDFileRoot of a missing file: no error")
	}
}
