// Package ledger writes and reads the ledger of a store: every tracked
// email's Message-ID, record and method, one JSON object per line, sorted
// by Message-ID (then record and method), so that two ledgers — of two
// runs, two workers, a crashed and resumed run — compare with diff
// whatever order the emails were stored in. The replay and sync commands
// write it with -export; tests compare two runs by it.
package ledger

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// A Line is one tracked email of the ledger.
type Line struct {
	MessageID string `json:"message_id"`
	Regarding string `json:"regarding"`
	Method    string `json:"method"`
}

// A Scanner reads every tracked email in ID order; a store.Store is one.
type Scanner interface {
	Scan(ctx context.Context, after int64, limit int) ([]correlate.Tracked, error)
}

var _ Scanner = store.Store(nil)

// Export writes the ledger of s to w and returns the number of lines. It
// holds the ledger's lines in memory to sort them (about 100 bytes per
// tracked email).
func Export(ctx context.Context, s Scanner, w io.Writer) (int, error) {
	var lines []Line
	var after int64
	for {
		page, err := s.Scan(ctx, after, 1000)
		if err != nil {
			return 0, fmt.Errorf("ledger: scan after %d: %w", after, err)
		}
		if len(page) == 0 {
			break
		}
		for _, t := range page {
			lines = append(lines, Line{MessageID: t.MessageID, Regarding: t.Record.String(), Method: t.Method.String()})
			after = t.ID
		}
	}
	slices.SortFunc(lines, func(a, b Line) int {
		return cmp.Or(strings.Compare(a.MessageID, b.MessageID), strings.Compare(a.Regarding, b.Regarding),
			strings.Compare(a.Method, b.Method))
	})
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i, l := range lines {
		if err := enc.Encode(l); err != nil {
			return i, fmt.Errorf("ledger: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return len(lines), fmt.Errorf("ledger: %w", err)
	}
	return len(lines), nil
}

// Read reads a ledger. A line that is not a JSON object is an error naming
// its number.
func Read(r io.Reader) ([]Line, error) {
	var out []Line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return out, fmt.Errorf("ledger: line %d: %w", n, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("ledger: %w", err)
	}
	return out, nil
}
