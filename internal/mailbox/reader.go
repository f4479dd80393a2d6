package mailbox

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
)

// maxOpen is how many mbox files a Reader keeps open.
const maxOpen = 8

// A Reader reads again, one at a time, the messages Walk met in an fs.FS,
// by their Item's Path and Offset. It keeps the last mbox files it read
// open, and reads on without seeking when asked for the message that
// follows the one it read last (mail sorted by date is mostly in file
// order). A Reader is not safe for concurrent use; Close it when done.
type Reader struct {
	fsys fs.FS
	open []*openMbox // most recently used last
}

type openMbox struct {
	path string
	f    fs.File
	s    mboxScanner
}

// NewReader returns a Reader of the messages in fsys.
func NewReader(fsys fs.FS) *Reader { return &Reader{fsys: fsys} }

// Read returns the message at path: the whole file when offset is
// negative, else the mbox message whose "From " line starts at offset
// (without that line, mboxrd quoting undone, as Walk gave it). A message
// longer than MaxMessageBytes is an error wrapping ErrTooLarge; no mbox
// message at offset, one wrapping ErrNoMessage.
func (r *Reader) Read(path string, offset int64) ([]byte, error) {
	if offset < 0 {
		f, err := r.fsys.Open(path)
		if err != nil {
			return nil, fmt.Errorf("mailbox: %w", err)
		}
		defer f.Close()
		raw, err := readMessage(f)
		if err != nil {
			return nil, fmt.Errorf("mailbox: %s: %w", path, err)
		}
		return raw, nil
	}
	m, err := r.mbox(path)
	if err != nil {
		return nil, err
	}
	if m.s.off != offset {
		if err := r.seek(m, offset); err != nil {
			r.drop(m)
			return nil, fmt.Errorf("mailbox: %s@%d: %w", path, offset, err)
		}
	}
	_, raw, err := m.s.next()
	switch err {
	case nil:
		return raw, nil
	case io.EOF:
		err = ErrNoMessage
	case ErrTooLarge, ErrNoMessage:
	default:
		r.drop(m) // its position is unknown now
	}
	return nil, fmt.Errorf("mailbox: %s@%d: %w", path, offset, err)
}

// mbox returns the open file path, opening it (and closing the least
// recently used one) when needed.
func (r *Reader) mbox(path string) (*openMbox, error) {
	for i, m := range r.open {
		if m.path == path {
			copy(r.open[i:], r.open[i+1:])
			r.open[len(r.open)-1] = m
			return m, nil
		}
	}
	f, err := r.fsys.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	if len(r.open) == maxOpen {
		r.open[0].f.Close()
		r.open = r.open[1:]
	}
	m := &openMbox{path: path, f: f, s: mboxScanner{br: bufio.NewReaderSize(f, bufSize)}}
	r.open = append(r.open, m)
	return m, nil
}

// seek moves m to offset: by Seek when the file can, else by reading it
// again from its start.
func (r *Reader) seek(m *openMbox, offset int64) error {
	if sk, ok := m.f.(io.Seeker); ok {
		if _, err := sk.Seek(offset, io.SeekStart); err != nil {
			return err
		}
		m.s.br.Reset(m.f)
		m.s.off = offset
		return nil
	}
	if offset < m.s.off {
		f, err := r.fsys.Open(m.path)
		if err != nil {
			return err
		}
		m.f.Close()
		m.f = f
		m.s.br.Reset(f)
		m.s.off = 0
	}
	n, err := io.CopyN(io.Discard, m.s.br, offset-m.s.off)
	m.s.off += n
	return err
}

func (r *Reader) drop(m *openMbox) {
	for i, o := range r.open {
		if o == m {
			r.open = append(r.open[:i], r.open[i+1:]...)
			break
		}
	}
	m.f.Close()
}

// Close closes the files r keeps open.
func (r *Reader) Close() error {
	var first error
	for _, m := range r.open {
		if err := m.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	r.open = nil
	return first
}
