package thread_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/header/thread"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
)

// synthSize is the size of the synthetic mailbox.
const synthSize = 100_000

var (
	synthOnce sync.Once
	synthMsgs []*correlate.Message

	hamOnce sync.Once
	hamMsgs []*correlate.Message
)

// synthetic returns a deterministic 100,000-message mailbox shaped like a
// busy shared inbox: conversations of 1 message (40 %), 2–5 (35 %), 6–30
// (20 %) and 31–300 (5 %); each reply answers a random earlier message of
// its conversation with In-Reply-To and References (the parent's
// References plus the parent, the newest 32); 3 % of conversations start
// with a message the mailbox never received; 1 % of messages are stored
// twice (same Message-ID), 1 % carry the junk "<yes>" of git send-email;
// messages arrive in date order with some jitter.
func synthetic() []*correlate.Message {
	synthOnce.Do(func() {
		r := rand.New(rand.NewPCG(2024, 5))
		base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		var all []*correlate.Message
		subjects := []string{"Order", "Invoice", "Delivery delay", "Question about the contract", "Meeting notes", "Support case"}
		conv := 0
		for len(all) < synthSize {
			size := 1
			switch p := r.IntN(100); {
			case p < 40:
			case p < 75:
				size = 2 + r.IntN(4)
			case p < 95:
				size = 6 + r.IntN(25)
			default:
				size = 31 + r.IntN(270)
			}
			conv++
			start := base.Add(time.Duration(r.IntN(365*24*60)) * time.Minute)
			subj := fmt.Sprintf("%s %d", subjects[r.IntN(len(subjects))], conv)
			var thr []*correlate.Message
			missingRoot := r.IntN(100) < 3
			for i := 0; i < size; i++ {
				m := &correlate.Message{
					MessageID: fmt.Sprintf("c%d.m%d.%x@mail%d.example.com", conv, i, r.Uint32(), conv%50),
					Subject:   subj,
					Date:      start.Add(time.Duration(i*37+r.IntN(30)) * time.Minute),
					From:      []correlate.Address{{Address: fmt.Sprintf("user%d@example.org", r.IntN(5000))}},
				}
				if i > 0 {
					p := thr[r.IntN(len(thr))]
					m.Subject = "Re: " + subj
					m.InReplyTo = []string{p.MessageID}
					refs := append(append([]string(nil), p.References...), p.MessageID)
					if len(refs) > 32 {
						refs = refs[len(refs)-32:]
					}
					m.References = refs
				}
				if r.IntN(100) == 0 {
					m.References = append([]string{"yes"}, m.References...)
				}
				thr = append(thr, m)
			}
			if missingRoot && len(thr) > 1 {
				thr = thr[1:]
			}
			for _, m := range thr {
				all = append(all, m)
				if r.IntN(100) == 0 {
					dup := *m
					all = append(all, &dup)
				}
			}
		}
		all = all[:synthSize]
		// Arrival order: by date, with neighbours swapped now and then.
		sortByDate(all)
		for i := 1; i < len(all); i++ {
			if r.IntN(10) == 0 {
				all[i-1], all[i] = all[i], all[i-1]
			}
		}
		synthMsgs = all
	})
	return synthMsgs
}

func sortByDate(ms []*correlate.Message) {
	slices.SortStableFunc(ms, func(a, b *correlate.Message) int { return a.Date.Compare(b.Date) })
}

// ham returns the spamassassin-ham sample, parsed once.
func ham(b *testing.B) []*correlate.Message {
	dir := correlatetest.Path(b, "spamassassin-ham/test/testdata/ham")
	hamOnce.Do(func() { hamMsgs = messagesOf(loadDir(b, dir, false)) })
	return hamMsgs
}

// reportCPU reports CPU time per operation (user and system time of the
// process, from start): on a loaded machine wall time includes other
// processes' time.
func reportCPU(b *testing.B, start time.Duration) {
	if cpu := benchutil.CPUTime(); cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkThread threads whole mailboxes (messages already parsed): the
// 1,249 spamassassin-ham messages (target: ≤ 2 ms per Thread call) and the
// synthetic 100,000-message mailbox (target: ≤ 250 ms), in each mode.
func BenchmarkThread(b *testing.B) {
	modes := []struct {
		name string
		opts *thread.Options
	}{
		{"RealMail", nil},
		{"RealMail+subject", &thread.Options{GroupBySubject: true}},
		{"References", &thread.Options{Mode: thread.References}},
		{"OrderedSubject", &thread.Options{Mode: thread.OrderedSubject}},
	}
	boxes := []struct {
		name string
		msgs func(*testing.B) []*correlate.Message
	}{
		{"ham-1249", ham},
		{"synthetic-100k", func(*testing.B) []*correlate.Message { return synthetic() }},
	}
	for _, box := range boxes {
		for _, mode := range modes {
			b.Run(box.name+"/"+mode.name, func(b *testing.B) {
				msgs := box.msgs(b)
				b.ReportAllocs()
				start := benchutil.CPUTime()
				var roots []*thread.Node
				for b.Loop() {
					roots = thread.Thread(msgs, mode.opts)
				}
				reportCPU(b, start)
				b.ReportMetric(float64(len(msgs))*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(float64(len(roots)), "threads")
			})
		}
	}
}

// BenchmarkThreaderAdd adds the synthetic mailbox to a Threader one
// message at a time (target: ≤ 2 µs per Add): in arrival order, and in a
// random order (replies before their parents, duplicates before the
// original: more dummies and conflict repair). A fresh Threader starts
// after every 100,000 messages.
func BenchmarkThreaderAdd(b *testing.B) {
	orders := []struct {
		name string
		msgs func() []*correlate.Message
	}{
		{"arrival", synthetic},
		{"shuffled", func() []*correlate.Message {
			return shuffled(rand.New(rand.NewPCG(7, 7)), synthetic())
		}},
	}
	for _, o := range orders {
		for _, mode := range []struct {
			name string
			opts *thread.Options
		}{{"RealMail", nil}, {"References", &thread.Options{Mode: thread.References}}} {
			if mode.opts != nil && o.name == "shuffled" {
				continue // RFC modes are fed in mailbox order
			}
			b.Run(o.name+"/"+mode.name, func(b *testing.B) {
				msgs := o.msgs()
				b.ReportAllocs()
				start := benchutil.CPUTime()
				th := thread.NewThreader(mode.opts)
				i := 0
				for b.Loop() {
					if i == len(msgs) {
						i = 0
						th = thread.NewThreader(mode.opts)
					}
					th.Add(msgs[i])
					i++
				}
				reportCPU(b, start)
			})
		}
	}
}

// BenchmarkThreaderRoots is the snapshot of a Threader holding the
// synthetic mailbox.
func BenchmarkThreaderRoots(b *testing.B) {
	th := thread.NewThreader(nil)
	for _, m := range synthetic() {
		th.Add(m)
	}
	b.ReportAllocs()
	start := benchutil.CPUTime()
	for b.Loop() {
		_ = th.Roots()
	}
	reportCPU(b, start)
}
