package routereval

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
)

// A Report is the outcome of Evaluate.
type Report struct {
	// Strategies is the chain the runs used.
	Strategies []mailcorrelate.Strategy
	// Messages counts the items; Seeds the seeds among them; Scored the
	// labeled messages that are not seeds; Expected those of them about a
	// record (the denominator of recall).
	Messages, Seeds, Scored, Expected int
	// Runs are the runs, in the order RunImproved, RunDynamics, RunPlain.
	Runs []Run
}

// Run returns the run with the given name, or nil.
func (r *Report) Run(name string) *Run {
	for i := range r.Runs {
		if r.Runs[i].Name == name {
			return &r.Runs[i]
		}
	}
	return nil
}

// Recall returns the share of the expected records that t found.
func (r *Report) Recall(t Tally) float64 { return ratio(t.Correct, r.Expected) }

// A Run is the outcome of one replay.
type Run struct {
	Name string
	// All counts every record the run assigned; ByMethod by the method of
	// the match (correlate.Method.String(), PlainMethod for the plain
	// rule).
	All      Tally
	ByMethod map[string]Tally
	// Wrong are the messages filed under another record than their label;
	// Missed those about a record that the run filed under none.
	Wrong, Missed []Outcome
}

// A Tally counts assigned records and the correct ones among them.
type Tally struct{ Assigned, Correct int }

// Precision returns Correct / Assigned, 1 when nothing was assigned.
func (t Tally) Precision() float64 { return ratio(t.Correct, t.Assigned) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// An Outcome is one message a run got wrong or missed.
type Outcome struct {
	Source, MessageID, Subject string
	// Want is the label, Got the record found (zero when missed).
	Want, Got correlate.Record
	// Method is the method of the match ("" when missed); Reason the
	// match's reason, or for a miss why the first strategy that looked at
	// it did not match.
	Method, Reason string
}

// trackedRef matches the names of tracked emails in reasons.
var trackedRef = regexp.MustCompile(`tracked emails? \d+( \([^)]*\))?( and \d+ more)?|\d+(\.\d+)?`)

// Reasons counts outcomes by reason, with tracked-email ids, records and
// numbers replaced by placeholders so that the same reason counts once,
// most frequent first.
func Reasons(outs []Outcome) []ReasonCount {
	counts := map[string]int{}
	for _, o := range outs {
		counts[generic(o.Reason)]++
	}
	out := make([]ReasonCount, 0, len(counts))
	for r, n := range counts {
		out = append(out, ReasonCount{Reason: r, N: n})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		if a.N != b.N {
			return b.N - a.N
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return out
}

// generic replaces the specifics of a reason by placeholders.
func generic(r string) string {
	r = trackedRef.ReplaceAllStringFunc(r, func(s string) string {
		if strings.HasPrefix(s, "tracked") {
			return "tracked email N"
		}
		return "N"
	})
	// "sharing a@b.example": the address is specific.
	if i := strings.Index(r, ", sharing "); i >= 0 {
		r = r[:i] + ", sharing …"
	}
	return r
}

// A ReasonCount is a reason and how many outcomes gave it.
type ReasonCount struct {
	Reason string
	N      int
}

// Write prints the report: one line per run with precision and recall, one
// per method, then, with details, the reasons of the misses and every wrong
// record.
func (r *Report) Write(w io.Writer, details bool) error {
	var b strings.Builder
	names := make([]string, len(r.Strategies))
	for i, s := range r.Strategies {
		names[i] = string(s)
	}
	fmt.Fprintf(&b, "%d messages, %d seeds, %d scored (%d about a record); chain %s, header strategies off\n",
		r.Messages, r.Seeds, r.Scored, r.Expected, strings.Join(names, ","))
	for _, run := range r.Runs {
		fmt.Fprintf(&b, "  %-9s precision %6.2f%% (%d/%d)  recall %6.2f%% (%d/%d)\n", run.Name,
			100*run.All.Precision(), run.All.Correct, run.All.Assigned, 100*r.Recall(run.All), run.All.Correct, r.Expected)
		methods := make([]string, 0, len(run.ByMethod))
		for m := range run.ByMethod {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		for _, m := range methods {
			t := run.ByMethod[m]
			fmt.Fprintf(&b, "    %-17s precision %6.2f%% (%d/%d)  recall share %6.2f%%\n", m,
				100*t.Precision(), t.Correct, t.Assigned, 100*r.Recall(t))
		}
	}
	if details {
		for _, run := range r.Runs {
			if len(run.Missed) > 0 {
				fmt.Fprintf(&b, "%s: why %d messages were missed\n", run.Name, len(run.Missed))
				for _, rc := range Reasons(run.Missed) {
					fmt.Fprintf(&b, "  %4d  %s\n", rc.N, rc.Reason)
				}
			}
			for _, o := range run.Wrong {
				fmt.Fprintf(&b, "%s: wrong %s %q: got %s by %s, want %s: %s\n", run.Name, o.Source, cli.Clip(o.Subject, 60),
					o.Got, o.Method, o.Want, o.Reason)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
