package correlate_test

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// TestParseMessageDropsJunkIDs checks that ParseMessage cleans In-Reply-To
// and References once: junk leaves the fields, is reported as a problem
// and in DroppedIDs, and LookupIDs gives the usable ids in lookup order.
func TestParseMessageDropsJunkIDs(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		irt, refs   []string
		lookup      []string
		nIRT        int
		parent      bool
		dropped     []string // Field: Value: Note, as the Evidence prints
		problems    int
		phraseIRT   bool
		why         string
		phraseRefs  bool
		wantProblem string
	}{
		{
			name:   "ordinary reply",
			raw:    "Message-ID: <m@x.example>\nFrom: a@x.example\nIn-Reply-To: <p@x.example>\nReferences: <r@x.example> <p@x.example>\n\n",
			irt:    []string{"p@x.example"},
			refs:   []string{"r@x.example", "p@x.example"},
			lookup: []string{"p@x.example", "r@x.example"}, nIRT: 1, parent: true,
			why: "In-Reply-To first, then References newest first without the repeat of the In-Reply-To id",
		},
		{
			name:   "git send-email yes",
			raw:    "Message-ID: <m@x.example>\nFrom: a@x.example\nIn-Reply-To: <yes>\nReferences: <r@x.example>\n\n",
			irt:    nil,
			refs:   []string{"r@x.example"},
			lookup: []string{"r@x.example"}, nIRT: 0, parent: true,
			dropped:  []string{"In-Reply-To yes: " + correlate.JunkNoAt},
			problems: 1, wantProblem: "In-Reply-To: junk id dropped: " + correlate.JunkNoAt,
			why: "<yes> is a placeholder; without a usable In-Reply-To the newest References id is the parent",
		},
		{
			name:     "own id and an address",
			raw:      "Message-ID: <m@x.example>\nFrom: Ann <ann@x.example>\nIn-Reply-To: Message from Ann <ann@x.example> of Monday\nReferences: <m@x.example> <r@x.example>\n\n",
			irt:      nil,
			refs:     []string{"r@x.example"},
			lookup:   []string{"r@x.example"},
			parent:   true,
			dropped:  []string{"In-Reply-To ann@x.example: " + correlate.JunkAddress, "References m@x.example: " + correlate.JunkSelf},
			problems: 2, phraseIRT: true,
			why: "nmh writes the address answered; a message listing its own id is a loop",
		},
		{
			name:     "newest References id is junk",
			raw:      "Message-ID: <m@x.example>\nFrom: a@x.example\nReferences: <r@x.example> <none>\n\n",
			refs:     []string{"r@x.example"},
			lookup:   []string{"r@x.example"},
			parent:   false,
			dropped:  []string{"References none: " + correlate.JunkNoAt},
			problems: 1,
			why:      "the parent was the junk id: it is unknown, and the older id is only an ancestor",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := correlate.ParseMessage(strings.NewReader(tt.raw), nil)
			require.NotNil(t, m)
			var pe *correlate.ParseError
			if tt.problems == 0 {
				require.NoError(t, err, tt.why)
			} else {
				require.True(t, errors.As(err, &pe), tt.why)
				assert.Len(t, pe.Problems, tt.problems, tt.why)
				if tt.wantProblem != "" {
					assert.Equal(t, tt.wantProblem, pe.Problems[0].Error(), tt.why)
				}
			}
			assert.Equal(t, tt.irt, m.InReplyTo, tt.why)
			assert.Equal(t, tt.refs, m.References, tt.why)
			ids, nIRT, parent := m.LookupIDs()
			assert.Equal(t, tt.lookup, ids, tt.why)
			assert.Equal(t, tt.nIRT, nIRT, tt.why)
			assert.Equal(t, tt.parent, parent, tt.why)
			var dropped []string
			for _, e := range m.DroppedIDs() {
				dropped = append(dropped, e.String())
			}
			assert.Equal(t, tt.dropped, dropped, tt.why)
			phraseIRT, phraseRefs := m.PhraseIDs()
			assert.Equal(t, tt.phraseIRT, phraseIRT, tt.why)
			assert.Equal(t, tt.phraseRefs, phraseRefs, tt.why)
		})
	}
}

