package routereval_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/routereval"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

// sampleDir is the embedded sample of the replay command.
const sampleDir = "../../examples/replay/sample"

// A corpus is one mailbox of the evaluation and how to label it.
type corpus struct {
	name string
	// load returns the items, labeled and in processing order, the
	// options to evaluate them with (the mailbox they were synchronized
	// from, the chain) and, for a generated sample labeled by its headers,
	// the generator's truth for each message (nil otherwise).
	load func(t testing.TB) ([]routereval.Item, routereval.Options, map[string]correlate.Record)
}

// headerCorpus reads a folder of the shared corpora and labels it by its
// headers; the test skips when the corpora are absent.
func headerCorpus(name, dir string) corpus {
	return corpus{name: name, load: func(t testing.TB) ([]routereval.Item, routereval.Options, map[string]correlate.Record) {
		path := correlatetest.Path(t, dir)
		items, skipped, err := routereval.Read(path)
		require.NoError(t, err)
		require.NotEmpty(t, items)
		require.Zero(t, skipped, "every message of %s parses", dir)
		routereval.ByHeaders(items)
		return items, routereval.Options{}, nil
	}}
}

// sampleItems returns the messages of a generated sample.
func sampleItems(t testing.TB, s samplegen.Sample) []routereval.Item {
	var items []routereval.Item
	for _, m := range s.Mails {
		msg, err := correlate.ParseMessage(bytes.NewReader(m.Raw), &correlate.ParseOptions{KeepBody: true})
		require.NoError(t, err, m.Name)
		items = append(items, routereval.Item{Msg: msg, Source: m.Name, Folder: m.Folder})
	}
	return items
}

// sampleLabels returns the seed and labels maps of a generated sample.
func sampleLabels(t testing.TB, s samplegen.Sample) (seeds, labels map[string]correlate.Record) {
	seeds, labels = map[string]correlate.Record{}, map[string]correlate.Record{}
	for _, m := range s.Mails {
		r, err := correlate.ParseRecord(m.Regarding)
		require.NoError(t, err)
		id := correlate.NormalizeMessageID(m.MessageID)
		labels[id] = r
		if m.Seed {
			seeds[id] = r
		}
	}
	return seeds, labels
}

// sampleOptions are the options of a generated sample: its mailbox, and
// with the generator's labels its folder rules, which those labels follow
// (a message dragged into a mapped folder is about the folder's record,
// whatever its subject says), in front of the Email Router's chain.
func sampleOptions(t testing.TB, truth string, mappings []samplegen.FolderMapping) routereval.Options {
	o := routereval.Options{Mailbox: samplegen.Mailbox}
	if truth == "labels" {
		rules, err := folder.NewRules(nil)
		require.NoError(t, err)
		for _, m := range mappings {
			rec, err := correlate.ParseRecord(m.Regarding)
			require.NoError(t, err)
			require.NoError(t, rules.Add(folder.Mapping{Mailbox: m.Mailbox, FolderID: m.FolderID, FolderPath: m.FolderPath, Record: rec}))
		}
		o.Engine.Folders = rules
		o.Strategies = []mailcorrelate.Strategy{mailcorrelate.Folder, mailcorrelate.Token, mailcorrelate.Smart}
	}
	return o
}

// generated is a sample of samplegen with extra customers, labeled by its
// headers or by the generator's truth.
func generated(name string, extra int, truth string) corpus {
	return corpus{name: name, load: func(t testing.TB) ([]routereval.Item, routereval.Options, map[string]correlate.Record) {
		s := samplegen.Generate(&samplegen.Options{ExtraCustomers: extra})
		items := sampleItems(t, s)
		seeds, labels := sampleLabels(t, s)
		if truth == "headers" {
			routereval.ByHeaders(items)
			return items, sampleOptions(t, truth, s.Folders), labels
		}
		routereval.ByLabels(items, seeds, labels)
		return items, sampleOptions(t, truth, s.Folders), nil
	}}
}

// embedded is the replay command's embedded sample, read from its files.
func embedded(name, truth string) corpus {
	return corpus{name: name, load: func(t testing.TB) ([]routereval.Item, routereval.Options, map[string]correlate.Record) {
		items, _, err := routereval.Read(filepath.Join(sampleDir, "mail"))
		require.NoError(t, err)
		labels, err := cli.Files{}.ReadLabels(filepath.Join(sampleDir, "labels.jsonl"))
		require.NoError(t, err)
		opts := sampleOptions(t, truth, samplegen.Generate(nil).Folders)
		if truth == "headers" {
			routereval.ByHeaders(items)
			return items, opts, labels
		}
		seeds, err := cli.Files{}.ReadLabels(filepath.Join(sampleDir, "seed.jsonl"))
		require.NoError(t, err)
		routereval.ByLabels(items, seeds, labels)
		return items, opts, nil
	}}
}

