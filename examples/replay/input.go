package main

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
)

// The replay reads its input twice, so that what it holds does not grow
// with the messages: a first pass (scan) walks every input, parses each
// message's header for its Date and keeps only where the message is and
// when it was written (an entry: 32 bytes, plus the file name of a
// message file); the entries are sorted; a second pass reads each
// message again from its file and offset when its turn comes (read), and
// lets it go once processed. An mbox of a million small messages is held
// as a few tens of megabytes of entries, not as its messages.

// A root is one input PATH: the file system it is read from.
type root struct {
	fsys   fs.FS
	reader *mailbox.Reader
	// prefix is joined with a message's path to name it for people: the
	// PATH given for a directory, its directory for a file.
	prefix string
	close  func() error
}

// A fileRef is one file that holds messages.
type fileRef struct {
	path   string // the file's name in its root's fsys
	root   int32
	folder int32 // index in plan.folders
}

// An entry is one message to process: where it is and what orders it.
type entry struct {
	sec  int64 // Date, Unix seconds; the zero time when unknown (sorts first)
	off  int64 // offset in an mbox, -1 for a message file
	id   uint64
	file int32
	nsec int32
}

// entryKey names the entry of a message that could not even be walked.
type entryKey struct {
	file int32
	off  int64
}

// A plan is the result of the first pass: every message to process, in
// processing order once sorted.
type plan struct {
	roots   []*root
	files   []fileRef
	folders []string
	entries []entry
	// walkErrs are the messages Walk could not read (too large, a link
	// not followed, an unreadable directory): they cannot be read again.
	walkErrs map[entryKey]error
	// readable counts the messages whose header could be parsed.
	readable int
	// skipped counts the messages of each folder that is not processed.
	skipped map[string]int
}

func (p *plan) close() {
	for _, r := range p.roots {
		r.reader.Close()
		if r.close != nil {
			r.close()
		}
	}
}

// where names a message for people: "file" or "file@offset".
func (p *plan) where(e entry) string {
	f := p.files[e.file]
	src := filepath.Join(p.roots[f.root].prefix, filepath.FromSlash(f.path))
	if e.off >= 0 {
		return fmt.Sprintf("%s@%d", src, e.off)
	}
	return src
}

// scan is the first pass over the inputs (or the embedded sample): it
// plans every message of a folder the replay processes (see processes),
// in input order.
func (r *replay) scan() (*plan, error) {
	p := &plan{walkErrs: map[entryKey]error{}, skipped: map[string]int{}}
	folderIndex := map[string]int32{}
	walk := func(rt *root, name string) (int, error) {
		ri := int32(len(p.roots))
		p.roots = append(p.roots, rt)
		n := 0
		lastPath, lastFile := "", int32(-1)
		err := mailbox.Walk(rt.fsys, name, func(it mailbox.Item) error {
			if !r.processes(it.Folder) {
				p.skipped[it.Folder]++
				return nil
			}
			n++
			if it.Path != lastPath || lastFile < 0 {
				fi, ok := folderIndex[it.Folder]
				if !ok {
					fi = int32(len(p.folders))
					folderIndex[it.Folder] = fi
					p.folders = append(p.folders, it.Folder)
				}
				lastPath, lastFile = it.Path, int32(len(p.files))
				p.files = append(p.files, fileRef{path: it.Path, root: ri, folder: fi})
			}
			e := entry{file: lastFile, off: it.Offset}
			h := fnv.New64a()
			if it.Err != nil {
				p.walkErrs[entryKey{e.file, e.off}] = it.Err
				fmt.Fprintf(h, "%s@%d", it.Path, it.Offset)
				e.id = h.Sum64()
				e.sec = zeroSec
				p.entries = append(p.entries, e)
				return nil
			}
			m, _ := correlate.ParseMessage(bytes.NewReader(it.Raw), nil)
			// The id orders nothing; it lets a later run check that it
			// meets the same messages in the same order (see cursor).
			if m != nil && m.MessageID != "" {
				h.Write([]byte(m.MessageID))
			} else {
				h.Write(it.Raw)
			}
			e.id = h.Sum64()
			e.sec = zeroSec
			if m != nil {
				p.readable++
				e.sec, e.nsec = m.Date.Unix(), int32(m.Date.Nanosecond())
			}
			p.entries = append(p.entries, e)
			return nil
		})
		return n, err
	}
	if len(r.cfg.paths) == 0 {
		sub, err := fs.Sub(sampleFS, "sample/mail")
		if err != nil {
			return nil, err
		}
		if _, err := walk(&root{fsys: sub, reader: mailbox.NewReader(sub), prefix: "sample"}, "."); err != nil {
			return nil, err
		}
		return p, nil
	}
	readable := 0
	for _, path := range r.cfg.paths {
		rt, name, err := openRoot(path)
		if err != nil {
			fmt.Fprintf(r.stderr, "replay: %s: %v\n", path, err)
			continue
		}
		n, err := walk(rt, name)
		if err != nil {
			fmt.Fprintf(r.stderr, "replay: %s: %v\n", path, err)
			continue
		}
		if n > 0 {
			readable++
		}
	}
	if readable == 0 && len(p.skipped) == 0 {
		p.close()
		return nil, errors.New("no readable input")
	}
	return p, nil
}

