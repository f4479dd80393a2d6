package correlatetest

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// update is the -update flag of every test binary that imports this
// package.
var update = flag.Bool("update", false, "correlatetest: rewrite the golden files instead of comparing with them")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Golden compares got with the golden file path (relative to the package
// directory; by convention testdata/<name>.golden) and fails tb, showing
// where they first differ, when they are not equal byte for byte. Run with
// -update, it writes got to path instead (creating its folder) and logs it:
//
//	go test ./smartmatch -run TestAccuracy -update
//
// Review the diff of the rewritten files before committing them: a golden
// file is only as right as the last person who read it.
func Golden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatalf("correlatetest: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatalf("correlatetest: %v", err)
		}
		tb.Logf("correlatetest: wrote %s (%d bytes)", path, len(got))
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		tb.Fatalf("correlatetest: golden file %s missing: run the test with -update to write it", path)
	}
	if err != nil {
		tb.Fatalf("correlatetest: %v", err)
	}
	if string(want) != string(got) {
		tb.Errorf("correlatetest: output differs from %s; run with -update after an intended change and review the diff\n%s", path, describe(want, got))
	}
}

// An Outcome is the decision for one message of a test, named so that a
// golden file says which message it is about.
type Outcome struct {
	// Name identifies the message: its file, its Message-ID.
	Name     string
	Decision correlate.Decision
	// Want is the record the message belongs to, when the test knows it;
	// zero when it does not.
	Want correlate.Record
}

// RenderDecisions renders outcomes in their order, deterministically: per
// outcome a line "== name", the Decision's String (winner, class, action,
// steps, conflicts), the winning match's evidence one line each and, when
// Want is set, whether the decision is right, wrong or missed it.
func RenderDecisions(outs []Outcome) []byte {
	var b strings.Builder
	for _, o := range outs {
		b.WriteString("== ")
		b.WriteString(o.Name)
		b.WriteByte('\n')
		b.WriteString(o.Decision.String())
		b.WriteByte('\n')
		for _, e := range o.Decision.Match.Evidence {
			b.WriteString("  evidence ")
			b.WriteString(e.String())
			b.WriteByte('\n')
		}
		if !o.Want.IsZero() {
			fmt.Fprintf(&b, "  want %s: %s\n", o.Want, verdict(o))
		}
	}
	return []byte(b.String())
}

// verdict returns "right", "wrong" or "missed" for an outcome with Want.
func verdict(o Outcome) string {
	switch {
	case !o.Decision.Found():
		return "missed"
	case o.Decision.Match.Record == o.Want:
		return "right"
	}
	return "wrong"
}

// A Summary counts a set of decisions by what decided them. Its String is
// deterministic, for golden files that pin a whole corpus's outcome in a
// few lines without copying its mail.
type Summary struct {
	// Decisions counts the outcomes; Found those that name a record;
	// Tracked those whose Decision says to track the message.
	Decisions, Found, Tracked int
	// Right, Wrong and Missed count the outcomes with a Want: the record
	// found is Want, another record, or none.
	Right, Wrong, Missed int
	// Winners counts found decisions by "strategy method" of the winning
	// match; Classes counts every decision by class, Actions by action,
	// Refused the refused steps by strategy.
	Winners, Classes, Actions, Refused map[string]int
	// Conflicts counts the decisions with conflicts.
	Conflicts int
}

// Summarize counts outs.
func Summarize(outs []Outcome) Summary {
	s := Summary{Winners: map[string]int{}, Classes: map[string]int{}, Actions: map[string]int{}, Refused: map[string]int{}}
	for _, o := range outs {
		d := o.Decision
		s.Decisions++
		if d.Found() {
			s.Found++
			s.Winners[d.Match.Strategy+" "+d.Match.Method.String()]++
		}
		if d.Track() {
			s.Tracked++
		}
		if !o.Want.IsZero() {
			switch verdict(o) {
			case "right":
				s.Right++
			case "wrong":
				s.Wrong++
			default:
				s.Missed++
			}
		}
		s.Classes[orDefault(d.Class(), "normal")]++
		s.Actions[orDefault(d.Action, "proceed")]++
		for _, st := range d.Steps {
			if st.Refused != "" {
				s.Refused[st.Strategy]++
			}
		}
		if len(d.Conflicts) > 0 {
			s.Conflicts++
		}
	}
	return s
}

// String returns the counts one per line, maps in key order, zero counts of
// the optional parts left out.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "decisions %d\nfound %d\ntracked %d\n", s.Decisions, s.Found, s.Tracked)
	if s.Right+s.Wrong+s.Missed > 0 {
		fmt.Fprintf(&b, "right %d\nwrong %d\nmissed %d\n", s.Right, s.Wrong, s.Missed)
	}
	if s.Conflicts > 0 {
		fmt.Fprintf(&b, "with conflicts %d\n", s.Conflicts)
	}
	writeCounts(&b, "winner", s.Winners)
	writeCounts(&b, "class", s.Classes)
	writeCounts(&b, "action", s.Actions)
	writeCounts(&b, "refused", s.Refused)
	return b.String()
}

func writeCounts(b *strings.Builder, label string, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(label)
		b.WriteByte(' ')
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(m[k]))
		b.WriteByte('\n')
	}
}

// GoldenDecisions compares [RenderDecisions] of outs with the golden file
// path (see [Golden]).
func GoldenDecisions(tb testing.TB, path string, outs []Outcome) {
	tb.Helper()
	Golden(tb, path, RenderDecisions(outs))
}

// GoldenSummary compares the [Summarize] of outs with the golden file path
// (see [Golden]).
func GoldenSummary(tb testing.TB, path string, outs []Outcome) {
	tb.Helper()
	Golden(tb, path, []byte(Summarize(outs).String()))
}

// describe returns the first lines where want and got differ, with counts.
func describe(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	i := 0
	for i < len(wl) && i < len(gl) && wl[i] == gl[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d (want %d lines, got %d):\n", i+1, len(wl), len(gl))
	for j := i; j < i+5; j++ {
		if j < len(wl) {
			fmt.Fprintf(&b, "- %s\n", wl[j])
		}
	}
	for j := i; j < i+5; j++ {
		if j < len(gl) {
			fmt.Fprintf(&b, "+ %s\n", gl[j])
		}
	}
	return b.String()
}

// orDefault returns v, or def when v is empty (a Decision's Class and
// Action are empty for a normal message and for proceed).
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
