package routereval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header/thread"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/mailbox"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// An Item is one message of an evaluation and its truth.
type Item struct {
	// Msg is the parsed message. Evaluate sets its Mailbox and Direction
	// (see Options.Mailbox), and its FolderPath and FolderID to Folder when
	// both are empty; it changes nothing else.
	Msg *correlate.Message
	// Source says where the message was read ("cur/17:2,S", "a.mbox@1024").
	Source string
	// Folder is the mail folder it was read from ("Inbox", "Inbox/Sent").
	Folder string
	// Record is the record the message is about; zero for none.
	Record correlate.Record
	// Seed marks a message filed under Record when it is met (the earliest
	// message of a thread, an email filed by hand or sent from the CRM): it
	// is tracked, not scored.
	Seed bool
	// Labeled reports that Record is known; unlabeled messages are
	// correlated and tracked like the others but not scored.
	Labeled bool
}

// Read reads every message under path: an mbox file, a Maildir, a folder of
// .eml files (recursive) or one message file, as the replay command does.
// A message that cannot be read or parsed at all is skipped and counted in
// skipped; a message parsed with problems is kept.
func Read(path string) (items []Item, skipped int, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, 0, fmt.Errorf("routereval: %w", err)
	}
	dir, name := filepath.Dir(abs), filepath.Base(abs)
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		dir, name = abs, "."
	}
	return ReadFS(os.DirFS(dir), name)
}

// ReadFS is Read for a file system: name is an mbox file, a Maildir, a
// folder of .eml files or one message file in fsys ("." for its root).
func ReadFS(fsys fs.FS, name string) (items []Item, skipped int, err error) {
	err = mailbox.Walk(fsys, name, func(it mailbox.Item) error {
		if it.Err != nil {
			skipped++
			return nil
		}
		m, err := correlate.ParseMessage(bytes.NewReader(it.Raw), &correlate.ParseOptions{KeepBody: true})
		var pe *correlate.ParseError
		if m == nil || err != nil && !errors.As(err, &pe) {
			skipped++
			return nil
		}
		items = append(items, Item{Msg: m, Source: it.Where(), Folder: it.Folder})
		return nil
	})
	if err != nil {
		return items, skipped, fmt.Errorf("routereval: %w", err)
	}
	return items, skipped, nil
}

// ThreadRecordType is the record type of the labels ByHeaders gives.
const ThreadRecordType = "thread"

// ByHeaders labels items with the conversations their own headers describe:
// a thread is the messages that Message-ID, In-Reply-To and References
// connect, as header/thread builds it (RealMail mode, no subject grouping).
// Threads are numbered 1, 2, … in the order of their earliest message (Date,
// then input order); every message of thread N is about record "thread:N",
// and the earliest one is its seed. Items are sorted into processing order
// (see Sort) and the number of threads is returned.
func ByHeaders(items []Item) int {
	Sort(items)
	msgs := make([]*correlate.Message, len(items))
	for i := range items {
		msgs[i] = items[i].Msg
	}
	roots := thread.Thread(msgs, nil)
	// The thread of each message, by input position.
	of := make([]int, len(items))
	for n, r := range roots {
		thread.Walk([]*thread.Node{r}, func(x *thread.Node, _ int) bool {
			if x.Message != nil && x.Index >= 0 && x.Index < len(of) {
				of[x.Index] = n
			}
			return true
		})
	}
	// Items are in processing order: the first met of each thread is its
	// earliest, and thread numbers follow the order they are met.
	num := make(map[int]int, len(roots))
	for i := range items {
		n, ok := num[of[i]]
		first := !ok
		if first {
			n = len(num) + 1
			num[of[i]] = n
		}
		items[i].Record = correlate.Record{Type: ThreadRecordType, ID: strconv.Itoa(n)}
		items[i].Seed = first
		items[i].Labeled = true
	}
	return len(num)
}