// zeroSec is the Unix time of the zero time.Time (January 1, year 1 UTC):
// a message without a (readable) Date sorts first, as the zero time did.
const zeroSec = -62135596800

// openRoot opens PATH for reading: a directory is the root itself, a file
// is read in its directory. The root is opened with os.OpenRoot, so that
// no name inside it — a symbolic link, "../" — reaches a file outside it
// (internal/mailbox does not follow links either; this makes it hold even
// for a file replaced by a link while the replay runs). PATH itself is the
// user's choice and may be a link.
func openRoot(path string) (*root, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, "", err
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, "", err
	}
	dir, name, prefix := filepath.Dir(real), filepath.Base(real), filepath.Dir(path)
	if st.IsDir() {
		dir, name, prefix = real, ".", path
	}
	osr, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	fsys := osr.FS()
	return &root{fsys: fsys, reader: mailbox.NewReader(fsys), prefix: prefix, close: osr.Close}, name, nil
}

// order sorts the plan's entries by Date; ties keep input order.
func (p *plan) order() {
	slices.SortStableFunc(p.entries, func(a, b entry) int {
		if a.sec != b.sec {
			if a.sec < b.sec {
				return -1
			}
			return 1
		}
		return int(a.nsec) - int(b.nsec)
	})
}

// read is the second pass for one message: it reads it again and parses
// it, body kept (a bounce is correlated through the message it returns).
func (p *plan) read(e entry) *input {
	f := p.files[e.file]
	// Source names the message whole ("file@offset" for an mbox), so
	// that Where, which the output uses, gives it as it is.
	in := &input{item: mailbox.Item{Source: p.where(e), Offset: -1, Folder: p.folders[f.folder]}}
	if err, ok := p.walkErrs[entryKey{e.file, e.off}]; ok {
		in.problem = err
		return in
	}
	raw, err := p.roots[f.root].reader.Read(f.path, e.off)
	if err != nil {
		in.problem = err
		return in
	}
	m, err := correlate.ParseMessage(bytes.NewReader(raw), &correlate.ParseOptions{KeepBody: true})
	in.problem = err
	in.msg = m
	return in
}

// processes reports whether the replay reads the messages of folder. By
// default it reads what Dynamics 365 server-side synchronization reads:
// Inbox, the folders with a folder rule (folder-level tracking) and the
// Sent folder (which Dynamics reads when AutoTrackSentFolderItems is on:
// a mailbox export's Sent folder is the mailbox's outgoing mail; -sent=false
// leaves it out). A reply in an unmapped sub-folder (Inbox/Private) is
// never processed by Dynamics, so neither by the replay; -all-folders
// reads everything.
func (r *replay) processes(folder string) bool {
	switch {
	case r.cfg.allFolders, strings.EqualFold(folder, mailbox.Inbox):
		return true
	case r.cfg.sent && isSentFolder(folder):
		return true
	case r.rules != nil:
		_, ok := r.rules.Mapping(r.cfg.mailbox, folder)
		return ok
	}
	return false
}

// isSentFolder reports whether folder is the mailbox's Sent folder: a
// folder directly under the root (where a Maildir keeps it) with one of the
// usual names.
func isSentFolder(folder string) bool {
	rest, ok := strings.CutPrefix(folder, mailbox.Inbox+"/")
	return ok && !strings.Contains(rest, "/") && cli.SentFolderName(rest)
}
