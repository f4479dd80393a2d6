package correlatetest_test

import (
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
)

// Outcomes render one block per message for a golden file of decisions, and
// summarize to counts for a golden file that pins a corpus's outcome.
func Example() {
	cas1 := correlate.Record{Type: "incident", ID: "CAS-1"}
	outs := []correlatetest.Outcome{{
		Name: "reply.eml",
		Decision: correlate.Decision{Match: correlate.Match{
			Record: cas1, Method: correlate.InReplyTo, Confidence: 1, Strategy: "inreplyto",
			Reason:   "In-Reply-To names a tracked email",
			Evidence: []correlate.Evidence{{Field: "In-Reply-To", Value: "<a@example.com>"}},
		}},
		Want: cas1,
	}, {
		Name: "new.eml",
		Want: correlate.Record{Type: "incident", ID: "CAS-2"},
	}}
	fmt.Print(string(correlatetest.RenderDecisions(outs)))
	fmt.Print(correlatetest.Summarize(outs))
	// Output:
	// == reply.eml
	// incident:CAS-1 by InReplyTo (1.00): In-Reply-To names a tracked email
	//   evidence In-Reply-To <a@example.com>
	//   want incident:CAS-1: right
	// == new.eml
	// no record
	//   want incident:CAS-2: missed
	// decisions 2
	// found 1
	// tracked 1
	// right 1
	// wrong 0
	// missed 1
	// winner inreplyto InReplyTo: 1
	// class normal: 2
	// action proceed: 2
}

// IsMail tells the messages of a corpus folder from its notes and oracles.
func ExampleIsMail() {
	for _, name := range []string{"1702.cbf24a3d72463a352831af8e23b02cc1.eml", "SOURCE.txt", "default.threads.json", "LICENSE-2.0", "1234567890.M1P2.host:2,S"} {
		fmt.Println(name, correlatetest.IsMail(name))
	}
	// Output:
	// 1702.cbf24a3d72463a352831af8e23b02cc1.eml true
	// SOURCE.txt false
	// default.threads.json false
	// LICENSE-2.0 false
	// 1234567890.M1P2.host:2,S true
}
