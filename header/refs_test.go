package header_test

import (
	"fmt"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
)

// parse reads an inline message; the fixtures are this package's own.
func parse(t testing.TB, raw string) *correlate.Message {
	t.Helper()
	m, err := correlate.ParseMessage(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")), nil)
	require.NotNil(t, m, "%v", err)
	return m
}

func TestJunk(t *testing.T) {
	m := &correlate.Message{
		MessageID: "self.1@mail.example.com",
		From:      []correlate.Address{{Name: "Ann", Address: "ann@example.com"}},
		To:        []correlate.Address{{Address: "Support@Fabrikam.example"}},
		Cc:        []correlate.Address{{Address: "bob@example.org"}},
		ReplyTo:   []correlate.Address{{Address: "list@lists.example.org"}},
		Sender:    correlate.Address{Address: "owner@lists.example.org"},
	}
	tests := []struct {
		name, id, want, reason string
	}{
		{name: "Good", id: "CAFx1=abc@mail.gmail.com", want: "", reason: "an ordinary Message-ID"},
		{name: "Bracketed", id: "<a.b@Example.COM>", want: "", reason: "brackets and domain case are normalized away"},
		{name: "Yes", id: "yes", want: header.JunkNoAt, reason: "git send-email's In-Reply-To prompt answered 'yes' (lkml corpus)"},
		{name: "Placeholder", id: "<none>", want: header.JunkNoAt, reason: "placeholders have no '@'"},
		{name: "Number", id: "<12345>", want: header.JunkNoAt, reason: "a bare counter is not globally unique"},
		{name: "Empty", id: "<>", want: header.JunkEmpty, reason: "empty brackets"},
		{name: "NoLocal", id: "@example.com", want: header.JunkNoLocal, reason: "nothing before '@'"},
		{name: "NoDomain", id: "abc@", want: header.JunkNoDomain, reason: "nothing after '@'"},
		{name: "Inner bracket", id: "a<b@example.com", want: header.JunkMalformed, reason: "angle bracket inside an id"},
		{name: "Control", id: "a\x01b@example.com", want: header.JunkMalformed, reason: "control character inside an id"},
		{name: "TooLong", id: strings.Repeat("x", 999) + "@example.com", want: header.JunkTooLong, reason: "beyond RFC 5322's line limit"},
		{name: "Self", id: "<self.1@MAIL.example.com>", want: header.JunkSelf, reason: "the message's own id, domain case aside"},
		{name: "SelfOtherCase", id: "SELF.1@mail.example.com", want: "", reason: "local parts are case-sensitive: a different id"},
		{name: "From", id: "ann@example.com", want: header.JunkAddress, reason: "nmh's 'Message from Ann <ann@example.com>'"},
		{name: "ToCase", id: "support@fabrikam.example", want: header.JunkAddress, reason: "addresses compare case-insensitively"},
		{name: "Cc", id: "bob@example.org", want: header.JunkAddress, reason: "any address of the message"},
		{name: "ReplyTo", id: "list@lists.example.org", want: header.JunkAddress, reason: "Reply-To is an address too"},
		{name: "Sender", id: "owner@lists.example.org", want: header.JunkAddress, reason: "Sender is an address too"},
		{name: "Stranger", id: "carol@example.net", want: "", reason: "an address of someone else cannot be told from an id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, header.Junk(tt.id, m), tt.reason)
		})
	}
	assert.Equal(t, "", header.Junk("ann@example.com", nil), "without a message only the form is checked")
}

