package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// openEnv turns the test binary into a process that opens the SQLite file
// it names at the instant openAtEnv gives (Unix nanoseconds), tracks one
// email and exits: 0 when all went well, 1 with the error on stdout.
const (
	openEnv   = "SQLSTORE_OPEN_HELPER_PATH"
	openAtEnv = "SQLSTORE_OPEN_HELPER_AT"
)

func openHelper(path, at string) {
	ns, _ := strconv.ParseInt(at, 10, 64)
	time.Sleep(time.Until(time.Unix(0, ns)))
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite:"+path, nil)
	if err != nil {
		fmt.Println("ERROR open:", err)
		os.Exit(1)
	}
	e := mail(os.Getpid(), fmt.Sprintf("pid%d@x", os.Getpid()))
	if _, err := s.Put(ctx, e.Tracked, e.Keys); err != nil {
		fmt.Println("ERROR put:", err)
		os.Exit(1)
	}
	if err := s.Close(); err != nil {
		fmt.Println("ERROR close:", err)
		os.Exit(1)
	}
}

// TestConcurrentOpenProcesses starts many processes that open one new
// SQLite file at the same instant, round after round (issue 17, item 2:
// "database is locked" while the busy timeout was not yet in force, during
// the switch to WAL and the migration): every process opens the store and
// writes to it.
func TestConcurrentOpenProcesses(t *testing.T) {
	procs, rounds := 8, 12
	if testing.Short() || raceEnabled {
		rounds = 4
	}
	dir := t.TempDir()
	for round := range rounds {
		path := filepath.Join(dir, fmt.Sprintf("ledger%d.db", round))
		// Far enough ahead that every process has started and waits.
		at := time.Now().Add(700 * time.Millisecond).UnixNano()
		var wg sync.WaitGroup
		outs := make([]bytes.Buffer, procs)
		errs := make([]error, procs)
		for i := range procs {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), openEnv+"="+path, openAtEnv+"="+strconv.FormatInt(at, 10))
			cmd.Stdout = &outs[i]
			cmd.Stderr = &outs[i]
			require.NoError(t, cmd.Start())
			wg.Go(func() { errs[i] = cmd.Wait() })
		}
		wg.Wait()
		for i := range procs {
			assert.NoError(t, errs[i], "round %d, process %d: %s", round, i, outs[i].String())
		}
		s, err := sqlstore.Open(context.Background(), "sqlite:"+path, nil)
		require.NoError(t, err)
		st, err := s.Stats(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, procs, st.Emails, "round %d: every process wrote its email", round)
		require.NoError(t, s.Close())
		if t.Failed() {
			return
		}
	}
}
