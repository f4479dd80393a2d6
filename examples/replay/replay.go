package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// input is one message met in the input, parsed.
type input struct {
	item    mailbox.Item
	msg     *correlate.Message
	problem error // a *correlate.ParseError, or the reason the message was unusable
	n       int   // position in processing order
}

type replay struct {
	cfg            *config
	stdout, stderr io.Writer
	eng            *correlate.Engine
	ledger         store.Store // the engine's store, for Apply, States and Scan
	closeStore     func() error
	rules          *folder.Rules // -folders: which folders are processed
	seeds          map[string]correlate.Record
	labels         map[string]correlate.Record // "" record = expected none
	out            *cli.Rows
	stats          stats
	score          *scorer         // set when labels were given
	scores         *scores         // the scores, once the run is done
	labelsOut      *labelsWriter   // set by -labels-out
	resolver       *party.Resolver // set by -directory
	filter         party.Filter
	// afterEach, when set, is called after each message is processed
	// (tests measure the memory held).
	afterEach func()
}

func newReplay(ctx context.Context, cfg *config, stdout, stderr io.Writer) (*replay, error) {
	r := &replay{cfg: cfg, stdout: stdout, stderr: stderr}
	if len(cfg.paths) == 0 {
		cfg.sampleDefaults(true)
	}
	var err error
	if cfg.Seed != "" {
		if r.seeds, err = files().ReadLabels(cfg.Seed); err != nil {
			return nil, cli.UsageError{Msg: fmt.Sprintf("-seed: %v", err)}
		}
	}
	if cfg.labels != "" {
		if r.labels, err = files().ReadLabels(cfg.labels); err != nil {
			return nil, cli.UsageError{Msg: fmt.Sprintf("-labels: %v", err)}
		}
	}
	if r.filter, err = cfg.ParseFilter(); err != nil {
		return nil, cli.UsageError{Msg: fmt.Sprintf("-filter: %v", err)}
	}
	if cfg.directory != "" {
		dir, err := files().ReadDirectory(cfg.directory)
		if dir == nil {
			return nil, cli.UsageError{Msg: fmt.Sprintf("-directory: %v", err)}
		} else if err != nil {
			fmt.Fprintf(stderr, "replay: -directory: %v (the other lines are used)\n", err)
		}
		r.resolver = party.NewResolver(dir, nil)
	}
	if cfg.Folders != "" {
		// buildEngine reads them too, for the folder strategy; these say
		// which folders are read at all.
		if r.rules, err = files().ReadFolders(cfg.Folders); err != nil {
			return nil, cli.UsageError{Msg: fmt.Sprintf("-folders: %v", err)}
		}
	}
	if r.labels != nil {
		r.score = newScorer(r.labels)
	}
	st, closeStore, err := openLedger(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	r.ledger, r.closeStore = st, closeStore
	if r.eng, err = buildEngine(st, cfg, r.resolver); err != nil {
		r.close()
		return nil, cli.UsageError{Msg: err.Error()}
	}
	if cfg.labelsOut != "" {
		if r.labelsOut, err = createLabelsOut(cfg.labelsOut); err != nil {
			r.close()
			return nil, cli.UsageError{Msg: fmt.Sprintf("-labels-out: %v", err)}
		}
	}
	r.out = newOutput(cfg.Format, stdout, cfg.quiet)
	return r, nil
}

func (r *replay) close() {
	if r.closeStore != nil {
		if err := r.closeStore(); err != nil {
			fmt.Fprintln(r.stderr, "replay: closing store:", err)
		}
	}
}

func (r *replay) run(ctx context.Context) error {
	start := time.Now()
	p, err := r.scan()
	if err != nil {
		return err
	}
	defer p.close()
	r.reportSkippedFolders(p)
	if r.cfg.order == "date" {
		p.order()
	}
	cur, err := r.resume(ctx, p)
	if err != nil {
		return err
	}
	progress := isTerminal(r.stderr) && len(p.entries) > 2000
	var stopped error
	i := cur.next
	for ; i < len(p.entries); i++ {
		if err := ctx.Err(); err != nil {
			stopped = err
			break
		}
		cur.at(i, p.entries[i])
		in := p.read(p.entries[i])
		in.n = i
		rw := r.process(ctx, in, cur)
		if rw.err != nil && (errors.Is(rw.err, store.ErrUnavailable) || ctx.Err() != nil) {
			// Not about this message: every later one would fail the
			// same way. Stop; the next run resumes here.
			stopped = rw.err
			break
		}
		if rw.skipped {
			r.stats.known++
		} else {
			r.record(rw)
		}
		if r.afterEach != nil {
			r.afterEach()
		}
		if progress && i%1000 == 0 {
			fmt.Fprintf(r.stderr, "\r%d/%d messages", i, len(p.entries))
		}
	}
	if progress {
		fmt.Fprint(r.stderr, "\r\033[K")
	}
	var finishErr error
	if stopped == nil {
		finishErr = cur.finish(ctx, len(p.entries))
	}
	if err := r.out.Flush(); err != nil {
		return err
	}
	r.stats.elapsed = time.Since(start)
	r.stats.total, r.stats.earlier = len(p.entries), cur.next
	r.summary(r.stderr)
	if r.score != nil {
		sc := r.score.report(r.stderr)
		r.scores = &sc
	}
	if err := r.closeLabelsOut(); err != nil {
		return fmt.Errorf("-labels-out: %w", err)
	}
	switch {
	case stopped != nil:
		return fmt.Errorf("stopped at message %d of %d, %d processed by this run and %d by earlier runs: %w; run again to resume",
			i+1, len(p.entries), i-cur.next, cur.next, stopped)
	case finishErr != nil:
		return finishErr
	case len(p.entries) == 0 && len(p.skipped) > 0:
		return errors.New("no message in the folders processed (-all-folders reads every folder)")
	case p.readable == 0:
		return errors.New("no readable message in the input")
	}
	return nil
}

// reportSkippedFolders says which folders were not read, and why.
func (r *replay) reportSkippedFolders(p *plan) {
	if len(p.skipped) == 0 {
		return
	}
	var names []string
	n := 0
	for f, c := range p.skipped {
		names = append(names, fmt.Sprintf("%s (%d)", f, c))
		n += c
	}
	slices.Sort(names)
	if len(names) > 10 {
		names = append(names[:10], fmt.Sprintf("and %d more", len(names)-10))
	}
	fmt.Fprintf(r.stderr, "replay: %d messages not read in folders Dynamics does not process (only Inbox, the folders with a rule and Sent): %s; -all-folders reads them\n",
		n, strings.Join(names, ", "))
	r.stats.otherFolders = n
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
	// skipped: the message was tracked before this run began (processed
	// by an earlier run); it is neither correlated nor shown.
	skipped bool
}

// process correlates one message, then files it: under its seed record when
// the seed names it, under the decision's record when one was found (or a
// strategy asked for tracking), else not at all. A message tracked before
// this run began is skipped (see cursor.known).
//
// imapsync files a live mailbox's email by the same rules (Options.Known is
// the seed, Mailbox.Filter the filter), in code of its own: it commits each
// email with its folder's cursor in one store batch and reports it as an
// Event with the sync's actions, and its rows' reasons are worded for a
// sync ("known: already filed in the CRM …"), where the replay's are
// pinned by the golden file. examples/sync's equivalence tests hold the
// two to the same records.
func (r *replay) process(ctx context.Context, in *input, cur *cursor) row {
	rw := row{in: in}
	m := in.msg
	if m == nil {
		rw.reason = fmt.Sprintf("unreadable %s: %v", in.item.Where(), in.problem)
		return rw
	}
	cli.Place(m, r.cfg.mailbox, in.item.Folder)
	known, err := cur.known(ctx, r.eng, m)
	if err != nil {
		rw.err = err
		rw.reason = "error: " + err.Error()
		return rw
	}
	if known {
		rw.skipped = true
		return rw
	}
	var res party.Resolution
	if r.resolver != nil {
		res, err := r.resolver.Resolve(ctx, m)
		if err != nil {
			rw.err = err
			rw.reason = "resolving participants: " + err.Error()
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
	if err := cur.track(ctx, r.eng, m, how); err != nil {
		rw.err = err
		rw.reason = "track failed: " + err.Error()
		return rw
	}
	rw.tracked = true
	return rw
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
