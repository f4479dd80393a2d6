package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

// asCommand is the environment variable that makes the test binary run
// the replay command itself, so the crash tests can kill a real process
// without building one.
const asCommand = "MAILCORRELATE_REPLAY_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if commandDir != "" {
		os.RemoveAll(commandDir)
	}
	os.Exit(code)
}

var (
	// commandOnce builds, under the race detector, the replay command
	// without it, into commandDir: the crash tests run thousands of
	// messages through SQLite, ten times slower under the detector, and
	// they test the command, not the detector.
	commandOnce sync.Once
	commandDir  string
	commandPath string
)

// command runs the replay as a process of its own with args; it returns
// the command, whose stderr goes to errBuf. It is the test binary itself
// (see TestMain), or under the race detector a build of the command
// without it (when the go command is at hand).
func command(ctx context.Context, errBuf *bytes.Buffer, args ...string) *exec.Cmd {
	commandOnce.Do(func() {
		goCmd, err := exec.LookPath("go")
		if !raceBuild || err != nil {
			return
		}
		dir, err := os.MkdirTemp("", "replay-command-")
		if err != nil {
			return
		}
		var out bytes.Buffer
		build := exec.Command(goCmd, "build", "-o", filepath.Join(dir, "replay"), ".")
		build.Stdout, build.Stderr = &out, &out
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building the replay command without -race failed (%v), the race-detecting test binary runs it:\n%s", err, out.String())
			os.RemoveAll(dir)
			return
		}
		commandDir, commandPath = dir, filepath.Join(dir, "replay")
	})
	var cmd *exec.Cmd
	if commandPath != "" {
		cmd = exec.CommandContext(ctx, commandPath, args...)
	} else {
		cmd = exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Env = append(os.Environ(), asCommand+"=1")
	}
	cmd.Stderr = errBuf
	return cmd
}

// crashMailbox writes a generated mailbox of about 3,000 messages and its
// seed (sentSeeded), and returns the replay's arguments for it (without
// -store).
func crashMailbox(t *testing.T) []string {
	t.Helper()
	n, seed, mail := sentSeeded(t, 210)
	t.Logf("%d messages", n)
	return []string{"-q", "-mailbox", samplegen.Mailbox, "-folders", "sample:folders.json", "-seed", seed, mail}
}

// sentSeeded writes the sample with extra customers as a Maildir, and a
// seed of only the mail the CRM sent: the customers' first messages are
// left untracked, the case a naive re-run gets wrong (processed again
// after later messages were tracked, they correlate with them). It returns
// the number of messages, the seed file and the Maildir.
func sentSeeded(t *testing.T, extraCustomers int) (n int, seedFile, maildir string) {
	t.Helper()
	dir := t.TempDir()
	s := samplegen.Generate(&samplegen.Options{ExtraCustomers: extraCustomers})
	maildir, seedFile = filepath.Join(dir, "mail"), filepath.Join(dir, "seed.jsonl")
	require.NoError(t, samplegen.WriteMaildir(maildir, s))
	var seed []samplegen.LabelLine
	for _, m := range s.Mails {
		if m.Seed && m.Folder == samplegen.SentFolder {
			seed = append(seed, samplegen.LabelLine{MessageID: m.MessageID, Regarding: m.Regarding})
		}
	}
	require.NoError(t, samplegen.WriteJSONLines(seedFile, seed))
	return len(s.Mails), seedFile, maildir
}

// exported runs -export on the store and returns the ledger's lines,
// checking that no message_id appears twice.
func exported(t *testing.T, storeURL string) []string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ledger.jsonl")
	var errBuf bytes.Buffer
	require.NoError(t, command(context.Background(), &errBuf, "-store", storeURL, "-export", out).Run(), errBuf.String())
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		id := l[:strings.Index(l, `","regarding"`)]
		require.False(t, seen[id], "duplicate row %s", l)
		seen[id] = true
	}
	return lines
}

// runToEnd runs the replay to its end and returns how long it took.
func runToEnd(t *testing.T, args ...string) time.Duration {
	t.Helper()
	var errBuf bytes.Buffer
	start := time.Now()
	require.NoError(t, command(context.Background(), &errBuf, args...).Run(), errBuf.String())
	return time.Since(start)
}

