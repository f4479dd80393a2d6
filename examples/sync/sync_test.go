package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/dovecottest"
	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

// row is the part of a jsonl row the tests compare.
type row struct {
	MessageID string `json:"message_id"`
	Regarding string `json:"regarding"`
	Method    string `json:"method"`
	Tracked   bool   `json:"tracked"`
	Action    string `json:"action"`
	Folder    string `json:"folder"`
	UID       uint32 `json:"uid"`
	Mailbox   string `json:"mailbox"`
}

func parseRows(t *testing.T, out string) []row {
	t.Helper()
	var rows []row
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r row
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		rows = append(rows, r)
	}
	return rows
}

func runSync(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// TestDemo: the newcomer's demo syncs the sample, then re-links the email
// a person drags into the tracked folder.
func TestDemo(t *testing.T) {
	stdout, stderr, code := runSync(t, "-demo", "-format", "jsonl")
	require.Equal(t, 0, code, stderr)
	var lines []string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "{") {
			lines = append(lines, l)
		}
	}
	rows := parseRows(t, strings.Join(lines, "\n"))
	require.Len(t, rows, len(samplegen.Generate(nil).Mails)+1, "every message once, then the relink")
	last := rows[len(rows)-1]
	assert.Equal(t, "relinked", last.Action)
	assert.Equal(t, "account:contoso", last.Regarding)
	assert.Equal(t, "INBOX/Clients/Contoso", last.Folder)
	assert.Contains(t, stdout, "a person moves")
}

// TestJSONLSchema: a sync row carries every field of the replay's rows
// (the README's schema) plus mailbox, folder and uid.
func TestJSONLSchema(t *testing.T) {
	stdout, stderr, code := runSync(t, "-demo", "-format", "jsonl")
	require.Equal(t, 0, code, stderr)
	golden, err := os.ReadFile("../replay/testdata/golden.jsonl")
	require.NoError(t, err)
	var replayRow map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(string(golden), "\n", 2)[0]), &replayRow))
	for _, line := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &obj))
		for k := range replayRow {
			if k == "participants" || k == "filter" {
				continue // present when a directory is given, or the filter was asked
			}
			assert.Contains(t, obj, k, "the replay's field %q", k)
		}
		for _, k := range []string{"mailbox", "folder", "uid", "uidvalidity", "folder_id", "action"} {
			assert.Contains(t, obj, k)
		}
		break
	}
}

// TestQuiet: -q prints no row, and no table header either (it printed the
// header of a table it left empty), only the demo's narration and the
// summary.
func TestQuiet(t *testing.T) {
	stdout, stderr, code := runSync(t, "-demo", "-q")
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stdout, "FOLDER", "no table header")
	assert.Contains(t, stdout, "a person moves", "the narration")
	assert.Contains(t, stderr, samplegen.Mailbox+": stopped; fetched ", "the summary")
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "give -demo"}, // nothing to do
		{[]string{"-imap", "imap://a@b"}, "-password-file"},   // no credentials
		{[]string{"-demo", "-imap", "imap://a@b"}, "exclude"}, // two modes
		{[]string{"-export", "x.jsonl"}, "-store"},            // nothing to export from memory
		{[]string{"-demo", "-format", "xml"}, "-format"},
		{[]string{"-demo", "-after", "yesterday"}, "-after"},
	} {
		_, stderr, code := runSync(t, tc.args...)
		assert.Equal(t, 1, code, "%v", tc.args)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("x\n"), 0o600))
	_, stderr, code := runSync(t, "-imap", "imap://alice@127.0.0.1:1", "-password-file", pw, "-once")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "give its address", "alice is no address: -mailbox is needed")
	_, stderr, code = runSync(t, "-imap", "imap://alice@mail.example:143", "-mailbox", "alice@example.com", "-password-file", pw, "-once")
	assert.Equal(t, 1, code)
	_ = stderr
}

