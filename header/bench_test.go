package header_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// The benchmark store: 1,000,000 tracked emails in threads of ten. Email i
// answers email i-1 of its thread (In-Reply-To, References: root and
// parent) and carries the conversation index of its thread extended by one
// block per reply, so every key kind of the package is indexed.
const (
	benchEmails = 1_000_000
	benchThread = 10
)

var (
	benchOnce  sync.Once
	benchStore *memstore.Store
)

func benchID(i int) string { return fmt.Sprintf("m%07d@mail.example.com", i) }

// benchIndex returns the conversation index of email i.
func benchIndex(i int) []byte {
	th, depth := i/benchThread, i%benchThread
	b := make([]byte, 22, 22+5*(depth+1))
	b[0], b[1], b[2] = 0x01, 0x01, 0xd7 // modern, 2021
	binary.BigEndian.PutUint64(b[6:], uint64(th)*0x9e3779b97f4a7c15)
	binary.BigEndian.PutUint64(b[14:], uint64(th))
	for d := 1; d <= depth; d++ {
		b = binary.BigEndian.AppendUint32(b, 0x80000000|uint32(d))
		b = append(b, byte(d))
	}
	return b
}

// benchMessage returns email i as a Message.
func benchMessage(i int) *correlate.Message {
	m := &correlate.Message{MessageID: benchID(i), ThreadIndex: benchIndex(i), Subject: "Case"}
	if d := i % benchThread; d > 0 {
		m.InReplyTo = []string{benchID(i - 1)}
		m.References = []string{benchID(i - d), benchID(i - 1)}
		if d == 1 {
			m.References = m.References[1:]
		}
	}
	return m
}

func filled(b *testing.B) *memstore.Store {
	benchOnce.Do(func() {
		ctx := context.Background()
		s := memstore.New()
		irt := header.NewInReplyTo(s, nil)
		conv := header.NewConversationIndex(s, nil)
		t0 := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
		keys := make([]correlate.Key, 0, 8)
		for i := range benchEmails {
			m := benchMessage(i)
			tr := correlate.Tracked{
				MessageID:         m.MessageID,
				Record:            correlate.Record{Type: "incident", ID: fmt.Sprintf("CAS-%06d", i/benchThread)},
				ConversationIndex: m.ThreadIndex,
				Subject:           m.Subject,
				Participants:      []string{"support@fabrikam.example"},
				Time:              t0.Add(time.Duration(i) * time.Second),
			}
			keys = append(keys[:0], correlate.MessageIDKey(m.MessageID))
			keys = irt.Index(m, &tr, keys)
			keys = conv.Index(m, &tr, keys)
			if _, err := s.Put(ctx, tr, keys); err != nil {
				panic(err)
			}
		}
		benchStore = s
	})
	return benchStore
}

// pick spreads benchmark picks uniformly over the store: every lookup
// misses the CPU caches, the worst case.
func pick(i int) int { return (i * 7919) % benchEmails }

// template is a realistic parsed incoming email: every benchmark message
// is a copy of it with its own ids, so Correlate sees a full header (alias
// fields are looked for in it, In-Reply-To is checked for free text) that
// is hot in the cache, as a message just parsed is, while the store's rows
// are not.
func template() *correlate.Message {
	raw := "Return-Path: <ann@example.com>\r\n" +
		"Received: from mx.example.com by crm.example; Mon, 3 Mar 2025 09:00:00 +0000\r\n" +
		"From: Ann Example <ann@example.com>\r\nTo: Support <support@fabrikam.example>\r\nCc: bob@example.org\r\n" +
		"Subject: RE: Case\r\nDate: Mon, 3 Mar 2025 09:00:00 +0000\r\nMessage-ID: <t@customer.example>\r\n" +
		"In-Reply-To: <p@crm.example>\r\nReferences: <r@crm.example>\r\n <p@crm.example>\r\n" +
		"Thread-Topic: Case\r\nThread-Index: AQHXBUJVCmUcclxxT26bLTiMfqFLP6pcfaRa\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks!\r\n"
	m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
	if err != nil {
		panic(err)
	}
	return m
}