// TestMessageFactsHandBuilt checks that a Message built by hand gets the
// same cleaning at first use, without its fields being modified.
func TestMessageFactsHandBuilt(t *testing.T) {
	m := &correlate.Message{
		MessageID:  "<me@X.example>",
		From:       []correlate.Address{{Address: "Ann@X.example"}, {Address: "ann@x.example"}},
		Sender:     correlate.Address{Address: "desk@x.example"},
		To:         []correlate.Address{{Address: "bob@y.example"}},
		Cc:         []correlate.Address{{Address: "ann@x.example"}},
		InReplyTo:  []string{"<Parent@X.Example>", "yes"},
		References: []string{"<root@x.example>", "<Parent@x.example>", "<me@x.example>"},
		Header:     mail.Header{"In-Reply-To": {"<Parent@X.Example> yes"}},
	}
	id, junk := m.OwnID()
	assert.Equal(t, "me@x.example", id, "normalized: the domain lower-cased")
	assert.Empty(t, junk)
	ids, nIRT, parent := m.LookupIDs()
	assert.Equal(t, []string{"Parent@x.example", "root@x.example"}, ids, "normalized, junk and the own id dropped, each once")
	assert.Equal(t, 1, nIRT)
	assert.True(t, parent)
	assert.Len(t, m.DroppedIDs(), 2, "yes and the own id")
	assert.Equal(t, []string{"<Parent@X.Example>", "yes"}, m.InReplyTo, "a Message built by hand is not modified")
	phraseIRT, _ := m.PhraseIDs()
	assert.True(t, phraseIRT, "\"yes\" outside brackets is a phrase")
	assert.Equal(t, []string{"ann@x.example", "desk@x.example", "bob@y.example"}, m.Participants(), "normalized, each once, senders first")
	assert.Equal(t, []string{"ann@x.example", "desk@x.example"}, m.Senders())
	assert.Equal(t, "ann@x.example", m.SenderAddress())
}

// TestMessageFactsFollowAssignments checks that facts are recomputed when
// a field is assigned anew after they were used: a caller that sets the
// subject or the recipients after parsing must not see stale participants
// or ids.
func TestMessageFactsFollowAssignments(t *testing.T) {
	m, _ := parse(t, "Message-ID: <m@x.example>\nFrom: a@x.example\nTo: b@x.example\nIn-Reply-To: <p@x.example>\n\n")
	assert.Equal(t, []string{"a@x.example", "b@x.example"}, m.Participants())
	m.Cc = []correlate.Address{{Address: "C@x.example"}}
	assert.Equal(t, []string{"a@x.example", "b@x.example", "c@x.example"}, m.Participants(), "a new Cc counts")
	m.InReplyTo = []string{"q@x.example"}
	ids, _, _ := m.LookupIDs()
	assert.Equal(t, []string{"q@x.example"}, ids, "a new In-Reply-To counts")
	m.From = nil
	assert.Equal(t, "", m.SenderAddress(), "no From, no Sender: no sender")
	c := *m // a copy shares the facts while its fields are the same
	assert.Equal(t, m.Participants(), c.Participants())
	c.To = nil
	assert.Equal(t, []string{"c@x.example"}, c.Participants(), "and gets its own when they differ")
	assert.Equal(t, []string{"b@x.example", "c@x.example"}, m.Participants(), "the original keeps its own")
}

// TestMessageFactsConcurrent computes the facts of one Message built by
// hand from many goroutines at once, as an Engine shared by a server does;
// run with -race.
func TestMessageFactsConcurrent(t *testing.T) {
	m := &correlate.Message{MessageID: "m@x.example", From: []correlate.Address{{Address: "a@x.example"}}, InReplyTo: []string{"p@x.example"}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if m.SenderAddress() != "a@x.example" {
					panic("wrong sender")
				}
				if ids, _, _ := m.LookupIDs(); len(ids) != 1 {
					panic("wrong ids")
				}
			}
		})
	}
	wg.Wait()
}