// replayBinary builds examples/replay once per test binary.
var replayBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "replay-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "replay")
	out, err := exec.Command("go", "build", "-o", bin, "../replay").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ../replay: %v: %s", err, out)
	}
	return bin, nil
})

func runReplay(t *testing.T, args ...string) []row {
	t.Helper()
	bin, err := replayBinary()
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"-format", "jsonl"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	return parseRows(t, string(out))
}

// sampleFiles writes the sample's seed and folder rules for -seed and
// -folders.
func sampleFiles(t *testing.T) (seed, folders string) {
	t.Helper()
	dir := t.TempDir()
	s := samplegen.Generate(nil)
	seed = filepath.Join(dir, "seed.jsonl")
	require.NoError(t, samplegen.WriteJSONLines(seed, s.Seed()))
	rules := &folder.Rules{}
	for _, fm := range s.Folders {
		rec, err := correlate.ParseRecord(fm.Regarding)
		require.NoError(t, err)
		require.NoError(t, rules.Add(folder.Mapping{Mailbox: fm.Mailbox, FolderID: fm.FolderID, FolderPath: fm.FolderPath, Record: rec}))
	}
	b, err := json.Marshal(rules)
	require.NoError(t, err)
	folders = filepath.Join(dir, "folders.json")
	require.NoError(t, os.WriteFile(folders, b, 0o644))
	return seed, folders
}

// compare checks that the sync filed every message the replay filed,
// under the same record by the same method, and left the same untracked.
// A Message-ID met twice (a copy) is compared in order.
func compare(t *testing.T, replay, synced []row) {
	t.Helper()
	byID := map[string][]row{}
	for _, r := range synced {
		byID[r.MessageID] = append(byID[r.MessageID], r)
	}
	require.Len(t, synced, len(replay), "the same messages")
	tracked := 0
	for _, want := range replay {
		rows := byID[want.MessageID]
		if !assert.NotEmpty(t, rows, "message %s synced", want.MessageID) {
			continue
		}
		got := rows[0]
		byID[want.MessageID] = rows[1:]
		assert.Equal(t, want.Tracked, got.Tracked, "%s tracked", want.MessageID)
		assert.Equal(t, want.Regarding, got.Regarding, "%s regarding", want.MessageID)
		if want.Tracked {
			tracked++
			assert.Equal(t, want.Method, got.Method, "%s method", want.MessageID)
		}
	}
	assert.Positive(t, tracked)
}

// TestEquivalenceSample: the embedded sample loaded into an IMAP server
// (the in-process one, and Dovecot when it runs) and synced once gives
// the records examples/replay gives on the same messages.
func TestEquivalenceSample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/replay")
	}
	want := runReplay(t)
	seed, folders := sampleFiles(t)
	pw := filepath.Join(t.TempDir(), "pw")
	t.Run("in-process", func(t *testing.T) {
		srv, _, _, err := startDemoServer()
		require.NoError(t, err)
		defer srv.Close()
		require.NoError(t, os.WriteFile(pw, []byte(demoPassword), 0o600))
		stdout, stderr, code := runSync(t, "-imap", "imap://"+demoUser+"@"+srv.Addr, "-password-file", pw,
			"-mailbox", samplegen.Mailbox, "-folders", folders, "-seed", seed, "-sent", "-once", "-format", "jsonl")
		require.Equal(t, 0, code, stderr)
		compare(t, want, parseRows(t, stdout))
	})
	t.Run("dovecot", func(t *testing.T) {
		d := needDovecot(t)
		user, password := d.newUser(t)
		c := d.login(t, user, password)
		_, _, err := loadSample(func(f string) error { return c.Create(f) },
			func(f string, date time.Time, raw []byte) error { return c.Append(f, nil, date, bytes.NewReader(raw)) })
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(pw, []byte(password), 0o600))
		stdout, stderr, code := runSync(t, "-imap", "imap://"+user+"@"+d.addr, "-password-file", pw,
			"-mailbox", samplegen.Mailbox, "-folders", folders, "-seed", seed, "-sent", "-once", "-format", "jsonl")
		require.Equal(t, 0, code, stderr)
		compare(t, want, parseRows(t, stdout))
	})
}