// benchMsg is the part of an incoming email that varies between
// benchmark iterations.
type benchMsg struct {
	id          string
	inReplyTo   []string
	references  []string
	threadIndex []byte
}

func benchCorrelate(b *testing.B, c correlate.Correlator, msgs []benchMsg, wantFound bool) {
	ctx := context.Background()
	tmpl := template()
	m := new(correlate.Message) // reused: a correlator never keeps the message
	found := 0
	b.ReportAllocs()
	i := 0
	cpu0 := benchutil.CPUTime()
	for b.Loop() {
		v := &msgs[i%len(msgs)]
		*m = *tmpl
		m.MessageID, m.InReplyTo, m.References, m.ThreadIndex = v.id, v.inReplyTo, v.references, v.threadIndex
		got, err := c.Correlate(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		if got.Found() {
			found++
		}
		i++
	}
	reportCPU(b, cpu0, i)
	if (found > 0) != wantFound {
		b.Fatalf("found %d of %d, want found=%v", found, i, wantFound)
	}
	b.ReportMetric(float64(found)/float64(i), "match-rate")
}

// reportCPU reports the process CPU time per operation since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration, n int) {
	if d := benchutil.CPUTime() - cpu0; d > 0 && n > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// BenchmarkInReplyTo correlates an incoming email against 1,000,000
// tracked emails, picked uniformly (every store access misses the CPU
// caches: the worst case):
//
//   - hit: a reply to a tracked email (In-Reply-To and References name it,
//     the shape of a customer's answer to the CRM's email): the duplicate
//     check and one id lookup;
//   - hit-deep: a reply at depth 5 whose References name five tracked
//     emails, all looked up for conflicts (the default);
//   - hit-deep-firsthit: the same with Options.FirstHit;
//   - miss: an email whose In-Reply-To names no tracked email: duplicate
//     check, the id, and ancestor memory for both (four lookups);
//   - miss-noancestors: the same with Options.NoAncestors (two lookups,
//     Dynamics' work);
//   - new: an email with no references at all (two lookups: duplicate and
//     a reply tracked first).
func BenchmarkInReplyTo(b *testing.B) {
	s := filled(b)
	const n = 4096
	reply := func(parent, depth int) benchMsg {
		v := benchMsg{id: fmt.Sprintf("r%07d@customer.example", parent), inReplyTo: []string{benchID(parent)}}
		for d := depth - 1; d >= 0; d-- {
			v.references = append(v.references, benchID(parent-d))
		}
		return v
	}
	hits, deep, misses, news := make([]benchMsg, n), make([]benchMsg, n), make([]benchMsg, n), make([]benchMsg, n)
	for i := range n {
		p := pick(i)
		hits[i] = reply(p, 1)
		deep[i] = reply(p-p%benchThread+5, 5)
		unknown := fmt.Sprintf("unknown%07d@elsewhere.example", i)
		misses[i] = benchMsg{id: fmt.Sprintf("x%07d@customer.example", i), inReplyTo: []string{unknown}, references: []string{unknown}}
		news[i] = benchMsg{id: fmt.Sprintf("n%07d@customer.example", i)}
	}
	b.Run("hit", func(b *testing.B) { benchCorrelate(b, header.NewInReplyTo(s, nil), hits, true) })
	b.Run("hit-deep", func(b *testing.B) { benchCorrelate(b, header.NewInReplyTo(s, nil), deep, true) })
	b.Run("hit-deep-firsthit", func(b *testing.B) {
		benchCorrelate(b, header.NewInReplyTo(s, &header.Options{FirstHit: true}), deep, true)
	})
	b.Run("miss", func(b *testing.B) { benchCorrelate(b, header.NewInReplyTo(s, nil), misses, false) })
	b.Run("miss-noancestors", func(b *testing.B) {
		benchCorrelate(b, header.NewInReplyTo(s, &header.Options{NoAncestors: true}), misses, false)
	})
	b.Run("new", func(b *testing.B) { benchCorrelate(b, header.NewInReplyTo(s, nil), news, false) })
	// The same with 64 messages, so store rows and ids stay in the CPU
	// caches: what the strategy itself costs, without memory latency.
	b.Run("hit-hot", func(b *testing.B) { benchCorrelate(b, header.NewInReplyTo(s, nil), hits[:64], true) })
	b.Run("miss-hot", func(b *testing.B) { benchCorrelate(b, header.NewInReplyTo(s, nil), misses[:64], false) })
}

// BenchmarkConversationIndex correlates by Thread-Index against 1,000,000
// tracked emails: "hit" extends a tracked email's index by one block (the
// parent lookup), "root" starts a branch whose parent was never tracked
// (parent miss, then the root), "miss" is a conversation never seen.
func BenchmarkConversationIndex(b *testing.B) {
	s := filled(b)
	const n = 4096
	hits, roots, misses := make([]benchMsg, n), make([]benchMsg, n), make([]benchMsg, n)
	for i := range n {
		p := pick(i)
		idx := benchIndex(p)
		hits[i] = benchMsg{id: fmt.Sprintf("c%07d@customer.example", i), threadIndex: append(idx[:len(idx):len(idx)], 0x80, 0, 0, 0x99, 0x42)}
		roots[i] = benchMsg{id: fmt.Sprintf("b%07d@customer.example", i),
			threadIndex: append(idx[:22:22], 0x80, 0, 0x77, 0x99, 0x42, 0x80, 0, 0x77, 0x99, 0x43)}
		other := benchIndex(p)
		other[20] ^= 0xff
		misses[i] = benchMsg{id: fmt.Sprintf("o%07d@customer.example", i), threadIndex: append(other, 0x80, 0, 0, 0x99, 0x42)}
	}
	b.Run("hit", func(b *testing.B) { benchCorrelate(b, header.NewConversationIndex(s, nil), hits, true) })
	b.Run("root", func(b *testing.B) { benchCorrelate(b, header.NewConversationIndex(s, nil), roots, true) })
	b.Run("miss", func(b *testing.B) { benchCorrelate(b, header.NewConversationIndex(s, nil), misses, false) })
	b.Run("hit-hot", func(b *testing.B) { benchCorrelate(b, header.NewConversationIndex(s, nil), hits[:64], true) })
}

// BenchmarkParseIndex decodes a 5-block index and its child times.
func BenchmarkParseIndex(b *testing.B) {
	idx := benchIndex(5)
	b.ReportAllocs()
	b.SetBytes(int64(len(idx)))
	for b.Loop() {
		x, err := header.ParseIndex(idx)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = x.Parent()
		_ = x.Child(x.Depth() - 1)
	}
}

// BenchmarkReadRefs cleans the references of a reply deep in a thread.
func BenchmarkReadRefs(b *testing.B) {
	m := &correlate.Message{MessageID: "z@x.example", InReplyTo: []string{"<yes>"}}
	for i := range 20 {
		m.References = append(m.References, benchID(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := header.ReadRefs(m, 0); len(r.IDs) != 20 {
			b.Fatal(len(r.IDs))
		}
	}
}

// BenchmarkLookupFloor is what the store alone costs for the lookups the
// strategies make, measured in the same run for comparison: one Message-ID
// that is tracked (picked uniformly, as the hits are) and one that is not.
// InReplyTo's hit makes one of each, its miss four misses.
func BenchmarkLookupFloor(b *testing.B) {
	s := filled(b)
	ctx := context.Background()
	keys := make([]correlate.Key, 4096)
	for i := range keys {
		keys[i] = correlate.MessageIDKey(benchID(pick(i)))
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		cpu0 := benchutil.CPUTime()
		for b.Loop() {
			if ts, _ := s.Lookup(ctx, keys[i%len(keys)], correlate.Query{Limit: 2}); len(ts) != 1 {
				b.Fatal("miss")
			}
			i++
		}
		reportCPU(b, cpu0, i)
	})
	misses := make([]correlate.Key, 4096)
	for i := range misses {
		misses[i] = correlate.MessageIDKey(fmt.Sprintf("unknown%07d@elsewhere.example", i))
	}
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		cpu0 := benchutil.CPUTime()
		for b.Loop() {
			if ts, _ := s.Lookup(ctx, misses[i%len(misses)], correlate.Query{Limit: 2}); len(ts) != 0 {
				b.Fatal("hit")
			}
			i++
		}
		reportCPU(b, cpu0, i)
	})
}
