package guard_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

func parse(t testing.TB, raw string) *correlate.Message {
	t.Helper()
	m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
	require.NotNil(t, m, "%v", err)
	return m
}

// TestHijack: a stranger's email carrying another customer's valid token is
// refused, and so is a forged signed Message-ID; both Decisions say why
// (Zammad's open bug #5064; iTop #95).
func TestHijack(t *testing.T) {
	ctx := context.Background()
	keys := [][]byte{[]byte("signing key of the CRM, 32 bytes")}
	sentRaw := "Message-ID: <c1@crm.fabrikam.example>\r\nFrom: support@fabrikam.example\r\nTo: Jane <jane@contoso.example>\r\n" +
		"Subject: Printer offline CRM:0001001\r\n\r\n"

	t.Run("stranger's token", func(t *testing.T) {
		// The policy in the token strategy too: a custom token stage.
		policed := mailcorrelate.StageFunc(func(s correlate.Store, o *mailcorrelate.Options) (correlate.Correlator, error) {
			return token.New(s, &token.Options{Format: o.Token, Policy: guard.ParticipantPolicy}), nil
		})
		inToken := []mailcorrelate.Stage{mailcorrelate.Folder, mailcorrelate.InReplyTo, policed, mailcorrelate.Conversation}
		for _, opts := range []*mailcorrelate.Options{nil, {Stages: inToken}} {
			eng, err := mailcorrelate.New(memstore.New(), opts)
			require.NoError(t, err)
			sent := parse(t, sentRaw)
			sent.Direction = correlate.Outgoing
			_, err = eng.Track(ctx, sent, correlate.Match{Record: caseRecord})
			require.NoError(t, err)

			attack := parse(t, "Message-ID: <x1@freemail.example>\r\nFrom: M. Allory <m.allory@freemail.example>\r\n"+
				"To: support@fabrikam.example\r\nSubject: Urgent refund request CRM:0001001\r\n\r\n")
			d, err := eng.Correlate(ctx, attack)
			require.NoError(t, err)
			assert.False(t, d.Found(), "the token names a real case, but the stranger never took part in it: %s", d)
			assert.False(t, d.Track())
			assert.Contains(t, d.String(), "sender policy", "the Decision names the rule that refused the token")
			named := strings.Contains(d.String(), "m.allory@freemail.example")
			for _, s := range d.Steps {
				for _, e := range s.Match.Evidence {
					named = named || (e.Value == "m.allory@freemail.example" && strings.Contains(e.Note, "sender policy"))
				}
			}
			assert.True(t, named, "and the refused sender: %s", d)

			jane := parse(t, "Message-ID: <r1@contoso.example>\r\nFrom: jane@contoso.example\r\nTo: support@fabrikam.example\r\n"+
				"Subject: AW: Printer offline CRM:0001001\r\n\r\n")
			d, err = eng.Correlate(ctx, jane)
			require.NoError(t, err)
			assert.Equal(t, caseRecord, d.Match.Record, "the customer herself is accepted")
		}
		// The guard's policy alone (the default token stage): the refusal is in
		// the token step and in the Decision's reason.
		eng, err := mailcorrelate.New(memstore.New(), nil)
		require.NoError(t, err)
		_, err = eng.Track(ctx, parse(t, sentRaw), correlate.Match{Record: caseRecord})
		require.NoError(t, err)
		d, err := eng.Correlate(ctx, parse(t, "From: m.allory@freemail.example\r\nSubject: Refund CRM:0001001\r\n\r\n"))
		require.NoError(t, err)
		assert.Equal(t, "token match refused: sender policy: m.allory@freemail.example did not take part: not a participant of tracked email 1, nor a colleague of one (incident:CAS-01042, TrackingToken)", d.Match.Reason)
	})

	t.Run("forged signed Message-ID", func(t *testing.T) {
		eng, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Header: header.Options{IDKeys: keys}})
		require.NoError(t, err)
		genuine, err := header.NewMessageID(caseRecord, "crm.fabrikam.example", keys, nil)
		require.NoError(t, err)
		// The attacker writes a well-formed id for the victim's case with a
		// key of his own: the format is public, the key is not.
		forged, err := header.NewMessageID(caseRecord, "crm.fabrikam.example", [][]byte{[]byte("attacker's guess at the key!!")}, nil)
		require.NoError(t, err)
		altered := strings.Replace(genuine, ".", ".0", 1)

		for _, id := range []string{forged, altered} {
			d, err := eng.Correlate(ctx, parse(t, "Message-ID: <x2@freemail.example>\r\nFrom: m.allory@freemail.example\r\n"+
				"Subject: Re: your case\r\nIn-Reply-To: "+id+"\r\n\r\n"))
			require.NoError(t, err)
			assert.False(t, d.Found(), "a forged id names nothing: %s", d)
			assert.Contains(t, d.String(), "bad signature", "the Decision says the id was forged or altered")
		}
		d, err := eng.Correlate(ctx, parse(t, "Message-ID: <r3@contoso.example>\r\nFrom: jane@contoso.example\r\n"+
			"Subject: Re: Printer offline\r\nIn-Reply-To: "+genuine+"\r\n\r\n"))
		require.NoError(t, err)
		assert.Equal(t, caseRecord, d.Match.Record, "the genuine id names its record though no tracked email has it")
	})
}