// TestParseMessageJunkFlood checks that a References field of junk costs a
// bounded report: eight problems one by one, then a count.
func TestParseMessageJunkFlood(t *testing.T) {
	var refs strings.Builder
	for i := range 500 {
		fmt.Fprintf(&refs, " <junk%d>", i)
	}
	m, err := correlate.ParseMessage(strings.NewReader("From: a@x.example\nReferences:"+refs.String()+" <real@x.example>\n\n"),
		&correlate.ParseOptions{MaxReferences: -1})
	require.NotNil(t, m)
	var pe *correlate.ParseError
	require.True(t, errors.As(err, &pe))
	require.Len(t, pe.Problems, 9)
	assert.Equal(t, "References: 492 more junk ids dropped", pe.Problems[8].Error())
	assert.Equal(t, []string{"real@x.example"}, m.References)
}

// TestMessageField checks that Field answers as the Header map does, for
// parsed messages (whose field names ParseMessage recorded) and for
// messages built by hand, present and absent fields alike.
func TestMessageField(t *testing.T) {
	m, _ := parse(t, "From: a@x.example\nX-Autoreply: yes\nPrecedence: bulk\nReceived: one\nReceived: two\nX-Empty:\n\n")
	hand := &correlate.Message{Header: mail.Header{"X-Autoreply": {"yes"}, "Received": {"one", "two"}, "X-None": {}}}
	for _, msg := range []*correlate.Message{m, hand} {
		for _, key := range []string{"From", "X-Autoreply", "Precedence", "Received", "X-Empty", "X-None",
			"Auto-Submitted", "List-Id", "X-Autorespond", "Return-Path", "Content-Type", "Subject", "received"} {
			want, wantOK := "", false
			if vs, ok := msg.Header[key]; ok {
				wantOK = true
				if len(vs) > 0 {
					want = vs[0]
				}
			}
			got, ok := msg.Field(key)
			assert.Equal(t, wantOK, ok, "%s present", key)
			assert.Equal(t, want, got, "%s: the first value", key)
		}
	}
	var none *correlate.Message
	_, ok := none.Field("From")
	assert.False(t, ok, "a nil Message has no field")
	assert.False(t, none.HasAnyField("From"))
	for _, msg := range []*correlate.Message{m, hand} {
		assert.True(t, msg.HasAnyField("Auto-Submitted", "X-Autoreply"), "one of them is there")
		assert.True(t, msg.HasAnyField("Received"))
	}
	assert.False(t, m.HasAnyField(), "no keys, no field")
	// A false answer is certain; check it against the map for many names.
	for i := range 2000 {
		key := fmt.Sprintf("X-Field-%d", i)
		if !m.HasAnyField(key) {
			_, present := m.Header[key]
			assert.False(t, present, key)
		}
	}
}

// TestSubjectMemo checks that a derivation of the subject runs once per
// message and key, again when the subject is assigned anew, and that
// different keys keep their own values.
func TestSubjectMemo(t *testing.T) {
	m, _ := parse(t, "From: a@x.example\nSubject: Re: Printer\n\n")
	runs := 0
	upper := func(s string) any { runs++; return strings.ToUpper(s) }
	var k1, k2 int
	assert.Equal(t, "RE: PRINTER", m.SubjectMemo(&k1, upper))
	assert.Equal(t, "RE: PRINTER", m.SubjectMemo(&k1, upper))
	assert.Equal(t, 1, runs, "derived once")
	assert.Equal(t, 11, m.SubjectMemo(&k2, func(s string) any { return len(s) }), "another key, another value")
	m.Subject = "Re: Printer CRM:0001001" // stamped before tracking
	assert.Equal(t, "RE: PRINTER CRM:0001001", m.SubjectMemo(&k1, upper), "a new subject is derived again")
	assert.Equal(t, 2, runs)
	hand := &correlate.Message{Subject: "x"}
	assert.Equal(t, "X", hand.SubjectMemo(&k1, upper), "a Message built by hand keeps memos too")
	assert.Equal(t, "X", hand.SubjectMemo(&k1, upper))
	assert.Equal(t, 3, runs)
}