// allCorpora are the mailboxes of the accuracy targets: every corpus of
// ../shared/corpora with threading headers (notmuch's default and lkml
// corpora; its threading, broken and duplicate corpora hold a handful of
// messages each and are tested by package header/thread), usrp-users,
// spamassassin-ham, the replay command's embedded sample and a generated
// sample of 200 more customers, the samples labeled both by their headers
// and by the generator's truth.
var allCorpora = []corpus{
	headerCorpus("notmuch/default", "notmuch/test/corpora/default"),
	headerCorpus("notmuch/lkml", "notmuch/test/corpora/lkml"),
	headerCorpus("usrp-users", "usrp-users/messages"),
	headerCorpus("spamassassin-ham", "spamassassin-ham/test/testdata/ham"),
	embedded("sample/headers", "headers"),
	embedded("sample/labels", "labels"),
	generated("sample200/headers", 200, "headers"),
	generated("sample200/labels", 200, "labels"),
}

// TestTargets replays every corpus under Email Router conditions (token and
// smart matching; headers only for the labels) and holds the targets of
// smart matching's Improved mode on each: precision at least 99.5%; recall
// at least the plain rule's and Dynamics mode's, and at least 90% where the
// plain rule reaches 90%.
//
// A generated sample labeled by its headers has a better truth, the
// generator's: a record filed against the header labels counts as right
// when the generator files the message under the record of that thread's
// first message, and the test checks that every wrong answer is such a
// disagreement with the header labels (see disagreements).
func TestTargets(t *testing.T) {
	for _, c := range allCorpora {
		t.Run(c.name, func(t *testing.T) {
			items, opts, truth := c.load(t)
			rep, err := routereval.Evaluate(context.Background(), items, &opts)
			require.NoError(t, err)
			var b bytes.Buffer
			require.NoError(t, rep.Write(&b, testing.Verbose()))
			t.Log("\n" + b.String())
			imp, dyn, plain := rep.Run(routereval.RunImproved), rep.Run(routereval.RunDynamics), rep.Run(routereval.RunPlain)
			require.Positive(t, rep.Expected, "the corpus has messages to find")
			precision := imp.All.Precision()
			if truth != nil {
				agree, other := disagreements(items, truth, imp.Wrong)
				assert.Empty(t, other, "every wrong answer on a generated sample is right by the generator's labels")
				precision = float64(imp.All.Correct+len(agree)) / float64(imp.All.Assigned)
				for _, o := range agree {
					t.Logf("header labels disagree with the generator: %s %q filed under %s, labeled %s", o.Source, o.Subject, o.Got, o.Want)
				}
			}
			assert.GreaterOrEqual(t, precision, 0.995, "improved precision")
			assert.GreaterOrEqual(t, rep.Recall(imp.All), rep.Recall(plain.All), "improved recall ≥ the plain rule's")
			assert.GreaterOrEqual(t, rep.Recall(imp.All), rep.Recall(dyn.All), "improved recall ≥ Dynamics mode's")
			if rep.Recall(plain.All) >= 0.9 {
				assert.GreaterOrEqual(t, rep.Recall(imp.All), 0.9, "improved recall ≥ 90%% where the plain rule reaches it")
			}
		})
	}
}

// disagreements splits the wrong answers on a sample labeled by its headers
// into those the generator's labels (truth) call right — the message's
// record is the record of the first message of the thread it was filed
// under — and the others.
func disagreements(items []routereval.Item, truth map[string]correlate.Record, wrong []routereval.Outcome) (agree, other []routereval.Outcome) {
	rootRecord := map[correlate.Record]correlate.Record{} // thread:N -> the generator's record of its seed
	for _, it := range items {
		if it.Seed {
			rootRecord[it.Record] = truth[it.Msg.MessageID]
		}
	}
	for _, o := range wrong {
		if r, ok := truth[o.MessageID]; ok && !r.IsZero() && rootRecord[o.Got] == r {
			agree = append(agree, o)
		} else {
			other = append(other, o)
		}
	}
	return agree, other
}