func TestMarkerLoop(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := []byte("loop marker key, the old one"), []byte("loop marker key, the new one")
	mk := &guard.Marker{Instance: "fabrikam-crm", Keys: [][]byte{newKey, oldKey}}
	stamp := func(k *guard.Marker, id string) string {
		f, v, err := k.Stamp(id)
		require.NoError(t, err)
		return f + ": " + v + "\r\n"
	}
	eng, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Guard: guard.Options{Marker: mk}})
	require.NoError(t, err)
	ack := "Message-ID: <ack-1@crm.fabrikam.example>\r\nFrom: support@fabrikam.example\r\nTo: helpdesk@contoso.example\r\n" +
		"Subject: Ticket received CRM:0001001\r\nAuto-Submitted: auto-replied\r\n"
	sent := parse(t, ack+stamp(mk, "<ack-1@crm.fabrikam.example>")+"\r\n")
	sent.Direction = correlate.Outgoing
	d, err := eng.Correlate(ctx, sent)
	require.NoError(t, err)
	assert.Equal(t, guard.AutoReply, d.Class(), "our own outgoing mail carries the marker by design: not a loop")
	_, err = eng.Track(ctx, sent, correlate.Match{Record: caseRecord})
	require.NoError(t, err)

	cases := []struct {
		name  string
		raw   string
		dir   correlate.Direction
		class string
		note  string
		why   string
	}{
		{"came back", ack + stamp(mk, "ack-1@crm.fabrikam.example") + "\r\n", correlate.Incoming, guard.Loop, "own loop marker, verified",
			"our acknowledgement, forwarded back into the support mailbox"},
		{"old key", ack + stamp(&guard.Marker{Instance: "fabrikam-crm", Keys: [][]byte{oldKey}}, "ack-1@crm.fabrikam.example") + "\r\n",
			correlate.Incoming, guard.Loop, "verified", "markers signed before a key rotation still count"},
		{"copied onto other mail", strings.Replace(ack, "ack-1@", "other@", 1) + stamp(mk, "ack-1@crm.fabrikam.example") + "\r\n",
			correlate.Incoming, guard.AutoReply, "does not verify", "the MAC is bound to the Message-ID: a copied marker proves nothing"},
		{"other instance", "Message-ID: <n@contoso.example>\r\nFrom: helpdesk@contoso.example\r\nSubject: hello\r\n" +
			stamp(&guard.Marker{Instance: "contoso-desk", Keys: [][]byte{[]byte("contoso's own marker key ......")}}, "n@contoso.example") + "\r\n",
			correlate.Incoming, guard.Normal, "another system", "another installation's marker is not our loop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := parse(t, tc.raw)
			m.Direction = tc.dir
			d, err := eng.Correlate(ctx, m)
			require.NoError(t, err)
			assert.Equal(t, tc.class, d.Class(), "%s: %s", tc.why, d)
			found := false
			for _, e := range d.Classification.Evidence {
				found = found || (e.Field == guard.DefaultMarkerField && strings.Contains(e.Note, tc.note))
			}
			assert.True(t, found, "%s: evidence %v", tc.why, d.Classification.Evidence)
			if tc.class == guard.Loop {
				assert.False(t, d.Track(), "a loop is never tracked")
				assert.True(t, d.Classification.NoAutoResponse, "and never answered")
			}
		})
	}
}

