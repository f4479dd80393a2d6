package routereval_test

import (
	"context"
	"os"
	"testing/fstest"

	"github.com/mailcorrelate/mailcorrelate/internal/routereval"
)

// Evaluate a small list mailbox: labels from its headers, then the Email
// Router's chain three ways.
func Example() {
	const list = "list@lists.example"
	fsys := fstest.MapFS{
		"1.eml": {Data: []byte(mail("a1@x.example", "Mon, 2 Mar 2026 09:00:00 +0000", "alice@ettus.example", list, "UHD build fails on Ubuntu 24.04"))},
		"2.eml": {Data: []byte(mail("a2@x.example", "Mon, 2 Mar 2026 11:00:00 +0000", "carol@radio.example", list, "Re: UHD build fails on Ubuntu 24.04", "a1@x.example"))},
		"3.eml": {Data: []byte(mail("b1@x.example", "Mon, 2 Mar 2026 10:00:00 +0000", "bob@dsp.example", list, "Help"))},
		"4.eml": {Data: []byte(mail("b2@x.example", "Mon, 2 Mar 2026 12:00:00 +0000", "dave@sdr.example", list, "Re: Help", "b1@x.example"))},
	}
	items, _, err := routereval.ReadFS(fsys, ".")
	if err != nil {
		panic(err)
	}
	routereval.ByHeaders(items)
	rep, err := routereval.Evaluate(context.Background(), items, nil)
	if err != nil {
		panic(err)
	}
	rep.Write(os.Stdout, false)
	// Output:
	// 4 messages, 2 seeds, 2 scored (2 about a record); chain token,smart, header strategies off
	//   improved  precision 100.00% (1/1)  recall  50.00% (1/2)
	//     SmartMatching     precision 100.00% (1/1)  recall share  50.00%
	//   dynamics  precision 100.00% (0/0)  recall   0.00% (0/2)
	//   plain     precision 100.00% (2/2)  recall 100.00% (2/2)
	//     PlainSubjectRule  precision 100.00% (2/2)  recall share 100.00%
}