// TestEquivalenceCorpus: real list mail (notmuch's default corpus, 52
// messages in 24 threads), the first message of each thread seeded,
// synced from Dovecot's Inbox, over IMAP and over POP3 → the records the
// replay gives.
func TestEquivalenceCorpus(t *testing.T) {
	doc := correlatetest.ReadOracle(t, "notmuch/oracle-notmuch-0.37/default.threads.json")
	corpus := correlatetest.Path(t, "notmuch")
	if testing.Short() {
		t.Skip("builds examples/replay")
	}
	d := needDovecot(t)
	dir := t.TempDir()
	var seed bytes.Buffer
	for i, th := range doc.Threads {
		fmt.Fprintf(&seed, "{\"message_id\": %q, \"regarding\": %q}\n", th.Messages[0].MessageID, fmt.Sprintf("thread:%02d", i+1))
	}
	seedFile := filepath.Join(dir, "seed.jsonl")
	require.NoError(t, os.WriteFile(seedFile, seed.Bytes(), 0o644))
	maildir := corpus + "/test/corpora/default"
	// The corpus is a tree of folders, all appended to Inbox below: the
	// replay reads them all (by default it reads Inbox, the folders with a
	// rule and Sent, as Dynamics).
	want := runReplay(t, "-smart", "off", "-all-folders", "-seed", seedFile, "-mailbox", "tester@corpus.invalid", maildir)

	// The replay's order: by Date, ties in walk order. Appended in that
	// order, Inbox's UIDs follow it.
	type item struct {
		raw  []byte
		date time.Time
	}
	var items []item
	require.NoError(t, mailbox.Walk(os.DirFS(maildir), ".", func(it mailbox.Item) error {
		require.NoError(t, it.Err)
		m, _ := correlate.ParseMessage(bytes.NewReader(it.Raw), nil)
		var d time.Time
		if m != nil {
			d = m.Date
		}
		items = append(items, item{it.Raw, d})
		return nil
	}))
	slices.SortStableFunc(items, func(a, b item) int { return a.date.Compare(b.date) })
	user, password := d.newUser(t)
	c := d.login(t, user, password)
	for _, it := range items {
		date := it.date
		if date.IsZero() {
			date = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		require.NoError(t, c.Append("INBOX", nil, date, bytes.NewReader(it.raw)))
	}
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte(password), 0o600))
	stdout, stderr, code := runSync(t, "-imap", "imap://"+user+"@"+d.addr, "-password-file", pw,
		"-mailbox", "tester@corpus.invalid", "-smart", "off", "-seed", seedFile, "-once", "-format", "jsonl")
	require.Equal(t, 0, code, stderr)
	compare(t, want, parseRows(t, stdout))

	// The same Inbox over Dovecot's POP3.
	if d.POP3Addr == "" {
		return
	}
	stdout, stderr, code = runSync(t, "-pop3", "pop3://"+user+"@"+d.POP3Addr, "-password-file", pw,
		"-mailbox", "tester@corpus.invalid", "-smart", "off", "-seed", seedFile, "-once", "-format", "jsonl")
	require.Equal(t, 0, code, stderr)
	compare(t, want, parseRows(t, stdout))
}

// dovecot is the Dovecot server .ci/dovecot.sh started.
type dovecot struct {
	dovecottest.Server
	addr string
}

func needDovecot(t *testing.T) dovecot {
	t.Helper()
	s := dovecottest.Need(t)
	return dovecot{Server: s, addr: s.Addr}
}

func (d dovecot) newUser(t *testing.T) (string, string) { return d.NewUser(t) }

func (d dovecot) login(t *testing.T, user, pw string) *client.Client {
	t.Helper()
	c, err := client.Dial(d.addr)
	require.NoError(t, err)
	for range 30 {
		if err = c.Login(user, pw); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	t.Cleanup(func() { c.Logout() })
	return c
}
