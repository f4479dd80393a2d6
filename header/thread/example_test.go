package thread_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header/thread"
)

// parse reads an inline message, for the examples. A message with
// problems (a junk id such as <yes> is one) is still read.
func parse(raw string) *correlate.Message {
	m, err := correlate.ParseMessage(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")), nil)
	if m == nil {
		panic(err)
	}
	return m
}

// A mailbox where one reply names a message the mailbox never received and
// another answers with the junk id "<yes>": RealMail mode places the first
// below the conversation its References name and leaves the second alone.
func Example() {
	msgs := []*correlate.Message{
		parse(`Message-ID: <q1@contoso.example>
Date: Mon, 1 Apr 2024 09:00:00 +0000
Subject: Quote for 40 chairs

`),
		parse(`Message-ID: <r1@fabrikam.example>
In-Reply-To: <q1@contoso.example>
References: <q1@contoso.example>
Date: Mon, 1 Apr 2024 10:00:00 +0000
Subject: Re: Quote for 40 chairs

`),
		parse(`Message-ID: <r3@contoso.example>
In-Reply-To: <r2@fabrikam.example>
References: <q1@contoso.example> <r1@fabrikam.example> <r2@fabrikam.example>
Date: Mon, 1 Apr 2024 12:00:00 +0000
Subject: AW: Re: Quote for 40 chairs

`),
		parse(`Message-ID: <p1@dev.example>
In-Reply-To: <yes>
References: <yes>
Date: Mon, 1 Apr 2024 11:00:00 +0000
Subject: [PATCH] fix chairs

`),
	}
	roots := thread.Thread(msgs, nil)
	fmt.Print(thread.FormatTree(roots, nil))
	fmt.Println(thread.Format(roots, nil))
	// Output:
	// 1 <q1@contoso.example> Quote for 40 chairs
	//   2 <r1@fabrikam.example> Re: Quote for 40 chairs
	//     3 <r3@contoso.example> AW: Re: Quote for 40 chairs
	// 4 <p1@dev.example> [PATCH] fix chairs
	// (1 2 3)(4)
}

// RFC 5256 THREAD=REFERENCES, as an IMAP server answers it: the input is
// the mailbox in sequence order, and roots with the same base subject are
// merged.
func ExampleThread_references() {
	msgs := []*correlate.Message{
		parse("Message-ID: <a@x.example>\nSubject: Lunch\nDate: Mon, 1 Apr 2024 09:00:00 +0000\n\n"),
		parse("Message-ID: <b@x.example>\nIn-Reply-To: <a@x.example>\nSubject: Re: Lunch\nDate: Mon, 1 Apr 2024 09:10:00 +0000\n\n"),
		parse("Message-ID: <c@x.example>\nIn-Reply-To: <a@x.example>\nSubject: Re: Lunch\nDate: Mon, 1 Apr 2024 09:05:00 +0000\n\n"),
		parse("Message-ID: <d@x.example>\nSubject: re: lunch\nDate: Mon, 1 Apr 2024 09:20:00 +0000\n\n"),
		parse("Message-ID: <e@x.example>\nSubject: Budget\nDate: Mon, 1 Apr 2024 08:00:00 +0000\n\n"),
	}
	fmt.Println(thread.Format(thread.Thread(msgs, &thread.Options{Mode: thread.References}), nil))
	// Output: (5)(1 (3)(2)(4))
}

// RFC 5256 THREAD=ORDEREDSUBJECT groups by base subject alone.
func ExampleThread_orderedSubject() {
	msgs := []*correlate.Message{
		parse("Subject: Lunch\nDate: Mon, 1 Apr 2024 09:00:00 +0000\n\n"),
		parse("Subject: Budget\nDate: Mon, 1 Apr 2024 09:01:00 +0000\n\n"),
		parse("Subject: Fwd: lunch\nDate: Mon, 1 Apr 2024 09:02:00 +0000\n\n"),
	}
	fmt.Println(thread.Format(thread.Thread(msgs, &thread.Options{Mode: thread.OrderedSubject}), nil))
	// Output: (1 3)(2)
}

// Subject grouping is off in RealMail mode: two mails with the same
// subject and no header link are different conversations unless asked.
func ExampleOptions_groupBySubject() {
	msgs := []*correlate.Message{
		parse("Message-ID: <a@x.example>\nSubject: Invoice 2024-17\nDate: Mon, 1 Apr 2024 09:00:00 +0000\n\n"),
		parse("Message-ID: <b@y.example>\nSubject: SV: Invoice 2024-17\nDate: Tue, 2 Apr 2024 09:00:00 +0000\n\n"),
	}
	fmt.Println(thread.Format(thread.Thread(msgs, nil), nil))
	fmt.Println(thread.Format(thread.Thread(msgs, &thread.Options{GroupBySubject: true}), nil))
	// Output:
	// (1)(2)
	// (1 2)
}

// The INTERNALDATE fallback of RFC 5256: a message without Date sorts by
// the time the mailbox received it.
func ExampleOptions_date() {
	a := parse("Message-ID: <a@x.example>\nSubject: x\nDate: Mon, 1 Apr 2024 09:00:00 +0000\n\n")
	b := parse("Message-ID: <b@x.example>\nIn-Reply-To: <a@x.example>\nSubject: Re: x\n\n")
	c := parse("Message-ID: <c@x.example>\nIn-Reply-To: <a@x.example>\nSubject: Re: x\nDate: Mon, 1 Apr 2024 10:00:00 +0000\n\n")
	received := map[*correlate.Message]time.Time{b: time.Date(2024, 4, 1, 11, 0, 0, 0, time.UTC)}
	opts := &thread.Options{Date: func(m *correlate.Message) time.Time { return received[m] }}
	fmt.Println(thread.Format(thread.Thread([]*correlate.Message{a, b, c}, opts), nil))
	// Output: (1 (3)(2))
}

// A mailbox sync adds messages as they arrive, in any order; the forest is
// the one Thread gives for the same messages.
func ExampleThreader() {
	th := thread.NewThreader(nil)
	th.Add(parse("Message-ID: <c@x.example>\nIn-Reply-To: <b@x.example>\nReferences: <a@x.example> <b@x.example>\nSubject: Re: x\nDate: Mon, 1 Apr 2024 11:00:00 +0000\n\n"))
	fmt.Print(thread.FormatTree(th.Roots(), nil))
	th.Add(parse("Message-ID: <a@x.example>\nSubject: x\nDate: Mon, 1 Apr 2024 09:00:00 +0000\n\n"))
	th.Add(parse("Message-ID: <b@x.example>\nIn-Reply-To: <a@x.example>\nReferences: <a@x.example>\nSubject: Re: x\nDate: Mon, 1 Apr 2024 10:00:00 +0000\n\n"))
	fmt.Print(thread.FormatTree(th.Roots(), nil))
	// Output:
	// 1 <c@x.example> Re: x
	// 2 <a@x.example> x
	//   3 <b@x.example> Re: x
	//     1 <c@x.example> Re: x
}

func ExampleWalk() {
	roots := thread.Thread([]*correlate.Message{
		parse("Message-ID: <a@x.example>\nSubject: x\n\n"),
		parse("Message-ID: <b@x.example>\nIn-Reply-To: <a@x.example>\nSubject: Re: x\n\n"),
	}, nil)
	thread.Walk(roots, func(n *thread.Node, depth int) bool {
		fmt.Println(depth, n.ID)
		return true
	})
	// Output:
	// 0 a@x.example
	// 1 b@x.example
}