// ByLabels labels items from a seed and a labels map (Message-ID to
// record, as the replay command's -seed and -labels files give them): a
// message in seeds is a seed filed under its record, a message in labels is
// scored against its record (zero: about no record). Items are sorted into
// processing order.
func ByLabels(items []Item, seeds, labels map[string]correlate.Record) {
	Sort(items)
	for i := range items {
		id := items[i].Msg.MessageID
		if id == "" {
			continue
		}
		if r, ok := seeds[id]; ok {
			items[i].Record, items[i].Seed, items[i].Labeled = r, true, true
			continue
		}
		if r, ok := labels[id]; ok {
			items[i].Record, items[i].Labeled = r, true
		}
	}
}

// Sort puts items in processing order: by Date, messages without one first,
// ties in their current order (a mailbox sync meets mail in date order).
func Sort(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int { return a.Msg.Date.Compare(b.Msg.Date) })
}

// Options configures Evaluate. A nil *Options is the zero value.
type Options struct {
	// Engine is the configuration the runs start from (guardrails, token
	// format, sender policy, smart-matching options). Its Stages and
	// Smart.Mode are set by each run; Smart.OwnAddresses defaults to the
	// domain of Mailbox, and Smart.HubRefresh to -1 (counts read for every
	// message: a replay is faster than the clock the cache runs on).
	Engine mailcorrelate.Options
	// Strategies is the chain, in precedence order; empty means the Email
	// Router's (token, smart). The header strategies (inreplyto,
	// conversation) are always removed: the labels come from the headers.
	// Without Smart, the runs differ in nothing.
	Strategies []mailcorrelate.Strategy
	// Mailbox is the synchronized mailbox (its owner's address): set as
	// every message's Mailbox; a message it sent, or one in a sent-mail
	// folder, is outgoing.
	Mailbox string
}

// Names of the runs of a Report, in the order Evaluate makes them.
const (
	RunImproved = "improved" // the chain with smart matching in Improved mode
	RunDynamics = "dynamics" // the same chain with smart matching in Dynamics mode
	RunPlain    = "plain"    // the same chain with the plain rule instead of smart matching
)

// Evaluate replays items three times, each time as a mailbox sync would —
// in order, every seed filed under its record, every other message
// correlated by the chain and, when the decision says so, tracked under the
// record found — with smart matching in Improved mode, in Dynamics mode,
// and replaced by the plain rule (see PlainRule). Items must be in
// processing order (ByHeaders and ByLabels sort them). Errors come from the
// configuration and the store only.
func Evaluate(ctx context.Context, items []Item, opts *Options) (*Report, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	strategies := o.Strategies
	if len(strategies) == 0 {
		strategies = []mailcorrelate.Strategy{mailcorrelate.Token, mailcorrelate.Smart}
	}
	strategies = slices.DeleteFunc(slices.Clone(strategies), func(s mailcorrelate.Strategy) bool {
		return s == mailcorrelate.InReplyTo || s == mailcorrelate.Conversation
	})
	base := o.Engine
	if len(base.Smart.OwnAddresses) == 0 && o.Mailbox != "" {
		if at := strings.LastIndexByte(o.Mailbox, '@'); at >= 0 {
			base.Smart.OwnAddresses = []string{o.Mailbox[at:]}
		}
	}
	if base.Smart.HubRefresh == 0 {
		// A replay runs through months of mail in a second: the counts
		// smart matching caches for a minute of the clock are read for
		// every message instead.
		base.Smart.HubRefresh = -1
	}
	mbox := correlate.NormalizeAddress(o.Mailbox)
	rep := &Report{Strategies: strategies}
	for i := range items {
		it := &items[i]
		it.Msg.Mailbox = o.Mailbox
		it.Msg.Direction = direction(it.Msg, it.Folder, mbox)
		if it.Msg.FolderPath == "" && it.Msg.FolderID == "" {
			// Maildir has no folder ids: the path stands for one, as in the
			// replay command.
			it.Msg.FolderPath, it.Msg.FolderID = it.Folder, it.Folder
		}
		switch {
		case it.Seed:
			rep.Seeds++
		case it.Labeled:
			rep.Scored++
			if !it.Record.IsZero() {
				rep.Expected++
			}
		}
	}
	rep.Messages = len(items)
	for _, name := range []string{RunImproved, RunDynamics, RunPlain} {
		eo := base
		eo.Smart.Mode = smartmatch.Improved
		if name == RunDynamics {
			eo.Smart.Mode = smartmatch.Dynamics
		}
		st := memstore.New()
		eng, err := engineFor(st, &eo, strategies, name == RunPlain)
		if err != nil {
			return nil, err
		}
		run, err := replay(ctx, eng, items)
		if err != nil {
			return nil, err
		}
		run.Name = name
		rep.Runs = append(rep.Runs, run)
	}
	return rep, nil
}