func TestReadRefs(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		max         int
		wantIDs     []string
		wantParent  string
		wantDropped []string // Values of Dropped
		reason      string
	}{
		{
			name: "ReplyChain",
			raw: `Message-ID: <c@x.example>
In-Reply-To: <b@x.example>
References: <a@x.example> <b@x.example>

`,
			wantIDs: []string{"b@x.example", "a@x.example"}, wantParent: "b@x.example",
			reason: "In-Reply-To first, then References newest first, the repeated parent once",
		},
		{
			name: "InReplyToBeatsReferences",
			raw: `Message-ID: <B01-child@example.org>
In-Reply-To: <B00-root@example.org>
References: <B00--root@example.org>

`,
			wantIDs: []string{"B00-root@example.org", "B00--root@example.org"}, wantParent: "B00-root@example.org",
			reason: "a wrong References does not displace In-Reply-To as the parent (notmuch parent-priority case)",
		},
		{
			name: "NoInReplyTo",
			raw: `Message-ID: <d@x.example>
References: <a@x.example> <b@x.example> <c@x.example>

`,
			wantIDs: []string{"c@x.example", "b@x.example", "a@x.example"}, wantParent: "c@x.example",
			reason: "without In-Reply-To the newest References id is the parent",
		},
		{
			name: "GitSendEmailYes",
			raw: `Message-ID: <1277220005-3322-1-git-send-email-a@example.com>
In-Reply-To: <yes>
References: <yes>

`,
			wantDropped: []string{"yes"},
			reason:      "<yes> is dropped once and reported",
		},
		{
			name: "JunkParentInReferences",
			raw: `Message-ID: <d@x.example>
References: <a@x.example> <yes>

`,
			wantIDs: []string{"a@x.example"}, wantDropped: []string{"yes"},
			reason: "when the newest References id is junk the parent is unknown; older ids are still looked up",
		},
		{
			name: "SelfReference",
			raw: `Message-ID: <loop@x.example>
In-Reply-To: <loop@x.example>
References: <a@x.example> <loop@x.example>

`,
			wantIDs: []string{"a@x.example"}, wantDropped: []string{"loop@x.example"},
			reason: "a message never follows itself",
		},
		{
			name: "NmhAddress",
			raw: `Message-ID: <20020822175806.1E6E343F99@phobos.example>
From: Justin <jm@example.com>
To: "Craig R. Hughes" <craig@deersoft.example>
In-Reply-To: Message from "Craig R. Hughes" <craig@deersoft.example> of
    "Thu, 22 Aug 2002 10:50:57 PDT." <B624EDE6-B5F7@deersoft.example>

`,
			wantIDs: []string{"B624EDE6-B5F7@deersoft.example"}, wantParent: "B624EDE6-B5F7@deersoft.example",
			wantDropped: []string{"craig@deersoft.example"},
			reason:      "nmh writes the answered person's address in brackets before the id",
		},
		{
			name: "Bound",
			raw: `Message-ID: <z@x.example>
In-Reply-To: <e@x.example>
References: <a@x.example> <b@x.example> <c@x.example> <d@x.example> <e@x.example>

`,
			max:     3,
			wantIDs: []string{"e@x.example", "d@x.example", "c@x.example"}, wantParent: "e@x.example",
			wantDropped: []string{""},
			reason:      "the bound keeps the newest ids and says it cut",
		},
		{
			name: "CaseOfDomain",
			raw: `Message-ID: <z@x.example>
In-Reply-To: <AbC@MAIL.Example.COM>

`,
			wantIDs: []string{"AbC@mail.example.com"}, wantParent: "AbC@mail.example.com",
			reason: "the domain is lower-cased, the local part kept",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := header.ReadRefs(parse(t, tt.raw), tt.max)
			assert.Equal(t, tt.wantIDs, r.IDs, tt.reason)
			assert.Equal(t, tt.wantParent, r.Parent, tt.reason)
			var dropped []string
			for _, e := range r.Dropped {
				dropped = append(dropped, e.Value)
			}
			assert.Equal(t, tt.wantDropped, dropped, tt.reason)
		})
	}
	assert.Equal(t, header.Refs{}, header.ReadRefs(nil, 0), "a nil message has no references")
}

// TestReadRefsHandBuilt checks a Message built by hand (from an API rather
// than parsed), whose ids may still carry brackets.
func TestReadRefsHandBuilt(t *testing.T) {
	m := &correlate.Message{
		MessageID:  "<me@x.example>",
		InReplyTo:  []string{"<Parent@X.Example>"},
		References: []string{"<root@x.example>", "<Parent@x.example>"},
		Header:     mail.Header{},
	}
	r := header.ReadRefs(m, 0)
	assert.Equal(t, []string{"Parent@x.example", "root@x.example"}, r.IDs, "ids are normalized before comparison")
	assert.Equal(t, "Parent@x.example", r.Parent)
}

// TestReadRefsUnbounded checks a long References list read without a
// bound: every id once, newest first, duplicates dropped past the point
// where ReadRefs switches to a set.
func TestReadRefsUnbounded(t *testing.T) {
	m := &correlate.Message{MessageID: "me@x.example"}
	for i := range 150 {
		m.References = append(m.References, fmt.Sprintf("r%03d@x.example", i))
	}
	m.References = append(m.References, "r010@x.example", "r120@x.example") // repeats
	r := header.ReadRefs(m, -1)
	assert.Len(t, r.IDs, 150, "every id once")
	assert.Equal(t, "r120@x.example", r.IDs[0], "the newest (last) References entry comes first")
	assert.Equal(t, "r010@x.example", r.IDs[1])
	assert.Equal(t, "r149@x.example", r.IDs[2], "then the rest, newest first, repeats skipped")
	assert.Equal(t, "r000@x.example", r.IDs[149])
	assert.Len(t, header.ReadRefs(m, 0).IDs, header.DefaultMaxIDs, "the default bound")
}

// TestReadRefsJunkFlood checks that a message made of junk costs linear
// work and a bounded report.
func TestReadRefsJunkFlood(t *testing.T) {
	m := &correlate.Message{MessageID: "me@x.example"}
	for i := range 100_000 {
		m.References = append(m.References, fmt.Sprintf("junk%d", i))
	}
	m.References = append(m.References, "real@x.example")
	r := header.ReadRefs(m, -1)
	assert.Equal(t, []string{"real@x.example"}, r.IDs, "the one real id survives")
	require.Len(t, r.Dropped, 9, "eight junk ids reported one by one, then a count")
	assert.Equal(t, "99992 more junk ids dropped", r.Dropped[8].Note)
}
