package routereval_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/routereval"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// mail builds a raw message; refs are References, the last one also
// In-Reply-To. Mail to a lists.example address carries the list's List-Id
// and List-Post, as list servers add them.
func mail(id, date, from, to, subject string, refs ...string) string {
	var b strings.Builder
	b.WriteString("Message-ID: <" + id + ">\r\nDate: " + date + "\r\nFrom: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n")
	if strings.HasSuffix(to, "@lists.example") {
		b.WriteString("List-Id: <" + strings.Replace(to, "@", ".", 1) + ">\r\nList-Post: <mailto:" + to + ">\r\n")
	}
	if len(refs) > 0 {
		b.WriteString("In-Reply-To: <" + refs[len(refs)-1] + ">\r\nReferences: <" + strings.Join(refs, "> <") + ">\r\n")
	}
	b.WriteString("\r\nbody\r\n")
	return b.String()
}

// mailbox is a small list mailbox: two conversations, one reply that lost
// its prefix, one whose sender shares nothing specific.
func mailbox() fstest.MapFS {
	const list = "list@lists.example"
	return fstest.MapFS{
		"1.eml": {Data: []byte(mail("a1@x.example", "Mon, 2 Mar 2026 09:00:00 +0000", "alice@ettus.example", list, "UHD build fails on Ubuntu 24.04"))},
		"2.eml": {Data: []byte(mail("b1@x.example", "Mon, 2 Mar 2026 10:00:00 +0000", "bob@dsp.example", list, "Help"))},
		"3.eml": {Data: []byte(mail("a2@x.example", "Mon, 2 Mar 2026 11:00:00 +0000", "carol@radio.example", list, "Re: UHD build fails on Ubuntu 24.04", "a1@x.example"))},
		"4.eml": {Data: []byte(mail("b2@x.example", "Mon, 2 Mar 2026 12:00:00 +0000", "dave@sdr.example", list, "Re: Help", "b1@x.example"))},
		"5.eml": {Data: []byte(mail("a3@x.example", "Mon, 2 Mar 2026 08:00:00 +0000", "erin@ettus.example", list, "Re: UHD build fails on Ubuntu 24.04", "a1@x.example", "a2@x.example"))},
	}
}

func TestByHeaders(t *testing.T) {
	items, skipped, err := routereval.ReadFS(mailbox(), ".")
	require.NoError(t, err)
	require.Zero(t, skipped)
	n := routereval.ByHeaders(items)
	assert.Equal(t, 2, n, "two conversations by their references")
	var got []string
	for _, it := range items {
		s := it.Msg.MessageID + " " + it.Record.String()
		if it.Seed {
			s += " seed"
		}
		got = append(got, s)
	}
	assert.Equal(t, []string{
		"a3@x.example thread:1 seed", // its clock is wrong, but it is the earliest message of thread 1: the one filed when met
		"a1@x.example thread:1",
		"b1@x.example thread:2 seed",
		"a2@x.example thread:1",
		"b2@x.example thread:2",
	}, got, "date order; threads numbered by their earliest message, which is the seed")
}

func TestByLabels(t *testing.T) {
	items, _, err := routereval.ReadFS(mailbox(), ".")
	require.NoError(t, err)
	a, b := correlate.Record{Type: "incident", ID: "A"}, correlate.Record{Type: "incident", ID: "B"}
	routereval.ByLabels(items,
		map[string]correlate.Record{"a1@x.example": a},
		map[string]correlate.Record{"a2@x.example": a, "b2@x.example": {}, "a1@x.example": b})
	byID := map[string]routereval.Item{}
	for _, it := range items {
		byID[it.Msg.MessageID] = it
	}
	assert.True(t, byID["a1@x.example"].Seed, "a seed is a seed even when labeled too")
	assert.Equal(t, a, byID["a1@x.example"].Record, "the seed's record wins")
	assert.True(t, byID["a2@x.example"].Labeled)
	assert.True(t, byID["b2@x.example"].Labeled, "labeled as about no record")
	assert.True(t, byID["b2@x.example"].Record.IsZero())
	assert.False(t, byID["b1@x.example"].Labeled, "neither seed nor label: replayed, not scored")
}

