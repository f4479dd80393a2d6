package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// input is one message met in the input, parsed.
type input struct {
	item    mailbox.Item
	msg     *correlate.Message
	problem error // a *correlate.ParseError, or the reason the message was unusable
	n       int   // input position
}

type replay struct {
	cfg            *config
	stdout, stderr io.Writer
	eng            *correlate.Engine
	closeStore     func() error
	seeds          map[string]correlate.Record
	labels         map[string]correlate.Record // "" record = expected none
	out            *output
	stats          stats
	rows           []row
	scores         *scores         // set when labels were given
	resolver       *party.Resolver // set by -directory
	filter         party.Filter
}

func newReplay(ctx context.Context, cfg *config, stdout, stderr io.Writer) (*replay, error) {
	r := &replay{cfg: cfg, stdout: stdout, stderr: stderr}
	useSample := len(cfg.paths) == 0
	if useSample {
		if cfg.seed == "" {
			cfg.seed = "sample:seed.jsonl"
		}
		if cfg.labels == "" {
			cfg.labels = "sample:labels.jsonl"
		}
		if cfg.folders == "" {
			cfg.folders = "sample:folders.json"
		}
		if cfg.mailbox == "" {
			cfg.mailbox = sampleMailbox
		}
	}
	var err error
	if cfg.seed != "" {
		if r.seeds, err = readLabels(cfg.seed); err != nil {
			return nil, usageError{fmt.Sprintf("-seed: %v", err)}
		}
	}
	if cfg.labels != "" {
		if r.labels, err = readLabels(cfg.labels); err != nil {
			return nil, usageError{fmt.Sprintf("-labels: %v", err)}
		}
	}
	if cfg.filter != "" {
		if r.filter, err = party.ParseFilter(cfg.filter); err != nil {
			return nil, usageError{fmt.Sprintf("-filter: %v", err)}
		}
	}
	if cfg.directory != "" {
		f, err := openFile(cfg.directory)
		if err != nil {
			return nil, usageError{fmt.Sprintf("-directory: %v", err)}
		}
		dir, err := party.LoadDirectory(f)
		f.Close()
		var le *party.LoadError
		if errors.As(err, &le) {
			fmt.Fprintf(stderr, "replay: -directory: %v (the other lines are used)\n", err)
		} else if err != nil {
			return nil, usageError{fmt.Sprintf("-directory: %v", err)}
		}
		r.resolver = party.NewResolver(dir, nil)
	}
	store, closeStore, err := openStore(ctx, cfg.store)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-store: %v", err)}
	}
	r.closeStore = closeStore
	if r.eng, err = buildEngine(store, cfg, r.resolver); err != nil {
		closeStore()
		return nil, usageError{err.Error()}
	}
	r.out = newOutput(cfg.format, stdout)
	r.out.quiet = cfg.quiet
	return r, nil
}

func (r *replay) close() {
	if r.closeStore != nil {
		if err := r.closeStore(); err != nil {
			fmt.Fprintln(r.stderr, "replay: closing store:", err)
		}
	}
}

// openFile opens a flag's file; "sample:NAME" names a file of the embedded
// sample.
func openFile(name string) (io.ReadCloser, error) {
	if rest, ok := strings.CutPrefix(name, "sample:"); ok {
		return sampleFS.Open("sample/" + rest)
	}
	return os.Open(name)
}

