package mailbox_test

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
)

// hugeLineFS serves one mbox, "big.mbox": a message whose body is one line
// of size bytes (no newline), then a small message. The content is made up
// as it is read, so the test itself never holds the line.
type hugeLineFS struct{ size int64 }

func (h hugeLineFS) Open(name string) (fs.File, error) {
	if name != "big.mbox" {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	head := "From a@x Thu Aug 22 14:44:07 2002\nSubject: huge\n\n"
	tail := "\n\nFrom b@x Thu Aug 22 14:45:07 2002\nSubject: after\n\nsmall\n"
	return &hugeFile{r: io.MultiReader(strings.NewReader(head), io.LimitReader(repeatReader('a'), h.size), strings.NewReader(tail)),
		size: int64(len(head)) + h.size + int64(len(tail))}, nil
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

type hugeFile struct {
	r    io.Reader
	size int64
}

func (f *hugeFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *hugeFile) Close() error               { return nil }
func (f *hugeFile) Stat() (fs.FileInfo, error) { return hugeInfo{f.size}, nil }

type hugeInfo struct{ size int64 }

func (i hugeInfo) Name() string       { return "big.mbox" }
func (i hugeInfo) Size() int64        { return i.size }
func (i hugeInfo) Mode() fs.FileMode  { return 0o444 }
func (i hugeInfo) ModTime() time.Time { return time.Time{} }
func (i hugeInfo) IsDir() bool        { return false }
func (i hugeInfo) Sys() any           { return nil }

// TestHugeLineIsBounded: a message made of one 256 MiB line is reported as
// too large and skipped, and reading it costs about twice the 32 MiB bound
// in allocations, not the line: the reader used to read a whole line before
// applying the bound (a 400 MB line cost 834 MB).
func TestHugeLineIsBounded(t *testing.T) {
	const size = 256 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var items []mailbox.Item
	require.NoError(t, mailbox.Walk(hugeLineFS{size}, "big.mbox", func(it mailbox.Item) error {
		items = append(items, it)
		return nil
	}))
	runtime.ReadMemStats(&after)
	require.Len(t, items, 2)
	assert.ErrorIs(t, items[0].Err, mailbox.ErrTooLarge)
	assert.Nil(t, items[0].Raw)
	assert.NoError(t, items[1].Err, "the message after the huge one is read")
	assert.Equal(t, "Subject: after\n\nsmall\n", string(items[1].Raw))
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d MiB reading a %d MiB line", allocated>>20, size>>20)
	assert.Less(t, allocated, uint64(3*mailbox.MaxMessageBytes), "bounded by the message bound, not the line length")
}

// TestLongLinesAndQuoting: lines longer than the reader's buffer are kept
// whole and byte for byte, mboxrd quoting is undone at the start of a line
// only, and a "From " line counts as a separator only after a blank line —
// also when the blank line follows a long one.
func TestLongLinesAndQuoting(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	m1 := "Subject: one\n\n" + long + "\n>From quoted\n" + long + ">From not at a line start\n\n"
	m2 := "Subject: two\r\n\r\n" + long + "\r\nFrom inside\r\n"
	mbox := "From a@x Thu Aug 22 14:44:07 2002\n" + m1 + "From b@x " + long + "\n" + m2
	items := collect(t, fstest.MapFS{"box.mbox": {Data: []byte(mbox)}}, "box.mbox")
	require.Len(t, items, 2)
	assert.Equal(t, strings.Replace(m1, "\n>From quoted", "\nFrom quoted", 1), string(items[0].Raw))
	assert.Equal(t, m2, string(items[1].Raw), "a separator line longer than the buffer is dropped whole")
	assert.Equal(t, int64(strings.Index(mbox, "From b@x")), items[1].Offset)
}

// TestSymlinksNotFollowed: a link inside the walked tree, to a file outside
// it (or anywhere), is reported and never read: a Maildir or a folder of
// .eml files cannot pull in a file the user did not give. The walked name
// itself was chosen by the caller and may be a link.
func TestSymlinksNotFollowed(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(root, "secret.eml")
	require.NoError(t, os.WriteFile(secret, []byte("Subject: outside the tree\n\n"), 0o644))
	md := filepath.Join(root, "md")
	for _, d := range []string{"md/cur", "md/new", "eml/sub"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(md, "cur", "1:2,S"), []byte("Subject: inside\n\n"), 0o644))
	require.NoError(t, os.Symlink(secret, filepath.Join(md, "cur", "2:2,S")))
	require.NoError(t, os.Symlink("../../secret.eml", filepath.Join(md, "new", "3")))
	require.NoError(t, os.Symlink(secret, filepath.Join(md, "loose")))
	require.NoError(t, os.Symlink(filepath.Join(root, "eml"), filepath.Join(md, ".Linked")))
	require.NoError(t, os.Symlink(secret, filepath.Join(root, "eml", "sub", "x.eml")))
	require.NoError(t, os.Symlink(md, filepath.Join(root, "md-link")))

	mdLinks := []string{".Linked", "cur/2:2,S", "loose", "new/3"}
	for _, tc := range []struct {
		name  string
		fsys  fs.FS
		walk  string
		read  []string
		links []string
	}{
		{"maildir through os.DirFS", os.DirFS(root), "md", []string{"cur/1:2,S"}, mdLinks},
		{"maildir through os.Root", openRoot(t, md), ".", []string{"cur/1:2,S"}, mdLinks},
		{"the walked name is a link", os.DirFS(root), "md-link", []string{"cur/1:2,S"}, mdLinks},
		{"eml folder", os.DirFS(root), "eml", nil, []string{"sub/x.eml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var read, links []string
			require.NoError(t, mailbox.Walk(tc.fsys, tc.walk, func(it mailbox.Item) error {
				if it.Err != nil {
					assert.ErrorIs(t, it.Err, mailbox.ErrSymlink, it.Source)
					links = append(links, it.Source)
					return nil
				}
				assert.NotContains(t, string(it.Raw), "outside the tree")
				read = append(read, it.Source)
				return nil
			}))
			slices.Sort(links)
			assert.Equal(t, tc.read, read)
			assert.Equal(t, tc.links, links, "every link is reported")
		})
	}
}

func openRoot(t *testing.T, dir string) fs.FS {
	r, err := os.OpenRoot(dir)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r.FS()
}

// TestSpecialFilesNotOpened: a named pipe in cur/ would block a reader
// forever; it is reported instead.
func TestSpecialFilesNotOpened(t *testing.T) {
	md := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(md, "cur"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(md, "cur", "1"), []byte("Subject: a\n\n"), 0o644))
	if err := syscall.Mkfifo(filepath.Join(md, "cur", "2"), 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	var errs []error
	n := 0
	require.NoError(t, mailbox.Walk(os.DirFS(md), ".", func(it mailbox.Item) error {
		if it.Err != nil {
			errs = append(errs, it.Err)
		} else {
			n++
		}
		return nil
	}))
	assert.Equal(t, 1, n)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], mailbox.ErrNotRegular)
}