// engineFor builds the engine of o with the stages strategies; with
// plain, the plain rule stands where smart matching would.
func engineFor(st correlate.Store, o *mailcorrelate.Options, strategies []mailcorrelate.Strategy, plain bool) (*correlate.Engine, error) {
	if plain && !slices.Contains(strategies, mailcorrelate.Smart) {
		return nil, errors.New("routereval: the chain has no smart matching to compare")
	}
	p := *o
	p.Stages = make([]mailcorrelate.Stage, len(strategies))
	for i, s := range strategies {
		p.Stages[i] = s
		if plain && s == mailcorrelate.Smart {
			p.Stages[i] = mailcorrelate.StageFunc(func(st correlate.Store, _ *mailcorrelate.Options) (correlate.Correlator, error) {
				return NewPlainRule(st), nil
			})
		}
	}
	eng, err := mailcorrelate.New(st, &p)
	if err != nil {
		return nil, fmt.Errorf("routereval: %w", err)
	}
	return eng, nil
}

// replay runs items through eng once.
func replay(ctx context.Context, eng *correlate.Engine, items []Item) (Run, error) {
	run := Run{ByMethod: map[string]Tally{}}
	for i := range items {
		it := &items[i]
		if err := ctx.Err(); err != nil {
			return run, fmt.Errorf("routereval: %w", err)
		}
		if it.Seed {
			if _, err := eng.Track(ctx, it.Msg, correlate.Match{Record: it.Record}); err != nil {
				return run, fmt.Errorf("routereval: %w", err)
			}
			continue
		}
		d, err := eng.Correlate(ctx, it.Msg)
		if err != nil {
			return run, fmt.Errorf("routereval: %w", err)
		}
		if it.Labeled {
			run.score(it, d)
		}
		if d.Track() {
			if _, err := eng.Track(ctx, it.Msg, d.Match); err != nil {
				return run, fmt.Errorf("routereval: %w", err)
			}
		}
	}
	return run, nil
}

// score counts one decision against the truth.
func (r *Run) score(it *Item, d correlate.Decision) {
	o := Outcome{Source: it.Source, MessageID: it.Msg.MessageID, Subject: it.Msg.Subject, Want: it.Record}
	if !d.Found() {
		if !it.Record.IsZero() {
			o.Reason = abstention(d)
			r.Missed = append(r.Missed, o)
		}
		return
	}
	o.Got, o.Method, o.Reason = d.Match.Record, d.Match.Method.String(), d.Match.Reason
	if d.Match.Strategy == plainStrategy {
		o.Method = PlainMethod
	}
	t := r.ByMethod[o.Method]
	t.Assigned++
	r.All.Assigned++
	if o.Got == it.Record {
		t.Correct++
		r.All.Correct++
	} else {
		r.Wrong = append(r.Wrong, o)
	}
	r.ByMethod[o.Method] = t
}

// abstention explains an empty decision: the last strategy that looked at
// the message and said why it did not match (smart matching, the last
// stage, says the most).
func abstention(d correlate.Decision) string {
	for i := len(d.Steps) - 1; i >= 0; i-- {
		s := d.Steps[i]
		if s.Refused != "" {
			return s.Strategy + ": refused: " + s.Refused
		}
		if s.Match.Reason != "" {
			return s.Strategy + ": " + s.Match.Reason
		}
	}
	return "no strategy matched"
}

// direction says whether the mailbox sent or received m: sent when it sits
// in a sent-mail folder or its sender is the mailbox itself.
func direction(m *correlate.Message, folder, mbox string) correlate.Direction {
	last := folder[strings.LastIndexByte(folder, '/')+1:]
	if cli.SentFolderName(last) || mbox != "" && m.SenderAddress() == mbox {
		return correlate.Outgoing
	}
	return correlate.Incoming
}
