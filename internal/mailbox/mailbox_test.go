package mailbox_test

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
)

func collect(t *testing.T, fsys fstest.MapFS, name string) []mailbox.Item {
	t.Helper()
	var items []mailbox.Item
	require.NoError(t, mailbox.Walk(fsys, name, func(it mailbox.Item) error {
		items = append(items, it)
		return nil
	}))
	return items
}

func TestMbox(t *testing.T) {
	mbox := "From a@x Thu Aug 22 14:44:07 2002\nSubject: one\n\n>From the start\n>>From quoted\nFrom inside a line is fine\n\n" +
		"From b@x Thu Aug 22 14:45:07 2002\nSubject: two\n\nbody\n"
	items := collect(t, fstest.MapFS{"box.mbox": {Data: []byte(mbox)}}, "box.mbox")
	require.Len(t, items, 2)
	assert.Equal(t, int64(0), items[0].Offset)
	assert.Equal(t, int64(strings.Index(mbox, "From b@x")), items[1].Offset, "offsets point at each separator")
	assert.Contains(t, string(items[0].Raw), "\nFrom the start\n>From quoted\n", "mboxrd quoting undone")
	assert.Contains(t, string(items[0].Raw), "From inside a line", "a From line not after a blank line is body")
	assert.True(t, strings.HasPrefix(string(items[1].Raw), "Subject: two"), "the separator line is dropped")
	assert.Equal(t, "box.mbox@0", items[0].Where())
	assert.Equal(t, mailbox.Inbox, items[0].Folder)
}

func TestMaildir(t *testing.T) {
	msg := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte("Subject: " + s + "\n\n")} }
	fsys := fstest.MapFS{
		"md/cur/1:2,S":                         msg("cur"),
		"md/new/2":                             msg("new"),
		"md/tmp/3":                             msg("tmp is skipped"),
		"md/loose":                             msg("loose file at the root, notmuch style"),
		"md/.Clients.Contoso/cur/4:2,":         msg("maildir++"),
		"md/Projects/Alpha/new/5":              msg("nested"),
		"md/Projects/Alpha/.hidden":            msg("hidden"),
		"md/dovecot-uidlist":                   msg("a loose non-message file is read too; ParseMessage rejects it"),
		"md/.Clients.Contoso/dovecot-keywords": msg("k"),
	}
	items := collect(t, fsys, "md")
	got := map[string]string{}
	for _, it := range items {
		require.NoError(t, it.Err)
		got[it.Source] = it.Folder
	}
	assert.Equal(t, map[string]string{
		"cur/1:2,S":                         "Inbox",
		"new/2":                             "Inbox",
		"loose":                             "Inbox",
		"dovecot-uidlist":                   "Inbox",
		".Clients.Contoso/cur/4:2,":         "Inbox/Clients/Contoso",
		".Clients.Contoso/dovecot-keywords": "Inbox/Clients/Contoso",
		"Projects/Alpha/new/5":              "Inbox/Projects/Alpha",
	}, got)
}

func TestEMLDir(t *testing.T) {
	fsys := fstest.MapFS{
		"mail/b.eml":         {Data: []byte("Subject: b\n\n")},
		"mail/a.EML":         {Data: []byte("Subject: a\n\n")},
		"mail/notes.txt":     {Data: []byte("not mail")},
		"mail/Clients/x.eml": {Data: []byte("Subject: x\n\n")},
		"mail/.trash/y.eml":  {Data: []byte("Subject: y\n\n")},
		"single/one.eml":     {Data: []byte("Subject: one\n\n")},
	}
	items := collect(t, fsys, "mail")
	var got []string
	for _, it := range items {
		got = append(got, it.Source+" "+it.Folder)
	}
	assert.Equal(t, []string{"Clients/x.eml Inbox/Clients", "a.EML Inbox", "b.eml Inbox"}, got, "sorted, .eml only, hidden folders skipped")
	one := collect(t, fsys, "single/one.eml")
	require.Len(t, one, 1)
	assert.Equal(t, int64(-1), one[0].Offset)
}

func TestWalkMissing(t *testing.T) {
	err := mailbox.Walk(fstest.MapFS{}, "nope", func(mailbox.Item) error { return nil })
	assert.Error(t, err)
}

func TestNotmuchDefaultCorpus(t *testing.T) {
	dir := correlatetest.Path(t, correlatetest.NotmuchDefault)
	n := 0
	require.NoError(t, mailbox.Walk(os.DirFS(dir), ".", func(it mailbox.Item) error {
		require.NoError(t, it.Err)
		n++
		return nil
	}))
	assert.Equal(t, 53, n, "53 files (52 messages, one stored twice) per notmuch/SOURCE.txt")
}
