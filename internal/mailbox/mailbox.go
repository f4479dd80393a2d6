// Package mailbox reads stored mail the way a mailbox sync meets it: mbox
// files, Maildir trees (with Maildir++ ".Sub.Folder" or nested "Sub/Folder"
// sub-folders) and folders of .eml files, yielding each message with where it
// came from and the mail folder it sits in.
//
// Walk reads every message once; a Reader reads one again by the Path and
// Offset Walk gave it, so a caller that must order a large mailbox can hold
// where each message is instead of the message itself.
//
// Input is untrusted: a message longer than MaxMessageBytes is reported and
// skipped without being held (however long its lines), and symbolic links
// inside the walked tree are reported, never followed, so a link cannot pull
// a file from outside the tree into the mailbox.
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

var (
	// ErrTooLarge is the error of a message longer than MaxMessageBytes.
	ErrTooLarge = errors.New("mailbox: message larger than 32 MiB")
	// ErrSymlink is the error of a symbolic link met inside the walked
	// tree: it is not followed, wherever it points.
	ErrSymlink = errors.New("mailbox: symbolic link not followed")
	// ErrNotRegular is the error of a device, pipe or socket met where a
	// message file was expected: it is not opened.
	ErrNotRegular = errors.New("mailbox: not a regular file")
	// ErrNoMessage is returned by Reader.Read when no mbox message starts
	// at the offset asked for (the file changed since it was walked).
	ErrNoMessage = errors.New("mailbox: no mbox message at this offset")
)

