package thread_test

import (
	"fmt"
	"math/rand/v2"
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
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// canonical renders a forest without anything that depends on the input
// order (Index): messages are named by what the threader may look at, so
// two messages that agree on all of it are interchangeable.
func canonical(roots []*thread.Node) string {
	return thread.FormatTree(roots, func(n *thread.Node) string {
		if n.Message == nil {
			return "- <" + n.ID + ">"
		}
		m := n.Message
		return "<" + m.MessageID + "> " + m.Subject + " " + strconv.FormatInt(m.Date.UnixNano(), 10) +
			" irt=" + strings.Join(m.InReplyTo, ",") + " refs=" + strings.Join(m.References, ",") + " id=" + n.ID
	})
}

// checkForest verifies the structural properties of a forest of msgs:
// every message exactly once, parent links consistent (so no cycles: each
// node is reached once, from its parent), no empty dummy, a dummy only at
// the top (RealMail and References modes), and siblings in date order.
func checkForest(t testing.TB, msgs []*correlate.Message, roots []*thread.Node, date func(*correlate.Message) time.Time) {
	t.Helper()
	seen := map[*thread.Node]bool{}
	count := map[*correlate.Message]int{}
	for _, r := range roots {
		if r.Parent != nil {
			t.Fatalf("root %s has a parent", thread.Label(r))
		}
	}
	thread.Walk(roots, func(n *thread.Node, depth int) bool {
		if seen[n] {
			t.Fatalf("node %s reached twice: the forest has a cycle or shared node", thread.Label(n))
		}
		seen[n] = true
		if n.Message != nil {
			count[n.Message]++
		} else if len(n.Children) == 0 || depth != 0 || n.Index != -1 {
			t.Fatalf("dummy %s: %d children, depth %d, index %d; want children, at the top, index -1", thread.Label(n), len(n.Children), depth, n.Index)
		}
		for i, c := range n.Children {
			if c.Parent != n {
				t.Fatalf("child %s of %s has another Parent", thread.Label(c), thread.Label(n))
			}
			if i > 0 {
				if a, b := first(n.Children[i-1]), first(c); date(b.Message).Before(date(a.Message)) {
					t.Fatalf("siblings out of date order below %s: %s before %s", thread.Label(n), thread.Label(a), thread.Label(b))
				}
			}
		}
		return true
	})
	want := map[*correlate.Message]int{}
	for _, m := range msgs {
		if m != nil {
			want[m]++
		}
	}
	if len(want) != len(count) {
		t.Fatalf("%d distinct messages in the forest, %d in the input", len(count), len(want))
	}
	for m, n := range want {
		if count[m] != n {
			t.Fatalf("message %q appears %d times, input has it %d times", m.MessageID, count[m], n)
		}
	}
}

func first(n *thread.Node) *thread.Node {
	for n.Message == nil {
		n = n.Children[0]
	}
	return n
}

func plainDate(m *correlate.Message) time.Time { return m.Date }

// randomMailbox builds a hostile mailbox: ids drawn from a small pool
// (duplicates), references in random order (loops, wrong order, missing
// messages), junk ids, self references, date ties and subjects that merge.
func randomMailbox(r *rand.Rand, n int) []*correlate.Message {
	pool := max(2, n*2/3)
	id := func() string { return fmt.Sprintf("m%d@x.example", r.IntN(pool)) }
	subjects := []string{"Budget", "Re: Budget", "AW: budget", "Lunch", "Re: Lunch", "", "Re:", "[list] Budget", "Fwd: Lunch"}
	out := make([]*correlate.Message, n)
	for i := range out {
		m := &correlate.Message{
			Date:    t0.Add(time.Duration(r.IntN(n/2+1)) * time.Minute),
			Subject: subjects[r.IntN(len(subjects))],
		}
		switch r.IntN(20) {
		case 0:
		case 1:
			m.MessageID = "yes"
		default:
			m.MessageID = id()
		}
		for range r.IntN(5) {
			x := id()
			switch r.IntN(12) {
			case 0:
				x = "yes"
			case 1:
				x = m.MessageID
			}
			if !slices.Contains(m.References, x) {
				m.References = append(m.References, x)
			}
		}
		switch r.IntN(4) {
		case 0:
		case 1:
			if len(m.References) > 0 {
				m.InReplyTo = []string{m.References[len(m.References)-1]}
			}
		case 2:
			m.InReplyTo = []string{id()}
		default:
			m.InReplyTo = []string{"yes", id()}
		}
		out[i] = m
	}
	return out
}

func shuffled(r *rand.Rand, msgs []*correlate.Message) []*correlate.Message {
	s := slices.Clone(msgs)
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// TestProperties_random checks, on many random hostile mailboxes, that
// every message appears once and the forest has no cycle, that RealMail
// output does not depend on the input order, and that a Threader fed in any
// order (RealMail) or in mailbox order (RFC modes) equals Thread.
func TestProperties_random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rounds := 1500
	if testing.Short() {
		rounds = 200
	}
	for round := range rounds {
		n := 1 + r.IntN(60)
		in := randomMailbox(r, n)
		for _, opts := range []*thread.Options{
			nil,
			{GroupBySubject: true},
			{Mode: thread.References},
			{Mode: thread.OrderedSubject},
		} {
			mode := "RealMail"
			if opts != nil {
				mode = fmt.Sprintf("%v/group=%v", opts.Mode, opts.GroupBySubject)
			}
			msg := fmt.Sprintf("round %d, %s, %d messages", round, mode, n)
			roots := thread.Thread(in, opts)
			if !t.Run("", func(t *testing.T) { checkForest(t, in, roots, plainDate) }) {
				t.Fatalf("%s:\n%s", msg, thread.FormatTree(roots, func(n *thread.Node) string {
					if n.Message == nil {
						return "- " + n.ID
					}
					return fmt.Sprintf("%d %s %s %s", n.Index+1, n.Message.MessageID, n.Message.Date.Format("15:04"), n.Message.Subject)
				}))
			}
			want := canonical(roots)

			if opts == nil || opts.Mode == thread.RealMail {
				other := shuffled(r, in)
				require.Equal(t, want, canonical(thread.Thread(other, opts)), "%s: Thread of shuffled input", msg)

				// Incremental, in another order, with snapshots taken
				// along the way (they must not disturb the state).
				th := thread.NewThreader(opts)
				for i, m := range shuffled(r, in) {
					th.Add(m)
					if i%7 == 3 {
						_ = th.Roots()
					}
				}
				require.Equal(t, want, canonical(th.Roots()), "%s: Threader fed in random order", msg)
				continue
			}
			th := thread.NewThreader(opts)
			for _, m := range in {
				th.Add(m)
			}
			require.Equal(t, thread.Format(roots, nil), thread.Format(th.Roots(), nil), "%s: Threader in mailbox order", msg)
		}
	}
}

// TestProperties_corpora checks the same properties on real mail: the
// spamassassin-ham sample (1,249 messages, many clients) and lkml (176
// messages, duplicates and "<yes>" junk), each in file order and shuffled.
func TestProperties_corpora(t *testing.T) {
	for _, dir := range []string{"spamassassin-ham/test/testdata/ham", "notmuch/test/corpora/lkml", "notmuch/test/corpora/default"} {
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			in := messagesOf(loadDir(t, correlatetest.Path(t, dir), false)) // duplicates kept
			r := rand.New(rand.NewPCG(3, 4))
			for _, opts := range []*thread.Options{nil, {GroupBySubject: true}} {
				roots := thread.Thread(in, opts)
				checkForest(t, in, roots, plainDate)
				want := canonical(roots)
				for range 3 {
					assert.Equal(t, want, canonical(thread.Thread(shuffled(r, in), opts)), "Thread of shuffled input, group=%v", opts != nil)
					th := thread.NewThreader(opts)
					for _, m := range shuffled(r, in) {
						th.Add(m)
					}
					assert.Equal(t, want, canonical(th.Roots()), "Threader fed in random order, group=%v", opts != nil)
				}
			}
			rfc := &thread.Options{Mode: thread.References}
			roots := thread.Thread(in, rfc)
			checkForest(t, in, roots, plainDate)
			th := thread.NewThreader(rfc)
			for _, m := range in {
				th.Add(m)
			}
			assert.Equal(t, thread.Format(roots, nil), thread.Format(th.Roots(), nil), "References: Threader in mailbox order")
		})
	}
}

