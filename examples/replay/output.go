package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
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

// newOutput returns the rows of the replay: JSON Lines, or a table with the
// confidence of each record found.
func newOutput(format string, w io.Writer, quiet bool) *cli.Rows {
	return cli.NewRows(w, cli.RowsOptions{JSON: format == "jsonl", Quiet: quiet,
		Header: "#\tDATE\tSUBJECT\tREGARDING\tMETHOD\tCONF\tREASON"})
}

// write writes the row of one processed message.
func write(o *cli.Rows, rw row) {
	if o.Quiet() {
		return
	}
	j := toJSON(rw)
	o.Write(j, func() []string {
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
		if rw.in.msg != nil && rw.err == nil {
			reason = cli.Clip(reason, 90)
		} // else: the reason names the file and offset; never cut it
		return []string{cli.TableDate(j.Date), cli.Clip(j.Subject, 44), reg, method, conf, reason}
	})
}

// stats are the run's totals, counted as it goes.
type stats struct {
	processed, seeded, tracked, problems int
	unreadable, errors                   int
	methods                              map[string]int
	// total is the number of messages in the input's processed folders;
	// earlier were processed by earlier runs (before the cursor), known
	// were tracked before this run began, otherFolders are in folders not
	// processed.
	total, earlier, known, otherFolders int
	elapsed                             time.Duration
}

// record writes one processed message's row and counts it.
func (r *replay) record(rw row) {
	write(r.out, rw)
	s := &r.stats
	if s.methods == nil {
		s.methods = map[string]int{}
	}
	s.processed++
	switch {
	case rw.in.msg == nil:
		s.unreadable++
		s.methods["unreadable"]++
	case rw.err != nil:
		s.errors++
		s.methods["error"]++
	case rw.seeded:
		s.seeded++
	case rw.decision.Found():
		s.methods[rw.decision.Match.Method.String()]++
	case rw.tracked:
		s.methods["track-only"]++
	default:
		s.methods["untracked"]++
	}
	if rw.tracked {
		s.tracked++
	}
	if rw.in.problem != nil && rw.in.msg != nil {
		s.problems++
	}
	if r.out.Quiet() && (rw.in.msg == nil || rw.err != nil) {
		// The rows are not shown: name what could not be processed.
		if rw.in.msg == nil {
			fmt.Fprintf(r.stderr, "replay: %s\n", rw.reason)
		} else {
			fmt.Fprintf(r.stderr, "replay: %s: %s\n", rw.in.item.Where(), rw.reason)
		}
	}
	if r.score != nil {
		r.score.add(rw)
	}
	if r.labelsOut != nil {
		r.labelsOut.write(rw)
	}
}

// summary prints the run's totals to w.
func (r *replay) summary(w io.Writer) {
	s := r.stats
	var names []string
	for k := range s.methods {
		names = append(names, k)
	}
	slices.Sort(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.methods[k]))
	}
	secs := s.elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.processed) / secs
	}
	fmt.Fprintf(w, "\nmessages %d: seeded %d, tracked %d; %s\n", s.processed, s.seeded, s.tracked, strings.Join(parts, ", "))
	if s.earlier > 0 || s.known > 0 || s.otherFolders > 0 {
		fmt.Fprintf(w, "not processed: %d by earlier runs, %d tracked before this run, %d in folders not read\n", s.earlier, s.known, s.otherFolders)
	}
	fmt.Fprintf(w, "parse problems %d, unreadable %d, errors %d; %.2fs, %.0f messages/s\n",
		s.problems, s.unreadable, s.errors, secs, rate)
}

// tally counts one method's (or the whole run's) scored answers.
type tally struct{ assigned, correct int }

func (t tally) precision() float64 {
	if t.assigned == 0 {
		return 1
	}
	return float64(t.correct) / float64(t.assigned)
}

// A scorer compares the decisions with the labels as they are made: a
// wrong record counts against precision, a missed record against recall.
// Seeded messages are not scored; unlabeled ones neither.
type scorer struct {
	labels map[string]correlate.Record
	s      scores
	wrong  []string
}

func newScorer(labels map[string]correlate.Record) *scorer {
	return &scorer{labels: labels, s: scores{byMethod: map[string]*tally{}}}
}

func (sc *scorer) add(rw row) {
	s := &sc.s
	if rw.seeded || rw.in.msg == nil {
		return
	}
	want, ok := sc.labels[rw.in.msg.MessageID]
	if !ok {
		return
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
			sc.wrong = append(sc.wrong, fmt.Sprintf("  missed  %s: want %s (%s)", rw.in.msg.MessageID, want, cli.Clip(rw.in.msg.Subject, 50)))
		}
		return
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
		sc.wrong = append(sc.wrong, fmt.Sprintf("  wrong   %s: got %s by %s, want %q (%s)", rw.in.msg.MessageID, got, method, want.String(), cli.Clip(rw.in.msg.Subject, 50)))
	}
}

// report prints the scores to w and returns them.
func (sc *scorer) report(w io.Writer) scores {
	s := sc.s
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
	for _, l := range sc.wrong {
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

// labelsWriter writes -labels-out as the run goes.
type labelsWriter struct {
	f   *os.File
	w   *bufio.Writer
	enc *json.Encoder
}

func createLabelsOut(path string) (*labelsWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	return &labelsWriter{f: f, w: w, enc: json.NewEncoder(w)}, nil
}

func (l *labelsWriter) write(rw row) {
	if rw.in.msg == nil || rw.in.msg.MessageID == "" {
		return
	}
	l.enc.Encode(map[string]string{"message_id": rw.in.msg.MessageID, "regarding": rw.regarding.String()})
}

// closeLabelsOut flushes and closes -labels-out.
func (r *replay) closeLabelsOut() error {
	l := r.labelsOut
	if l == nil {
		return nil
	}
	r.labelsOut = nil
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
