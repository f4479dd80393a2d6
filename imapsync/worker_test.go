package imapsync

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// A worker is a sync process the tests start, kill with SIGKILL, and
// start again: the test binary itself, running TestHelperProcess with its
// job in the environment.

// workerJob is what a worker process does.
type workerJob struct {
	Store     string            `json:"store"`  // sqlite:PATH or postgres://…
	Schema    string            `json:"schema"` // PostgreSQL schema
	Holder    string            `json:"holder"`
	Once      bool              `json:"once"` // one pass, then exit 0
	LeaseTTL  time.Duration     `json:"lease_ttl"`
	Mailboxes []workerMailbox   `json:"mailboxes"`
	Known     map[string]string `json:"known"` // Message-ID → record
}

type workerMailbox struct {
	Address, URL, Password string
}

// workerEvent is one line a worker prints per message.
type workerEvent struct {
	Holder    string    `json:"holder"`
	Mailbox   string    `json:"mailbox"`
	UID       uint32    `json:"uid"`
	MessageID string    `json:"message_id"`
	Action    string    `json:"action"`
	Time      time.Time `json:"time"`
}

const workerEnv = "IMAPSYNC_TEST_WORKER"

// TestHelperProcess is the worker process; it does nothing in a normal
// test run.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(workerEnv)
	if spec == "" {
		return
	}
	var job workerJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	if err := runWorker(job, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runWorker(job workerJob, w io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	st, err := sqlstore.Open(ctx, job.Store, &sqlstore.Options{Schema: job.Schema})
	if err != nil {
		return err
	}
	defer st.Close()
	rules := &folder.Rules{}
	eng, err := mailcorrelate.New(st, &mailcorrelate.Options{Folders: rules})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	o := &Options{
		Rules: rules, Holder: job.Holder, LeaseTTL: job.LeaseTTL, PollInterval: 500 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Timeout: 10 * time.Second,
		Known: func(_ context.Context, m *correlate.Message) (correlate.Record, bool) {
			r, ok := job.Known[m.MessageID]
			if !ok {
				return correlate.Record{}, false
			}
			rec, err := correlate.ParseRecord(r)
			return rec, err == nil
		},
		OnMessage: func(ev Event) {
			mu.Lock()
			defer mu.Unlock()
			id := ev.Email.MessageID
			if ev.Message != nil && ev.Message.MessageID != "" {
				id = ev.Message.MessageID
			}
			enc.Encode(workerEvent{Holder: job.Holder, Mailbox: ev.Mailbox, UID: ev.UID, MessageID: id,
				Action: ev.Action.String(), Time: time.Now()})
		},
	}
	for _, m := range job.Mailboxes {
		o.Mailboxes = append(o.Mailboxes, Mailbox{Address: m.Address, URL: m.URL, Password: m.Password, Filter: party.All})
	}
	s, err := New(eng, st, o)
	if err != nil {
		return err
	}
	if job.Once {
		return s.SyncOnce(ctx)
	}
	s.Run(ctx)
	return nil
}

// worker is a running worker process.
type worker struct {
	cmd    *exec.Cmd
	events chan workerEvent
	done   chan error
	stderr *lockedWriter
}

// startWorker starts a worker process for job.
func startWorker(t *testing.T, job workerJob) *worker {
	t.Helper()
	spec, err := json.Marshal(job)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), workerEnv+"="+string(spec))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	w := &worker{cmd: cmd, events: make(chan workerEvent, 100000), done: make(chan error, 1), stderr: &lockedWriter{b: &strings.Builder{}}}
	cmd.Stderr = w.stderr
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev workerEvent
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Mailbox != "" {
				w.events <- ev
			}
		}
		close(w.events)
		w.done <- cmd.Wait()
	}()
	return w
}

// kill ends the worker with SIGKILL: no deferred call, no lease released,
// no transaction finished.
func (w *worker) kill() {
	w.cmd.Process.Signal(syscall.SIGKILL)
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
