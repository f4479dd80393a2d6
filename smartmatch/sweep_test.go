package smartmatch_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/smartmatch"
)

var sweep = flag.Bool("sweep", false, "TestAccuracySweep: log the accuracy of other Options on the corpora")

// TestAccuracySweep logs, with -sweep, how the accuracy on the corpora
// (see TestAccuracy) moves when one option of the defaults changes: the
// evidence behind the defaults. P and R are precision and recall; "adj"
// leaves out the sub-threads the oracle fused.
func TestAccuracySweep(t *testing.T) {
	if !*sweep {
		t.Skip("run with -sweep to log the accuracy of other options")
	}
	var all [][]threadMessage
	for _, c := range threadCorpora {
		all = append(all, loadThreads(t, c))
	}
	run := func(name string, o smartmatch.Options) {
		var s accuracy
		line := ""
		for i, msgs := range all {
			a := replay(t, msgs, o)
			s.add(a)
			line += fmt.Sprintf("  %s %s/%s", threadCorpora[i].name, pct(a.precision()), pct(a.recall()))
		}
		t.Logf("%-24s P %s R %s  adj P %s R %s |%s", name, pct(s.precision()), pct(s.recall()),
			pct(s.adjPrecision()), pct(s.adjRecall()), line)
	}
	run("Dynamics", smartmatch.Options{Mode: smartmatch.Dynamics})
	run("Dynamics delta 1", smartmatch.Options{Mode: smartmatch.Dynamics, HashDeltaSubjectCount: 1})
	run("Dynamics min addresses 1", smartmatch.Options{Mode: smartmatch.Dynamics, HashMinAddressCount: 1})
	run("Improved (defaults)", smartmatch.Options{HubRefresh: -1})
	run("MatchFresh", smartmatch.Options{HubRefresh: -1, MatchFresh: true})
	run("HubMinCount 20", smartmatch.Options{HubRefresh: -1, HubMinCount: 20})
	run("HubShare 0.05", smartmatch.Options{HubRefresh: -1, HubShare: 0.05})
	run("HubShare 0.2", smartmatch.Options{HubRefresh: -1, HubShare: 0.2})
	run("no hubs", smartmatch.Options{HubRefresh: -1, HubShare: -1})
	run("HubBits 6", smartmatch.Options{HubRefresh: -1, HubBits: 6})
	run("HubBits 8", smartmatch.Options{HubRefresh: -1, HubBits: 8})
	run("never on hubs alone", smartmatch.Options{HubRefresh: -1, HubBits: -100})
	run("MinSimilarity 1", smartmatch.Options{HubRefresh: -1, MinSimilarity: 1})
	run("MinSimilarity 0.8", smartmatch.Options{HubRefresh: -1, MinSimilarity: 0.8})
	run("no Window", smartmatch.Options{HubRefresh: -1, Window: -1})
	run("MaxCandidates 16", smartmatch.Options{HubRefresh: -1, MaxCandidates: 16})
	run("Dynamics MaxCandidates 16", smartmatch.Options{Mode: smartmatch.Dynamics, MaxCandidates: 16})
}

func pct(x float64) string { return fmt.Sprintf("%.1f", 100*x) }
