package sqlstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// The crash tests interrupt a PutBatch of crashEmails emails, written in
// chunks of crashChunk, after crashAfter emails have been written inside its
// transaction.
const (
	crashEmails = 1000
	crashChunk  = 100
	crashAfter  = 200
)

func crashBatch(prefix string) []sqlstore.Entry {
	batch := make([]sqlstore.Entry, crashEmails)
	for i := range batch {
		batch[i] = mail(i, fmt.Sprintf("%s%d@x", prefix, i))
	}
	return batch
}

// TestPutBatchCancelled cancels a batch's context while its transaction is
// half written: the batch fails with context.Canceled and leaves no row of
// it behind, and the store goes on working.
func TestPutBatchCancelled(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB, *sqlstore.Options) *sqlstore.Store) {
		s := open(t, &sqlstore.Options{BatchSize: crashChunk})
		before, err := s.Put(context.Background(), mail(5000, "before@x").Tracked, mail(5000, "before@x").Keys)
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var reached int
		sqlstore.SetAfterChunk(s, func(done int) {
			reached = done
			if done >= crashAfter {
				cancel()
			}
		})
		_, err = s.PutBatch(ctx, crashBatch("c"))
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, crashAfter, reached, "the batch was interrupted mid-way, after %d emails had been written", crashAfter)
		sqlstore.SetAfterChunk(s, nil)

		st, err := s.Stats(context.Background())
		require.NoError(t, err)
		assert.Equal(t, correlate.Stats{Emails: 1, Keys: 3}, st, "only the email stored before the batch remains")
		n, err := s.Count(context.Background(), correlate.MessageIDKey("c0@x"))
		require.NoError(t, err)
		assert.Zero(t, n, "no key of the batch remains")

		after, err := s.Put(context.Background(), mail(5001, "after@x").Tracked, mail(5001, "after@x").Keys)
		require.NoError(t, err, "the store works after a cancelled batch")
		assert.Greater(t, after.ID, before.ID)
		res, err := s.PutBatch(context.Background(), crashBatch("c"))
		require.NoError(t, err, "the cancelled batch can be written again")
		assert.False(t, res[0].Exists)
	})
}

// crashEnv names the variable that turns the test binary into the crash
// helper: a process that starts a batch and is killed in the middle of it.
const crashEnv = "SQLSTORE_CRASH_HELPER_URL"

func TestMain(m *testing.M) {
	if url := os.Getenv(crashEnv); url != "" {
		crashHelper(url, os.Getenv("SQLSTORE_CRASH_HELPER_SCHEMA"))
		return
	}
	if path := os.Getenv(openEnv); path != "" {
		openHelper(path, os.Getenv(openAtEnv))
		return
	}
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// crashHelper writes part of a batch, says so on stdout and waits, inside
// the open transaction, to be killed.
func crashHelper(url, schema string) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, url, &sqlstore.Options{Schema: schema, BatchSize: crashChunk})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	sqlstore.SetAfterChunk(s, func(done int) {
		if done >= crashAfter {
			fmt.Println("WRITTEN", done)
			time.Sleep(time.Hour)
		}
	})
	_, err = s.PutBatch(ctx, crashBatch("k"))
	fmt.Println("ERROR batch finished:", err)
	os.Exit(1)
}

// TestPutBatchKilled kills a process in the middle of a batch, its
// transaction open and 200 emails written: the database keeps nothing of
// the batch (SQLite discards the uncommitted WAL frames, PostgreSQL aborts
// the dead session's transaction), and opens and works afterwards.
func TestPutBatchKilled(t *testing.T) {
	run := func(t *testing.T, url, schema string) {
		ctx := context.Background()
		s, err := sqlstore.Open(ctx, url, &sqlstore.Options{Schema: schema})
		require.NoError(t, err)
		_, err = s.Put(ctx, mail(5000, "before@x").Tracked, mail(5000, "before@x").Keys)
		require.NoError(t, err)
		require.NoError(t, s.Close())

		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+url, "SQLSTORE_CRASH_HELPER_SCHEMA="+schema)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "WRITTEN") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper said %q (%v), want WRITTEN", line, err)
		}
		require.NoError(t, cmd.Process.Kill())
		err = cmd.Wait()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "the helper was killed: %v", err)

		s, err = sqlstore.Open(ctx, url, &sqlstore.Options{Schema: schema})
		require.NoError(t, err, "the database opens after a writer was killed")
		defer s.Close()
		st, err := s.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, correlate.Stats{Emails: 1, Keys: 3}, st, "no row of the killed batch remains")
		_, err = s.Put(ctx, mail(5001, "after@x").Tracked, mail(5001, "after@x").Keys)
		require.NoError(t, err, "the database takes writes after a writer was killed")
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, "sqlite:"+filepath.Join(t.TempDir(), "ledger.db"), "")
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgURL(t)
		run(t, url, newSchema(t, url))
	})
}