// TestFolderNames: folder paths are the folders' names, exactly. The
// Maildir++ ".A.B" form means A/B only directly under the root, as in
// Maildir++; a dot-directory inside another folder is a folder of that
// name (it used to become Inbox/Clients/Contoso and take that folder's
// rule). Names are decoded from modified UTF-7 as Dovecot stores them.
func TestFolderNames(t *testing.T) {
	msg := &fstest.MapFile{Data: []byte("Subject: x\n\n")}
	fsys := fstest.MapFS{
		"md/cur/1":                             msg,
		"md/.Clients.Contoso/cur/2":            msg,
		"md/Other/.Clients.Contoso/cur/3":      msg,
		"md/Other/Clients.Contoso/cur/4":       msg,
		"md/.Soci&AOk-t&AOk-.R&-D/cur/5":       msg,
		"md/&ZeVnLIqe-/cur/6":                  msg,
		"md/.Bad&Utf7/cur/7":                   msg,
		"eml/Soci&AOk-t&AOk-/Sub.Folder/8.eml": msg,
		"eml/.Clients.Contoso/9.eml":           msg,
		"eml/Clients/Contoso/10.eml":           msg,
	}
	got := map[string]string{}
	for _, it := range append(collect(t, fsys, "md"), collect(t, fsys, "eml")...) {
		got[path.Base(it.Source)] = it.Folder
	}
	assert.Equal(t, map[string]string{
		"1":      "Inbox",
		"2":      "Inbox/Clients/Contoso",        // Maildir++ at the root
		"3":      "Inbox/Other/.Clients.Contoso", // not Maildir++ below the root
		"4":      "Inbox/Other/Clients.Contoso",  // a dot inside a nested name is part of it
		"5":      "Inbox/Société/R&D",            // modified UTF-7, "&-" is "&"
		"6":      "Inbox/日本語",                    // CJK in modified UTF-7
		"7":      "Inbox/Bad&Utf7",               // not modified UTF-7: kept as written
		"8.eml":  "Inbox/Société/Sub.Folder",     // .eml folders are nested folders
		"10.eml": "Inbox/Clients/Contoso",        // the hidden .Clients.Contoso of eml/ is skipped
	}, got)
}

