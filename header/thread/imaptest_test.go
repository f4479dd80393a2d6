package thread_test

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/header/thread"
	"github.com/mailcorrelate/mailcorrelate/internal/imaptest"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// imapMsg is one message of an imaptest mbox, parsed.
type imapMsg struct {
	m        *correlate.Message
	internal time.Time // INTERNALDATE: the date of the mbox "From " line
	size     int       // RFC822.SIZE: the message with CRLF line ends
}

// readMbox reads an imaptest mbox (see internal/imaptest) and parses it.
func readMbox(t *testing.T, path string) []imapMsg {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	msgs, err := imaptest.ReadMbox(f)
	require.NoError(t, err)
	out := make([]imapMsg, len(msgs))
	for i, r := range msgs {
		m, err := correlate.ParseMessage(strings.NewReader(r.Text), nil)
		if errors.Is(err, correlate.ErrNoHeader) {
			// A message without header fields (imaptest's message 9 is a
			// blank line and a body): it is still in the mailbox.
			m = &correlate.Message{}
		}
		require.NotNil(t, m, "message %d: %v", i+1, err)
		out[i] = imapMsg{m: m, internal: r.Internal, size: len(r.Text)}
	}
	return out
}

// readScript reads an imaptest script (see internal/imaptest).
func readScript(t *testing.T, path string) imaptest.Script {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	s, err := imaptest.ReadScript(f)
	require.NoError(t, err)
	return s
}

// TestImaptest replays Dovecot's imaptest scripts for RFC 5256 THREAD and
// base-subject SORT exactly: APPEND takes the next message of the mbox,
// STORE +FLAGS \Deleted and EXPUNGE remove messages and renumber the rest,
// and every THREAD or SORT reply must equal the expected one (compared
// without regard to case, as imaptest does).
func TestImaptest(t *testing.T) {
	dir := correlatetest.Path(t, "imaptest/src/tests")
	cases := []struct {
		name   string
		reason string
	}{
		{"thread", "b's References <a> <c> and c's References <b> form a loop: c's own header breaks the presumed a→c link and the loop is not closed, so c is a root with child b and a stays alone; after a is expunged, the same"},
		{"thread2", "two messages with one Message-ID and no subject: the second gets a unique id, so they are separate threads"},
		{"thread3", "a duplicate Message-ID, subjects foo and Re: foo: separate by headers, then the reply joins the original by base subject (step 5)"},
		{"thread4", "a reply whose only reference is missing: the dummy with one child is promoted, then the reply joins foo by subject"},
		{"thread5", "In-Reply-To only, then expunge and append: two replies to a missing message stay under a dummy root"},
		{"thread6", "two messages without Message-ID referencing the same missing id: a dummy root with two children"},
		{"thread7", "the first of two duplicates holds the id; once it is expunged the survivor takes the id over and its reply follows it"},
		{"thread8", "a duplicate expunged and appended again threads under its parent each time"},
		{"thread-orderedsubject", "ORDEREDSUBJECT base subjects: Re:, RE:, Fwd:, fw:, [blob]s, (fwd) trailers, encoded words, blank subjects; Ad: is not a prefix"},
		{"thread-orderedsubject2", "ORDEREDSUBJECT orders by the Date field, else INTERNALDATE"},
		{"sort-subject", "SORT by base subject, reversed, and with size as second key; ties by sequence number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := readScript(t, filepath.Join(dir, tc.name))
			appendAll, steps := script.AppendAll, script.Steps
			source := readMbox(t, filepath.Join(dir, tc.name+".mbox"))
			internal := map[*correlate.Message]time.Time{}
			size := map[*correlate.Message]int{}
			for _, s := range source {
				internal[s.m] = s.internal
				size[s.m] = s.size
			}
			date := func(m *correlate.Message) time.Time { return internal[m] }

			var box []*correlate.Message
			deleted := map[*correlate.Message]bool{}
			next := 0
			if appendAll {
				for _, s := range source {
					box = append(box, s.m)
				}
				next = len(source)
			}
			checked := 0
			for _, st := range steps {
				words := strings.Fields(strings.ToLower(st.Command))
				var got string
				switch words[0] {
				case "append":
					require.Less(t, next, len(source), "append past the end of the mbox")
					box = append(box, source[next].m)
					next++
				case "select":
				case "store":
					require.Equal(t, []string{"+flags", `\deleted`}, words[2:], "only \\Deleted is stored")
					for _, n := range strings.Split(words[1], ",") {
						seq, err := strconv.Atoi(n)
						require.NoError(t, err)
						deleted[box[seq-1]] = true
					}
				case "expunge":
					box = slices.DeleteFunc(box, func(m *correlate.Message) bool { return deleted[m] })
				case "thread":
					mode := map[string]thread.Mode{"references": thread.References, "orderedsubject": thread.OrderedSubject}[words[1]]
					require.NotZero(t, mode, "algorithm %q", words[1])
					opts := &thread.Options{Mode: mode, Date: date}
					got = "THREAD " + thread.Format(thread.Thread(box, opts), nil)

					// The incremental Threader, fed in mailbox order, agrees.
					th := thread.NewThreader(opts)
					for _, m := range box {
						th.Add(m)
					}
					assert.Equal(t, got, "THREAD "+thread.Format(th.Roots(), nil), "Threader, %s", st.Command)
				case "sort":
					got = "SORT " + imapSort(t, st.Command, box, size)
				default:
					require.FailNow(t, "unsupported command", "%q", st.Command)
				}
				if st.Reply == "" {
					continue
				}
				checked++
				assert.True(t, strings.EqualFold(st.Reply, got), "%s\n got: %s\nwant: %s\nreason: %s", st.Command, got, st.Reply, tc.reason)
			}
			require.NotZero(t, checked, "no reply was checked")
		})
	}
}

