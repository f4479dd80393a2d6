package thread_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header/thread"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// t0 is the date of the first fixture message; fixture i is i minutes later.
var t0 = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// fx describes a fixture message compactly: "id" (no '@': the fixture adds
// "@x.example"; "-" for none), its minute, In-Reply-To and References
// (space-separated short ids, or full ids when they contain '@' or are
// junk written as-is), and the subject.
type fx struct {
	id      string
	min     int
	irt     string
	refs    string
	subject string
}

func fullID(s string) string {
	if s == "-" || s == "" {
		return ""
	}
	if strings.ContainsAny(s, "@") || s == "yes" {
		return s
	}
	return s + "@x.example"
}

func ids(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		out = append(out, fullID(f))
	}
	return out
}

func (f fx) msg() *correlate.Message {
	return &correlate.Message{
		MessageID:  fullID(f.id),
		Date:       t0.Add(time.Duration(f.min) * time.Minute),
		InReplyTo:  ids(f.irt),
		References: ids(f.refs),
		Subject:    f.subject,
		From:       []correlate.Address{{Address: "sender@x.example"}},
	}
}

func msgs(fs []fx) []*correlate.Message {
	out := make([]*correlate.Message, len(fs))
	for i, f := range fs {
		out[i] = f.msg()
	}
	return out
}

// shortLabel names a node by its short id: "a", "-" plus the id for a
// dummy, "(subject)" for a subject dummy, "#" and the minute for a message
// without id.
func shortLabel(n *thread.Node) string {
	if n.Message == nil {
		if n.ID == "" {
			return "(subject)"
		}
		return "-" + strings.TrimSuffix(n.ID, "@x.example")
	}
	if n.Message.MessageID == "" {
		return fmt.Sprintf("#%d", int(n.Message.Date.Sub(t0).Minutes()))
	}
	return strings.TrimSuffix(n.Message.MessageID, "@x.example")
}

// tree renders a forest on one line: "a(b c(d)) e".
func tree(nodes []*thread.Node) string {
	var b strings.Builder
	var write func(ns []*thread.Node)
	write = func(ns []*thread.Node) {
		for i, n := range ns {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(shortLabel(n))
			if len(n.Children) > 0 {
				b.WriteByte('(')
				write(n.Children)
				b.WriteByte(')')
			}
		}
	}
	write(nodes)
	return b.String()
}

