package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// SamplePrefix starts a file name that names a file of [Files.Sample]
// ("sample:seed.jsonl").
const SamplePrefix = "sample:"

// Files opens and reads the files flags name. The zero Files reads the
// operating system's files.
type Files struct {
	// Sample, when set, holds the files "sample:NAME" names (the replay's
	// embedded sample).
	Sample fs.FS
}

// Open opens the file name: "sample:NAME" is NAME in f.Sample, any other
// name a file of the operating system.
func (f Files) Open(name string) (io.ReadCloser, error) {
	if rest, ok := strings.CutPrefix(name, SamplePrefix); ok && f.Sample != nil {
		return f.Sample.Open(rest)
	}
	return os.Open(name)
}

// read opens the file name and decodes it.
func read[T any](f Files, name string, decode func(io.Reader) (T, error)) (T, error) {
	r, err := f.Open(name)
	if err != nil {
		var zero T
		return zero, err
	}
	defer r.Close()
	return decode(r)
}

// ReadLabels reads a seed or labels file (see [DecodeLabels]).
func (f Files) ReadLabels(name string) (map[string]correlate.Record, error) {
	return read(f, name, func(r io.Reader) (map[string]correlate.Record, error) { return DecodeLabels(r, name) })
}

// maxLabelLine bounds one line of a seed or labels file.
const maxLabelLine = 1 << 20

// DecodeLabels reads a seed or labels file from r: JSON Lines of
// {"message_id": "...", "regarding": "type:id"}, "" for an email about no
// record. Ids are normalized as the parser normalizes Message-IDs (angle
// brackets removed, the domain lower-cased), so the map is keyed as
// correlate.Message.MessageID; blank lines are skipped, and a later line
// for the same id replaces an earlier one. A line that is not such an
// object, names no id or no valid record, or is longer than 1 MiB is an
// error that names the file (name) and the line; the lines before it are
// returned with it.
func DecodeLabels(r io.Reader, name string) (map[string]correlate.Record, error) {
	out := map[string]correlate.Record{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLabelLine)
	line := 1
	for ; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l struct {
			MessageID string `json:"message_id"`
			Regarding string `json:"regarding"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return out, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		rec, err := correlate.ParseRecord(l.Regarding)
		if err != nil {
			return out, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		id := correlate.NormalizeMessageID(l.MessageID)
		if id == "" {
			return out, fmt.Errorf("%s:%d: empty message_id", name, line)
		}
		out[id] = rec
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s:%d: %w", name, line, err)
	}
	return out, nil
}

// ReadFolders reads folder rules in the folder package's JSON form.
func (f Files) ReadFolders(name string) (*folder.Rules, error) {
	return read(f, name, func(r io.Reader) (*folder.Rules, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return DecodeFolders(b)
	})
}

// DecodeFolders decodes folder rules in the folder package's JSON form.
func DecodeFolders(b []byte) (*folder.Rules, error) {
	rules := &folder.Rules{}
	if err := json.Unmarshal(b, rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// ReadDirectory reads an address book: JSON Lines of {"address", "record",
// "active", …} (party.LoadDirectory). Lines it cannot use are skipped: the
// directory of the others comes with a *party.LoadError that says which.
// Any other error comes with no directory.
func (f Files) ReadDirectory(name string) (*party.MemDirectory, error) {
	return read(f, name, func(r io.Reader) (*party.MemDirectory, error) {
		dir, err := party.LoadDirectory(r)
		var le *party.LoadError
		if err != nil && !errors.As(err, &le) {
			return nil, err
		}
		return dir, err
	})
}