// TestThreader_concurrent adds from several goroutines while others take
// snapshots: the result is the forest of all messages (run with -race).
func TestThreader_concurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	in := randomMailbox(r, 400)
	th := thread.NewThreader(nil)
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := w; i < len(in); i += 4 {
				th.Add(in[i])
				if i%50 == 0 {
					_ = th.Roots()
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	assert.Equal(t, len(in), th.Len())
	assert.Equal(t, canonical(thread.Thread(in, nil)), canonical(th.Roots()), "concurrent Adds give the forest of all messages")
}

// TestGroupBySubject_ham checks what subject grouping adds on real mail:
// it only merges whole header threads (never splits one), and only header
// threads whose roots have the same base subject (a dummy root is named by
// its first message, as in RFC 5256). The merges are logged: they are
// where "excessive thread fusing" would show.
func TestGroupBySubject_ham(t *testing.T) {
	in := messagesOf(loadDir(t, correlatetest.Path(t, "spamassassin-ham/test/testdata/ham"), true))
	plain := thread.Thread(in, nil)
	grouped := thread.Thread(in, &thread.Options{GroupBySubject: true})
	groupOf := map[string]int{}
	for i, ids := range partition(grouped) {
		for _, id := range ids {
			groupOf[id] = i
		}
	}
	keys := map[int][]string{} // group → base subjects of its header threads
	for _, r := range plain {
		ids := partition([]*thread.Node{r})[0]
		g := groupOf[ids[0]]
		for _, id := range ids {
			require.Equal(t, g, groupOf[id], "subject grouping split a header thread")
		}
		keys[g] = append(keys[g], subject.Key(first(r).Message.Subject))
	}
	merges := 0
	for _, ks := range keys {
		if len(ks) < 2 {
			continue
		}
		merges++
		for _, k := range ks {
			assert.Equal(t, ks[0], k, "header threads merged with different base subjects")
		}
		if merges <= 5 {
			t.Logf("merged by base subject %q: %d header threads", ks[0], len(ks))
		}
	}
	t.Logf("%d header threads, %d after subject grouping (%d groups merge several)", len(plain), len(grouped), merges)
	assert.Less(t, len(grouped), len(plain), "real mail has replies whose headers were lost")
}