func TestMarkerValidate(t *testing.T) {
	key := []byte("a key of sixteen+ bytes")
	cases := []struct {
		name   string
		m      guard.Marker
		ok     bool
		reason string
	}{
		{"defaults", guard.Marker{Keys: [][]byte{key}}, true, "field and instance have defaults"},
		{"no key", guard.Marker{}, false, "an unkeyed marker is what others can forge"},
		{"short key", guard.Marker{Keys: [][]byte{[]byte("short")}}, false, "too short to resist guessing"},
		{"bad instance", guard.Marker{Instance: "two words", Keys: [][]byte{key}}, false, "the value is space-separated"},
		{"bad field", guard.Marker{Field: "X-Bad:Field", Keys: [][]byte{key}}, false, "a colon ends a field name"},
	}
	for _, tc := range cases {
		err := tc.m.Validate()
		assert.Equal(t, tc.ok, err == nil, "%s: %v (%s)", tc.name, err, tc.reason)
		_, _, serr := tc.m.Stamp("<a@b>")
		assert.Equal(t, tc.ok, serr == nil, tc.name)
	}
	_, _, err := (&guard.Marker{Keys: [][]byte{key}}).Stamp("")
	assert.Error(t, err, "the MAC needs the Message-ID")
	_, err = mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Guard: guard.Options{Marker: &guard.Marker{}}})
	assert.Error(t, err, "New refuses an invalid marker up front")
	_, ours, found := (&guard.Marker{Keys: [][]byte{key}}).Check(nil)
	assert.False(t, ours || found)
}

func TestRateWindow(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	msg := func(from, id string, at time.Time) *correlate.Message {
		return &correlate.Message{MessageID: id, From: []correlate.Address{{Address: from}}, Date: at}
	}
	a, b := rec("incident:1"), rec("incident:2")
	w := guard.NewRateWindow(&guard.RateOptions{Limit: 3, Window: time.Hour})
	steps := []struct {
		m     *correlate.Message
		r     correlate.Record
		class string
		why   string
	}{
		{msg("robot@other.example", "1", t0), a, guard.Normal, "first"},
		{msg("Robot@Other.example", "2", t0.Add(time.Minute)), a, guard.Normal, "addresses compare normalized"},
		{msg("robot@other.example", "3", t0.Add(2*time.Minute)), a, guard.Normal, "third: at the limit"},
		{msg("robot@other.example", "3", t0.Add(2*time.Minute)), a, guard.Normal, "the same message again is not counted twice"},
		{msg("robot@other.example", "4", t0.Add(3*time.Minute)), b, guard.Normal, "another record has its own count"},
		{msg("robot@other.example", "5", t0.Add(4*time.Minute)), a, guard.Loop, "fourth within the hour: ping-pong"},
		{msg("jane@contoso.example", "6", t0.Add(5*time.Minute)), a, guard.Normal, "another sender has her own count"},
		{msg("robot@other.example", "7", t0.Add(3*time.Hour)), a, guard.Normal, "hours later the window is empty again"},
		{&correlate.Message{MessageID: "8"}, a, guard.Normal, "a message without sender is not counted"},
	}
	for i, s := range steps {
		got := w.Observe(s.m, s.r)
		assert.Equal(t, s.class, got.Class, "step %d: %s", i, s.why)
		if got.Class == guard.Loop {
			assert.Contains(t, got.Reason, "4 messages from robot@other.example about incident:1 within 1h0m0s (limit 3)")
			assert.True(t, got.NoAutoResponse)
		}
	}
	assert.Equal(t, correlate.Classification{}, w.Observe(nil, a))

	// Unmatched mail counts per sender under the zero record.
	z := guard.NewRateWindow(&guard.RateOptions{Limit: 1})
	z.Observe(msg("x@y.example", "1", t0), correlate.Record{})
	got := z.Observe(msg("x@y.example", "2", t0), correlate.Record{})
	assert.Equal(t, guard.Loop, got.Class)
	assert.Contains(t, got.Reason, "that matched no record")

	// The organization's own mail (a notice to every contact of a major
	// incident) is not counted.
	out := guard.NewRateWindow(&guard.RateOptions{Limit: 1})
	for i := range 5 {
		m := msg("support@fabrikam.example", fmt.Sprint(i), t0)
		m.Direction = correlate.Outgoing
		assert.Equal(t, guard.Normal, out.Observe(m, a).Class, "outgoing mail is not ping-pong")
	}

	// Memory stays bounded.
	small := guard.NewRateWindow(&guard.RateOptions{MaxKeys: 10})
	for i := range 1000 {
		small.Observe(msg(fmt.Sprintf("s%d@x.example", i), "", t0), a)
	}
	assert.LessOrEqual(t, small.Len(), 10)

	// The clock can count arrival instead of Date.
	now := t0
	arr := guard.NewRateWindow(&guard.RateOptions{Limit: 1, Clock: func(*correlate.Message) time.Time { return now }})
	arr.Observe(msg("x@y.example", "1", t0.Add(-48*time.Hour)), a)
	assert.Equal(t, guard.Loop, arr.Observe(msg("x@y.example", "2", t0.Add(48*time.Hour)), a).Class,
		"with an arrival clock, far-apart Dates do not hide a burst")
}

