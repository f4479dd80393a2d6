package cli_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/internal/cli"
)

func TestRowsTable(t *testing.T) {
	var out bytes.Buffer
	r := cli.NewRows(&out, cli.RowsOptions{Header: "#\tA\tB"})
	r.Write(nil, func() []string { return []string{"x", "long cell"} })
	r.Write(nil, func() []string { return []string{"longer cell", "y"} })
	assert.Empty(t, out.String(), "a block is aligned, then written")
	require.NoError(t, r.Flush())
	assert.Equal(t, "#  A            B\n1  x            long cell\n2  longer cell  y\n", out.String())

	// A long table is written a block at a time: what is held stays
	// bounded, however many rows.
	out.Reset()
	r = cli.NewRows(&out, cli.RowsOptions{Header: "#\tA"})
	cells := func() []string { return []string{strings.Repeat("x", 40)} }
	for range cli.TableBlock - 1 {
		r.Write(nil, cells)
	}
	assert.Empty(t, out.String(), "a block is held until it is whole")
	r.Write(nil, cells)
	assert.Greater(t, strings.Count(out.String(), "\n"), cli.TableBlock/2, "a whole block is written, before Flush")
	require.NoError(t, r.Flush())
	assert.Equal(t, cli.TableBlock+1, strings.Count(out.String(), "\n"))
}

func TestRowsJSON(t *testing.T) {
	var out bytes.Buffer
	r := cli.NewRows(&out, cli.RowsOptions{JSON: true, Header: "#\tA"})
	r.Write(map[string]string{"subject": "<b>&"}, func() []string { panic("no cells for JSON") })
	assert.Empty(t, out.String(), "held until Flush")
	require.NoError(t, r.Flush())
	assert.Equal(t, `{"subject":"<b>&"}`+"\n", out.String(), "one line, no header, HTML left as it is")

	out.Reset()
	r = cli.NewRows(&out, cli.RowsOptions{JSON: true, Live: true})
	r.Write(1, nil)
	assert.Equal(t, "1\n", out.String(), "Live writes each line at once")
}

func TestRowsQuiet(t *testing.T) {
	for _, json := range []bool{false, true} {
		var out bytes.Buffer
		r := cli.NewRows(&out, cli.RowsOptions{JSON: json, Quiet: true, Header: "#\tA"})
		r.Write(1, func() []string { return []string{"x"} })
		r.Note("a note")
		require.NoError(t, r.Flush())
		assert.Equal(t, "a note\n", out.String(), "-q: no header, no row; notes still (json %v)", json)
		assert.True(t, r.Quiet())
	}
}

func TestRowsNote(t *testing.T) {
	var out bytes.Buffer
	r := cli.NewRows(&out, cli.RowsOptions{Header: "#\tA"})
	r.Write(nil, func() []string { return []string{"x"} })
	r.Note("between")
	r.Write(nil, func() []string { return []string{"y"} })
	require.NoError(t, r.Flush())
	assert.Equal(t, "#  A\n1  x\nbetween\n2  y\n", out.String(), "a note ends the block before it and is written at once")
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestRowsFlushError(t *testing.T) {
	r := cli.NewRows(failWriter{}, cli.RowsOptions{JSON: true})
	r.Write(1, nil)
	assert.ErrorContains(t, r.Flush(), "disk full", "an output that cannot be written is reported")

	var out bytes.Buffer
	r = cli.NewRows(&out, cli.RowsOptions{JSON: true})
	r.Write(func() {}, nil)
	r.Write(2, nil)
	assert.ErrorContains(t, r.Flush(), "unsupported type", "a row that cannot be encoded is reported, not dropped in silence")
	assert.Equal(t, "2\n", out.String(), "the rows after it are written")
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"  spaces\tand\r\nlines  ", 20, "spaces and lines"}, // one line: a table row stays one row
		{"exactly10!", 10, "exactly10!"},
		{"eleven runes", 10, "eleven ru…"},
		{"ééééééééééé", 10, "ééééééééé…"}, // runes, not bytes
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, cli.Clip(tt.in, tt.n), "%q", tt.in)
	}
	assert.Equal(t, "2026-03-03T01:31", cli.TableDate("2026-03-03T01:31:00Z"))
	assert.Equal(t, "", cli.TableDate(""))
}
