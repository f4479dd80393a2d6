package smartmatch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
)

// TestImproved checks the rules of Improved mode, each case against the
// smallest store that shows it.
func TestImproved(t *testing.T) {
	const (
		anna  = "anna@fabrikam.example"
		anna2 = "lee@fabrikam.example"
		bob   = "bob@northwind.example"
		rep1  = "rep1@contoso.example"
		rep2  = "rep2@contoso.example"
		queue = "help@contoso.example"
	)
	own := []string{"@contoso.example"}
	out := func(m *correlate.Message) *correlate.Message { m.Direction = correlate.Outgoing; return m }
	tests := []struct {
		name    string
		opts    smartmatch.Options
		tracked []tracked
		msg     *correlate.Message
		want    string // record, "" for none
		changed bool   // want SubjectChanged
		reason  string
	}{
		{
			name:    "Reply",
			tracked: []tracked{{email("a1", "Printer on floor 3 offline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Printer on floor 3 offline", day(1), anna, queue, "mailbox:"+queue),
			want:    "incident:A",
			reason:  "the customer replies with the same base subject",
		},
		{
			name:    "OutgoingReply",
			opts:    smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{{email("a1", "Printer on floor 3 offline", day(0), anna, queue), "incident:A"}},
			msg:     out(email("q", "AW: Printer on floor 3 offline", day(1), rep1, anna, "mailbox:"+rep1)),
			want:    "incident:A",
			reason:  "a rep's answer (German prefix) is addressed to the customer who wrote the tracked email",
		},
		{
			name:    "ColleagueOfCustomer",
			tracked: []tracked{{email("a1", "Printer on floor 3 offline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "Re: Printer on floor 3 offline", day(1), anna2, queue, "cc:"+anna, "mailbox:"+queue),
			want:    "incident:A",
			reason:  "the new sender copies the customer who sent the tracked email: a far-side address of the tracked email",
		},
		{
			name:    "EditedTooMuch",
			tracked: []tracked{{email("a1", "Printer on floor 3 is offline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Printer on floor 3 is offline!!! again", day(1), anna, queue, "mailbox:"+queue),
			reason:  `"printer on floor 3 is offline again" has similarity 1 − 6/35 = 0.83 < 0.9 to the tracked base subject`,
		},
		{
			name:    "SmallEdit",
			tracked: []tracked{{email("a1", "Printer on floor 3 is ofline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Printer on floor 3 is offline", day(1), anna, queue, "mailbox:"+queue),
			want:    "incident:A",
			changed: true,
			reason:  "a corrected typo: similarity 1 − 1/29 = 0.97 ≥ 0.9; the base subject changed",
		},
		{
			name:    "NumbersDiffer",
			tracked: []tracked{{email("a1", "Order 1234 delayed", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Order 1235 delayed", day(1), anna, queue, "mailbox:"+queue),
			reason:  "similar text, but the numbers differ: another order",
		},
		{
			name:    "PunctuationAndCase",
			tracked: []tracked{{email("a1", "Printer: floor 3 -- OFFLINE?", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "Re: printer floor 3 offline", day(1), anna, queue, "mailbox:"+queue),
			want:    "incident:A",
			reason:  "comparison texts are folded and punctuation is a separator: the base subjects are equal",
		},
		{
			name:    "ListTagAndLocalizedPrefix",
			tracked: []tracked{{email("a1", "[Support] 打印机故障", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "回复：[Support] 打印机故障", day(1), anna, queue, "mailbox:"+queue),
			want:    "incident:A",
			reason:  "the subject package removes the Chinese reply prefix and the list tag",
		},
		{
			name: "ServiceDetailsFresh",
			tracked: []tracked{
				{email("a1", "Service Details", day(0), anna, rep1, rep2, "mailbox:"+rep1), "incident:Fabrikam"},
			},
			msg:    email("q", "Service Details", day(3), bob, rep1, rep2, "mailbox:"+rep1),
			reason: "Microsoft's false positive: a message without a reply prefix starts a new conversation",
		},
		{
			name: "ServiceDetailsNearSideOnly",
			opts: smartmatch.Options{MatchFresh: true},
			tracked: []tracked{
				{email("a1", "Service Details", day(0), anna, rep1, rep2, "mailbox:"+rep1), "incident:Fabrikam"},
			},
			msg:    email("q", "Service Details", day(3), bob, rep1, rep2, "mailbox:"+rep1),
			reason: "even when fresh messages may match, the shared reps are recipients of incoming mail on both sides (near side, not configured as own): no customer is shared",
		},
		{
			name: "ServiceDetailsReply",
			opts: smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{
				{email("a1", "Service Details", day(0), anna, rep1, rep2), "incident:Fabrikam"},
			},
			msg:    email("q", "RE: Service Details", day(3), bob, rep1, rep2),
			reason: "another customer's reply shares only own addresses",
		},
		{
			name: "NewHireFresh",
			tracked: []tracked{
				{email("h1", "New Hire", day(0), "hr@contoso.example", "manager@contoso.example", "mailbox:manager@contoso.example"), "contact:Jane"},
			},
			msg:    email("q", "New Hire", day(10), "hr@contoso.example", "manager@contoso.example", "mailbox:manager@contoso.example"),
			reason: "Microsoft's false positive: HR sends each \"New Hire\" mail afresh",
		},
		{
			name: "NewHireInternal",
			opts: smartmatch.Options{MatchFresh: true, OwnAddresses: own},
			tracked: []tracked{
				{email("h1", "New Hire", day(0), "hr@contoso.example", "manager@contoso.example"), "contact:Jane"},
			},
			msg:    email("q", "New Hire", day(10), "hr@contoso.example", "manager@contoso.example"),
			reason: "with the organization's domain as own, internal mail has no participant that could tie it to a record",
		},
		{
			name: "GenericSubjectTwoRecords",
			tracked: []tracked{
				{email("a1", "Hello", day(0), anna, queue), "incident:A"},
				{email("b1", "Hello", day(5), anna, queue), "incident:B"},
			},
			msg:    email("q", "Re: Hello", day(6), anna, queue, "mailbox:"+queue),
			reason: "the same base subject with the same customer is tracked under two records: abstain rather than guess",
		},
		{
			name: "GenericSubjectOtherCustomer",
			opts: smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{
				{email("a1", "Hello", day(0), anna, queue), "incident:A"},
				{email("b1", "Hello", day(5), bob, queue), "incident:B"},
			},
			msg:    email("q", "Re: Hello", day(6), anna, queue),
			want:   "incident:A",
			reason: "Bob's \"Hello\" shares only own addresses with Anna's reply, so it does not make the subject ambiguous",
		},
		{
			name: "TokensDiffer",
			tracked: []tracked{
				{email("a1", "[Ticket#1001] Printer broken", day(0), anna, queue), "incident:A"},
			},
			msg:    email("q", "Re: [Ticket#1002] Printer broken", day(1), anna, queue, "mailbox:"+queue),
			reason: "both subjects carry tracking tokens and share none: another ticket of the same customer",
		},
		{
			name: "TokenOnOneSide",
			tracked: []tracked{
				{email("a1", "Printer broken", day(0), anna, queue), "incident:A"},
			},
			msg:    email("q", "RE: Printer broken CRM:0001001", day(1), anna, queue, "mailbox:"+queue),
			want:   "incident:A",
			reason: "a token stamped on the reply only does not make the subjects differ",
		},
		{
			name: "OnlyAToken",
			tracked: []tracked{
				{email("a1", "CRM:0001001", day(0), anna, queue), "incident:A"},
			},
			msg:    email("q", "RE: CRM:0001001", day(1), anna, queue, "mailbox:"+queue),
			reason: "a token alone is for package token to resolve; similarity never matches on it",
		},
		{
			name:    "OwnMailboxOnly",
			tracked: []tracked{{email("a1", "Printer on floor 3 offline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Printer on floor 3 offline", day(1), rep1, queue, "mailbox:"+queue),
			reason:  "a rep's mail to the queue shares only the queue, the receiving mailbox, which never counts",
		},
		{
			name:    "Window",
			tracked: []tracked{{email("a1", "Printer on floor 3 offline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Printer on floor 3 offline", day(91), anna, queue),
			reason:  "older than the 90-day window",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &tt.opts, tt.tracked...)
			got := f.correlate(tt.msg)
			assert.Equal(t, tt.want, got.Record.String(), "Correlate(%q) = %v; %s", tt.msg.Subject, got, tt.reason)
			if tt.want == "" {
				return
			}
			assert.Equal(t, correlate.SmartMatching, got.Method)
			assert.Equal(t, "smartmatch", got.Strategy)
			assert.Equal(t, tt.changed, got.SubjectChanged, "SubjectChanged: %s", tt.reason)
			assert.Greater(t, got.Confidence, 0.0)
			assert.LessOrEqual(t, got.Confidence, correlate.Likely, "similarity never claims more than Likely")
			require.NotNil(t, got.CorrelatedWith)
		})
	}
}

// listFixture tracks n emails of different senders and subjects to a
// mailing list, so that the list address becomes a hub (on more than 10% of
// at least 50 tracked emails).
func listFixture(t *testing.T, n int, opts *smartmatch.Options) *fixture {
	f := newFixture(t, opts)
	for i := range n {
		f.track(email(fmt.Sprintf("l%d", i), fmt.Sprintf("Topic number %d", i), day(0).Add(time.Duration(i)*time.Minute),
			fmt.Sprintf("user%d@example.org", i), "list@lists.example"), fmt.Sprintf("thread:%d", i))
	}
	return f
}

func TestImproved_Hubs(t *testing.T) {
	f := listFixture(t, 60, &smartmatch.Options{HubRefresh: -1})
	f.track(email("s1", "UHD build fails on Ubuntu 22.04", day(1), "alice@example.org", "list@lists.example"), "thread:uhd")
	f.track(email("s2", "Help", day(1), "dave@example.org", "list@lists.example"), "thread:help")

	got := f.correlate(email("q1", "Re: UHD build fails on Ubuntu 22.04", day(2), "carol@example.org", "list@lists.example"))
	assert.Equal(t, "thread:uhd", got.Record.String(),
		"a first-time replier shares only the list (a hub), but the base subject has 6 words: specific enough")
	assert.InDelta(t, correlate.Likely*0.7, got.Confidence, 0.05, "hub-only matches score 0.7 times")
	assert.Contains(t, got.Reason, "sharing only the hub list@lists.example")
	assert.NotEmpty(t, evidence(got, "Participants"))
	assert.Contains(t, evidence(got, "Participants")[0], "hub address on 62 of 62 tracked emails")

	got = f.correlate(email("q2", "Re: Help", day(2), "carol@example.org", "list@lists.example"))
	assert.False(t, got.Found(), "a one-word subject shared through the list alone proves nothing")

	f2 := listFixture(t, 60, &smartmatch.Options{HubRefresh: -1, HubSubjectWords: -1})
	f2.track(email("s1", "UHD build fails on Ubuntu 22.04", day(1), "alice@example.org", "list@lists.example"), "thread:uhd")
	got = f2.correlate(email("q1", "Re: UHD build fails on Ubuntu 22.04", day(2), "carol@example.org", "list@lists.example"))
	assert.False(t, got.Found(), "HubSubjectWords < 0 never matches on hubs alone")

	f3 := listFixture(t, 30, &smartmatch.Options{HubRefresh: -1, HubSubjectWords: -1})
	f3.track(email("s1", "Help", day(1), "alice@example.org", "list@lists.example"), "thread:help")
	got = f3.correlate(email("q1", "Re: Help", day(2), "carol@example.org", "list@lists.example"))
	assert.False(t, got.Found(), "below HubMinCount the list is not a hub, but it is a recipient of incoming mail on both sides: near side")
}

func TestImproved_HubShare(t *testing.T) {
	// 60 list emails, then 600 other emails: the list is on 60/661 < 10%.
	f := listFixture(t, 60, &smartmatch.Options{HubRefresh: -1})
	for i := range 600 {
		f.track(email(fmt.Sprintf("o%d", i), fmt.Sprintf("Other %d", i), day(1),
			fmt.Sprintf("x%d@example.net", i), fmt.Sprintf("y%d@example.net", i)), "incident:other")
	}
	got := f.correlate(email("q1", "Re: Topic number 7", day(2), "user7@example.org", "list@lists.example"))
	assert.Equal(t, "thread:7", got.Record.String())
	assert.Empty(t, evidence(got, "Participants")[1:], "list@ is on less than HubShare of the tracked emails: not a hub")
}

func TestImproved_GuardEvidence(t *testing.T) {
	f := newFixture(t, nil,
		tracked{email("a1", "Hello", day(0), "anna@fabrikam.example", "help@contoso.example"), "incident:A"},
		tracked{email("b1", "Hello", day(5), "anna@fabrikam.example", "help@contoso.example"), "incident:B"})
	got := f.correlate(email("q", "Re: Hello", day(6), "anna@fabrikam.example", "help@contoso.example"))
	require.False(t, got.Found())
	assert.Contains(t, got.Reason, "ambiguous")
	assert.Equal(t, []string{"incident:B: tracked email 2 (incident:B), score 1.00"}, evidence(got, "candidate"),
		"the newer email scores higher (recency)")
	assert.Equal(t, []string{"incident:A: tracked email 1 (incident:A), score 0.98"}, evidence(got, "runner-up"))
}

func TestImproved_RunnerUp(t *testing.T) {
	f := newFixture(t, &smartmatch.Options{OwnAddresses: []string{"@contoso.example"}},
		tracked{email("a1", "Hello", day(0), "anna@fabrikam.example", "help@contoso.example"), "incident:A"},
		tracked{email("b1", "Hello", day(5), "bob@northwind.example", "help@contoso.example"), "incident:B"})
	got := f.correlate(email("q", "Re: Hello", day(6), "anna@fabrikam.example", "help@contoso.example"))
	require.Equal(t, "incident:A", got.Record.String())
	assert.Equal(t, []string{"incident:B: tracked email 2 (incident:B): no participant shared besides own addresses"},
		evidence(got, "runner-up"), "the closest candidate of another record, and why it lost")
}

func TestImproved_Recency(t *testing.T) {
	conf := func(age int) float64 {
		f := newFixture(t, nil, tracked{email("a1", "Printer offline", day(0), "anna@fabrikam.example", "help@contoso.example"), "incident:A"})
		got := f.correlate(email("q", "Re: Printer offline", day(age), "anna@fabrikam.example", "help@contoso.example"))
		require.True(t, got.Found(), "age %d", age)
		return got.Confidence
	}
	assert.InDelta(t, correlate.Likely, conf(0), 1e-9, "a same-day reply with the same base subject and sender: Likely")
	assert.InDelta(t, correlate.Likely*0.7937, conf(60), 1e-3, "60 days of age: 2^(−60/180) of the score (HalfLife 180 days)")
}

func TestImproved_MinConfidence(t *testing.T) {
	f := newFixture(t, &smartmatch.Options{MinConfidence: 0.69},
		tracked{email("a1", "Printer offline", day(0), "anna@fabrikam.example", "help@contoso.example"), "incident:A"})
	got := f.correlate(email("q", "Re: Printer offline", day(30), "anna@fabrikam.example", "help@contoso.example"))
	assert.False(t, got.Found(), "30 days of age bring the confidence to 0.62 < 0.69")
	assert.NotEmpty(t, evidence(got, "Confidence"), "the abstention names the candidate")
	assert.Contains(t, got.Reason, "below MinConfidence")
}

func TestImproved_MatchFresh(t *testing.T) {
	f := newFixture(t, &smartmatch.Options{MatchFresh: true},
		tracked{email("a1", "Printer offline", day(0), "anna@fabrikam.example", "help@contoso.example"), "incident:A"})
	got := f.correlate(email("q", "Printer offline", day(0), "anna@fabrikam.example", "help@contoso.example"))
	assert.Equal(t, "incident:A", got.Record.String(), "MatchFresh lets a message without a prefix match")
	assert.InDelta(t, correlate.Likely*0.8, got.Confidence, 1e-9, "at 0.8 times the confidence")
}

func TestImproved_TrackOnly(t *testing.T) {
	f := newFixture(t, nil,
		tracked{email("a1", "Printer offline", day(0), "anna@fabrikam.example", "help@contoso.example"), ""})
	got := f.correlate(email("q", "Re: Printer offline", day(1), "anna@fabrikam.example", "help@contoso.example"))
	assert.False(t, got.Found())
	assert.True(t, got.Track, "the conversation was tracked without a record: track this reply the same way")
}

func TestImproved_Self(t *testing.T) {
	f := newFixture(t, nil,
		tracked{email("q", "Re: Printer offline", day(0), "anna@fabrikam.example", "help@contoso.example"), "incident:A"})
	got := f.correlate(email("q", "Re: Printer offline", day(0), "anna@fabrikam.example", "help@contoso.example"))
	assert.False(t, got.Found(), "an email already tracked does not correlate with itself")
}

func TestImproved_Index(t *testing.T) {
	c := smartmatch.New(nil, &smartmatch.Options{OwnAddresses: []string{"rep@contoso.example", "@queues.example"}, MaxAddresses: 3})
	m := email("q", "RE: [Support] Printer offline!", day(0), "Anna@Fabrikam.example", "rep@contoso.example",
		"help@queues.example", "mailbox:me@contoso.example", "cc:b@x.example", "cc:c@x.example", "cc:d@x.example")
	keys := c.Index(m, &correlate.Tracked{}, nil)
	assert.Equal(t, []correlate.Key{
		{Kind: smartmatch.KindSubject, Value: "printer offline"},
		{Kind: smartmatch.KindAddress, Value: "anna@fabrikam.example"},
		{Kind: smartmatch.KindAddress, Value: "b@x.example"},
		{Kind: smartmatch.KindAddress, Value: "c@x.example"},
	}, keys, "one signature key, then at most MaxAddresses addresses that are not own (an address, a domain, the mailbox)")

	long := email("q", "Re: "+fmt.Sprint(make([]int, 100)), day(0), "a@x.example")
	keys = c.Index(long, &correlate.Tracked{}, nil)
	require.Len(t, keys, 2)
	assert.Len(t, keys[0].Value, 17, "a signature longer than 128 bytes is hashed")
	assert.Equal(t, byte('#'), keys[0].Value[0])

	assert.Empty(t, c.Index(nil, &correlate.Tracked{}, nil))
}

// failIndex fails every call.
type failIndex struct{ err error }

func (f failIndex) Lookup(context.Context, correlate.Key, correlate.Query) ([]correlate.Tracked, error) {
	return nil, f.err
}
func (f failIndex) Count(context.Context, correlate.Key) (int, error) { return 0, f.err }
func (f failIndex) Stats(context.Context) (correlate.Stats, error)    { return correlate.Stats{}, f.err }

func TestCorrelate_Errors(t *testing.T) {
	boom := errors.New("boom")
	m := email("q", "Re: Printer offline", day(1), "anna@fabrikam.example", "help@contoso.example")
	for _, mode := range []smartmatch.Mode{smartmatch.Improved, smartmatch.Dynamics} {
		t.Run(mode.String(), func(t *testing.T) {
			c := smartmatch.New(failIndex{boom}, &smartmatch.Options{Mode: mode})
			_, err := c.Correlate(context.Background(), m)
			require.ErrorIs(t, err, boom, "a failing store is an error, wrapped")
			assert.Regexp(t, `^smartmatch: (count|lookup) `, err.Error())

			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err = smartmatch.New(newFixture(t, nil).st, &smartmatch.Options{Mode: mode}).Correlate(ctx, m)
			require.ErrorIs(t, err, context.Canceled)

			_, err = smartmatch.New(nil, &smartmatch.Options{Mode: mode}).Correlate(context.Background(), m)
			require.Error(t, err, "a nil Index cannot correlate")

			got, err := smartmatch.New(failIndex{boom}, &smartmatch.Options{Mode: mode}).Correlate(context.Background(), nil)
			require.NoError(t, err)
			assert.False(t, got.Found(), "a nil message has no opinion")
		})
	}
	_, err := smartmatch.New(failIndex{boom}, &smartmatch.Options{Mode: 7}).Correlate(context.Background(), m)
	require.Error(t, err, "an unknown mode is a configuration error")
	assert.Equal(t, "Mode(7)", smartmatch.Mode(7).String())
}

// TestConcurrent correlates and tracks from several goroutines at once in
// both modes; run with -race.
func TestConcurrent(t *testing.T) {
	for _, mode := range []smartmatch.Mode{smartmatch.Improved, smartmatch.Dynamics} {
		t.Run(mode.String(), func(t *testing.T) {
			f := listFixture(t, 60, &smartmatch.Options{Mode: mode, HubRefresh: time.Nanosecond})
			ctx := context.Background()
			errs := make(chan error, 8)
			for g := range 8 {
				go func() {
					var err error
					for i := range 50 {
						m := email(fmt.Sprintf("g%d.%d", g, i), fmt.Sprintf("Re: Topic number %d", i), day(1),
							fmt.Sprintf("user%d@example.org", i), "list@lists.example")
						var d correlate.Decision
						if d, err = f.eng.Correlate(ctx, m); err != nil {
							break
						}
						if _, err = f.eng.Track(ctx, m, d.Match); err != nil {
							break
						}
					}
					errs <- err
				}()
			}
			for range 8 {
				require.NoError(t, <-errs)
			}
		})
	}
}