// TestRateWindowEngine: two helpdesks acknowledging each other; the third
// acknowledgement within the window is a Loop and is not tracked.
func TestRateWindowEngine(t *testing.T) {
	ctx := context.Background()
	eng, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Guard: guard.Options{RateWindow: guard.RateOptions{Limit: 2}}})
	require.NoError(t, err)
	_, err = eng.Track(ctx, parse(t, "Message-ID: <c1@crm.fabrikam.example>\r\nFrom: support@fabrikam.example\r\n"+
		"To: desk@other.example\r\nSubject: Ticket received CRM:0001001\r\n\r\n"), correlate.Match{Record: caseRecord})
	require.NoError(t, err)
	var classes []string
	for i := range 3 {
		// RT does not mark its mail Auto-Submitted (RT PR #345): only the
		// rate reveals the loop.
		m := parse(t, fmt.Sprintf("Message-ID: <ack%d@other.example>\r\nFrom: desk@other.example\r\nTo: support@fabrikam.example\r\n"+
			"Date: Tue, 4 Mar 2025 10:0%d:00 +0000\r\nSubject: [other #77] Re: Ticket received CRM:0001001\r\n\r\n", i, i))
		d, err := eng.Correlate(ctx, m)
		require.NoError(t, err)
		require.Equal(t, caseRecord, d.Match.Record)
		classes = append(classes, d.Class())
		if d.Class() == guard.Loop {
			assert.False(t, d.Track())
			assert.Contains(t, d.String(), "class loop")
		}
	}
	assert.Equal(t, []string{guard.Normal, guard.Normal, guard.Loop}, classes)
}

// TestRateWindowReuse: the entries of pairs swept out serve new pairs, which
// then start with no events, and in a steady state a new pair allocates
// nothing.
func TestRateWindowReuse(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	w := guard.NewRateWindow(&guard.RateOptions{Limit: 2, MaxKeys: 20, Window: time.Minute})
	const n = 5000
	msgs := make([]*correlate.Message, n)
	for i := range msgs {
		// In the first half three messages per sender, a second apart
		// (the third is a Loop); in the second, one each.
		s := i / 3
		if i >= n/2 {
			s = i
		}
		msgs[i] = &correlate.Message{MessageID: fmt.Sprint(i), From: []correlate.Address{{Address: fmt.Sprintf("s%d@x.example", s)}},
			Date: t0.Add(time.Duration(i) * time.Second)}
		msgs[i].SenderAddress() // computes the facts ParseMessage would have
	}
	r := rec("incident:1")
	for i, m := range msgs[:n/2] {
		want := guard.Normal
		if i%3 == 2 {
			want = guard.Loop
		}
		require.Equal(t, want, w.Observe(m, r).Class, "message %d: a reused entry must start empty", i)
	}
	require.LessOrEqual(t, w.Len(), 20)
	i := n / 2
	allocs := testing.AllocsPerRun(n/2-1, func() {
		w.Observe(msgs[i], r)
		i++
	})
	assert.Zero(t, allocs, "allocations per observation of a new pair")
}