func TestThread_realMail(t *testing.T) {
	cases := []struct {
		name   string
		in     []fx
		opts   *thread.Options
		want   string
		reason string
	}{
		{
			name:   "chain",
			in:     []fx{{"a", 0, "", "", "x"}, {"b", 1, "a", "a", "Re: x"}, {"c", 2, "b", "a b", "Re: x"}},
			want:   "a(b(c))",
			reason: "each reply names its parent in In-Reply-To and References",
		},
		{
			name:   "reply before parent",
			in:     []fx{{"c", 2, "b", "a b", "Re: x"}, {"b", 1, "a", "a", "Re: x"}, {"a", 0, "", "", "x"}},
			want:   "a(b(c))",
			reason: "the input order does not matter in RealMail mode",
		},
		{
			name:   "siblings by date",
			in:     []fx{{"a", 0, "", "", "x"}, {"c", 5, "a", "a", "Re: x"}, {"b", 3, "a", "a", "Re: x"}},
			want:   "a(b c)",
			reason: "children are ordered by date, not by input order",
		},
		{
			name:   "missing root with two replies",
			in:     []fx{{"b", 1, "a", "a", "Re: x"}, {"c", 2, "a", "a", "Re: x"}},
			want:   "-a(b c)",
			reason: "a dummy stands for the missing message; at the top it stays when it holds two or more replies (RFC 5256 step 3)",
		},
		{
			name:   "missing root with one reply",
			in:     []fx{{"b", 1, "a", "a", "Re: x"}},
			want:   "b",
			reason: "a dummy with one child at the top is replaced by that child",
		},
		{
			name:   "missing middle message",
			in:     []fx{{"a", 0, "", "", "x"}, {"c", 2, "b", "a b", "Re: x"}, {"d", 3, "b", "a b", "Re: x"}},
			want:   "a(c d)",
			reason: "below the top a dummy is replaced by its children: c and d answer the missing b, which References places under a",
		},
		{
			name:   "In-Reply-To wins over a wrongly ordered References",
			in:     []fx{{"root", 0, "", "", "x"}, {"child", 1, "root", "root", "Re: x"}, {"grand", 2, "child", "child root", "Re: x"}},
			want:   "root(child(grand))",
			reason: "Debbugs writes References in the wrong order; In-Reply-To names the parent (notmuch T510 'trusting reply-to')",
		},
		{
			name:   "reply to a missing message joins its References",
			in:     []fx{{"a", 0, "", "", "x"}, {"b", 1, "a", "a", "Re: x"}, {"c", 2, "gone", "a b gone", "Re: x"}},
			want:   "a(b(c))",
			reason: "the missing parent 'gone' follows the newest reference b, so c hangs below b (notmuch T510 'reply to ghost')",
		},
		{
			name:   "References without In-Reply-To",
			in:     []fx{{"a", 0, "", "", "x"}, {"b", 1, "", "a", "Re: x"}},
			want:   "a(b)",
			reason: "the newest References id is the parent",
		},
		{
			name:   "junk ids are dropped",
			in:     []fx{{"p1", 0, "yes", "yes", "[PATCH 1/2] a"}, {"p2", 1, "yes", "yes", "[PATCH 2/2] b"}},
			want:   "p1 p2",
			reason: "git send-email users answering 'yes' wrote <yes> into whole patch series; an id without '@' must not fuse them",
		},
		{
			name:   "self reference",
			in:     []fx{{"a", 0, "a", "a", "x"}},
			want:   "a",
			reason: "a message naming its own id is junk, not a loop",
		},
		{
			name:   "In-Reply-To loop",
			in:     []fx{{"l12", 0, "l21", "", "x"}, {"l21", 1, "l12", "", "y"}},
			want:   "l12(l21)",
			reason: "two messages answering each other: the older is the root, as notmuch breaks the loop in its 'broken' corpus",
		},
		{
			name:   "three-message loop",
			in:     []fx{{"b", 1, "a", "", "x"}, {"c", 2, "b", "", "x"}, {"a", 0, "c", "", "x"}},
			want:   "a(b(c))",
			reason: "the link of the oldest message of the loop is the one dropped",
		},
		{
			name:   "duplicate Message-ID",
			in:     []fx{{"a", 0, "", "", "x"}, {"b", 1, "a", "a", "Re: x"}, {"b", 2, "a", "a", "Re: x"}, {"c", 3, "b", "a b", "Re: x"}},
			want:   "a(b(c) b)",
			reason: "the older copy holds the id and receives the reply; the newer copy threads by its own headers",
		},
		{
			name:   "no Message-ID",
			in:     []fx{{"a", 0, "", "", "x"}, {"-", 1, "a", "a", "Re: x"}, {"-", 2, "a", "a", "Re: x"}},
			want:   "a(#1 #2)",
			reason: "messages without id still thread below their parent",
		},
		{
			name:   "subject grouping is off by default",
			in:     []fx{{"a", 0, "", "", "Invoice"}, {"b", 1, "", "", "Re: Invoice"}},
			want:   "a b",
			reason: "same subject without any header link: unrelated mail must not be fused",
		},
		{
			name:   "subject grouping: reply joins original",
			in:     []fx{{"a", 0, "", "", "Invoice"}, {"b", 1, "", "", "AW: Invoice"}},
			opts:   &thread.Options{GroupBySubject: true},
			want:   "a(b)",
			reason: "with GroupBySubject a reply (AW: is German) joins the root with the same base subject",
		},
		{
			name:   "subject grouping: two originals",
			in:     []fx{{"a", 0, "", "", "Invoice"}, {"b", 1, "", "", "Invoice"}},
			opts:   &thread.Options{GroupBySubject: true},
			want:   "(subject)(a b)",
			reason: "neither is a reply: a new dummy holds both (RFC 5256 step 5)",
		},
		{
			name:   "subject grouping ignores empty subjects",
			in:     []fx{{"a", 0, "", "", ""}, {"b", 1, "", "", "Re:"}},
			opts:   &thread.Options{GroupBySubject: true},
			want:   "a b",
			reason: "an empty base subject groups nothing",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tree(thread.Thread(msgs(tc.in), tc.opts))
			assert.Equal(t, tc.want, got, tc.reason)

			th := thread.NewThreader(tc.opts)
			for i := len(tc.in) - 1; i >= 0; i-- {
				th.Add(tc.in[i].msg())
			}
			assert.Equal(t, tc.want, tree(th.Roots()), "Threader fed in reverse: %s", tc.reason)
		})
	}
}