func TestDecodeFolderName(t *testing.T) {
	for _, tc := range []struct{ in, want, why string }{
		{"Inbox", "Inbox", "plain ASCII"},
		{"&AMk-l&AOk-ments envoy&AOk-s", "Éléments envoyés", "Outlook's French Sent Items"},
		{"Gesendete Elemente", "Gesendete Elemente", "nothing encoded"},
		{"R&-D", "R&D", `"&-" is a literal "&"`},
		{"&2D3eAA-", "😀", "a surrogate pair"},
		{"&2D0-", "&2D0-", "an unpaired surrogate is not valid"},
		{"&AGE-", "&AGE-", `"a" needed no encoding: not what an encoder writes`},
		{"R&D", "R&D", "no closing '-'"},
		{"Soci\xc3\xa9t\xc3\xa9 &AOk-", "Soci\xc3\xa9t\xc3\xa9 &AOk-", "8-bit bytes: a UTF-8 name, not modified UTF-7"},
		{"&A-", "&A-", "bad base64 length"},
	} {
		assert.Equal(t, tc.want, mailbox.DecodeFolderName(tc.in), tc.why)
	}
}

func FuzzDecodeFolderName(f *testing.F) {
	for _, s := range []string{"Inbox", "&AMk-l&AOk-ments", "R&-D", "&2D3eAA-", "&2D0-", "a&b", "&,,,-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := mailbox.DecodeFolderName(s)
		if !strings.Contains(s, "&") && got != s {
			t.Fatalf("%q without '&' changed to %q", s, got)
		}
		if got != s && !utf8.ValidString(got) {
			t.Fatalf("%q decoded to invalid UTF-8 %q", s, got)
		}
	})
}

// TestReaderRereads: every message Walk met is read again by its Path and
// Offset, in file order and shuffled, byte for byte, through a seekable
// file and through one that cannot seek; an offset where no message starts
// is an error the Reader recovers from.
func TestReaderRereads(t *testing.T) {
	long := strings.Repeat("y", 100<<10)
	var mbox strings.Builder
	for i := range 40 {
		fmt.Fprintf(&mbox, "From a@x Thu Aug 22 14:44:07 2002\nSubject: %d\n\n>From %d\n%s\n\n", i, i, long[:i*2500])
	}
	fsys := fstest.MapFS{
		"box.mbox": {Data: []byte(mbox.String())},
		"one.eml":  {Data: []byte("Subject: one\n\n")},
	}
	var items []mailbox.Item
	for _, name := range []string{"box.mbox", "one.eml"} {
		items = append(items, collect(t, fsys, name)...)
	}
	require.Len(t, items, 41)
	order := make([]int, 0, 2*len(items))
	for i := range items {
		order = append(order, i)
	}
	order = append(order, rand.New(rand.NewPCG(1, 2)).Perm(len(items))...)
	for _, tc := range []struct {
		name string
		fsys fs.FS
	}{{"seekable", fsys}, {"not seekable", noSeekFS{fsys}}} {
		t.Run(tc.name, func(t *testing.T) {
			r := mailbox.NewReader(tc.fsys)
			defer r.Close()
			for _, i := range order {
				raw, err := r.Read(items[i].Path, items[i].Offset)
				require.NoError(t, err, items[i].Where())
				require.Equal(t, string(items[i].Raw), string(raw), items[i].Where())
			}
			_, err := r.Read("box.mbox", items[1].Offset+1)
			assert.ErrorIs(t, err, mailbox.ErrNoMessage)
			_, err = r.Read("box.mbox", int64(mbox.Len()))
			assert.ErrorIs(t, err, mailbox.ErrNoMessage, "past the last message")
			raw, err := r.Read("box.mbox", items[3].Offset)
			require.NoError(t, err, "the reader recovers after an error")
			assert.Equal(t, string(items[3].Raw), string(raw))
		})
	}
}

// noSeekFS hides the Seek method of fsys's files.
type noSeekFS struct{ fsys fs.FS }

func (n noSeekFS) Open(name string) (fs.File, error) {
	f, err := n.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	return struct{ fs.File }{f}, nil
}

// FuzzMbox: any bytes after a "From " line are split without panicking or
// error, and the Reader gives back exactly what Walk gave for each offset.
func FuzzMbox(f *testing.F) {
	f.Add([]byte("a@x\nSubject: one\n\n>From q\n\nFrom b\nSubject: two\n\nbody"))
	f.Add([]byte("\n\nFrom \n\nFrom \r\n\r\nFrom x"))
	f.Add([]byte(">>From \n\n>From x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"f.mbox": {Data: append([]byte("From "), data...)}}
		var items []mailbox.Item
		if err := mailbox.Walk(fsys, "f.mbox", func(it mailbox.Item) error {
			items = append(items, it)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			t.Fatal("a file starting with a From line has at least one message")
		}
		r := mailbox.NewReader(fsys)
		defer r.Close()
		for i := len(items) - 1; i >= 0; i-- {
			it := items[i]
			if it.Err != nil {
				t.Fatalf("%s: %v", it.Where(), it.Err)
			}
			raw, err := r.Read(it.Path, it.Offset)
			if err != nil || !bytes.Equal(raw, it.Raw) {
				t.Fatalf("%s: reread %q, %v; walk gave %q", it.Where(), raw, err, it.Raw)
			}
		}
	})
}