func TestRateWindowConcurrent(t *testing.T) {
	w := guard.NewRateWindow(&guard.RateOptions{Limit: 1000, MaxKeys: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				w.Observe(&correlate.Message{MessageID: fmt.Sprint(g, i), From: []correlate.Address{{Address: fmt.Sprintf("s%d@x", i%70)}}}, rec("incident:1"))
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, w.Len(), 50)
}

func TestStates(t *testing.T) {
	ctx := context.Background()
	var s guard.States
	a, b := rec("incident:1"), rec("incident:2")
	st, err := s.Resolve(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, guard.RecordState{}, st, "the zero States knows every record as open")
	s.Merge(a, b)
	st, _ = s.Resolve(ctx, a)
	assert.Equal(t, guard.RecordState{MergedInto: b, Closed: true}, st, "a merged record is closed too")
	s.Close(b)
	s.Reopen(b)
	st, _ = s.Resolve(ctx, b)
	assert.Equal(t, guard.RecordState{}, st, "reopened")
	s.Delete(b)
	st, _ = s.Resolve(ctx, b)
	assert.True(t, st.Deleted)
	s.Set(b, guard.RecordState{})
	st, _ = s.Resolve(ctx, b)
	assert.Equal(t, guard.RecordState{}, st, "Set with the zero state forgets")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Resolve(cctx, a)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestRecordStatesEngine: replies to a merged ticket reach the survivor;
// replies to a closed one follow the closed policy.
func TestRecordStatesEngine(t *testing.T) {
	ctx := context.Background()
	states := &guard.States{}
	old, survivor := rec("incident:CAS-1"), rec("incident:CAS-2")
	states.Merge(old, survivor)
	reply := "Message-ID: <r@contoso.example>\r\nFrom: jane@contoso.example\r\nSubject: Re: x\r\nIn-Reply-To: <c1@crm.fabrikam.example>\r\n\r\n"
	for _, pol := range []guard.ClosedPolicy{guard.ClosedCorrelate, guard.ClosedNew, guard.ClosedReject} {
		eng, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Guard: guard.Options{Records: states, OnClosed: pol}})
		require.NoError(t, err)
		_, err = eng.Track(ctx, parse(t, "Message-ID: <c1@crm.fabrikam.example>\r\nFrom: support@fabrikam.example\r\nTo: jane@contoso.example\r\nSubject: x\r\n\r\n"),
			correlate.Match{Record: old})
		require.NoError(t, err)
		d, err := eng.Correlate(ctx, parse(t, reply))
		require.NoError(t, err)
		assert.Equal(t, survivor, d.Match.Record, "%v: merged tickets send replies to the survivor, which is open", pol)
		assert.Equal(t, []correlate.Record{old}, d.Merged)

		states.Close(survivor)
		d, err = eng.Correlate(ctx, parse(t, reply))
		require.NoError(t, err)
		assert.Equal(t, survivor, d.Closed, pol.String())
		switch pol {
		case guard.ClosedCorrelate:
			assert.Equal(t, survivor, d.Match.Record)
			assert.True(t, d.Track())
		case guard.ClosedNew:
			assert.Equal(t, guard.OpenNew, d.Action)
			assert.Contains(t, d.Match.Reason, "open a new record")
			assert.False(t, d.Track())
		case guard.ClosedReject:
			assert.Equal(t, guard.Reject, d.Action)
			assert.False(t, d.Track())
		}
		states.Reopen(survivor)
	}
}