func TestEvaluate(t *testing.T) {
	items, _, err := routereval.ReadFS(mailbox(), ".")
	require.NoError(t, err)
	routereval.ByHeaders(items)
	rep, err := routereval.Evaluate(context.Background(), items, nil)
	require.NoError(t, err)
	assert.Equal(t, []mailcorrelate.Strategy{mailcorrelate.Token, mailcorrelate.Smart}, rep.Strategies, "the Email Router's chain by default")
	assert.Equal(t, 5, rep.Messages)
	assert.Equal(t, 2, rep.Seeds)
	assert.Equal(t, 3, rep.Scored)
	assert.Equal(t, 3, rep.Expected)
	require.Len(t, rep.Runs, 3)

	imp := rep.Run(routereval.RunImproved)
	assert.Equal(t, routereval.Tally{Assigned: 2, Correct: 2}, imp.All,
		"the two replies with a specific subject, though only the list is shared; not \"Re: Help\"")
	require.Len(t, imp.Missed, 1)
	assert.Equal(t, "b2@x.example", imp.Missed[0].MessageID)
	assert.Contains(t, imp.Missed[0].Reason, "smart: ", "a miss says why the last strategy did not match")

	plain := rep.Run(routereval.RunPlain)
	assert.Equal(t, routereval.Tally{Assigned: 3, Correct: 3}, plain.All, "the plain rule files \"Re: Help\" too: one record has it")
	assert.Equal(t, routereval.Tally{Assigned: 3, Correct: 3}, plain.ByMethod[routereval.PlainMethod])

	dyn := rep.Run(routereval.RunDynamics)
	assert.Zero(t, dyn.All.Assigned, "Dynamics mode needs two shared addresses; list replies share one")
	assert.InDelta(t, 2.0/3, rep.Recall(imp.All), 1e-9)

	var b bytes.Buffer
	require.NoError(t, rep.Write(&b, true))
	assert.Contains(t, b.String(), "improved  precision 100.00% (2/2)  recall  66.67% (2/3)")
	assert.Contains(t, b.String(), "improved: why 1 messages were missed")

	_, err = routereval.Evaluate(context.Background(), items, &routereval.Options{Strategies: []mailcorrelate.Strategy{mailcorrelate.Token}})
	assert.Error(t, err, "without smart matching there is nothing to compare")
	_, err = routereval.Evaluate(context.Background(), items, &routereval.Options{Strategies: []mailcorrelate.Strategy{"bogus", mailcorrelate.Smart}})
	assert.Error(t, err, "an unknown strategy")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = routereval.Evaluate(ctx, items, nil)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestEvaluateOptions(t *testing.T) {
	items, _, err := routereval.ReadFS(mailbox(), ".")
	require.NoError(t, err)
	routereval.ByHeaders(items)
	rep, err := routereval.Evaluate(context.Background(), items, &routereval.Options{
		Strategies: []mailcorrelate.Strategy{mailcorrelate.Folder, mailcorrelate.InReplyTo, mailcorrelate.Token, mailcorrelate.Conversation, mailcorrelate.Smart},
		Mailbox:    "alice@ettus.example",
		Engine:     mailcorrelate.Options{Smart: smartmatch.Options{HubBits: -100}},
	})
	require.NoError(t, err)
	assert.Equal(t, []mailcorrelate.Strategy{mailcorrelate.Folder, mailcorrelate.Token, mailcorrelate.Smart}, rep.Strategies,
		"the header strategies are removed: the labels come from the headers")
	assert.Zero(t, rep.Run(routereval.RunImproved).All.Assigned, "the smart-matching options reach the chain: with HubBits -100 the list carries nothing")
	for _, it := range items {
		assert.Equal(t, "alice@ettus.example", it.Msg.Mailbox)
		want := correlate.Incoming
		if it.Msg.SenderAddress() == "alice@ettus.example" {
			want = correlate.Outgoing
		}
		assert.Equal(t, want, it.Msg.Direction, "the mailbox's own mail is outgoing")
	}
}

func TestPlainRule(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	p := routereval.NewPlainRule(st)
	eng := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{p}}, nil)
	track := func(id, subject, rec string) {
		r, err := correlate.ParseRecord(rec)
		require.NoError(t, err)
		_, err = eng.Track(ctx, &correlate.Message{MessageID: id, Subject: subject}, correlate.Match{Record: r})
		require.NoError(t, err)
	}
	track("1", "Printer offline CRM:0001001", "incident:A")
	track("2", "Hello", "incident:A")
	track("3", "Hello", "incident:B")
	track("4", "Quote", "")
	tests := []struct {
		subject, want, reason string
	}{
		{"RE: Printer offline CRM:0001007", "incident:A", "the base subject without tokens names one record"},
		{"Printer offline", "incident:A", "no reply prefix needed"},
		{"AW: Printer Offline", "incident:A", "folded, localized prefix"},
		{"Re: Hello", "", "two records"},
		{"Re: Quote", "", "tracked without a record only"},
		{"Re: Unknown", "", "no filed email"},
		{"", "", "no subject"},
	}
	for _, tt := range tests {
		got, err := p.Correlate(ctx, &correlate.Message{MessageID: "q", Subject: tt.subject})
		require.NoError(t, err)
		assert.Equal(t, tt.want, got.Record.String(), "%q: %s", tt.subject, tt.reason)
		if tt.want != "" {
			assert.Equal(t, correlate.CustomCorrelation, got.Method)
		}
	}
	got, err := p.Correlate(ctx, nil)
	require.NoError(t, err)
	assert.False(t, got.Found())
}

func TestReasons(t *testing.T) {
	got := routereval.Reasons([]routereval.Outcome{
		{Reason: "smart: no tracked email qualifies; closest: tracked email 12 (thread:3), shares only hub x, and the base subject is not specific enough (score 3.1 bits)"},
		{Reason: "smart: no tracked email qualifies; closest: tracked email 7 (thread:9), shares only hub x, and the base subject is not specific enough (score 1.2 bits)"},
		{Reason: "no strategy matched"},
	})
	assert.Equal(t, []routereval.ReasonCount{
		{Reason: "smart: no tracked email qualifies; closest: tracked email N, shares only hub x, and the base subject is not specific enough (score N bits)", N: 2},
		{Reason: "no strategy matched", N: 1},
	}, got, "tracked emails, records and numbers do not split a reason")
}

func TestRead(t *testing.T) {
	fsys := mailbox()
	fsys["bad.eml"] = &fstest.MapFile{Data: []byte("no header at all, not even a colon\r\n")}
	items, _, err := routereval.ReadFS(fsys, ".")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(items), 5, "a malformed message does not stop the reading")
	_, _, err = routereval.Read("testdata/does-not-exist")
	assert.Error(t, err)
}
