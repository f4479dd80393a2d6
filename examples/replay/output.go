package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/jsonrow"
)

// jsonRow is one line of -format jsonl (internal/jsonrow, shared with the
// HTTP service's /v1/correlate). The field names are a contract (see the
// README); add fields, never rename them.
type jsonRow = jsonrow.Row

func toJSON(rw row) jsonRow {
	in := jsonrow.Input{
		Message:      rw.in.msg,
		Problem:      rw.in.problem,
		Source:       rw.in.item.Where(),
		Folder:       rw.in.item.Folder,
		Decision:     rw.decision,
		Seeded:       rw.seeded,
		Tracked:      rw.tracked,
		Regarding:    rw.regarding,
		Reason:       rw.reason,
		Participants: rw.parties,
	}
	if !rw.seeded && rw.in.msg != nil && rw.err == nil {
		v := rw.verdict
		in.Filter = &v
	}
	return jsonrow.New(in)
}

type output struct {
	format string
	w      *bufio.Writer
	tw     *tabwriter.Writer
	enc    *json.Encoder
	rows   int
	quiet  bool
}

func newOutput(format string, w io.Writer) *output {
	o := &output{format: format, w: bufio.NewWriter(w)}
	if format == "jsonl" {
		o.enc = json.NewEncoder(o.w)
		o.enc.SetEscapeHTML(false)
	} else {
		o.tw = tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(o.tw, "#\tDATE\tSUBJECT\tREGARDING\tMETHOD\tCONF\tREASON")
	}
	return o
}

func (o *output) write(rw row) {
	if o.quiet {
		return
	}
	o.rows++
	if o.enc != nil {
		o.enc.Encode(toJSON(rw))
		return
	}
	j := toJSON(rw)
	date := ""
	if j.Date != "" {
		date = j.Date[:16]
	}
	reg, method, conf := j.Regarding, j.Method, ""
	switch {
	case rw.seeded:
		method = "seeded"
	case rw.decision.Found():
		conf = fmt.Sprintf("%.2f", j.Confidence)
	case rw.tracked:
		method = "track-only"
	default:
		reg, method = "-", "-"
	}
	reason := j.Reason
	if len(j.Conflicts) > 0 {
		reason += fmt.Sprintf(" [conflict: %s says %s]", j.Conflicts[0].Strategy, j.Conflicts[0].Regarding)
	}
	fmt.Fprintf(o.tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", o.rows, date, clip(j.Subject, 44), reg, method, conf, clip(reason, 90))
}

func (o *output) flush() error {
	if o.tw != nil {
		if err := o.tw.Flush(); err != nil {
			return err
		}
	}
	return o.w.Flush()
}

// clip shortens s to n runes, on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

type stats struct {
	unreadable, errors int
	elapsed            time.Duration
}

// summary prints the run's totals to w.
func (r *replay) summary(w io.Writer, rows []row) {
	var seeded, tracked, problems int
	methods := map[string]int{}
	for _, rw := range rows {
		switch {
		case rw.seeded:
			seeded++
		case rw.decision.Found():
			methods[rw.decision.Match.Method.String()]++
		case rw.tracked:
			methods["track-only"]++
		default:
			methods["untracked"]++
		}
		if rw.tracked {
			tracked++
		}
		if rw.in.problem != nil && rw.in.msg != nil {
			problems++
		}
	}
	var names []string
	for k := range methods {
		names = append(names, k)
	}
	slices.Sort(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %d", k, methods[k]))
	}
	secs := r.stats.elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(len(rows)) / secs
	}
	fmt.Fprintf(w, "\nmessages %d: seeded %d, tracked %d; %s\n", len(rows), seeded, tracked, strings.Join(parts, ", "))
	fmt.Fprintf(w, "parse problems %d, unreadable %d, errors %d; %.2fs, %.0f messages/s\n",
		problems, r.stats.unreadable, r.stats.errors, secs, rate)
}

// tally counts one method's (or the whole run's) scored answers.
type tally struct{ assigned, correct int }

func (t tally) precision() float64 {
	if t.assigned == 0 {
		return 1
	}
	return float64(t.correct) / float64(t.assigned)
}

// score compares the decisions with the labels: a wrong record counts
// against precision, a missed record against recall. Seeded messages are not
// scored; unlabeled ones neither.
func score(w io.Writer, rows []row, labels map[string]correlate.Record) scores {
	s := scores{byMethod: map[string]*tally{}}
	var wrong []string
	for _, rw := range rows {
		if rw.seeded || rw.in.msg == nil {
			continue
		}
		want, ok := labels[rw.in.msg.MessageID]
		if !ok {
			continue
		}
		s.scored++
		got := correlate.Record{}
		method := "none"
		if rw.decision.Found() {
			got = rw.decision.Match.Record
			method = rw.decision.Match.Method.String()
		}
		if !want.IsZero() {
			s.expected++
		}
		if got.IsZero() {
			if !want.IsZero() {
				wrong = append(wrong, fmt.Sprintf("  missed  %s: want %s (%s)", rw.in.msg.MessageID, want, clip(rw.in.msg.Subject, 50)))
			}
			continue
		}
		t := s.byMethod[method]
		if t == nil {
			t = &tally{}
			s.byMethod[method] = t
		}
		t.assigned++
		s.all.assigned++
		if got == want {
			t.correct++
			s.all.correct++
		} else {
			wrong = append(wrong, fmt.Sprintf("  wrong   %s: got %s by %s, want %q (%s)", rw.in.msg.MessageID, got, method, want.String(), clip(rw.in.msg.Subject, 50)))
		}
	}
	fmt.Fprintf(w, "\naccuracy on %d labeled messages (%d with a record):\n", s.scored, s.expected)
	fmt.Fprintf(w, "  overall     precision %6.2f%% (%d/%d)  recall %6.2f%% (%d/%d)\n",
		100*s.all.precision(), s.all.correct, s.all.assigned, 100*s.recall(s.all.correct), s.all.correct, s.expected)
	var names []string
	for k := range s.byMethod {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		t := s.byMethod[k]
		fmt.Fprintf(w, "  %-18s precision %6.2f%% (%d/%d)  recall share %6.2f%%\n", k, 100*t.precision(), t.correct, t.assigned, 100*s.recall(t.correct))
	}
	for _, l := range wrong {
		fmt.Fprintln(w, l)
	}
	return s
}

type scores struct {
	scored, expected int
	all              tally
	byMethod         map[string]*tally
}

func (s scores) recall(correct int) float64 {
	if s.expected == 0 {
		return 1
	}
	return float64(correct) / float64(s.expected)
}

func writeLabelsOut(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, rw := range rows {
		if rw.in.msg == nil || rw.in.msg.MessageID == "" {
			continue
		}
		if err := enc.Encode(map[string]string{"message_id": rw.in.msg.MessageID, "regarding": rw.regarding.String()}); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
