package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// RowsOptions configure [NewRows].
type RowsOptions struct {
	// JSON writes JSON Lines (-format jsonl); else an aligned table.
	JSON bool
	// Header is the table's first line, its columns separated by tabs,
	// the row number's first.
	Header string
	// Quiet writes no row and no header (-q); notes are still written.
	Quiet bool
	// Live writes every JSON line at once, for a command that runs until
	// stopped (a table is written a block of rows at a time whatever
	// Live says: its columns are aligned over the block).
	Live bool
}

// Rows writes a command's rows, one per email: JSON Lines, or a table
// whose columns are aligned over blocks of TableBlock rows, so that it is
// never held whole. It is not safe for concurrent use.
type Rows struct {
	o   RowsOptions
	w   *bufio.Writer
	tw  *tabwriter.Writer
	enc *json.Encoder
	n   int
	err error // the first row that could not be encoded
}

// TableBlock is how many table rows are aligned together.
const TableBlock = 500

// NewRows returns Rows writing to w.
func NewRows(w io.Writer, o RowsOptions) *Rows {
	r := &Rows{o: o, w: bufio.NewWriter(w)}
	if o.JSON {
		r.enc = json.NewEncoder(r.w)
		r.enc.SetEscapeHTML(false)
		return r
	}
	r.tw = tabwriter.NewWriter(r.w, 0, 0, 2, ' ', 0)
	if !o.Quiet {
		fmt.Fprintln(r.tw, o.Header)
	}
	return r
}

// Quiet reports whether rows are left out.
func (r *Rows) Quiet() bool { return r.o.Quiet }

// Write writes one row, unless Quiet: v as a JSON line, or in a table the
// row's number (from 1) and the cells cells returns (called only for a
// table). Errors are returned by Flush.
func (r *Rows) Write(v any, cells func() []string) {
	if r.o.Quiet {
		return
	}
	r.n++
	if r.enc != nil {
		if err := r.enc.Encode(v); err != nil && r.err == nil {
			r.err = err
		}
		if r.o.Live {
			r.w.Flush()
		}
		return
	}
	fmt.Fprintf(r.tw, "%d\t%s\n", r.n, strings.Join(cells(), "\t"))
	if r.n%TableBlock == 0 {
		r.tw.Flush()
	}
}

// Note writes a line for people between the rows (a demo's narration),
// at once; in a table it ends the block of rows before it.
func (r *Rows) Note(s string) {
	if r.tw != nil {
		r.tw.Flush()
	}
	fmt.Fprintln(r.w, s)
	r.w.Flush()
}

// Flush writes what is held and returns the first error met encoding or
// writing.
func (r *Rows) Flush() error {
	var err error
	if r.tw != nil {
		err = r.tw.Flush()
	}
	if ferr := r.w.Flush(); err == nil {
		err = ferr
	}
	if r.err != nil {
		return r.err
	}
	return err
}

// Clip returns s on one line (runs of white space made one space),
// shortened to n runes with an ellipsis when longer.
func Clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// TableDate returns an RFC 3339 date to the minute ("2026-03-03T01:31"),
// "" when date is.
func TableDate(date string) string {
	if len(date) < 16 {
		return date
	}
	return date[:16]
}
