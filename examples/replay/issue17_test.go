package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// replayInto runs the command's logic with args over the store st (kept
// between runs, as a database is) and returns the replay, its error,
// stdout and stderr. hook, when set, is called after each message with the
// cancel function of the run's context.
func replayInto(t *testing.T, st store.Store, hook func(cancel func()), args ...string) (*replay, string, string, error) {
	t.Helper()
	r, stdout, stderr := newTestReplay(t, args...)
	useStore(t, r, st)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if hook != nil {
		r.afterEach = func() { hook(cancel) }
	}
	err := r.run(ctx)
	return r, stdout.String(), stderr.String(), err
}

// ledgerOf returns a store's ledger as -export writes it.
func ledgerOf(t *testing.T, st store.Store) []string {
	t.Helper()
	var out []string
	for after := int64(0); ; {
		page, err := st.Scan(context.Background(), after, 500)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, tr := range page {
			out = append(out, fmt.Sprintf("%s %s %s", tr.MessageID, tr.Record, tr.Method))
		}
		after = page[len(page)-1].ID
	}
	slices.Sort(out)
	return out
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

const (
	caseMsg = "From: Fabrikam Support <support@fabrikam.example>\nTo: jane@contoso.example\nSubject: Your case\n" +
		"Date: Mon, 2 Mar 2026 09:00:00 +0000\nMessage-ID: <case-1@crm.fabrikam.example>\n\nWe are on it.\n"
	replyMsg = "From: jane@contoso.example\nTo: support@fabrikam.example\nSubject: RE: Your case\n" +
		"Date: Mon, 2 Mar 2026 10:00:00 +0000\nMessage-ID: <%s@contoso.example>\nIn-Reply-To: <case-1@crm.fabrikam.example>\n\nThanks.\n"
)

// TestFoldersProcessed: by default the replay reads what Dynamics 365
// reads — Inbox, the folders with a rule, and Sent — and not a reply lying
// in an unmapped sub-folder (it used to be correlated and tracked);
// -all-folders reads every folder and -sent=false leaves Sent out.
func TestFoldersProcessed(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "mail")
	writeFile(t, filepath.Join(md, "cur", "1"), caseMsg)
	writeFile(t, filepath.Join(md, "Private", "cur", "2"), fmt.Sprintf(replyMsg, "private"))
	writeFile(t, filepath.Join(md, ".Clients.Contoso", "cur", "3"), fmt.Sprintf(replyMsg, "mapped"))
	writeFile(t, filepath.Join(md, ".Clients.Contoso.Archive", "cur", "4"), fmt.Sprintf(replyMsg, "unmapped-subfolder"))
	writeFile(t, filepath.Join(md, "Sent Items", "cur", "5"), strings.Replace(fmt.Sprintf(replyMsg, "sent"),
		"From: jane@contoso.example\nTo: support@fabrikam.example", "From: support@fabrikam.example\nTo: jane@contoso.example", 1))
	writeFile(t, filepath.Join(dir, "seed.jsonl"), `{"message_id": "case-1@crm.fabrikam.example", "regarding": "incident:CAS-1"}`+"\n")
	writeFile(t, filepath.Join(dir, "folders.json"), `{"mappings": [{"mailbox": "support@fabrikam.example", "folder_id": "Inbox/Clients/Contoso", "folder_path": "Inbox/Clients/Contoso"}]}`)
	args := []string{"-format", "jsonl", "-mailbox", "support@fabrikam.example", "-seed", filepath.Join(dir, "seed.jsonl"),
		"-folders", filepath.Join(dir, "folders.json")}

	read := func(extra ...string) (map[string]bool, string) {
		_, stdout, stderr, err := replayInto(t, memstore.New(), nil, append(append(slices.Clone(args), extra...), md)...)
		require.NoError(t, err, stderr)
		got := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var obj struct {
				MessageID string `json:"message_id"`
				Tracked   bool   `json:"tracked"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &obj))
			got[obj.MessageID] = obj.Tracked
		}
		return got, stderr
	}
	for _, tc := range []struct {
		name  string
		flags []string
		want  map[string]bool
	}{
		{"default: Inbox, the mapped folder and Sent", nil, map[string]bool{
			"case-1@crm.fabrikam.example": true, "mapped@contoso.example": true, "sent@contoso.example": true}},
		{"-all-folders", []string{"-all-folders"}, map[string]bool{
			"case-1@crm.fabrikam.example": true, "mapped@contoso.example": true, "sent@contoso.example": true,
			"private@contoso.example": true, "unmapped-subfolder@contoso.example": true}},
		{"-sent=false", []string{"-sent=false"}, map[string]bool{
			"case-1@crm.fabrikam.example": true, "mapped@contoso.example": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stderr := read(tc.flags...)
			assert.Equal(t, tc.want, got)
			if tc.flags == nil {
				assert.Contains(t, stderr, "Inbox/Private (1)", "the folders not read are named")
				assert.Contains(t, stderr, "Inbox/Clients/Contoso/Archive (1)", "a sub-folder of a tracked folder is not tracked unless mapped itself")
			}
		})
	}
}

// TestMaildirEscapes: a link to a file outside the given tree is not
// followed (the file used to be read and tracked), and a dot-folder nested
// in another folder is not the Maildir++ folder of the same name (it used
// to become Inbox/Clients/Contoso and take that folder's rule).
func TestMaildirEscapes(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "mail")
	writeFile(t, filepath.Join(md, "cur", "1"), caseMsg)
	writeFile(t, filepath.Join(dir, "outside.eml"), fmt.Sprintf(replyMsg, "outside"))
	require.NoError(t, os.Symlink(filepath.Join(dir, "outside.eml"), filepath.Join(md, "cur", "2")))
	writeFile(t, filepath.Join(md, "Other", ".Clients.Contoso", "cur", "3"), fmt.Sprintf(replyMsg, "nested"))
	writeFile(t, filepath.Join(dir, "folders.json"), `{"mappings": [{"mailbox": "support@fabrikam.example", "folder_id": "Inbox/Clients/Contoso", "folder_path": "Inbox/Clients/Contoso", "record": "account:contoso"}]}`)
	writeFile(t, filepath.Join(dir, "seed.jsonl"), `{"message_id": "case-1@crm.fabrikam.example", "regarding": "incident:CAS-1"}`+"\n")
	st := memstore.New()
	_, stdout, stderr, err := replayInto(t, st, nil, "-format", "jsonl", "-all-folders", "-mailbox", "support@fabrikam.example",
		"-folders", filepath.Join(dir, "folders.json"), "-seed", filepath.Join(dir, "seed.jsonl"), md)
	require.NoError(t, err, stderr)
	assert.Equal(t, []string{
		"case-1@crm.fabrikam.example incident:CAS-1 None",
		"nested@contoso.example incident:CAS-1 InReplyTo",
	}, ledgerOf(t, st), "the linked file is not tracked; the nested folder's reply is filed by its In-Reply-To, not by the Contoso rule")
	assert.Contains(t, stdout, `"source":"`+filepath.Join(md, "cur", "2")+`"`)
	assert.Contains(t, stdout, "symbolic link not followed")
	assert.Contains(t, stdout, `"folder":"Inbox/Other/.Clients.Contoso"`)
}

// TestUnreadableNamed: an unreadable message is named by file and offset in
// the table and, with -q, on stderr (it used to be named only in jsonl).
func TestUnreadableNamed(t *testing.T) {
	dir := t.TempDir()
	good := "From a@x Mon Mar  2 09:00:00 2026\n" + caseMsg + "\n"
	box := filepath.Join(dir, "box.mbox")
	writeFile(t, box, good+"From b@x Mon Mar  2 10:00:00 2026\nthis is not mail\n")
	where := fmt.Sprintf("%s@%d", box, len(good))
	_, stdout, _, err := replayInto(t, memstore.New(), nil, box)
	require.NoError(t, err, "one message was readable")
	assert.Contains(t, stdout, "unreadable "+where+": ", "the table names it")
	_, stdout, stderr, err := replayInto(t, memstore.New(), nil, "-q", box)
	require.NoError(t, err)
	assert.Empty(t, stdout, "-q prints no table, not even its header")
	assert.Contains(t, stderr, "unreadable "+where+": ", "-q names it on stderr")
}

// TestExitStatus: 0 when done, 1 for unusable flags or an input without a
// readable message (an input with only broken messages used to exit 0), 2
// when the store is lost (it used to report an error per message and exit
// 0).
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "broken", "a.eml"), "this is not mail\n")
	writeFile(t, filepath.Join(dir, "empty.mbox"), "")
	writeFile(t, filepath.Join(dir, "private", "Private", "cur", "1"), caseMsg)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "private", "cur"), 0o755))
	for _, tc := range []struct {
		why  string
		args []string
		want int
		says string
	}{
		{"the embedded sample", []string{"-q"}, exitOK, ""},
		{"only a broken message", []string{"-q", filepath.Join(dir, "broken")}, exitUsage, "no readable message"},
		{"an empty file", []string{"-q", filepath.Join(dir, "empty.mbox")}, exitUsage, "no readable"},
		{"only folders Dynamics does not read", []string{"-q", filepath.Join(dir, "private")}, exitUsage, "-all-folders"},
		{"a bad flag", []string{"-order", "random"}, exitUsage, "-order"},
		{"-export without a persistent store", []string{"-export", "-"}, exitUsage, "persistent"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, tc.want, run(context.Background(), tc.args, &stdout, &stderr), "%s: %s", tc.why, stderr.String())
		assert.Contains(t, stderr.String(), tc.says, tc.why)
	}

	// The store goes away after 40 messages: the run stops at once, says
	// how far it got, and exits 2.
	st := &failingStore{Store: memstore.New(), after: 40}
	r, _, _ := newTestReplay(t, "-q")
	useStore(t, r, st)
	err := r.run(context.Background())
	require.Error(t, err)
	assert.Equal(t, exitStore, exitCode(err), "%v", err)
	assert.Regexp(t, `stopped at message \d+ of 134, \d+ processed by this run and 0 by earlier runs: .*store: unavailable`, err.Error())
	assert.Equal(t, 0, r.stats.errors, "no message is counted as failed: the store is")
	// Every failed call belongs to the one message in hand when the store
	// went away: the audit may still consult the strategies after the
	// winner (each fails and is recorded in its step), then the write
	// fails and the run stops. No further message is tried.
	assert.LessOrEqual(t, st.failures.Load(), int64(len(r.eng.Chain().Correlators)+1), "nothing is tried after the message that met the failure")
}

// failingStore is a store that becomes unavailable after a number of
// calls, as a database server that is shut down.
type failingStore struct {
	store.Store
	after    int64
	calls    atomic.Int64
	failures atomic.Int64
}

func (f *failingStore) fail() error {
	if f.calls.Add(1) > f.after {
		f.failures.Add(1)
		return fmt.Errorf("failingStore: connection refused: %w", store.ErrUnavailable)
	}
	return nil
}

func (f *failingStore) Lookup(ctx context.Context, k correlate.Key, q correlate.Query) ([]correlate.Tracked, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.Lookup(ctx, k, q)
}

func (f *failingStore) Apply(ctx context.Context, b store.Batch) (store.Result, error) {
	if err := f.fail(); err != nil {
		return store.Result{}, err
	}
	return f.Store.Apply(ctx, b)
}

// TestInterruptedRunsLeaveOneLedger: a replay interrupted after k messages
// and run again, for several k, leaves the ledger of one uninterrupted
// run; so does a second run over a finished one, which processes nothing.
// (In-process: the crash test below kills a real process.)
func TestInterruptedRunsLeaveOneLedger(t *testing.T) {
	// No seed for the customers' mail: many messages stay untracked,
	// and would correlate with later ones if processed again after them.
	_, seed, mail := sentSeeded(t, 20)
	args := []string{"-q", "-mailbox", samplegen.Mailbox, "-seed", seed, mail}

	whole := memstore.New()
	r, _, stderr, err := replayInto(t, whole, nil, args...)
	require.NoError(t, err, stderr)
	want := ledgerOf(t, whole)
	untracked := r.stats.processed - r.stats.tracked
	require.Greater(t, untracked, 20, "the input leaves mail untracked, which a naive re-run would process again")
	t.Logf("%d messages, %d tracked", r.stats.processed, len(want))

	st := memstore.New()
	for _, k := range []int{1, 37, 38, 60, 61} {
		n := 0
		_, _, stderr, err := replayInto(t, st, func(cancel func()) {
			if n++; n == k {
				cancel()
			}
		}, args...)
		require.ErrorIs(t, err, context.Canceled, stderr)
	}
	_, _, stderr, err = replayInto(t, st, nil, args...)
	require.NoError(t, err, stderr)
	assert.Equal(t, want, ledgerOf(t, st), "interrupted runs leave one run's ledger")
	again, _, stderr, err := replayInto(t, st, nil, args...)
	require.NoError(t, err, stderr)
	assert.Equal(t, 0, again.stats.processed, "a run after a finished one processes nothing")
	assert.Equal(t, want, ledgerOf(t, st))
}

// TestRerunSkipsTrackedMail: over another copy of the same mail (the
// cursor, written for the first input, does not apply), every message
// tracked by the earlier run is skipped, by Message-ID or, for an email
// without one, by its fingerprint (which the run used to insert again on
// every run).
func TestRerunSkipsTrackedMail(t *testing.T) {
	dir := t.TempDir()
	noID := "From: jane@contoso.example\nTo: support@fabrikam.example\nSubject: no id CRM:0001001\nDate: Mon, 2 Mar 2026 11:00:00 +0000\n\nbody\n"
	for _, d := range []string{"a", "b", "c", "d"} {
		writeFile(t, filepath.Join(dir, d, "cur", "1"), caseMsg)
		writeFile(t, filepath.Join(dir, d, "cur", "2"), fmt.Sprintf(replyMsg, "reply"))
		writeFile(t, filepath.Join(dir, d, "cur", "3"), noID)
	}
	writeFile(t, filepath.Join(dir, "seed.jsonl"), `{"message_id": "case-1@crm.fabrikam.example", "regarding": "incident:CAS-1"}`+"\n")
	st := memstore.New()
	args := []string{"-q", "-filter", "all", "-mailbox", "support@fabrikam.example", "-seed", filepath.Join(dir, "seed.jsonl")}
	first, _, stderr, err := replayInto(t, st, nil, append(slices.Clone(args), filepath.Join(dir, "a"))...)
	require.NoError(t, err, stderr)
	require.Equal(t, 3, first.stats.tracked)
	want := ledgerOf(t, st)
	for _, d := range []string{"b", "c", "d"} {
		r, _, stderr, err := replayInto(t, st, nil, append(slices.Clone(args), filepath.Join(dir, d))...)
		require.NoError(t, err, stderr)
		assert.Equal(t, 3, r.stats.known, "every message was tracked before: skipped\n%s", stderr)
		assert.Equal(t, 0, r.stats.processed)
	}
	again, _, stderr, err := replayInto(t, st, nil, append(slices.Clone(args), filepath.Join(dir, "d"))...)
	require.NoError(t, err, stderr)
	assert.Equal(t, 3, again.stats.earlier, "the same input again: its cursor says it was all processed")
	assert.Equal(t, want, ledgerOf(t, st), "no row added, not even for the email without a Message-ID")
}

// TestExport: -export writes the ledger of the store — message_id,
// regarding and method of every tracked email, sorted by message_id — and
// replays nothing.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "ledger.db")
	first, _, _ := replayWith(t, "-q", "-store", db)
	out := filepath.Join(dir, "ledger.jsonl")
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"-store", db, "-export", out}, &stdout, &stderr), stderr.String())
	assert.Empty(t, stdout.String()+stderr.String(), "nothing replayed, nothing said")
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, first.stats.tracked)
	var ids []string
	methods := map[string]int{}
	for _, l := range lines {
		var obj map[string]string
		require.NoError(t, json.Unmarshal([]byte(l), &obj), l)
		assert.Len(t, obj, 3, "message_id, regarding, method: %s", l)
		ids = append(ids, obj["message_id"])
		methods[obj["method"]]++
	}
	assert.True(t, slices.IsSorted(ids), "sorted by message_id, so two ledgers compare with diff")
	assert.Equal(t, first.stats.seeded+1, methods["None"], "seeded emails and the track-only one were filed without a method")
	assert.Equal(t, 43, methods["InReplyTo"], "47 In-Reply-To matches, of which 4 are auto-replies and a bounce, correlated but not tracked")
	assert.Equal(t, exitUsage, run(context.Background(), []string{"-store", db, "-export", out, "mail/"}, &stdout, &stderr), "-export replays nothing")
}

func TestZeroSec(t *testing.T) {
	assert.Equal(t, int64(zeroSec), time.Time{}.Unix(), "a message without a Date sorts as the zero time did")
}