func TestThread_references(t *testing.T) {
	cases := []struct {
		name   string
		in     []fx
		want   string
		reason string
	}{
		{
			name:   "References wins over In-Reply-To",
			in:     []fx{{"root", 0, "", "", "x"}, {"child", 1, "root", "root", "Re: x"}, {"grand", 2, "child", "child root", "Re: x"}},
			want:   "(1 (2)(3))",
			reason: "REFERENCES uses References when present: its last id, root, is grand's parent (the presumed link root→child would loop and is skipped)",
		},
		{
			name:   "invalid id",
			in:     []fx{{"a", 0, "", "", "x"}, {"b", 1, "yes", "", "y"}},
			want:   "(1)(2)",
			reason: "an id without '@' is not a valid Message ID, so b has no reference",
		},
		{
			name:   "In-Reply-To when References is absent",
			in:     []fx{{"a", 0, "", "", "x"}, {"b", 1, "yes a", "", "x"}},
			want:   "(1 2)",
			reason: "the first valid In-Reply-To id is the only reference",
		},
		{
			name:   "subject merge",
			in:     []fx{{"a", 0, "", "", "Lunch"}, {"b", 1, "", "", "Re: lunch"}, {"c", 2, "", "", "Lunch"}},
			want:   "((1 2)(3))",
			reason: "step 5: the reply joins the first root (case-insensitive base subject); the second original makes a dummy holding both originals",
		},
		{
			name:   "dummy roots merge by subject",
			in:     []fx{{"b", 0, "gone", "gone", "Re: x"}, {"c", 1, "gone", "gone", "Re: x"}, {"d", 2, "lost", "lost", "Re: x"}, {"e", 3, "lost", "lost", "Re: x"}},
			want:   "((1)(2)(3)(4))",
			reason: "two dummy roots with the same subject (taken from their first child) become one: their children become siblings",
		},
		{
			name:   "duplicate keeps the first",
			in:     []fx{{"a", 0, "", "", ""}, {"a", 1, "", "", ""}, {"b", 2, "", "a", ""}},
			want:   "(1 3)(2)",
			reason: "only the first message of the mailbox keeps a duplicated id; replies go to it",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := thread.Format(thread.Thread(msgs(tc.in), &thread.Options{Mode: thread.References}), nil)
			assert.Equal(t, tc.want, got, tc.reason)
		})
	}
}

func TestThread_orderedSubject(t *testing.T) {
	got := thread.Format(thread.Thread(msgs([]fx{
		{"a", 3, "", "", "Re: b"}, {"b", 1, "", "", "b"}, {"c", 2, "", "", "a"}, {"d", 0, "", "", "Fwd: b"},
	}), &thread.Options{Mode: thread.OrderedSubject}), nil)
	assert.Equal(t, "(4 (2)(1))(3)", got, "base subject b: d (minute 0) is the parent of b and a, in date order; threads ordered by their first message")
}

