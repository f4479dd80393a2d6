package folder_test

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/folder"
)

// corpusMessage is one file of the corpus, parsed, with its folder.
type corpusMessage struct {
	file string
	dir  string // "" for the Maildir root (Inbox), else "bar/baz"
	m    *correlate.Message
}

// loadMaildir reads every message of the corpus, ordered by date then file,
// and places it in mailbox: the root is the Inbox and each folder's path is
// its IMAP name with '.' as delimiter ("INBOX.bar.baz"), its id the
// directory. It skips the test when the corpora are absent.
func loadMaildir(t *testing.T, mailbox string) []corpusMessage {
	t.Helper()
	// notmuch's "default" corpus: real list mail in a Maildir with nested
	// folders (bar, bar/baz, foo, foo/baz).
	maildirCorpus := correlatetest.Path(t, correlatetest.NotmuchDefault)
	var out []corpusMessage
	err := filepath.WalkDir(maildirCorpus, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(maildirCorpus, filepath.Dir(p))
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(rel)
		if base := path.Base(dir); base == "cur" || base == "new" {
			dir = path.Dir(dir) // Maildir's cur/ and new/ belong to their folder
		}
		if dir == "." {
			dir = ""
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		m, err := correlate.ParseMessage(f, nil)
		if m == nil {
			return err
		}
		m.Mailbox = mailbox
		m.FolderID = "INBOX"
		m.FolderPath = "INBOX"
		if dir != "" {
			m.FolderID = dir
			m.FolderPath = "INBOX." + strings.ReplaceAll(dir, "/", ".")
		}
		out = append(out, corpusMessage{file: p, dir: dir, m: m})
		return nil
	})
	require.NoError(t, err)
	slices.SortFunc(out, func(a, b corpusMessage) int {
		if c := a.m.Date.Compare(b.m.Date); c != 0 {
			return c
		}
		return strings.Compare(a.file, b.file)
	})
	return out
}

// TestCorpusMaildir files the real Maildir through the folder stage with
// rules on three of its four folders and compares the outcome with the
// oracle the layout itself gives: every email of a mapped folder is tracked
// under that folder's record (or none, for a track-only folder), and no
// email of the Inbox or of the unmapped subfolder foo/baz is tracked.
func TestCorpusMaildir(t *testing.T) {
	const mb = "user@notmuch.example"
	msgs := loadMaildir(t, mb)
	require.NotEmpty(t, msgs)
	foo := correlate.Record{Type: "account", ID: "foo"}
	baz := correlate.Record{Type: "account", ID: "baz"}
	e := newEnv(t, false,
		mapping(mb, "foo", "INBOX.foo", foo),
		mapping(mb, "bar", "INBOX.bar", correlate.Record{}),
		mapping(mb, "bar/baz", "INBOX.bar.baz", baz))
	rules := map[string]correlate.Record{"foo": foo, "bar": {}, "bar/baz": baz}

	// Oracle: the first mapped folder each Message-ID appears in, by date.
	type want struct {
		rec correlate.Record
		dir string
	}
	expected := map[string]want{}
	for _, cm := range msgs {
		if rec, ok := rules[cm.dir]; ok {
			if _, seen := expected[cm.m.MessageID]; !seen {
				expected[cm.m.MessageID] = want{rec, cm.dir}
			}
		}
	}
	var tp, fp, fn int
	for _, cm := range msgs {
		e.file(t, cm.m)
	}
	ids := map[string]bool{}
	for _, cm := range msgs {
		ids[cm.m.MessageID] = true
	}
	for id := range ids {
		tr, err := e.engine.Lookup(t.Context(), id)
		w, shouldTrack := expected[id]
		switch {
		case err == nil && shouldTrack && tr.Record == w.rec && tr.FolderID == w.dir:
			tp++
		case err == nil:
			fp++
			t.Errorf("%s tracked as %v in %q, want %v", id, tr.Record, tr.FolderID, w)
		case shouldTrack:
			fn++
			t.Errorf("%s not tracked, want %v", id, w)
		}
	}
	precision := float64(tp) / float64(max(tp+fp, 1))
	recall := float64(tp) / float64(max(tp+fn, 1))
	t.Logf("files %d, distinct Message-IDs %d, in mapped folders %d; tracked correctly %d, wrongly %d, missed %d; precision %.3f recall %.3f",
		len(msgs), len(ids), len(expected), tp, fp, fn, precision, recall)
	assert.Equal(t, 1.0, precision)
	assert.Equal(t, 1.0, recall)

	// Changing foo's record re-links exactly the email of foo.
	inFoo := 0
	for _, w := range expected {
		if w.dir == "foo" {
			inFoo++
		}
	}
	n, err := e.rules.SetRecord(t.Context(), e.store, mb, "foo", baz)
	require.NoError(t, err)
	assert.Equal(t, inFoo, n, "SetRecord re-links every email of the folder")

	// Moving every email of foo into the track-only bar keeps its record
	// and takes it out of foo's index.
	moved := 0
	for _, cm := range msgs {
		if cm.dir != "foo" {
			continue
		}
		m := *cm.m
		m.FolderID, m.FolderPath = "bar", "INBOX.bar"
		tr, err := e.rules.Move(t.Context(), e.engine, &m)
		require.NoError(t, err)
		assert.Equal(t, baz, tr.Record, "moved to a track-only folder, the email keeps its record")
		moved++
	}
	n, err = e.rules.SetRecord(t.Context(), e.store, mb, "foo", foo)
	require.NoError(t, err)
	assert.Zero(t, n, "foo is empty after the moves")
	t.Logf("foo held %d emails, re-linked by SetRecord; %d files moved to bar", inFoo, moved)
}

// TestCorpusTwoUsers loads the same Maildir as two users' mailboxes whose
// folder bar maps to different records: Alice's copies are processed first,
// so every email of bar stays Alice's and Bob's rule is reported as a
// conflict on each of them.
func TestCorpusTwoUsers(t *testing.T) {
	alice := loadMaildir(t, "alice@notmuch.example")
	bob := loadMaildir(t, "bob@notmuch.example")
	ra := correlate.Record{Type: "account", ID: "alice"}
	rb := correlate.Record{Type: "account", ID: "bob"}
	e := newEnv(t, false,
		mapping("alice@notmuch.example", "bar", "INBOX.bar", ra),
		mapping("bob@notmuch.example", "bar", "INBOX.bar", rb))
	for _, cm := range alice {
		e.file(t, cm.m)
	}
	conflicts, files, inBar := 0, 0, map[string]bool{}
	for _, cm := range bob {
		d, _ := e.file(t, cm.m)
		if cm.dir != "bar" {
			assert.False(t, d.Track(), "%s: Bob's unmapped folders are not tracked", cm.file)
			continue
		}
		inBar[cm.m.MessageID] = true
		files++
		assert.Equal(t, ra, d.Match.Record, "%s: the first processed wins", cm.file)
		if len(evidence(d.Match, folder.FieldConflict)) == 1 {
			conflicts++
		}
	}
	for id := range inBar {
		assert.Equal(t, ra, e.record(t, id))
	}
	t.Logf("bar holds %d files (%d distinct emails) per user; %d conflicts reported for Bob", files, len(inBar), conflicts)
	assert.NotZero(t, conflicts)
}