// An Item is one message read from a mailbox, or the error of one that could
// not be read.
type Item struct {
	// Source names the file, relative to the walked root ("cur/17:2,S",
	// "archive.mbox").
	Source string
	// Path is the file's name in the walked fs.FS: what Reader.Read takes.
	Path string
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
//
// name itself may be a symbolic link (the caller chose it); links met
// inside the tree are reported with ErrSymlink and not followed.
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

// badEntry returns the error of a directory entry that is not opened: a
// symbolic link or a special file; nil for a regular file or a directory.
func badEntry(e fs.DirEntry) error {
	switch t := e.Type(); {
	case t&fs.ModeSymlink != 0:
		return ErrSymlink
	case e.IsDir() || t.IsRegular():
		return nil
	}
	return ErrNotRegular
}

// walkMaildir reads dir/cur, dir/new and loose files of dir as folder, then
// its sub-folders.
//
// Sub-folder names follow the layout they come from, exactly: at the root
// of the Maildir, ".Clients.Contoso" is the Maildir++ folder
// Inbox/Clients/Contoso; anywhere below, a directory is one folder named
// as it is ("Other/.Clients.Contoso" is Inbox/Other/.Clients.Contoso, not
// a second way to reach Inbox/Clients/Contoso). Names are decoded from
// IMAP's modified UTF-7, as Dovecot and Courier store them on disk.
func walkMaildir(fsys fs.FS, dir, rel, folder string, fn func(Item) error) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fn(Item{Source: rel, Path: dir, Offset: -1, Folder: folder, Err: err})
	}
	var subdirs []fs.DirEntry
	for _, e := range entries {
		name := e.Name()
		p, r := path.Join(dir, name), path.Join(rel, name)
		if hidden(name) && !e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
			continue // dovecot-uidlist's hidden siblings, editor files
		}
		if err := badEntry(e); err != nil {
			if err := fn(Item{Source: r, Path: p, Offset: -1, Folder: folder, Err: err}); err != nil {
				return err
			}
			continue
		}
		switch {
		case e.IsDir() && (name == "cur" || name == "new"):
			if err := walkFlat(fsys, p, r, folder, fn); err != nil {
				return err
			}
		case e.IsDir() && name == "tmp":
			// Messages being delivered: not mail yet.
		case e.IsDir():
			subdirs = append(subdirs, e)
		default:
			if err := walkFile(fsys, p, r, folder, fn); err != nil {
				return err
			}
		}
	}
	for _, e := range subdirs {
		name := e.Name()
		var sub string
		if rel == "" && strings.HasPrefix(name, ".") {
			// Maildir++: ".Clients.Contoso" directly under the root.
			if name == "." || name == ".." || len(name) == 1 {
				continue
			}
			parts := strings.Split(name[1:], ".")
			for i, p := range parts {
				parts[i] = DecodeFolderName(p)
			}
			sub = Inbox + "/" + strings.Join(parts, "/")
		} else {
			sub = folder + "/" + DecodeFolderName(name)
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
		return fn(Item{Source: rel, Path: dir, Offset: -1, Folder: folder, Err: err})
	}
	for _, e := range entries {
		if e.IsDir() || hidden(e.Name()) {
			continue
		}
		p, r := path.Join(dir, e.Name()), path.Join(rel, e.Name())
		if err := badEntry(e); err != nil {
			if err := fn(Item{Source: r, Path: p, Offset: -1, Folder: folder, Err: err}); err != nil {
				return err
			}
			continue
		}
		if err := walkFile(fsys, p, r, folder, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkEMLDir reads the .eml files of a folder tree; sub-folders are mail
// folders under Inbox, named as they are (decoded from modified UTF-7).
func walkEMLDir(fsys fs.FS, dir, rel string, fn func(Item) error) error {
	type file struct {
		p   string
		err error
	}
	var files []file
	err := fs.WalkDir(fsys, dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fn(Item{Source: p, Path: p, Offset: -1, Folder: Inbox, Err: err})
		}
		if e.IsDir() && p != dir && hidden(e.Name()) {
			return fs.SkipDir
		}
		if !e.IsDir() && !hidden(e.Name()) && strings.EqualFold(path.Ext(e.Name()), ".eml") {
			files = append(files, file{p, badEntry(e)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].p < files[j].p })
	for _, f := range files {
		relPath := strings.TrimPrefix(strings.TrimPrefix(f.p, dir), "/")
		if dir == "." {
			relPath = f.p
		}
		folder := Inbox
		if d := path.Dir(relPath); d != "." {
			parts := strings.Split(d, "/")
			for i, p := range parts {
				parts[i] = DecodeFolderName(p)
			}
			folder = Inbox + "/" + strings.Join(parts, "/")
		}
		r := path.Join(rel, relPath)
		if f.err != nil {
			if err := fn(Item{Source: r, Path: f.p, Offset: -1, Folder: folder, Err: f.err}); err != nil {
				return err
			}
			continue
		}
		if err := walkFile(fsys, f.p, r, folder, fn); err != nil {
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
		return fn(Item{Source: rel, Path: name, Offset: -1, Folder: folder, Err: err})
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, bufSize)
	head, _ := br.Peek(len(fromLine))
	if bytes.Equal(head, fromLine) {
		s := &mboxScanner{br: br}
		for {
			start, raw, err := s.next()
			if err == io.EOF {
				return nil
			}
			it := Item{Source: rel, Path: name, Offset: start, Folder: folder, Raw: raw, Err: err}
			if err := fn(it); err != nil {
				return err
			}
			if err != nil && err != ErrTooLarge {
				return nil // the file cannot be read on
			}
		}
	}
	raw, err := readMessage(br)
	if err != nil {
		return fn(Item{Source: rel, Path: name, Offset: -1, Folder: folder, Err: err})
	}
	return fn(Item{Source: rel, Path: name, Offset: -1, Folder: folder, Raw: raw})
}

// readMessage reads a whole message file, at most MaxMessageBytes.
func readMessage(r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxMessageBytes+1))
	if err == nil && len(raw) > MaxMessageBytes {
		err = ErrTooLarge
	}
	if err != nil {
		return nil, err
	}
	return raw, nil
}

// bufSize is the buffer of a file being read, and the longest piece of a
// line handled at once: longer lines are read in pieces, never whole.
const bufSize = 64 << 10

var fromLine = []byte("From ")

// mboxScanner splits an mbox at "From " lines that follow a blank line (or
// start the file), undoing mboxrd quoting (">From " → "From ", ">>From " →
// ">From ").
//
// It reads with ReadSlice, so a line is never held whole: a message is
// bounded by MaxMessageBytes however long its lines are, and a line of any
// length costs at most the reader's buffer. (A ">From " quote is
// recognized when its '>' run fits in that buffer; a longer run is kept
// as written.)
type mboxScanner struct {
	br  *bufio.Reader
	off int64 // file offset of br's next byte
}

// next reads the message whose "From " line is at the reader's position.
// It returns the offset of that line and the message, or: io.EOF when the
// file has no more data; ErrNoMessage when no "From " line is there;
// ErrTooLarge (the message was read past and dropped: the caller may go
// on); any other error from the reader (the caller may not).
func (s *mboxScanner) next() (start int64, raw []byte, err error) {
	start = s.off
	head, err := s.br.Peek(len(fromLine))
	if len(head) == 0 && err == io.EOF {
		return start, nil, io.EOF
	}
	if !bytes.Equal(head, fromLine) {
		if err != nil && err != io.EOF {
			return start, nil, err
		}
		return start, nil, ErrNoMessage
	}
	var (
		lineStart = true  // the next byte starts a line
		blank     = false // the last complete line was blank
		separator = true  // in the "From " line, which is not part of the message
		tooLarge  bool
	)
	for {
		if lineStart && blank {
			if p, _ := s.br.Peek(len(fromLine)); bytes.Equal(p, fromLine) {
				break // the next message
			}
		}
		chunk, rerr := s.br.ReadSlice('\n')
		if len(chunk) > 0 {
			s.off += int64(len(chunk))
			complete := chunk[len(chunk)-1] == '\n'
			if !separator {
				data := chunk
				if lineStart {
					if q := bytes.TrimLeft(data, ">"); len(q) < len(data) && bytes.HasPrefix(q, fromLine) {
						data = data[1:]
					}
				}
				switch {
				case tooLarge:
				case len(raw)+len(data) > MaxMessageBytes:
					tooLarge, raw = true, nil
				default:
					raw = appendDoubling(raw, data)
				}
			}
			blank = lineStart && complete && len(bytes.TrimRight(chunk, "\r\n")) == 0
			lineStart = complete
			if complete {
				separator = false
			}
		}
		switch rerr {
		case nil, bufio.ErrBufferFull:
			continue
		case io.EOF:
		default:
			return start, nil, rerr
		}
		break
	}
	if tooLarge {
		return start, nil, ErrTooLarge
	}
	if raw == nil {
		raw = []byte{}
	}
	return start, raw, nil
}

// appendDoubling appends data to b, doubling b's capacity when it must
// grow (append grows large slices by a quarter, which costs five times
// the final size in allocations on the way to a large message), never
// beyond MaxMessageBytes.
func appendDoubling(b, data []byte) []byte {
	if need := len(b) + len(data); need > cap(b) {
		c := max(2*cap(b), need, 4<<10)
		c = min(c, max(need, MaxMessageBytes))
		nb := make([]byte, len(b), c)
		copy(nb, b)
		b = nb
	}
	return append(b, data...)
}

// DecodeFolderName decodes a folder name stored in IMAP's modified UTF-7
// (RFC 3501 §5.1.3), as Dovecot and Courier name Maildir folders on disk:
// "Soci&AOk-t&AOk-" is "Société", "R&-D" is "R&D". A name that is not valid
// modified UTF-7 (8-bit bytes, a bad "&…-" run) is returned as it is.
func DecodeFolderName(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return s
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return s
		}
		enc := s[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		dec, ok := decodeUTF16Run(enc)
		if !ok {
			return s
		}
		b.WriteString(dec)
	}
	return b.String()
}
