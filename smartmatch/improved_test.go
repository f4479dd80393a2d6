package smartmatch_test

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
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
			reason: "Microsoft's false positive: another customer's fresh \"Service Details\" shares only a rep (a recipient of both incoming emails, so a hub without OwnAddresses), its words are stop words, and it has no reply prefix: 4 + 0 − 4 < 8 bits",
		},
		{
			name: "ServiceDetailsNearSideOnly",
			opts: smartmatch.Options{MatchFresh: true},
			tracked: []tracked{
				{email("a1", "Service Details", day(0), anna, rep1, rep2, "mailbox:"+rep1), "incident:Fabrikam"},
			},
			msg:    email("q", "Service Details", day(3), bob, rep1, rep2, "mailbox:"+rep1),
			reason: "even scored as a reply, the shared reps (recipients of incoming mail on both sides, not configured as own) count as a hub, and \"service details\" carries no bits: 4 < 8",
		},
		{
			name: "ServiceDetailsReply",
			opts: smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{
				{email("a1", "Service Details", day(0), anna, rep1, rep2), "incident:Fabrikam"},
			},
			msg:    email("q", "RE: Service Details", day(3), bob, rep1, rep2),
			reason: "another customer's reply shares only own addresses: with OwnAddresses known, another customer's message",
		},
		{
			name: "NewHireFresh",
			tracked: []tracked{
				{email("h1", "New Hire", day(0), "hr@contoso.example", "manager@contoso.example", "mailbox:manager@contoso.example"), "contact:Jane"},
			},
			msg:    email("q", "New Hire", day(10), "hr@contoso.example", "manager@contoso.example", "mailbox:manager@contoso.example"),
			reason: "Microsoft's false positive: HR, the author of the tracked email, sends the same subject afresh ten days later: a new message",
		},
		{
			name: "NewHireInternal",
			opts: smartmatch.Options{MatchFresh: true, OwnAddresses: own},
			tracked: []tracked{
				{email("h1", "New Hire", day(0), "hr@contoso.example", "manager@contoso.example"), "contact:Jane"},
			},
			msg:    email("q", "New Hire", day(10), "hr@contoso.example", "manager@contoso.example"),
			reason: "with the organization's domain as own, internal mail shares no participant that could tie it to a record",
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
			name: "TokensSetAside",
			tracked: []tracked{
				{email("a1", "Printer broken CRM:0001001", day(0), anna, queue), "incident:A"},
			},
			msg:    email("q", "Re: Printer broken CRM:0001007", day(1), anna, queue, "mailbox:"+queue),
			want:   "incident:A",
			reason: "Dynamics stamps a new token on every email it sends, so one conversation carries several: a token the token strategy could not resolve says nothing, and the customer and the subject decide",
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
			reason:  "a rep's mail to the queue shares only the queue, the receiving mailbox, which never counts: nothing is shared, and three words do not carry a match alone",
		},
		{
			name:    "OldConversation",
			tracked: []tracked{{email("a1", "Printer on floor 3 offline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Printer on floor 3 offline", day(120), anna, queue),
			want:    "incident:A",
			reason:  "a reply 120 days later is within Improved mode's one-year window; its age costs 120/180 bits of the score",
		},
		{
			name:    "Window",
			tracked: []tracked{{email("a1", "Printer on floor 3 offline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Printer on floor 3 offline", day(366), anna, queue),
			reason:  "older than the one-year window",
		},
		{
			name:    "WindowDynamics",
			opts:    smartmatch.Options{Window: smartmatch.DefaultWindow},
			tracked: []tracked{{email("a1", "Printer on floor 3 offline", day(0), anna, queue), "incident:A"}},
			msg:     email("q", "RE: Printer on floor 3 offline", day(91), anna, queue),
			reason:  "Options.Window set to Dynamics' 90 days",
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
			assert.Equal(t, "smart", got.Strategy)
			assert.Equal(t, tt.changed, got.SubjectChanged, "SubjectChanged: %s", tt.reason)
			assert.Greater(t, got.Confidence, 0.0)
			assert.LessOrEqual(t, got.Confidence, correlate.Likely, "similarity never claims more than Likely")
			require.NotNil(t, got.CorrelatedWith)
		})
	}
}

// listFixture tracks n emails of different senders, at different
// organizations, and different subjects to a mailing list, so that the
// list address becomes a hub (on more than 10% of at least 50 tracked
// emails).
func listFixture(t *testing.T, n int, opts *smartmatch.Options) *fixture {
	f := newFixture(t, opts)
	for i := range n {
		f.track(email(fmt.Sprintf("l%d", i), fmt.Sprintf("Topic number %d", i), day(0).Add(time.Duration(i)*time.Minute),
			fmt.Sprintf("user%d@org%d.example", i, i), "list@lists.example"), fmt.Sprintf("thread:%d", i))
	}
	return f
}

func TestImproved_Hubs(t *testing.T) {
	f := listFixture(t, 60, &smartmatch.Options{HubRefresh: -1})
	f.track(email("s1", "UHD build fails on Ubuntu 22.04", day(1), "alice@ettus.example", "list@lists.example"), "thread:uhd")
	f.track(email("s2", "Help", day(1), "dave@dsp.example", "list@lists.example"), "thread:help")

	got := f.correlate(email("q1", "Re: UHD build fails on Ubuntu 22.04", day(2), "carol@radio.example", "list@lists.example"))
	assert.Equal(t, "thread:uhd", got.Record.String(),
		"a first-time replier shares only the list (a hub), but the base subject's words are on no other tracked email: specific enough")
	assert.InDelta(t, correlate.Likely*0.7, got.Confidence, 0.05, "hub-only matches have 0.7 times the confidence")
	assert.Contains(t, got.Reason, "sharing only the hub list@lists.example")
	require.NotEmpty(t, evidence(got, "Participants"))
	assert.Contains(t, evidence(got, "Participants")[0], "hub address on 62 of 62 tracked emails")
	assert.Regexp(t, `score \d+\.\d bits = hub 4\.0 \+ subject ≥ \d+\.\d \(MinScore 8\.0\)`, evidence(got, "Participants")[1],
		"the Evidence spells the score out; the words are read until the subject carries enough")

	got = f.correlate(email("q2", "Re: Help", day(2), "carol@radio.example", "list@lists.example"))
	assert.False(t, got.Found(), "a subject of stop words shared through the list alone proves nothing")
	assert.Contains(t, got.Reason, "shares only hub list@lists.example, and the base subject is not specific enough")

	f2 := listFixture(t, 60, &smartmatch.Options{HubRefresh: -1, HubBits: -100})
	f2.track(email("s1", "UHD build fails on Ubuntu 22.04", day(1), "alice@ettus.example", "list@lists.example"), "thread:uhd")
	got = f2.correlate(email("q1", "Re: UHD build fails on Ubuntu 22.04", day(2), "carol@radio.example", "list@lists.example"))
	assert.False(t, got.Found(), "with HubBits -100 a hub never carries a match")

	f3 := listFixture(t, 30, &smartmatch.Options{HubRefresh: -1})
	f3.track(email("s1", "Help", day(1), "alice@ettus.example", "list@lists.example"), "thread:help")
	got = f3.correlate(email("q1", "Re: Help", day(2), "carol@radio.example", "list@lists.example"))
	assert.False(t, got.Found(), "below HubMinCount the list is not a hub, but a recipient of incoming mail on both sides counts as one: still no match on stop words")
}

// TestImproved_Specificity shows the subject's specificity coming from the
// tracked emails: a word many conversations carry is generic, a word only
// the candidate's conversation carries is specific, whatever the language.
func TestImproved_Specificity(t *testing.T) {
	const list = "list@lists.example"
	// 100 conversations of other people whose subjects all name the
	// product "Zircon", and one whose subject is only about it.
	f := newFixture(t, &smartmatch.Options{HubRefresh: -1})
	for i := range 100 {
		f.track(email(fmt.Sprintf("z%d", i), fmt.Sprintf("Zircon %s", []string{"crash", "install", "licence", "upgrade"}[i%4])+fmt.Sprint(" ", i),
			day(0), fmt.Sprintf("u%d@org%d.example", i, i), list), fmt.Sprintf("thread:z%d", i))
	}
	f.track(email("a", "Zircon", day(1), "alice@ettus.example", list), "thread:zircon")
	f.track(email("b", "Kalibrierung des Empfängers", day(1), "bernd@dsp.example", list), "thread:kal")

	got := f.correlate(email("q1", "Re: Zircon", day(2), "carol@radio.example", list))
	assert.False(t, got.Found(), "\"zircon\" is on 100 of 102 tracked emails: generic in this mailbox (log2(614/100.5) = 2.6 bits), and a list alone cannot carry it")
	assert.Contains(t, got.Reason, "not specific enough")

	got = f.correlate(email("q2", "AW: Kalibrierung des Empfängers", day(2), "carol@radio.example", list))
	assert.Equal(t, "thread:kal", got.Record.String(), "two words no other conversation has (\"des\" is a stop word): specific enough for the list to carry")

	got = f.correlate(email("q3", "Re: Zircon", day(2), "alice@ettus.example", list))
	assert.Equal(t, "thread:zircon", got.Record.String(), "the same customer needs no specific subject")
}

// TestImproved_Participants checks the three levels of participants and
// their evidence: the same address, the same organization, a hub; and the
// traps that must stay refused.
func TestImproved_Participants(t *testing.T) {
	const (
		support = "support@fabrikam.example"
		rep     = "anna@fabrikam.example"
		alice   = "alice@contoso.example"
		bob     = "bob@contoso.example"
		carol   = "carol@northwind.example"
		gina    = "gina@gmail.com"
		gus     = "gus@gmail.com"
	)
	own := []string{"@fabrikam.example"}
	subj := "Printer on floor 3 offline"
	tests := []struct {
		name    string
		opts    smartmatch.Options
		tracked []tracked
		msg     *correlate.Message
		want    string
		level   string // the Participants note's level when matched
		reason  string
	}{
		{
			name:    "CustomerOnCc",
			opts:    smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{{email("a1", subj, day(0), alice, support, "cc:"+bob, "mailbox:"+support), "incident:A"}},
			msg:     email("q", "RE: "+subj, day(1), carol, support, "cc:"+bob, "mailbox:"+support),
			want:    "incident:A",
			level:   "(address)",
			reason:  "the own domain is known, so bob, on Cc of both, is a customer, not a rep: the same address (Dynamics mode matches it too, on support and bob)",
		},
		{
			name:    "CustomerOnCcOwnUnknown",
			tracked: []tracked{{email("a1", subj, day(0), alice, support, "cc:"+bob, "mailbox:"+support), "incident:A"}},
			msg:     email("q", "RE: "+subj, day(1), carol, support, "cc:"+bob, "mailbox:"+support),
			want:    "incident:A",
			level:   "only a hub",
			reason:  "without OwnAddresses bob, a recipient of both incoming emails, might be a rep: he counts as a hub, and the specific subject carries the rest",
		},
		{
			name:    "ColleagueOfTheCustomer",
			opts:    smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{{email("a1", subj, day(0), alice, support), "incident:A"}},
			msg:     email("q", "RE: "+subj, day(1), bob, support),
			want:    "incident:A",
			level:   "organization",
			reason:  "bob never wrote on the case, but he is at contoso.example like alice: the same organization",
		},
		{
			name:    "ColleagueGenericSubject",
			opts:    smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{{email("a1", "Question", day(0), alice, support), "incident:A"}},
			msg:     email("q", "RE: Question", day(1), bob, support),
			reason:  "the same organization, but \"question\" says nothing: an organization alone does not carry a generic subject",
		},
		{
			name:    "FreemailIsNoOrganization",
			opts:    smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{{email("a1", subj, day(0), gina, support), "incident:A"}},
			msg:     email("q", "RE: "+subj, day(1), gus, support),
			reason:  "two gmail.com users are not colleagues",
		},
		{
			name:    "ColleagueOfADifferentCustomer",
			opts:    smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{{email("a1", subj, day(0), alice, support), "incident:A"}},
			msg:     email("q", "RE: "+subj, day(1), carol, support, "cc:"+rep),
			reason:  "trap: carol is at northwind, the case is contoso's; she shares only own addresses, so her mail is another customer's whatever the subject",
		},
		{
			name:    "StrangersPastedToken",
			opts:    smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{{email("a1", subj+" CRM:0001001", day(0), alice, support), "incident:A"}},
			msg:     email("q", "RE: "+subj+" CRM:0001001", day(1), "m.allory@freemail.example", support),
			reason:  "trap: a stranger pastes the case's subject and token; the token is the token strategy's business, and he shares nothing but own addresses",
		},
		{
			name: "GenericSubjectTwoCustomers",
			opts: smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{
				{email("a1", "Service Details", day(0), alice, support, rep), "incident:A"},
				{email("b1", "Service Details", day(1), carol, support, rep), "incident:B"},
			},
			msg:    email("q", "RE: Service Details", day(2), carol, support, rep),
			want:   "incident:B",
			level:  "(address)",
			reason: "trap: the generic subject is tracked for two customers, and the participants separate them: carol's case",
		},
		{
			name: "GenericSubjectTwoCustomersOwnUnknown",
			tracked: []tracked{
				{email("a1", "Service Details", day(0), alice, support, rep, "mailbox:"+support), "incident:A"},
				{email("b1", "Service Details", day(1), carol, support, rep, "mailbox:"+support), "incident:B"},
			},
			msg:    email("q", "Service Details", day(2), "dave@tailspin.example", support, rep, "mailbox:"+support),
			reason: "trap: a third customer's fresh \"Service Details\" to the same reps: only the reps are shared, and the subject is generic",
		},
		{
			name: "SameSubjectSameCustomerTwoRecords",
			opts: smartmatch.Options{OwnAddresses: own},
			tracked: []tracked{
				{email("a1", subj, day(0), alice, support), "incident:A"},
				{email("b1", subj, day(5), alice, support), "incident:B"},
			},
			msg:    email("q", "RE: "+subj, day(6), alice, support),
			reason: "two records with the same base subject and the same customer: participants do not separate them, abstain",
		},
		{
			name: "HubDoesNotSeparate",
			tracked: []tracked{
				{email("a1", subj, day(0), alice, "list@lists.example"), "thread:1"},
				{email("b1", subj, day(5), carol, "list@lists.example"), "thread:2"},
			},
			msg:    email("q", "RE: "+subj, day(6), alice, "list@lists.example"),
			reason: "alice wrote in thread 1, but thread 2 reached her through the same list: on a list the same subject under two records is one conversation split, not two, and guessing which is wrong half the time",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &tt.opts, tt.tracked...)
			got := f.correlate(tt.msg)
			assert.Equal(t, tt.want, got.Record.String(), "Correlate(%q) = %v; %s", tt.msg.Subject, got, tt.reason)
			if tt.want != "" {
				ps := evidence(got, "Participants")
				require.NotEmpty(t, ps)
				assert.Contains(t, ps[len(ps)-1], tt.level, tt.reason)
			}
		})
	}
	// The small case of the issue: Dynamics mode uses the customer on Cc.
	dyn := newFixture(t, &smartmatch.Options{Mode: smartmatch.Dynamics},
		tracked{email("a1", subj, day(0), alice, support, "cc:"+bob), "incident:A"})
	assert.Equal(t, "incident:A", dyn.correlate(email("q", "RE: "+subj, day(1), carol, support, "cc:"+bob)).Record.String(),
		"Dynamics mode: support and bob are two shared addresses")
}