func TestParticipantPolicy(t *testing.T) {
	ctx := context.Background()
	tr := correlate.Tracked{ID: 7, Participants: []string{"support@fabrikam.example", "jane@contoso.example", "pat@gmail.com"}}
	from := func(addrs ...string) *correlate.Message {
		m := &correlate.Message{}
		for _, a := range addrs {
			m.From = append(m.From, correlate.Address{Address: a})
		}
		return m
	}
	withMailbox := func(m *correlate.Message, mb string) *correlate.Message { m.Mailbox = mb; return m }
	sentByUs := tr
	sentByUs.Direction = correlate.Outgoing
	cases := []struct {
		name   string
		m      *correlate.Message
		t      correlate.Tracked
		want   bool
		sender string // Evidence.Value
		note   string // in Evidence.Note
		why    string
	}{
		{"from", from("Jane@Contoso.example"), tr, true, "jane@contoso.example", "took part: a participant of tracked email 7", "a participant, compared normalized"},
		{"stranger", from("m@evil.example"), tr, false, "m@evil.example", "did not take part: not a participant of tracked email 7, nor a colleague of one",
			"not in the conversation, and nobody there works at evil.example"},
		{"second from", from("m@evil.example", "jane@contoso.example"), tr, true, "jane@contoso.example", "a participant", "any From address (issue 17 #13)"},
		{"sender", &correlate.Message{Sender: correlate.Address{Address: "jane@contoso.example"}}, tr, true, "jane@contoso.example", "a participant", "Sender when From is empty"},
		{"outgoing", &correlate.Message{Direction: correlate.Outgoing, From: []correlate.Address{{Address: "colleague@fabrikam.example"}}}, tr, true,
			"colleague@fabrikam.example", "outgoing", "the organization's own mail: a colleague may take over a case"},
		{"colleague", from("bob@contoso.example"), tr, true, "bob@contoso.example",
			"took part: a colleague at contoso.example of participant jane@contoso.example in tracked email 7",
			"same registrable domain as the customer: a colleague joining the case (issue 22 §3)"},
		{"colleague on a subdomain", from("bob@eu.mail.contoso.example"), tr, true, "bob@eu.mail.contoso.example", "a colleague at contoso.example",
			"the organization is the registrable domain, not the host"},
		{"second author a colleague", from("m@evil.example", "bob@contoso.example"), tr, true, "bob@contoso.example", "a colleague", "every author counts"},
		{"other customer's colleague", from("mallory@northwind.example"), tr, false, "mallory@northwind.example", "nor a colleague of one",
			"a colleague of a different customer is a stranger to this case"},
		{"freemail neighbour", from("eve@gmail.com"), tr, false, "eve@gmail.com", "(gmail.com is a freemail domain)",
			"two Gmail users are not colleagues"},
		{"own domain by mailbox", withMailbox(from("sam@fabrikam.example"), "crm@fabrikam.example"), tr, false, "sam@fabrikam.example",
			"(fabrikam.example is the organization's own domain)", "the support desk's domain is in every conversation: it makes no colleague"},
		{"own domain by tracked mailbox", from("sam@fabrikam.example"), correlate.Tracked{ID: 7, Mailbox: "crm@fabrikam.example", Participants: tr.Participants},
			false, "sam@fabrikam.example", "own domain", "the mailbox the tracked email came from is the organization's"},
		{"own domain by outgoing tracked email", from("sam@fabrikam.example"), sentByUs, false, "sam@fabrikam.example", "own domain",
			"the sender of a sent email is the organization's"},
		{"nobody", &correlate.Message{}, tr, false, "", "names no sender", "no sender, no participation"},
		{"nil", nil, tr, false, "", "no message", "nothing to accept"},
	}
	// NewParticipantPolicy decides as ParticipantPolicy, the first time a
	// domain is met (its memory is empty) and the second (from its memory).
	cached := guard.NewParticipantPolicy()
	for pass := range 2 {
		for _, tc := range cases {
			ev, ok := guard.ParticipantPolicy(ctx, tc.m, tc.t)
			assert.Equal(t, tc.want, ok, "%s: %s", tc.name, tc.why)
			assert.Equal(t, "From", ev.Field, tc.name)
			assert.Equal(t, tc.sender, ev.Value, "%s: the Evidence names the sender judged", tc.name)
			assert.Contains(t, ev.Note, tc.note, "%s: %s", tc.name, tc.why)
			cev, cok := cached(ctx, tc.m, tc.t)
			assert.Equal(t, ok, cok, "%s (pass %d): NewParticipantPolicy decides as ParticipantPolicy", tc.name, pass)
			assert.Equal(t, ev, cev, "%s (pass %d): with the same Evidence", tc.name, pass)
		}
	}
	hook := func(_ context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
		ok := strings.HasSuffix(m.SenderAddress(), "@contoso-partner.example") && t.Record == caseRecord
		return correlate.Evidence{Field: "From", Value: m.SenderAddress(), Note: "did not take part: not a partner"}, ok
	}
	p := guard.AnyOf(guard.ParticipantPolicy, nil, hook)
	partner := from("bob@contoso-partner.example")
	_, ok := guard.ParticipantPolicy(ctx, partner, tr)
	assert.False(t, ok, "another registrable domain is another organization")
	_, ok = p(ctx, partner, correlate.Tracked{Record: caseRecord})
	assert.True(t, ok, "the caller's hook says yes for the customer's partner")
	ev, ok := p(ctx, from("m@evil.example"), tr)
	assert.False(t, ok)
	assert.Equal(t, "did not take part: not a participant of tracked email 7, nor a colleague of one; not a partner", ev.Note,
		"every refusal is in the Evidence")
	_, ok = guard.AnyOf()(ctx, partner, tr)
	assert.False(t, ok, "no policy accepts nobody")
}

