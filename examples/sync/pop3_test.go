package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/internal/dovecottest"
	"github.com/mailcorrelate/mailcorrelate/internal/pop3fake"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

// sampleInbox returns the embedded sample's Inbox mail, in the order the
// sample delivers it (by date), and writes it as a folder of .eml files
// (the replay's Inbox) in dir.
func sampleInbox(t *testing.T, dir string) []samplegen.Mail {
	t.Helper()
	var out []samplegen.Mail
	for _, m := range samplegen.Generate(nil).Mails {
		if serverFolder(m.Folder) == "INBOX" {
			out = append(out, m)
		}
	}
	require.True(t, slices.IsSortedFunc(out, func(a, b samplegen.Mail) int { return a.Date.Compare(b.Date) }),
		"delivered in date order: the replay's order, and the POP3 message numbers'")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i, m := range out {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d.eml", i+1)), m.Raw, 0o644))
	}
	return out
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

// TestPOP3Flags: what POP3 cannot do is refused with a message that says
// why.
func TestPOP3Flags(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("x\n"), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-pop3", "pop3://a@b"}, "-pop3 needs -password-file"},                                // no credentials
		{[]string{"-pop3", "pop3://a@b", "-password-file", pw, "-folders", pw}, "POP3 has no folders"}, // no folder-level tracking
		{[]string{"-pop3", "pop3://a@b", "-password-file", pw, "-sent"}, "POP3 reads only the Inbox"},  // no Sent
		{[]string{"-pop3", "pop3://a@b", "-imap", "imap://a@b", "-password-file", pw}, "exclude"},      // two mailboxes
		{[]string{"-imap", "imap://a@b", "-password-file", pw, "-delete"}, "-delete is for -pop3"},     // IMAP never deletes
	} {
		_, stderr, code := runSync(t, tc.args...)
		assert.Equal(t, 1, code, "%v", tc.args)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
}

// equivalencePOP3 checks that the sample's Inbox, on a POP3 server (add
// delivers a message; url is the mailbox's URL), synced once, gives what
// the replay gives on the same messages — the rows and the exported
// ledger — with each preset.
func equivalencePOP3(t *testing.T, url, password string, add func(raw []byte, date time.Time) error) {
	dir := t.TempDir()
	mails := sampleInbox(t, filepath.Join(dir, "inbox"))
	for _, m := range mails {
		require.NoError(t, add(m.Raw, m.Date))
	}
	seed, _ := sampleFiles(t)
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte(password), 0o600))
	for _, preset := range []string{"serversidesync", "emailrouter"} {
		t.Run(preset, func(t *testing.T) {
			common := []string{"-mailbox", samplegen.Mailbox, "-seed", seed, "-preset", preset}
			replayDB := "sqlite:" + filepath.Join(dir, preset+"-replay.db")
			want := runReplay(t, append(slices.Clone(common), "-store", replayDB, filepath.Join(dir, "inbox"))...)
			syncDB := "sqlite:" + filepath.Join(dir, preset+"-sync.db")
			stdout, stderr, code := runSync(t, append(slices.Clone(common), "-pop3", url, "-password-file", pw, "-store", syncDB,
				"-once", "-format", "jsonl")...)
			require.Equal(t, 0, code, stderr)
			rows := parseRows(t, stdout)
			compare(t, want, rows)
			for _, r := range rows {
				assert.Equal(t, "INBOX", r.Folder)
			}

			// The same ledger, by each command's -export.
			replayLedger, syncLedger := filepath.Join(dir, preset+"-replay.jsonl"), filepath.Join(dir, preset+"-sync.jsonl")
			_ = runReplay(t, "-store", replayDB, "-export", replayLedger)
			_, stderr, code = runSync(t, "-store", syncDB, "-export", syncLedger)
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, readFile(t, replayLedger), readFile(t, syncLedger), "the exported ledgers are equal")
			assert.NotEmpty(t, readFile(t, syncLedger))
		})
	}
}

// TestEquivalencePOP3: the sample's Inbox over POP3 — the in-process
// server, and Dovecot's POP3 when it runs — gives the records the replay
// gives on the same messages, with the default chain and with the Email
// Router's.
func TestEquivalencePOP3(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/replay")
	}
	t.Run("in-process", func(t *testing.T) {
		srv, err := pop3fake.Start(nil)
		require.NoError(t, err)
		defer srv.Close()
		srv.AddUser("support", "secret")
		equivalencePOP3(t, "pop3://support@"+srv.Addr, "secret", func(raw []byte, _ time.Time) error {
			_, err := srv.Append("support", raw)
			return err
		})
	})
	t.Run("dovecot", func(t *testing.T) {
		s := dovecottest.NeedPOP3(t)
		d := dovecot{Server: s, addr: s.Addr}
		user, password := d.newUser(t)
		c := d.login(t, user, password)
		equivalencePOP3(t, "pop3://"+user+"@"+s.POP3Addr, password, func(raw []byte, date time.Time) error {
			return c.Append("INBOX", nil, date, bytes.NewReader(raw))
		})
	})
}

// TestPOP3Table: the table shows a POP3 message's UIDL where an IMAP
// message's UID goes, and -delete empties the maildrop.
func TestPOP3Table(t *testing.T) {
	srv, err := pop3fake.Start(nil)
	require.NoError(t, err)
	defer srv.Close()
	srv.AddUser("support", "secret")
	dir := t.TempDir()
	mails := sampleInbox(t, filepath.Join(dir, "inbox"))
	for _, m := range mails[:5] {
		_, err := srv.Append("support", m.Raw)
		require.NoError(t, err)
	}
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("secret"), 0o600))
	stdout, stderr, code := runSync(t, "-pop3", "pop3://support@"+srv.Addr, "-mailbox", samplegen.Mailbox, "-password-file", pw,
		"-filter", "all", "-delete", "-once")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "INBOX   00000001", "the UIDL in the UID column")
	assert.Contains(t, stderr, "deleted from the server 5")
	assert.Zero(t, srv.Count("support"), "-delete leaves nothing on the server")
	assert.True(t, strings.HasPrefix(stdout, "#"))
}
