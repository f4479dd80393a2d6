package smartmatch_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
)

func dynamics(o smartmatch.Options) *smartmatch.Options {
	o.Mode = smartmatch.Dynamics
	return &o
}

// TestDynamics reproduces the behaviours Microsoft documents for smart
// matching (reference notes §3) and the ones this package defines where
// Microsoft is silent.
func TestDynamics(t *testing.T) {
	const (
		cust  = "anna@fabrikam.example"
		rep1  = "rep1@contoso.example"
		rep2  = "rep2@contoso.example"
		other = "bob@northwind.example"
	)
	tests := []struct {
		name    string
		opts    smartmatch.Options
		tracked []tracked
		msg     *correlate.Message
		want    string // record, "" for none
		reason  string
	}{
		{
			name:    "ReHelloMatchesHello",
			tracked: []tracked{{email("a1", "Hello", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Re: hello", day(1), rep1, cust),
			want:    "incident:A",
			reason:  `Microsoft: "Re: hello" and "Hello" match: HashFilterKeywords removes "Re:", case is ignored, and both addresses are shared`,
		},
		{
			name:    "StackedPrefixesFiltered",
			tracked: []tracked{{email("a1", "Printer offline", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "  FW: RE : AW:Printer offline", day(1), rep1, cust),
			want:    "incident:A",
			reason:  `the default regex removes one or more leading "word:" prefixes, a space before the colon included, with .NET's Unicode \w`,
		},
		{
			name:    "GreekPrefixFiltered",
			tracked: []tracked{{email("a1", "Εκτυπωτής", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "ΑΠ: Εκτυπωτής", day(1), rep1, cust),
			want:    "incident:A",
			reason:  `.NET's \w matches Greek letters, so "ΑΠ:" is a filtered prefix (Go's ASCII \w would keep it)`,
		},
		{
			name:    "MultiWordPrefixNotFiltered",
			tracked: []tracked{{email("a1", "Printer offline", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Out of office: Printer offline", day(1), cust, rep1),
			reason:  `the default regex removes only single-word prefixes: "Out of office:" stays and adds three words`,
		},
		{
			name:    "ExtendedFilterRemovesOutOfOffice",
			opts:    smartmatch.Options{HashFilterKeywords: `^[\s]*([\w]+\s?:[\s]*)+|Out of office:`},
			tracked: []tracked{{email("a1", "Printer offline", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Out of office: Printer offline", day(1), cust, rep1),
			want:    "incident:A",
			reason:  "Microsoft's suggested extension of the regex removes the auto-reply prefix",
		},
		{
			name:    "OneWordDifferentAtDelta0",
			tracked: []tracked{{email("a1", "Invoice for March", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "RE: Invoice for April", day(1), rep1, cust),
			reason:  "HashDeltaSubjectCount 0 (the default): every word must match",
		},
		{
			name:    "OneWordDifferentAtDelta1",
			opts:    smartmatch.Options{HashDeltaSubjectCount: 1},
			tracked: []tracked{{email("a1", "Invoice for March", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "RE: Invoice for April", day(1), rep1, cust),
			want:    "incident:A",
			reason:  "at delta 1 one word of each subject may be unmatched",
		},
		{
			name:    "OneWordAddedAtDelta0",
			tracked: []tracked{{email("a1", "Invoice for March", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "RE: Invoice for March corrected", day(1), rep1, cust),
			reason:  "the counts of subject hashes differ (3 and 4) and the delta is 0",
		},
		{
			name:    "OneWordAddedAtDelta1",
			opts:    smartmatch.Options{HashDeltaSubjectCount: 1},
			tracked: []tracked{{email("a1", "Invoice for March", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "RE: Invoice for March corrected", day(1), rep1, cust),
			want:    "incident:A",
			reason:  "the counts differ by 1 ≤ delta and all 3 words of the shorter subject match",
		},
		{
			name:    "NoSharedWordAtDelta1",
			opts:    smartmatch.Options{HashDeltaSubjectCount: 1},
			tracked: []tracked{{email("a1", "Hello", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "RE: Goodbye", day(1), rep1, cust),
			reason:  "a candidate must share at least one subject hash: Dynamics finds candidates by joining on the hashes",
		},
		{
			name:    "WordOrderIgnored",
			tracked: []tracked{{email("a1", "march invoice", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "RE: Invoice March", day(1), rep1, cust),
			want:    "incident:A",
			reason:  "hashes are compared as a set of words, not in order",
		},
		{
			name:    "OneSharedRecipientNotEnough",
			tracked: []tracked{{email("a1", "Hello", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Re: Hello", day(1), other, rep1),
			reason:  "HashMinAddressCount 2 (the default): only rep1 is shared",
		},
		{
			name:    "OneSharedRecipientAtMinimum1",
			opts:    smartmatch.Options{HashMinAddressCount: 1},
			tracked: []tracked{{email("a1", "Hello", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Re: Hello", day(1), other, rep1),
			want:    "incident:A",
			reason:  "with HashMinAddressCount 1 the shared rep1 suffices",
		},
		{
			name:    "Within90Days",
			tracked: []tracked{{email("a1", "Hello", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Re: Hello", day(89), rep1, cust),
			want:    "incident:A",
			reason:  "89 days back lies inside Dynamics' 90-day window",
		},
		{
			name:    "Beyond90Days",
			tracked: []tracked{{email("a1", "Hello", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Re: Hello", day(91), rep1, cust),
			reason:  "91 days back lies outside the 90-day window",
		},
		{
			name:    "NoWindow",
			opts:    smartmatch.Options{Window: -1},
			tracked: []tracked{{email("a1", "Hello", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Re: Hello", day(400), rep1, cust),
			want:    "incident:A",
			reason:  "a negative Window removes the bound",
		},
		{
			name: "NewestWins",
			tracked: []tracked{
				{email("a1", "Hello", day(0), cust, rep1), "incident:A"},
				{email("b1", "Hello", day(2), cust, rep1), "incident:B"},
				{email("a2", "RE: Hello", day(1), rep1, cust), "incident:A"},
			},
			msg:    email("q", "Re: Hello", day(3), cust, rep1),
			want:   "incident:B",
			reason: "several tracked emails match; the newest one (day 2) wins, this package's documented tie-break",
		},
		{
			name: "TokenIsAWord",
			tracked: []tracked{
				{email("a1", "Printer offline CRM:0001001", day(0), rep1, cust), "incident:A"},
			},
			msg:    email("q", "RE: Printer offline CRM:0001002", day(1), cust, rep1),
			reason: "with tokens enabled the token is a subject word, so a different token is a different word",
		},
		{
			name: "First20WordsOnly",
			tracked: []tracked{{email("a1", strings.Repeat("w ", 19)+"twenty tail one", day(0), cust, rep1),
				"incident:A"}},
			msg:    email("q", "RE: "+strings.Repeat("w ", 19)+"twenty tail two", day(1), rep1, cust),
			want:   "incident:A",
			reason: "HashMaxCount 20: only the first 20 words are hashed; the subjects differ after them",
		},
		{
			name:    "EmptySubject",
			tracked: []tracked{{email("a1", "", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "RE:", day(1), rep1, cust),
			reason:  "a subject without words has no hashes to match",
		},
		{
			name:    "SenderItselfNotMatched",
			tracked: []tracked{{email("q", "Hello", day(0), cust, rep1), "incident:A"}},
			msg:     email("q", "Hello", day(0), cust, rep1),
			reason:  "an email already tracked does not correlate with itself",
		},
		{
			name: "ServiceDetails",
			tracked: []tracked{
				{email("a1", "Service Details", day(0), "anna@fabrikam.example", rep1, rep2), "incident:Fabrikam"},
			},
			msg:    email("q", "Service Details", day(3), "bob@northwind.example", rep1, rep2),
			want:   "incident:Fabrikam",
			reason: "Microsoft's false positive: another customer's \"Service Details\" to the same two reps shares the subject and two addresses",
		},
		{
			name: "NewHire",
			tracked: []tracked{
				{email("h1", "New Hire", day(0), "hr@contoso.example", "manager@contoso.example", "cc:it@contoso.example"), "contact:Jane"},
			},
			msg:    email("q", "New Hire", day(10), "hr@contoso.example", "manager@contoso.example", "cc:it@contoso.example"),
			want:   "contact:Jane",
			reason: "Microsoft's false positive: HR's next \"New Hire\" mail to the same manager, about another person",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, dynamics(tt.opts), tt.tracked...)
			got := f.correlate(tt.msg)
			assert.Equal(t, tt.want, got.Record.String(), "Correlate(%q) = %v; %s", tt.msg.Subject, got, tt.reason)
			if tt.want != "" {
				assert.Equal(t, correlate.SmartMatching, got.Method)
				assert.Equal(t, correlate.Weak, got.Confidence)
				assert.Equal(t, "smart", got.Strategy)
				require.NotNil(t, got.CorrelatedWith)
				assert.Equal(t, tt.want, got.CorrelatedWith.Record.String())
			}
		})
	}
}

func TestDynamics_SubjectChanged(t *testing.T) {
	f := newFixture(t, dynamics(smartmatch.Options{HashDeltaSubjectCount: 1}),
		tracked{email("a1", "Invoice for March", day(0), "a@x.example", "b@y.example"), "incident:A"})
	got := f.correlate(email("q", "RE: Invoice for April", day(1), "b@y.example", "a@x.example"))
	assert.True(t, got.SubjectChanged, "an edited word changes the base subject (Dynamics' correlatedsubjectchanged)")
	got = f.correlate(email("q2", "RE: invoice for march", day(1), "b@y.example", "a@x.example"))
	assert.False(t, got.SubjectChanged, "a reply prefix and case do not change the base subject")
}

func TestDynamics_MinConfidence(t *testing.T) {
	f := newFixture(t, dynamics(smartmatch.Options{MinConfidence: 0.5}),
		tracked{email("a1", "Hello", day(0), "a@x.example", "b@y.example"), "incident:A"})
	got := f.correlate(email("q", "Re: Hello", day(1), "b@y.example", "a@x.example"))
	assert.False(t, got.Found(), "Dynamics matches have confidence Weak (0.4), below 0.5")
	assert.NotEmpty(t, evidence(got, "Confidence"), "the abstention names the candidate")
}

func TestDynamics_TrackOnly(t *testing.T) {
	f := newFixture(t, dynamics(smartmatch.Options{}),
		tracked{email("a1", "Hello", day(0), "a@x.example", "b@y.example"), ""})
	got := f.correlate(email("q", "Re: Hello", day(1), "b@y.example", "a@x.example"))
	assert.False(t, got.Found())
	assert.True(t, got.Track, "the newest match was tracked without a record: inherit that, as Dynamics copies an empty regarding")
	require.NotNil(t, got.CorrelatedWith)
}

func TestDynamics_Hash(t *testing.T) {
	c := smartmatch.New(nil, dynamics(smartmatch.Options{HashMaxCount: 3}))
	m := email("q", "RE: FW: Hello  HELLO world again", day(0), "A@X.example", "b@y.example", "cc:a@x.example", "cc:c@z.example")
	h := c.Hash(m)
	require.Len(t, h.Words, 3, "HashMaxCount bounds the words")
	assert.Equal(t, h.Words[0], h.Words[1], "case does not matter")
	assert.NotEqual(t, h.Words[1], h.Words[2])
	assert.Equal(t, []string{"a@x.example", "b@y.example", "c@z.example"}, h.Addresses, "unique, normalized, at most 3")
	assert.Empty(t, c.Hash(nil).Words)
}

func TestDynamics_Index(t *testing.T) {
	c := smartmatch.New(nil, dynamics(smartmatch.Options{}))
	m := email("q", "RE: Hello hello world", day(0), "a@x.example", "b@y.example", "cc:a@x.example")
	keys := c.Index(m, &correlate.Tracked{}, nil)
	kinds := map[string]int{}
	for _, k := range keys {
		kinds[k.Kind]++
	}
	assert.Equal(t, map[string]int{smartmatch.KindWord: 2, smartmatch.KindAddress: 2}, kinds,
		"one key per distinct word hash and per unique address; no subject signature in Dynamics mode")
	for _, k := range keys {
		if k.Kind == smartmatch.KindWord {
			assert.Len(t, k.Value, 8, "a 32-bit hash in hex")
		}
	}
}

func TestDynamics_BadFilter(t *testing.T) {
	c := smartmatch.New(nil, dynamics(smartmatch.Options{HashFilterKeywords: `^(?<=x)re:`}))
	_, err := c.Correlate(context.Background(), email("q", "re: x", day(0), "a@x.example", "b@y.example"))
	require.Error(t, err, "a filter RE2 cannot compile stops the chain instead of misfiling mail")
	assert.Contains(t, err.Error(), "smartmatch: HashFilterKeywords")
	assert.Empty(t, c.Index(email("q", "re: x", day(0), "a@x.example"), &correlate.Tracked{}, nil))
}