// TestCrashResume kills the replay with SIGKILL at random instants of a run
// over 3,000 messages into SQLite, resuming each time: the ledger it leaves
// equals an uninterrupted run's, row for row, and has no duplicate.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 3,000 messages several times")
	}
	args := crashMailbox(t)
	dir := t.TempDir()
	whole := "sqlite:" + filepath.Join(dir, "whole.db")
	runToEnd(t, "-store", whole, "-export", filepath.Join(dir, "warm-up")) // builds the command, if it must
	took := runToEnd(t, append([]string{"-store", whole}, args...)...)
	want := exported(t, whole)
	// A run over a finished store does everything but process messages:
	// starting, the first pass, reading the cursor.
	setup := runToEnd(t, append([]string{"-store", whole}, args...)...)
	work := max(took-setup, took/2)
	t.Logf("uninterrupted: %d tracked in %v, of which %v to start", len(want), took.Round(time.Millisecond), setup.Round(time.Millisecond))

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 17))
	t.Logf("kill instants drawn with seed %d", seed)
	crashed := "sqlite:" + filepath.Join(dir, "crashed.db")
	kills := 0
	for attempt := 0; attempt < 12 && kills < 5; attempt++ {
		var errBuf bytes.Buffer
		cmd := command(context.Background(), &errBuf, append([]string{"-store", crashed}, args...)...)
		require.NoError(t, cmd.Start())
		// Each run is killed once it has started and processed some 5–20%
		// of the messages, at an instant drawn at random.
		wait := setup + time.Duration(float64(work)*(0.05+0.15*rng.Float64()))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err, "finished before the kill: %s", errBuf.String())
			t.Logf("run %d finished before its kill at %v", attempt+1, wait.Round(time.Millisecond))
			attempt = 12 // the ledger is complete: later kills would hit runs with nothing to do
		case <-time.After(wait):
			// The process may have ended just before the signal.
			cmd.Process.Signal(syscall.SIGKILL)
			err := <-done
			var ee *exec.ExitError
			if err == nil {
				t.Logf("run %d finished as it was being killed", attempt+1)
				attempt = 12
				continue
			}
			require.True(t, errors.As(err, &ee), "killed: %v", err)
			require.Equal(t, "signal: killed", ee.Error(), errBuf.String())
			kills++
			t.Logf("run %d killed after %v: %s", attempt+1, wait.Round(time.Millisecond), lastLine(errBuf.String()))
		}
	}
	require.GreaterOrEqual(t, kills, 3, "the runs were killed mid-way")
	runToEnd(t, append([]string{"-store", crashed}, args...)...)
	got := exported(t, crashed)
	assert.Equal(t, len(want), len(got), "as many tracked emails as one uninterrupted run")
	assert.Equal(t, want, got, "the same ledger as one uninterrupted run")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestPostgresOutage stops the PostgreSQL server in the middle of a replay:
// the replay stops at once with exit status 2 and says how far it got;
// the server is started again and the replay resumed: the ledger equals an
// uninterrupted run's, nothing lost or doubled. The test starts a private
// cluster (.ci/postgres.sh), since it stops and starts the server.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 3,000 messages into PostgreSQL")
	}
	if os.Getenv("MAILCORRELATE_TEST_POSTGRES") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI=true but MAILCORRELATE_TEST_POSTGRES is not set: .ci/run starts PostgreSQL")
		}
		t.Skip("PostgreSQL not available: bash .ci/postgres.sh run go test ./examples/replay/ runs this test")
	}
	pgdata, url := privateCluster(t)
	args := crashMailbox(t)

	// The uninterrupted run, in a database of its own on the same server.
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	_, err = db.Exec("CREATE DATABASE uninterrupted")
	require.NoError(t, err)
	db.Close()
	wholeURL := strings.Replace(url, "/postgres?", "/uninterrupted?", 1)
	runToEnd(t, "-store", wholeURL, "-export", filepath.Join(t.TempDir(), "warm-up")) // builds the command, if it must
	took := runToEnd(t, append([]string{"-store", wholeURL}, args...)...)
	want := exported(t, wholeURL)
	t.Logf("uninterrupted: %d tracked in %v", len(want), took.Round(time.Millisecond))

	var errBuf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(ctx, &errBuf, append([]string{"-store", url}, args...)...)
	require.NoError(t, cmd.Start())
	time.Sleep(took / 3)
	ciScript(t, "halt", pgdata)
	err = cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "the replay fails when the server is gone: %v\n%s", err, errBuf.String())
	assert.Equal(t, exitStore, ee.ExitCode(), errBuf.String())
	assert.Regexp(t, `stopped at message \d+ of \d+, \d+ processed by this run and 0 by earlier runs: .*store: unavailable.*run again to resume`, errBuf.String())
	assert.Less(t, strings.Count(errBuf.String(), "\n"), 12, "one report, not one error per message:\n%s", errBuf.String())
	t.Logf("stopped: %s", lastLine(errBuf.String()))

	ciScript(t, "restart", pgdata)
	runToEnd(t, append([]string{"-store", url}, args...)...)
	got := exported(t, url)
	assert.Equal(t, len(want), len(got), "as many tracked emails as one uninterrupted run")
	assert.Equal(t, want, got, "nothing lost or doubled")
}

// privateCluster starts a PostgreSQL cluster of the test's own and returns
// its directory and URL; it is removed when the test ends.
func privateCluster(t *testing.T) (dir, url string) {
	t.Helper()
	out := ciScript(t, "start")
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimPrefix(sc.Text(), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, "'")
		switch k {
		case "MAILCORRELATE_TEST_POSTGRES":
			url = v
		case "MAILCORRELATE_PGDATA":
			dir = v
		}
	}
	require.NotEmpty(t, dir, out)
	require.NotEmpty(t, url, out)
	t.Cleanup(func() { ciScript(t, "stop", dir) })
	return dir, url
}

// ciScript runs .ci/postgres.sh with args and returns its stdout.
func ciScript(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", append([]string{"../../.ci/postgres.sh"}, args...)...)
	cmd.Env = append(os.Environ(), "MAILCORRELATE_PG_PORT=")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "postgres.sh %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}
