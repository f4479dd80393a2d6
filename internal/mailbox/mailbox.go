// Package mailbox reads stored mail the way a mailbox sync meets it: mbox
// files, Maildir trees (with Maildir++ ".Sub.Folder" or nested "Sub/Folder"
// sub-folders) and folders of .eml files, yielding each message with where it
// came from and the mail folder it sits in.
package mailbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Inbox is the folder path of a Maildir's root (and of loose files).
const Inbox = "Inbox"

// MaxMessageBytes bounds one message; a longer one is reported as an error
// item and skipped.
const MaxMessageBytes = 32 << 20

// An Item is one message read from a mailbox, or the error of one that could
// not be read.
type Item struct {
	// Source names the file, relative to the walked root ("cur/17:2,S",
	// "archive.mbox").
	Source string
	// Offset is the byte offset of the message in an mbox file, -1 for a
	// message file.
	Offset int64
	// Folder is the mail folder path, "/"-separated, rooted at Inbox:
	// "Inbox", "Inbox/Clients/Contoso".
	Folder string
	// Raw is the message (for mbox, without the "From " separator line and
	// with mboxrd ">From " quoting undone).
	Raw []byte
	// Err reports a message that could not be read; Raw is then nil.
	Err error
}

// Where returns "source" or "source@offset".
func (it Item) Where() string {
	if it.Offset >= 0 {
		return fmt.Sprintf("%s@%d", it.Source, it.Offset)
	}
	return it.Source
}

// Walk reads every message under name in fsys and calls fn for each, in a
// stable order (sorted names; mbox messages in file order). name may be an
// mbox file, a single message file, a Maildir, or a folder of .eml files.
// Errors reading one message become an Item with Err set and the walk goes
// on; Walk returns an error only when name itself cannot be read or fn
// returns one.
func Walk(fsys fs.FS, name string, fn func(Item) error) error {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	if !st.IsDir() {
		return walkFile(fsys, name, name, Inbox, fn)
	}
	if isMaildir(fsys, name) {
		return walkMaildir(fsys, name, "", Inbox, fn)
	}
	return walkEMLDir(fsys, name, "", fn)
}

func isMaildir(fsys fs.FS, dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if st, err := fs.Stat(fsys, path.Join(dir, sub)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// walkMaildir reads dir/cur, dir/new and loose files of dir as folder, then
// its sub-folders.
func walkMaildir(fsys fs.FS, dir, rel, folder string, fn func(Item) error) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fn(Item{Source: rel, Offset: -1, Folder: folder, Err: err})
	}
	var subdirs []fs.DirEntry
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && (name == "cur" || name == "new"):
			if err := walkFlat(fsys, path.Join(dir, name), path.Join(rel, name), folder, fn); err != nil {
				return err
			}
		case e.IsDir() && name == "tmp":
			// Messages being delivered: not mail yet.
		case e.IsDir():
			subdirs = append(subdirs, e)
		case !hidden(name) && e.Type().IsRegular():
			if err := walkFile(fsys, path.Join(dir, name), path.Join(rel, name), folder, fn); err != nil {
				return err
			}
		}
	}
	for _, e := range subdirs {
		name := e.Name()
		sub := folder + "/" + name
		if strings.HasPrefix(name, ".") { // Maildir++: ".Clients.Contoso" under the root
			if name == "." || name == ".." || len(name) == 1 {
				continue
			}
			sub = Inbox + "/" + strings.ReplaceAll(name[1:], ".", "/")
		}
		if err := walkMaildir(fsys, path.Join(dir, name), path.Join(rel, name), sub, fn); err != nil {
			return err
		}
	}
	return nil
}

func walkFlat(fsys fs.FS, dir, rel, folder string, fn func(Item) error) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fn(Item{Source: rel, Offset: -1, Folder: folder, Err: err})
	}
	for _, e := range entries {
		if e.IsDir() || hidden(e.Name()) {
			continue
		}
		if err := walkFile(fsys, path.Join(dir, e.Name()), path.Join(rel, e.Name()), folder, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkEMLDir reads the .eml files of a folder tree; sub-folders are mail
// folders under Inbox.
func walkEMLDir(fsys fs.FS, dir, rel string, fn func(Item) error) error {
	var files []string
	err := fs.WalkDir(fsys, dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fn(Item{Source: p, Offset: -1, Folder: Inbox, Err: err})
		}
		if e.IsDir() && p != dir && hidden(e.Name()) {
			return fs.SkipDir
		}
		if !e.IsDir() && strings.EqualFold(path.Ext(e.Name()), ".eml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		relPath := strings.TrimPrefix(strings.TrimPrefix(f, dir), "/")
		folder := Inbox
		if d := path.Dir(relPath); d != "." {
			folder = Inbox + "/" + d
		}
		if err := walkFile(fsys, f, path.Join(rel, relPath), folder, fn); err != nil {
			return err
		}
	}
	return nil
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// walkFile reads one file: an mbox when it starts with a "From " line, else
// one message.
func walkFile(fsys fs.FS, name, rel, folder string, fn func(Item) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fn(Item{Source: rel, Offset: -1, Folder: folder, Err: err})
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(5)
	if string(head) == "From " {
		return readMbox(br, rel, folder, fn)
	}
	raw, err := io.ReadAll(io.LimitReader(br, MaxMessageBytes+1))
	if err == nil && len(raw) > MaxMessageBytes {
		err = errTooLarge
	}
	if err != nil {
		return fn(Item{Source: rel, Offset: -1, Folder: folder, Err: err})
	}
	return fn(Item{Source: rel, Offset: -1, Folder: folder, Raw: raw})
}

var errTooLarge = errors.New("mailbox: message larger than 32 MiB")

// readMbox splits an mbox at "From " lines that follow a blank line (or
// start the file), undoing mboxrd quoting (">From " → "From ", ">>From " →
// ">From ").
func readMbox(br *bufio.Reader, rel, folder string, fn func(Item) error) error {
	var (
		cur      []byte
		start    int64 = -1
		off      int64
		prevBlnk = true
		tooLarge bool
	)
	flush := func() error {
		if start < 0 {
			return nil
		}
		it := Item{Source: rel, Offset: start, Folder: folder, Raw: cur}
		if tooLarge {
			it.Raw, it.Err = nil, errTooLarge
		}
		cur, tooLarge = nil, false
		return fn(it)
	}
	for {
		line, err := br.ReadBytes('\n')
		if n := int64(len(line)); n > 0 {
			switch {
			case prevBlnk && bytes.HasPrefix(line, []byte("From ")):
				if err := flush(); err != nil {
					return err
				}
				start = off
			case start >= 0:
				if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
					line = line[1:]
				}
				if len(cur)+len(line) > MaxMessageBytes {
					tooLarge = true
				} else if !tooLarge {
					cur = append(cur, line...)
				}
			}
			prevBlnk = len(bytes.TrimRight(line, "\r\n")) == 0
			off += n
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fn(Item{Source: rel, Offset: off, Folder: folder, Err: err})
		}
	}
	return flush()
}