func TestThread_dateHook(t *testing.T) {
	in := msgs([]fx{{"a", 0, "", "", "x"}, {"b", 0, "a", "a", "Re: x"}, {"c", 0, "a", "a", "Re: x"}})
	in[1].Date, in[2].Date = time.Time{}, time.Time{}
	arrival := map[*correlate.Message]time.Time{in[1]: t0.Add(time.Hour), in[2]: t0.Add(time.Minute)}
	got := tree(thread.Thread(in, &thread.Options{Date: func(m *correlate.Message) time.Time { return arrival[m] }}))
	assert.Equal(t, "a(c b)", got, "without a Date field the hook's date (INTERNALDATE) orders the replies")
}

func TestThread_nilAndEmpty(t *testing.T) {
	assert.Empty(t, thread.Thread(nil, nil), "no messages, no threads")
	roots := thread.Thread([]*correlate.Message{nil, fx{"a", 0, "", "", "x"}.msg(), nil}, nil)
	require.Len(t, roots, 1, "nil messages are skipped")
	assert.Equal(t, 1, roots[0].Index, "Index is the position in the input, nil entries counted")
	th := thread.NewThreader(nil)
	th.Add(nil)
	assert.Zero(t, th.Len(), "Add ignores nil")
	assert.Empty(t, th.Roots())
}

func TestThread_phraseInReplyTo(t *testing.T) {
	parse := func(s string) *correlate.Message {
		m, err := correlate.ParseMessage(strings.NewReader(strings.ReplaceAll(s, "\n", "\r\n")), nil)
		require.NoError(t, err)
		return m
	}
	orig := parse("Message-ID: <orig@a.example>\nFrom: Ann <ann@a.example>\nTo: list@l.example\nDate: Mon, 1 Apr 2024 10:00:00 +0000\nSubject: q\n\n")
	other := parse("Message-ID: <other@a.example>\nFrom: Ann <ann@a.example>\nTo: list@l.example\nDate: Mon, 1 Apr 2024 10:30:00 +0000\nSubject: r\n\n")
	nmh := parse("Message-ID: <nmh@b.example>\nFrom: Bob <bob@b.example>\nTo: list@l.example\nDate: Mon, 1 Apr 2024 11:00:00 +0000\n" +
		"In-Reply-To: Message from Ann <ann@a.example>\n of \"Mon, 01 Apr 2024 10:00:00 +0000.\"\n <orig@a.example>\nSubject: Re: q\n\n")
	gnus := parse("Message-ID: <gnus@c.example>\nFrom: Cy <cy@c.example>\nTo: list@l.example\nDate: Mon, 1 Apr 2024 12:00:00 +0000\n" +
		"In-Reply-To: ann@a.example's message of \"Mon, 01 Apr 2024 10:30:00 +0000\"\nSubject: Re: r\n\n")
	gnus2 := parse("Message-ID: <gnus2@c.example>\nFrom: Cy <cy@c.example>\nTo: list@l.example\nDate: Mon, 1 Apr 2024 12:05:00 +0000\n" +
		"In-Reply-To: ann@a.example's message of \"Mon, 01 Apr 2024 10:00:00 +0000\"\nSubject: Re: q\n\n")
	got := thread.FormatTree(thread.Thread([]*correlate.Message{orig, other, nmh, gnus, gnus2}, nil), nil)
	assert.Equal(t, "1 <orig@a.example> q\n  3 <nmh@b.example> Re: q\n2 <other@a.example> r\n4 <gnus@c.example> Re: r\n5 <gnus2@c.example> Re: q\n", got,
		"nmh's 'Message from Name <address> of <date> <id>' gives its last id; Gnus's 'address's message of <date>' gives none, so Ann's address does not become the common parent of both Gnus replies")
}

func TestNode(t *testing.T) {
	roots := thread.Thread(msgs([]fx{{"a", 0, "", "", "x"}, {"b", 1, "a", "a", "x"}, {"c", 2, "b", "a b", "x"}, {"d", 3, "gone", "gone", "y"}, {"e", 4, "gone", "gone", "y"}}), nil)
	require.Len(t, roots, 2)
	assert.Equal(t, 3, roots[0].Size(), "a, b and c")
	assert.Equal(t, 2, roots[1].Size(), "the dummy is not counted")
	assert.True(t, roots[1].Dummy())
	assert.Equal(t, "gone@x.example", roots[1].ID, "a dummy names the missing id")
	assert.Same(t, roots[0], roots[0].Children[0].Parent, "Parent links back")
	var visited []string
	thread.Walk(roots, func(n *thread.Node, depth int) bool {
		visited = append(visited, fmt.Sprintf("%s:%d", shortLabel(n), depth))
		return shortLabel(n) != "b"
	})
	assert.Equal(t, []string{"a:0", "b:1", "-gone:0", "d:1", "e:1"}, visited, "pre-order; returning false skips b's children")
}