// TestImproved_Fresh checks messages without a reply prefix: list replies
// whose prefix the list dropped match on their evidence; the same author
// sending the subject again starts a new conversation, unless within the
// hour (a correction).
func TestImproved_Fresh(t *testing.T) {
	const list = "list@lists.example"
	f := newFixture(t, &smartmatch.Options{HubRefresh: -1},
		tracked{email("a1", "[zircon] Deployment of the classifier", day(0), "alice@ettus.example", list), "thread:1"},
		tracked{email("h1", "New Hire", day(0), "hr@contoso.example", "manager@contoso.example", "mailbox:manager@contoso.example"), "contact:Jane"})
	got := f.correlate(email("q1", "[zircon] Deployment of the classifier", day(0).Add(3*time.Hour), "bob@dsp.example", list))
	assert.Equal(t, "thread:1", got.Record.String(), "a list that drops \"Re:\": the list and a specific subject carry it, less the fresh bits")
	assert.InDelta(t, correlate.Likely*0.7*0.8, max(got.Confidence, 0), 0.05, "hub and fresh lower the confidence")

	got = f.correlate(email("q2", "[zircon] Deployment of the classifier", day(0).Add(10*time.Minute), "alice@ettus.example", list))
	assert.Equal(t, "thread:1", got.Record.String(), "the author adds to their own message within the hour")

	got = f.correlate(email("q3", "[zircon] Deployment of the classifier", day(3), "alice@ettus.example", list))
	assert.False(t, got.Found(), "three days later the same author with the same fresh subject writes a new message")
	assert.Contains(t, got.Reason, "its author sends the same subject again without a reply prefix")

	got = f.correlate(email("q4", "New Hire", day(10), "hr@contoso.example", "manager@contoso.example", "mailbox:manager@contoso.example"))
	assert.False(t, got.Found(), "Microsoft's false positive: HR sends each \"New Hire\" mail afresh")
}

