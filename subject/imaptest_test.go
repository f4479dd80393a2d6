package subject_test

import (
	"cmp"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/internal/imaptest"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// imapMessage is one message of an imaptest mbox.
type imapMessage struct {
	seq     int       // IMAP sequence number, 1-based
	subject string    // decoded Subject
	date    time.Time // RFC 5256 sent date: Date, else INTERNALDATE
	size    int       // RFC822.SIZE: the message with CRLF line ends
}

// readMbox reads an imaptest mbox (see internal/imaptest): each message's
// decoded subject, sent date and size.
func readMbox(t *testing.T, r io.Reader) []imapMessage {
	t.Helper()
	msgs, err := imaptest.ReadMbox(r)
	require.NoError(t, err)
	dec := mime.WordDecoder{} // utf-8, iso-8859-1 and us-ascii built in
	out := make([]imapMessage, len(msgs))
	for i, m := range msgs {
		msg, err := mail.ReadMessage(strings.NewReader(m.Text))
		require.NoError(t, err, "message %d", i+1)
		subj, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		require.NoError(t, err, "message %d", i+1)
		date := m.Internal
		if d, err := msg.Header.Date(); err == nil {
			date = d
		}
		out[i] = imapMessage{seq: i + 1, subject: subj, date: date, size: len(m.Text)}
	}
	return out
}

// readScript reads an imaptest script (see internal/imaptest) whose every
// command expects a reply.
func readScript(t *testing.T, r io.Reader) imaptest.Script {
	t.Helper()
	s, err := imaptest.ReadScript(r)
	require.NoError(t, err)
	require.True(t, s.AppendAll, "only 'messages: all' scripts are supported")
	for _, st := range s.Steps {
		require.NotEmpty(t, st.Reply, "command %q expects no reply", st.Command)
	}
	return s
}

// collate is RFC 5256's comparison key for base subjects. RFC 5051's
// i;unicode-casemap compares title-case forms, so letters sort before '['
// and '_'; Fold maps to lower case, so the key is its upper-case form.
func collate(n *subject.Normalizer, s string) string {
	b, _ := n.Base(s)
	return strings.ToUpper(subject.Fold(b))
}

// sortBy runs "SORT (criteria)": subject, reverse, size; ties by sequence.
func sortBy(n *subject.Normalizer, msgs []imapMessage, criteria []string) []int {
	type key struct {
		cmp     func(a, b imapMessage) int
		reverse bool
	}
	var keys []key
	reverse := false
	for _, c := range criteria {
		switch c {
		case "reverse":
			reverse = true
			continue
		case "subject":
			keys = append(keys, key{func(a, b imapMessage) int {
				return strings.Compare(collate(n, a.subject), collate(n, b.subject))
			}, reverse})
		case "size":
			keys = append(keys, key{func(a, b imapMessage) int { return cmp.Compare(a.size, b.size) }, reverse})
		default:
			panic("unsupported sort criterion " + c)
		}
		reverse = false
	}
	sorted := slices.Clone(msgs)
	slices.SortStableFunc(sorted, func(a, b imapMessage) int {
		for _, k := range keys {
			if c := k.cmp(a, b); c != 0 {
				if k.reverse {
					return -c
				}
				return c
			}
		}
		return cmp.Compare(a.seq, b.seq)
	})
	seqs := make([]int, len(sorted))
	for i, m := range sorted {
		seqs[i] = m.seq
	}
	return seqs
}

// orderedSubject runs THREAD=ORDEREDSUBJECT (RFC 5256 section 3): messages
// sorted by base subject then sent date; each run of one base subject is a
// thread whose first message is the parent of the others; threads sorted by
// the sent date of their first message; ties by sequence number.
func orderedSubject(n *subject.Normalizer, msgs []imapMessage) string {
	sorted := slices.Clone(msgs)
	slices.SortStableFunc(sorted, func(a, b imapMessage) int {
		if c := strings.Compare(collate(n, a.subject), collate(n, b.subject)); c != 0 {
			return c
		}
		if c := a.date.Compare(b.date); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	var threads [][]imapMessage
	for i, m := range sorted {
		if i > 0 && collate(n, m.subject) == collate(n, sorted[i-1].subject) {
			threads[len(threads)-1] = append(threads[len(threads)-1], m)
		} else {
			threads = append(threads, []imapMessage{m})
		}
	}
	slices.SortStableFunc(threads, func(a, b []imapMessage) int {
		if c := a[0].date.Compare(b[0].date); c != 0 {
			return c
		}
		return cmp.Compare(a[0].seq, b[0].seq)
	})
	var b strings.Builder
	b.WriteString("THREAD ")
	for _, th := range threads {
		fmt.Fprintf(&b, "(%d", th[0].seq)
		switch kids := th[1:]; len(kids) {
		case 0:
		case 1:
			fmt.Fprintf(&b, " %d", kids[0].seq)
		default:
			b.WriteString(" ")
			for _, k := range kids {
				fmt.Fprintf(&b, "(%d)", k.seq)
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

// TestImaptestBaseSubject replays Dovecot imaptest's base-subject scripts
// (SORT by subject and THREAD=ORDEREDSUBJECT) in RFC 5256 mode. They cover
// Re:/RE:/Fwd:/fw:, [blob]s before and inside prefixes, (fwd) trailers,
// nested [fwd: …] wrappers, encoded words, a lone [blob] that stays, blank
// subjects, and "Ad:", which is not a prefix.
func TestImaptestBaseSubject(t *testing.T) {
	n := subject.New(&subject.Options{Mode: subject.RFC5256})
	for _, name := range []string{"sort-subject", "thread-orderedsubject", "thread-orderedsubject2"} {
		t.Run(name, func(t *testing.T) {
			script := readScript(t, openCorpus(t, "imaptest/src/tests/"+name))
			msgs := readMbox(t, openCorpus(t, "imaptest/src/tests/"+name+".mbox"))
			require.NotEmpty(t, msgs)
			for _, st := range script.Steps {
				c := st.Command
				f := strings.Fields(strings.ToLower(c))
				want := strings.ToLower(st.Reply)
				switch {
				case len(f) > 1 && f[0] == "sort":
					crit := strings.Fields(strings.Trim(c[strings.Index(c, "(")+1:strings.Index(c, ")")], " "))
					for j := range crit {
						crit[j] = strings.ToLower(crit[j])
					}
					got := sortBy(n, msgs, crit)
					assert.Equal(t, want, strings.ToLower("sort "+strings.Trim(fmt.Sprint(got), "[]")), "%s", c)
				case len(f) > 1 && f[0] == "thread" && f[1] == "orderedsubject":
					assert.Equal(t, want, strings.ToLower(orderedSubject(n, msgs)), "%s", c)
				default:
					t.Fatalf("unsupported command %q", c)
				}
			}
			for _, m := range msgs {
				b, _ := n.Base(m.subject)
				t.Logf("%2d %-45q base %q", m.seq, m.subject, b)
			}
		})
	}
}