func TestFormat(t *testing.T) {
	m := func(i int) *thread.Node { return &thread.Node{Message: &correlate.Message{}, Index: i - 1} }
	link := func(p *thread.Node, cs ...*thread.Node) *thread.Node {
		for _, c := range cs {
			c.Parent = p
		}
		p.Children = cs
		return p
	}
	cases := []struct {
		name   string
		nodes  []*thread.Node
		want   string
		reason string
	}{
		{"single", []*thread.Node{m(1)}, "(1)", "a lone message"},
		{"chain", []*thread.Node{link(m(3), link(m(2), m(5)))}, "(3 2 5)", "single replies continue the member list"},
		{"branch", []*thread.Node{link(m(1), link(m(2), m(4)), m(3))}, "(1 (2 4)(3))", "several replies are nested lists (RFC 5256 example)"},
		{"dummy root", []*thread.Node{link(&thread.Node{Index: -1}, m(1), m(2))}, "((1)(2))", "a dummy writes nothing"},
		{"dummy with one child", []*thread.Node{link(m(1), link(&thread.Node{Index: -1}, m(2)))}, "(1 2)", "a dummy below a message with one child is transparent"},
		{"two threads", []*thread.Node{m(2), m(1)}, "(2)(1)", "threads in the given order"},
		{"nil", []*thread.Node{nil}, "", "nil roots are skipped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, thread.Format(tc.nodes, nil), tc.reason)
		})
	}
	seq := map[*correlate.Message]int{}
	a := m(1)
	seq[a.Message] = 42
	assert.Equal(t, "(42)", thread.Format([]*thread.Node{a}, func(m *correlate.Message) int { return seq[m] }), "seqOf numbers the messages")
}

func TestFormatTree(t *testing.T) {
	roots := thread.Thread(msgs([]fx{{"a", 0, "", "", "Hello\r\nworld"}, {"b", 1, "a", "a", "Re: Hello"}, {"c", 2, "gone", "gone", "x"}, {"d", 3, "gone", "gone", "x"}}), nil)
	assert.Equal(t, "1 <a@x.example> Hello  world\n  2 <b@x.example> Re: Hello\n- <gone@x.example>\n  3 <c@x.example> x\n  4 <d@x.example> x\n",
		thread.FormatTree(roots, nil), "two spaces per level; control characters become spaces so each node is one line")
	assert.Equal(t, "a\n  b\n-gone\n  c\n  d\n", thread.FormatTree(roots, shortLabel), "a custom label")
}

func TestMode_String(t *testing.T) {
	assert.Equal(t, "RealMail", thread.RealMail.String())
	assert.Equal(t, "References", thread.References.String())
	assert.Equal(t, "OrderedSubject", thread.OrderedSubject.String())
	assert.Equal(t, "RealMail", thread.Mode(9).String(), "unknown modes behave like RealMail")
}

func TestOptions_subject(t *testing.T) {
	in := msgs([]fx{{"a", 0, "", "", "Offerte"}, {"b", 1, "", "", "Antwoord: Offerte"}})
	norm := subject.New(&subject.Options{ExtraReplyPrefixes: []string{"Antwoord"}})
	assert.Equal(t, "a b", tree(thread.Thread(in, &thread.Options{GroupBySubject: true})), "Antwoord: is not a built-in prefix")
	assert.Equal(t, "a(b)", tree(thread.Thread(in, &thread.Options{GroupBySubject: true, Subject: norm})), "a custom normalizer knows it")
}