// TestImproved_Was follows a "(was: …)" trailer to the conversation the
// message continues under a new subject.
func TestImproved_Was(t *testing.T) {
	const list = "list@lists.example"
	f := newFixture(t, &smartmatch.Options{HubRefresh: -1},
		tracked{email("a1", "Goodbye Global Warming", day(0), "alice@ettus.example", list), "thread:1"})
	got := f.correlate(email("q1", "CO2 and climate (was RE: Goodbye Global Warming)", day(1), "bob@dsp.example", list))
	assert.Equal(t, "thread:1", got.Record.String(), "the trailer names the subject of thread 1")
	assert.True(t, got.SubjectChanged)
	assert.Contains(t, got.Reason, "(was: …)")
}

// TestImproved_SubjectAlone checks that without any shared participant only
// a long specific subject carries a match, and only when the own addresses
// are unknown (with them, a message that shares no customer is another
// customer's).
func TestImproved_SubjectAlone(t *testing.T) {
	long := "[PATCH 06/10] cifs: define inode-level cache object and register them"
	f := newFixture(t, nil,
		tracked{email("a1", long, day(0), "sjayaraman@suse.example", "smfrench@samba.example"), "thread:1"},
		tracked{email("b1", "Printer offline", day(0), "alice@contoso.example", "bob@contoso.example"), "thread:2"})
	got := f.correlate(email("q1", "Re: "+long, day(1), "sjayaraman-l3A5Bk7waGM@public.gmane.example", "smfrench-Re5JQEeQqe8AvxtiuMwx3w@public.gmane.example"))
	assert.Equal(t, "thread:1", got.Record.String(), "an archive rewrote every address; the long specific subject carries the match alone")
	assert.Contains(t, got.Reason, "sharing no participant")

	got = f.correlate(email("q2", "Re: Printer offline", day(1), "carol@northwind.example", "dave@northwind.example"))
	assert.False(t, got.Found(), "two words do not carry a match alone")

	f2 := newFixture(t, &smartmatch.Options{OwnAddresses: []string{"@fabrikam.example"}},
		tracked{email("a1", long, day(0), "sjayaraman@suse.example", "support@fabrikam.example"), "thread:1"})
	got = f2.correlate(email("q1", "Re: "+long, day(1), "carol@northwind.example", "support@fabrikam.example"))
	assert.False(t, got.Found(), "with the own addresses known, a message that shares no customer is another customer's")
}