// TestColleagueSenderPolicy is issue 22 §3 through the default engine: a
// colleague at the customer (same company domain, never a participant)
// replying with the case's token was refused by the default sender policy;
// a colleague of a different customer and a stranger pasting the token stay
// refused, and the Decision says which.
func TestColleagueSenderPolicy(t *testing.T) {
	ctx := context.Background()
	eng, err := mailcorrelate.New(memstore.New(), nil)
	require.NoError(t, err)
	sent := parse(t, "Message-ID: <c1@crm.fabrikam.example>\r\nFrom: support@fabrikam.example\r\nTo: Jane <jane@contoso.example>\r\n"+
		"Subject: Printer offline CRM:0001001\r\n\r\n")
	sent.Direction = correlate.Outgoing
	sent.Mailbox = "support@fabrikam.example"
	_, err = eng.Track(ctx, sent, correlate.Match{Record: caseRecord})
	require.NoError(t, err)

	reply := func(from string) correlate.Decision {
		m := parse(t, "Message-ID: <"+strings.ReplaceAll(from, "@", ".")+"@x.example>\r\nFrom: "+from+"\r\nTo: support@fabrikam.example\r\n"+
			"Subject: RE: Printer offline CRM:0001001\r\n\r\n")
		m.Mailbox = "support@fabrikam.example"
		d, err := eng.Correlate(ctx, m)
		require.NoError(t, err)
		return d
	}
	d := reply("bob@contoso.example")
	assert.Equal(t, caseRecord, d.Match.Record, "Jane's colleague at Contoso may answer with the case's token")
	assert.Contains(t, d.Match.Reason, "sender bob@contoso.example took part: a colleague at contoso.example of participant jane@contoso.example",
		"the reason says why the sender was accepted")
	assert.Contains(t, d.Match.Evidence, correlate.Evidence{Field: "From", Value: "bob@contoso.example",
		Note: "took part: a colleague at contoso.example of participant jane@contoso.example in tracked email 1"}, "and the Evidence, for programs")

	for _, tc := range []struct{ from, why string }{
		{"mallory@northwind.example", "a colleague of a different customer"},
		{"m.allory@freemail.example", "a stranger pasting the token"},
		{"sam@fabrikam.example", "someone at the organization's own domain, writing in as a customer would"},
	} {
		d := reply(tc.from)
		assert.False(t, d.Found(), "%s is refused: %s", tc.why, d)
		assert.Contains(t, d.Match.Reason, "sender policy: "+tc.from+" did not take part", tc.why)
		var refused correlate.Step
		for _, st := range d.Steps {
			if st.Refused != "" {
				refused = st
			}
		}
		assert.Contains(t, refused.Match.Evidence, correlate.Evidence{Field: "From", Value: tc.from,
			Note: refused.Match.Evidence[len(refused.Match.Evidence)-1].Note}, "the refused step carries the policy's Evidence")
	}
}

func rec(s string) correlate.Record {
	r, err := correlate.ParseRecord(s)
	if err != nil {
		panic(err)
	}
	return r
}