// imapSort runs "SORT (criteria) us-ascii all" over the mailbox: criteria
// subject (RFC 5256 base subject in i;unicode-casemap order), size and
// reverse; ties by sequence number.
func imapSort(t *testing.T, command string, box []*correlate.Message, size map[*correlate.Message]int) string {
	t.Helper()
	open, close := strings.IndexByte(command, '('), strings.IndexByte(command, ')')
	require.True(t, open >= 0 && close > open, "sort criteria in %q", command)
	norm := subject.New(&subject.Options{Mode: subject.RFC5256})
	// i;unicode-casemap (RFC 5051) compares title-case forms, so letters
	// sort before '[' and '_'; Fold is lower case, so compare upper case.
	key := func(m *correlate.Message) string {
		b, _ := norm.Base(m.Subject)
		return strings.ToUpper(subject.Fold(b))
	}
	type criterion struct {
		cmp     func(a, b int) int
		reverse bool
	}
	var crit []criterion
	reverse := false
	for _, w := range strings.Fields(strings.ToLower(command[open+1 : close])) {
		switch w {
		case "reverse":
			reverse = true
			continue
		case "subject":
			crit = append(crit, criterion{func(a, b int) int { return strings.Compare(key(box[a]), key(box[b])) }, reverse})
		case "size":
			crit = append(crit, criterion{func(a, b int) int { return cmp.Compare(size[box[a]], size[box[b]]) }, reverse})
		default:
			require.FailNow(t, "unsupported sort criterion", "%q", w)
		}
		reverse = false
	}
	seqs := make([]int, len(box))
	for i := range seqs {
		seqs[i] = i
	}
	slices.SortStableFunc(seqs, func(a, b int) int {
		for _, c := range crit {
			if d := c.cmp(a, b); d != 0 {
				if c.reverse {
					return -d
				}
				return d
			}
		}
		return cmp.Compare(a, b)
	})
	words := make([]string, len(seqs))
	for i, s := range seqs {
		words[i] = fmt.Sprint(s + 1)
	}
	return strings.Join(words, " ")
}