// readLabels reads a seed or labels file: JSON Lines of message_id and
// regarding ("type:id", or "" for none). Ids may carry angle brackets.
func readLabels(name string) (map[string]correlate.Record, error) {
	f, err := openFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]correlate.Record{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l struct {
			MessageID string `json:"message_id"`
			Regarding string `json:"regarding"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		rec, err := correlate.ParseRecord(l.Regarding)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		id := correlate.NormalizeMessageID(l.MessageID)
		if id == "" {
			return nil, fmt.Errorf("%s:%d: empty message_id", name, line)
		}
		out[id] = rec
	}
	return out, sc.Err()
}

// read loads every message of the inputs (or of the embedded sample).
func (r *replay) read() ([]*input, error) {
	var inputs []*input
	add := func(it mailbox.Item) error {
		in := &input{item: it, n: len(inputs)}
		inputs = append(inputs, in)
		if it.Err != nil {
			in.problem = it.Err
			return nil
		}
		// The body is kept so a bounce can be correlated through the
		// message it returns.
		m, err := correlate.ParseMessage(bytes.NewReader(it.Raw), &correlate.ParseOptions{KeepBody: true})
		var pe *correlate.ParseError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			in.problem = err
		default:
			in.problem = err
			return nil
		}
		in.msg = m
		return nil
	}
	if len(r.cfg.paths) == 0 {
		sub, err := fs.Sub(sampleFS, "sample/mail")
		if err != nil {
			return nil, err
		}
		if err := mailbox.Walk(sub, ".", add); err != nil {
			return nil, err
		}
		return inputs, nil
	}
	readable := 0
	for _, p := range r.cfg.paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			fmt.Fprintf(r.stderr, "replay: %s: %v\n", p, err)
			continue
		}
		dir, name := filepath.Dir(abs), filepath.Base(abs)
		if st, err := os.Stat(abs); err == nil && st.IsDir() {
			dir, name = abs, "."
		}
		before := len(inputs)
		err = mailbox.Walk(os.DirFS(dir), name, func(it mailbox.Item) error {
			if name != "." {
				it.Source = filepath.Join(filepath.Dir(p), it.Source)
			} else {
				it.Source = filepath.Join(p, it.Source)
			}
			return add(it)
		})
		if err != nil {
			fmt.Fprintf(r.stderr, "replay: %s: %v\n", p, err)
			continue
		}
		if len(inputs) > before {
			readable++
		}
	}
	if readable == 0 {
		return nil, errors.New("no readable input")
	}
	return inputs, nil
}

func (r *replay) run(ctx context.Context) error {
	start := time.Now()
	inputs, err := r.read()
	if err != nil {
		return err
	}
	if r.cfg.order == "date" {
		slices.SortStableFunc(inputs, func(a, b *input) int {
			return dateOf(a).Compare(dateOf(b))
		})
	}
	progress := isTerminal(r.stderr) && len(inputs) > 2000
	var decisions []row
	for i, in := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		row := r.process(ctx, in)
		decisions = append(decisions, row)
		r.out.write(row)
		if progress && i%1000 == 0 {
			fmt.Fprintf(r.stderr, "\r%d/%d messages", i, len(inputs))
		}
	}
	if progress {
		fmt.Fprint(r.stderr, "\r\033[K")
	}
	if err := r.out.flush(); err != nil {
		return err
	}
	r.stats.elapsed = time.Since(start)
	r.rows = decisions
	r.summary(r.stderr, decisions)
	if r.labels != nil {
		sc := score(r.stderr, decisions, r.labels)
		r.scores = &sc
	}
	if r.cfg.labelsOut != "" {
		if err := writeLabelsOut(r.cfg.labelsOut, decisions); err != nil {
			return fmt.Errorf("-labels-out: %w", err)
		}
	}
	return nil
}

// dateOf orders inputs; an unparsable message or one without a Date sorts
// with the zero time (first), keeping input order.
func dateOf(in *input) time.Time {
	if in.msg == nil {
		return time.Time{}
	}
	return in.msg.Date
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// row is what the replay decided for one message.
type row struct {
	in        *input
	decision  correlate.Decision
	seeded    bool
	tracked   bool
	regarding correlate.Record
	reason    string
	err       error
	parties   *party.Resolution // with -directory
	verdict   party.Verdict
}

// process correlates one message, then files it: under its seed record when
// the seed names it, under the decision's record when one was found (or a
// strategy asked for tracking), else not at all.
func (r *replay) process(ctx context.Context, in *input) row {
	rw := row{in: in}
	m := in.msg
	if m == nil {
		rw.reason = "unreadable: " + in.problem.Error()
		r.stats.unreadable++
		return rw
	}
	m.Mailbox = r.cfg.mailbox
	m.FolderPath = in.item.Folder
	m.FolderID = in.item.Folder
	m.Direction = direction(m, in.item.Folder, r.cfg.mailbox)
	var res party.Resolution
	if r.resolver != nil {
		res, err := r.resolver.Resolve(ctx, m)
		if err != nil {
			rw.err = err
			rw.reason = "resolving participants: " + err.Error()
			r.stats.errors++
			return rw
		}
		rw.parties = &res
	}
	if rw.parties != nil {
		res = *rw.parties
	}
	d, err := r.eng.Correlate(ctx, m)
	rw.decision = d
	if err != nil {
		rw.err = err
		rw.reason = "error: " + err.Error()
		r.stats.errors++
		return rw
	}
	rw.regarding = d.Match.Record
	rw.reason = d.Match.Reason
	how := d.Match
	if rec, ok := r.seeds[m.MessageID]; ok && m.MessageID != "" {
		rw.seeded = true
		rw.regarding = rec
		rw.reason = "seeded: filed by hand or sent from the CRM"
		how = correlate.Match{Record: rec}
	}
	// The mailbox's incoming-email filter decides what is tracked (Dynamics'
	// default, ResponsesToTrackedEmail, tracks what correlated); seeded
	// email was filed by a person or the CRM and bypasses it.
	if !rw.seeded && d.NoTrack != "" {
		// Auto-replies, bounces and loops are correlated but never filed, so
		// they never become correlation targets themselves.
		if rw.reason == "" {
			rw.reason = d.NoTrack
		} else {
			rw.reason += "; not tracked: " + d.NoTrack
		}
		return rw
	}
	if !rw.seeded {
		rw.verdict = r.filter.Accept(m, d, res)
		if !rw.verdict.Track {
			if rw.reason == "" {
				rw.reason = "no strategy matched; left untracked"
				if why := abstention(d); why != "" {
					rw.reason = why + "; left untracked"
				}
			} else {
				rw.reason += "; not tracked: " + rw.verdict.Reason
			}
			return rw
		}
		if !d.Found() && rw.reason == "" {
			rw.reason = "tracked without a record: " + rw.verdict.Reason
		}
	}
	if _, err := r.eng.Track(ctx, m, how); err != nil {
		rw.err = err
		rw.reason = "track failed: " + err.Error()
		r.stats.errors++
		return rw
	}
	rw.tracked = true
	return rw
}

// direction says whether the mailbox sent or received m: sent when it sits
// in a sent-mail folder or its sender is the mailbox itself.
func direction(m *correlate.Message, folder, mailboxAddr string) correlate.Direction {
	last := folder[strings.LastIndexByte(folder, '/')+1:]
	switch strings.ToLower(last) {
	case "sent", "sent items", "sent mail", "sent messages", "gesendete elemente", "éléments envoyés", "posta inviata", "itens enviados", "skickat":
		return correlate.Outgoing
	}
	if mailboxAddr != "" && m.SenderAddress() == correlate.NormalizeAddress(mailboxAddr) {
		return correlate.Outgoing
	}
	return correlate.Incoming
}

// abstention explains an empty decision by the first strategy that looked
// at the message and said why it did not match (a refused token, an
// ambiguous subject).
func abstention(d correlate.Decision) string {
	for _, s := range d.Steps {
		if s.Match.Reason != "" {
			return s.Strategy + ": " + s.Match.Reason
		}
	}
	return ""
}
