package routereval_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/routereval"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
)

var sweep = flag.String("sweep", "", "TestSweep: log improved mode's accuracy on every corpus for option variants (\"all\" or a substring of their names)")

// TestSweep logs, with -sweep, how Improved mode's precision and recall on
// every corpus move when one of its options changes: the evidence behind
// the defaults (see the smartmatch package documentation). "!" marks a
// corpus where a target is missed; on a generated sample labeled by its
// headers, precision counts the disagreements with the header labels that
// the generator's labels call right (see TestTargets).
func TestSweep(t *testing.T) {
	if *sweep == "" {
		t.Skip("run with -sweep all to log the accuracy of other options")
	}
	type loaded struct {
		name  string
		items []routereval.Item
		opts  routereval.Options
		truth map[string]correlate.Record
	}
	var all []loaded
	for _, c := range allCorpora {
		items, opts, truth := c.load(t)
		all = append(all, loaded{c.name, items, opts, truth})
	}
	run := func(name string, so smartmatch.Options) {
		if *sweep != "all" && !strings.Contains(name, *sweep) {
			return
		}
		var line strings.Builder
		for _, c := range all {
			o := c.opts
			o.Engine.Smart = so
			rep, err := routereval.Evaluate(context.Background(), c.items, &o)
			require.NoError(t, err)
			imp, plain := rep.Run(routereval.RunImproved), rep.Run(routereval.RunPlain)
			precision := imp.All.Precision()
			if c.truth != nil {
				agree, _ := disagreements(c.items, c.truth, imp.Wrong)
				precision = float64(imp.All.Correct+len(agree)) / float64(imp.All.Assigned)
			}
			mark := " "
			if precision < 0.995 || rep.Recall(imp.All) < rep.Recall(plain.All) {
				mark = "!"
			}
			fmt.Fprintf(&line, " %s%5.1f/%5.1f", mark, 100*precision, 100*rep.Recall(imp.All))
		}
		t.Logf("%-22s%s", name, line.String())
	}
	var head strings.Builder
	for _, c := range all {
		fmt.Fprintf(&head, " %12.12s", c.name)
	}
	t.Logf("%-22s%s", "P/R improved", head.String())
	run("defaults", smartmatch.Options{})
	for _, v := range []float64{6, 7, 9, 10, 12} {
		run(fmt.Sprintf("MinScore %g", v), smartmatch.Options{MinScore: v})
	}
	for _, v := range []float64{-1, 2, 3, 5, 6, 8} {
		run(fmt.Sprintf("FreshBits %g", v), smartmatch.Options{FreshBits: v})
	}
	for _, v := range []float64{2, 3, 5, 6, 8} {
		run(fmt.Sprintf("HubBits %g", v), smartmatch.Options{HubBits: v})
	}
	for _, v := range []float64{2, 4, 8, 12} {
		run(fmt.Sprintf("OrgBits %g", v), smartmatch.Options{OrgBits: v})
	}
	for _, v := range []float64{-1000, -40, -35, -25, -20, -10} {
		run(fmt.Sprintf("NoneBits %g", v), smartmatch.Options{NoneBits: v})
	}
	for _, v := range []float64{8, 10, 12, 20} {
		run(fmt.Sprintf("AddressBits %g", v), smartmatch.Options{AddressBits: v})
	}
	for _, v := range []float64{64, 256, 512, 2048, 4096} {
		run(fmt.Sprintf("PriorEmails %g", v), smartmatch.Options{PriorEmails: v})
	}
	for _, v := range []int{3, 4, 5} {
		run(fmt.Sprintf("MaxTerms %d", v), smartmatch.Options{MaxTerms: v})
	}
	run("MaxTerms 5 NoneBits -20", smartmatch.Options{MaxTerms: 5, NoneBits: -20})
	run("MatchFresh", smartmatch.Options{MatchFresh: true})
	run("no hubs", smartmatch.Options{HubShare: -1})
	run("MinSimilarity 1", smartmatch.Options{MinSimilarity: 1})
	run("no Window", smartmatch.Options{Window: -1})
	run("Window 90 days", smartmatch.Options{Window: smartmatch.DefaultWindow})
	run("MaxCandidates 16", smartmatch.Options{MaxCandidates: 16})
}