// TestImproved_NoRecipients checks mail that lists no recipient (archives,
// Bcc): without own addresses it came through the mailbox, like the
// incoming tracked emails.
func TestImproved_NoRecipients(t *testing.T) {
	f := newFixture(t, nil, tracked{email("a1", "[Spambayes] Deployment", day(0), "brad@murkworks.example"), "thread:1"})
	got := f.correlate(email("q1", "[Spambayes] Deployment", day(0).Add(time.Hour), "guido@python.example"))
	assert.Equal(t, "thread:1", got.Record.String(), "a list archive without To: the mailbox is the shared route, and the subject is specific")
	assert.Contains(t, got.Reason, "(no recipient listed)")
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
	assert.Contains(t, got.Reason, "(sharing address and address)")
	assert.Equal(t, []string{"incident:B: tracked email 2 (incident:B), shares address anna@fabrikam.example"}, evidence(got, "candidate"),
		"the newer email ranks first (recency)")
	assert.Equal(t, []string{"incident:A: tracked email 1 (incident:A), shares address anna@fabrikam.example"}, evidence(got, "runner-up"))
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
	m := email("q", "[Support] Printer offline!", day(0), "Anna@Fabrikam.example", "rep@contoso.example",
		"help@queues.example", "mailbox:me@contoso.example", "cc:b@x.example", "cc:c@x.example", "cc:d@x.example")
	keys := c.Index(m, &correlate.Tracked{}, nil)
	conv := correlate.Key{Kind: smartmatch.KindConversation}
	assert.Equal(t, []correlate.Key{
		{Kind: smartmatch.KindSubject, Value: "printer offline"},
		conv,
		{Kind: smartmatch.KindTerm, Value: "printer"},
		{Kind: smartmatch.KindTerm, Value: "offline"},
		{Kind: smartmatch.KindAddress, Value: "anna@fabrikam.example"},
		{Kind: smartmatch.KindAddress, Value: "b@x.example"},
		{Kind: smartmatch.KindAddress, Value: "c@x.example"},
	}, keys, "one signature key, the conversation key and its words (an email without a reply prefix, filed without correlation, starts a conversation), then at most MaxAddresses addresses that are not own (an address, a domain, the mailbox)")

	reply := *m
	reply.Subject = "RE: [Support] Printer offline!"
	for _, tr := range []*correlate.Tracked{{}, {CorrelatedWith: 7}} {
		assert.Equal(t, []correlate.Key{
			{Kind: smartmatch.KindSubject, Value: "printer offline"},
			{Kind: smartmatch.KindAddress, Value: "anna@fabrikam.example"},
			{Kind: smartmatch.KindAddress, Value: "b@x.example"},
			{Kind: smartmatch.KindAddress, Value: "c@x.example"},
		}, c.Index(&reply, tr, nil), "a reply continues a conversation, filed by the CRM or correlated: its words were counted with the conversation's first email")
	}

	keys = c.Index(m, &correlate.Tracked{CorrelatedWith: 7}, nil)
	assert.Equal(t, []correlate.Key{
		{Kind: smartmatch.KindSubject, Value: "printer offline"},
		{Kind: smartmatch.KindAddress, Value: "anna@fabrikam.example"},
		{Kind: smartmatch.KindAddress, Value: "b@x.example"},
		{Kind: smartmatch.KindAddress, Value: "c@x.example"},
	}, keys, "an email correlated with a tracked email continues its conversation, prefix or not (a list dropped it)")

	keys = c.Index(email("q", "the new invoice for the order of Zircon units", day(0), "a@x.example"), &correlate.Tracked{}, nil)
	assert.Equal(t, []correlate.Key{
		{Kind: smartmatch.KindSubject, Value: "the new invoice for the order of zircon units"},
		conv,
		{Kind: smartmatch.KindTerm, Value: "zircon"},
		{Kind: smartmatch.KindTerm, Value: "units"},
		{Kind: smartmatch.KindAddress, Value: "a@x.example"},
	}, keys, "stop words are not indexed")

	long := email("q", fmt.Sprint(make([]int, 100)), day(0), "a@x.example")
	keys = c.Index(long, &correlate.Tracked{}, nil)
	require.Len(t, keys, 3, "the signature, the conversation and the address: \"0\" is a one-character word, not indexed")
	assert.Len(t, keys[0].Value, 17, "a signature longer than 128 bytes is hashed")
	assert.Equal(t, byte('#'), keys[0].Value[0])

	word := strings.Repeat("x", 50)
	keys = c.Index(email("q", word, day(0), "a@x.example"), &correlate.Tracked{}, nil)
	require.Len(t, keys, 4)
	assert.Equal(t, smartmatch.KindTerm, keys[2].Kind)
	assert.Len(t, keys[2].Value, 17, "a word longer than 40 bytes is hashed")

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

// TestImproved_ListWithOwnAddresses checks mail that came through a
// mailing list when the own addresses are known: the list address, a
// recipient of both emails, is a hub (List-Post names it), not a customer
// on Cc.
func TestImproved_ListWithOwnAddresses(t *testing.T) {
	const list = "dev@lists.example"
	viaList := func(m *correlate.Message) *correlate.Message {
		m.Header = mail.Header{"List-Id": {"<dev.lists.example>"}, "List-Post": {"<mailto:DEV@lists.example>"}}
		return m
	}
	own := &smartmatch.Options{OwnAddresses: []string{"@fabrikam.example"}}
	f := newFixture(t, own, tracked{viaList(email("a1", "Help", day(0), "bob@dsp.example", list, "mailbox:me@fabrikam.example")), "thread:1"})
	got := f.correlate(viaList(email("q1", "Re: Help", day(1), "dave@sdr.example", list, "mailbox:me@fabrikam.example")))
	assert.False(t, got.Found(), "the list is a hub, and \"help\" says nothing")
	assert.Contains(t, evidence(got, "Participants"), "dev@lists.example: hub address: the mailing list of List-Post")

	f = newFixture(t, own, tracked{email("a1", "Help", day(0), "bob@dsp.example", "carol@dsp.example", "mailbox:me@fabrikam.example"), "thread:1"})
	got = f.correlate(email("q1", "Re: Help", day(1), "dave@sdr.example", "carol@dsp.example", "mailbox:me@fabrikam.example"))
	assert.Equal(t, "thread:1", got.Record.String(), "without a list, carol, on both and not own, is a customer: the same person")
}
