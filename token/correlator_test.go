package token_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// mail builds a message: id, subject, sender, recipients, and a date n hours
// after t0.
func mail(id, subject, from string, hours int, to ...string) *correlate.Message {
	m := &correlate.Message{MessageID: id, Subject: subject, From: []correlate.Address{{Address: from}}, Date: t0.Add(time.Duration(hours) * time.Hour)}
	for _, a := range to {
		m.To = append(m.To, correlate.Address{Address: a})
	}
	return m
}

// coAuthored adds more From addresses to m: "From: a1, a2".
func coAuthored(m *correlate.Message, more ...string) *correlate.Message {
	for _, a := range more {
		m.From = append(m.From, correlate.Address{Address: a})
	}
	return m
}

// sent is an email tracked before the test message arrives.
type sent struct {
	m      *correlate.Message
	record string // "" tracks without a record
}

func track(t *testing.T, e *correlate.Engine, ss []sent) []correlate.Tracked {
	t.Helper()
	var out []correlate.Tracked
	for _, s := range ss {
		r, err := correlate.ParseRecord(s.record)
		require.NoError(t, err)
		tr, err := e.Track(context.Background(), s.m, correlate.Match{Record: r})
		require.NoError(t, err)
		out = append(out, tr)
	}
	return out
}

func signedTok(t *testing.T, f token.Format, user, seq int64) string {
	t.Helper()
	tok, err := f.Make(user, seq)
	require.NoError(t, err)
	return tok.String()
}

func TestCorrelator(t *testing.T) {
	const support = "support@fabrikam.example"
	keys := token.Format{Keys: [][]byte{testKey}}
	sig1 := signedTok(t, keys, 1, 1)
	hist := token.Format{Prefix: "NEW:", History: []string{"CRM:"}}

	cases := []struct {
		name    string
		opts    *token.Options
		tracked []sent
		in      *correlate.Message
		record  string  // expected record, "" for none
		conf    float64 // expected confidence when record or track is set
		track   bool    // expected track-only match
		with    int     // index in tracked of CorrelatedWith, -1 for none
		notes   []string
		reason  string
	}{
		{
			name:    "plain token",
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline CRM:0001001", "anna@contoso.example", 2, support),
			record:  "incident:CAS-1", conf: correlate.High, with: 0,
			notes:  []string{"names tracked email 1"},
			reason: "a plain token names the tracked email; a person could have edited it, so High, not Certain",
		},
		{
			name:    "no token",
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline", "anna@contoso.example", 2, support),
			with:    -1,
			reason:  "no token: the zero Match, no evidence",
		},
		{
			name:    "unknown token",
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline CRM:0001999", "anna@contoso.example", 2, support),
			with:    -1,
			notes:   []string{"no tracked email carries this token"},
			reason:  "a token whose record is unknown is no opinion, not an error",
		},
		{
			name:    "old prefix in reply",
			opts:    &token.Options{Format: hist},
			tracked: []sent{{mail("s1@crm", "Printer offline NEW:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline CRM:0001001", "anna@contoso.example", 2, support),
			record:  "incident:CAS-1", conf: correlate.High, with: 0,
			reason: "a reply carrying an older prefix of the history finds the email tracked under the newer one",
		},
		{
			name:    "new prefix in reply to old mail",
			opts:    &token.Options{Format: hist},
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline NEW:0001001", "anna@contoso.example", 2, support),
			record:  "incident:CAS-1", conf: correlate.High, with: 0,
			reason: "and the other way round: the key is the digits alone",
		},
		{
			name: "roll-over, sender decides",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
				{mail("s2@crm", "Invoice question CRM:0001001", support, 100, "bob@tailspin.example"), "incident:CAS-2"},
			},
			in:     mail("r1@contoso", "RE: Printer offline CRM:0001001", "anna@contoso.example", 101, support),
			record: "incident:CAS-1", conf: correlate.High, with: 0,
			notes:  []string{"2 tracked emails under 2 records share this token", "the newest with a sender among its participants"},
			reason: "after the counter rolled over, Anna took part in the older conversation only; Dynamics would pick the newest",
		},
		{
			name: "roll-over, overlap decides",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
				{mail("s2@crm", "Invoice question CRM:0001001", support, 100, "bob@tailspin.example"), "incident:CAS-2"},
			},
			in:     mail("r1@tailspin", "RE: Invoice question CRM:0001001", "carol@tailspin.example", 101, support, "bob@tailspin.example"),
			record: "incident:CAS-2", conf: correlate.Likely, with: 1,
			notes:  []string{"the newest sharing a participant"},
			reason: "Carol is new, but she writes to Bob, who took part in the newer conversation",
		},
		{
			name: "roll-over, nothing decides",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
				{mail("s2@crm", "Invoice question CRM:0001001", support, 100, "bob@tailspin.example"), "incident:CAS-2"},
			},
			in:     mail("r1@x", "Fwd: CRM:0001001", "dave@example.org", 101, "erin@example.org"),
			record: "incident:CAS-2", conf: correlate.Weak, with: 1,
			notes:  []string{"none shares a participant"},
			reason: "a truly ambiguous token falls back to Dynamics' rule (the newest) at Weak confidence, so a chain threshold can refuse it",
		},
		{
			name: "roll-over, later mail passed over",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
				{mail("s2@crm", "Invoice question CRM:0001001", support, 100, "dave@example.org"), "incident:CAS-2"},
			},
			in:     mail("r1@x", "Fwd: CRM:0001001", "dave@example.org", 10, "erin@example.org"),
			record: "incident:CAS-1", conf: correlate.High, with: 0,
			reason: "a message dated hour 10 (synchronized late, or imported) cannot answer mail of hour 100: only the older email is a candidate, although Dave took part in the newer one",
		},
		{
			name: "only later mail",
			tracked: []sent{
				{mail("s2@crm", "Invoice question CRM:0001001", support, 100, "bob@tailspin.example"), "incident:CAS-2"},
			},
			in:     mail("r1@tailspin", "RE: Invoice question CRM:0001001", "bob@tailspin.example", 10, support),
			record: "incident:CAS-2", conf: correlate.High, with: 0,
			reason: "when every email carrying the token is dated after the message (a wrong Date header), the token still counts",
		},
		{
			name: "later within the skew",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
				{mail("s2@crm", "Invoice question CRM:0001001", support, 100, "bob@tailspin.example"), "incident:CAS-2"},
			},
			in:     mail("r1@tailspin", "RE: Invoice question CRM:0001001", "bob@tailspin.example", 90, support),
			record: "incident:CAS-2", conf: correlate.High, with: 1,
			notes:  []string{"the newest with a sender among its participants"},
			reason: "a reply whose Date is ten hours behind the mail it answers (a wrong clock) is within DateSkew",
		},
		{
			name: "repeated token, one record",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
				{mail("s2@crm", "RE: Printer offline CRM:0001001", "anna@contoso.example", 5, support), "incident:CAS-1"},
			},
			in:     mail("r1@contoso", "RE: RE: Printer offline CRM:0001001", "anna@contoso.example", 6, support),
			record: "incident:CAS-1", conf: correlate.High, with: 1,
			reason: "a conversation carries its token in every email: no ambiguity when all name one record; the newest is the one continued",
		},
		{
			name:    "signed token",
			opts:    &token.Options{Format: keys},
			tracked: []sent{{mail("s1@crm", "Printer offline "+sig1, support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline "+strings.ToLower(sig1), "anna@contoso.example", 2, support),
			record:  "incident:CAS-1", conf: correlate.Certain, with: 0,
			notes:  []string{"signature verified"},
			reason: "a verified signature proves the token was issued: Certain, even after a client lower-cased it",
		},
		{
			name:    "signed, accept unsigned",
			opts:    &token.Options{Format: keys, AcceptUnsigned: true},
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline CRM:0001001", "anna@contoso.example", 2, support),
			record:  "incident:CAS-1", conf: correlate.High, with: 0,
			notes:  []string{"unsigned token accepted"},
			reason: "during a migration replies to unsigned tokens still correlate, as plain tokens",
		},
		{
			name:    "policy accepts participant",
			opts:    &token.Options{Policy: guard.ParticipantPolicy},
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline CRM:0001001", "Anna@Contoso.example", 2, support),
			record:  "incident:CAS-1", conf: correlate.High, with: 0,
			reason: "Anna took part (addresses compare case-insensitively)",
		},
		{
			name:    "policy accepts second author",
			opts:    &token.Options{Policy: guard.ParticipantPolicy},
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      coAuthored(mail("r1@contoso", "RE: Printer offline CRM:0001001", "eve@evil.example", 2, support), "anna@contoso.example"),
			record:  "incident:CAS-1", conf: correlate.High, with: 0,
			notes:  []string{"took part: a participant of tracked email 1"},
			reason: "From: eve, anna — Anna is an author too, and every From address counts (issue 17 #13)",
		},
		{
			name: "roll-over, second author decides",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
				{mail("s2@crm", "Invoice question CRM:0001001", support, 100, "bob@tailspin.example"), "incident:CAS-2"},
			},
			in:     coAuthored(mail("r1@contoso", "RE: Printer offline CRM:0001001", "intern@contoso.example", 101, support), "anna@contoso.example"),
			record: "incident:CAS-1", conf: correlate.High, with: 0,
			notes:  []string{"the newest with a sender among its participants"},
			reason: "the roll-over is decided by any author of the message, not only the first",
		},
		{
			name:    "already tracked",
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"),
			with:    -1,
			notes:   []string{"no tracked email carries this token"},
			reason:  "an email does not correlate with itself",
		},
		{
			name:    "track only",
			tracked: []sent{{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), ""}},
			in:      mail("r1@contoso", "RE: Printer offline CRM:0001001", "anna@contoso.example", 2, support),
			track:   true, conf: correlate.High, with: 0,
			reason: "a reply to an email tracked without a record is tracked too (Dynamics' 'responses to tracked email')",
		},
		{
			name: "newest token unknown, older known",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
			},
			in:     mail("r1@contoso", "RE: Printer offline CRM:0001001 CRM:0009001", "anna@contoso.example", 2, support),
			record: "incident:CAS-1", conf: correlate.High, with: 0,
			notes:  []string{"CRM:0009001: no tracked email", "CRM:0001001: names tracked email 1"},
			reason: "the last token is tried first; when it names nothing the earlier one still counts",
		},
		{
			name:    "forged copy after the genuine token",
			opts:    &token.Options{Format: keys},
			tracked: []sent{{mail("s1@crm", "Printer offline "+sig1, support, 0, "anna@contoso.example"), "incident:CAS-1"}},
			in:      mail("r1@contoso", "RE: Printer offline "+sig1+" CRM:0001001-ABCDEFGH", "anna@contoso.example", 2, support),
			record:  "incident:CAS-1", conf: correlate.Certain, with: 0,
			notes:  []string{"CRM:0001001-ABCDEFGH: bad signature", "signature verified"},
			reason: "a badly signed copy of the digits does not hide the genuine token before it",
		},
		{
			name: "track-only loses to a record",
			tracked: []sent{
				{mail("s1@crm", "Printer offline CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"},
				{mail("s2@crm", "Note CRM:0001002", support, 1, "anna@contoso.example"), ""},
			},
			in:     mail("r1@contoso", "RE: Printer offline CRM:0001001 CRM:0001002", "anna@contoso.example", 2, support),
			record: "incident:CAS-1", conf: correlate.High, with: 0,
			reason: "a token naming a record beats a newer one naming an email without a record",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			c := token.New(st, tc.opts)
			e := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)
			tracked := track(t, e, tc.tracked)

			got, err := c.Correlate(context.Background(), tc.in)
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.record, got.Record.String(), tc.reason)
			assert.Equal(t, tc.track, got.Track, tc.reason)
			if tc.record != "" || tc.track {
				assert.Equal(t, correlate.TrackingToken, got.Method)
				assert.Equal(t, "token", got.Strategy)
				assert.InDelta(t, tc.conf, got.Confidence, 1e-9, tc.reason)
			}
			if tc.with >= 0 {
				require.NotNil(t, got.CorrelatedWith, tc.reason)
				assert.Equal(t, tracked[tc.with].ID, got.CorrelatedWith.ID, tc.reason)
			} else {
				assert.Nil(t, got.CorrelatedWith, tc.reason)
			}
			if tc.notes == nil && tc.record == "" && !tc.track {
				assert.Equal(t, correlate.Match{}, got, "no token means the zero Match")
			}
			var ev []string
			for _, e := range got.Evidence {
				ev = append(ev, e.String())
			}
			all := strings.Join(ev, "\n")
			for _, n := range tc.notes {
				assert.Contains(t, all, n, tc.reason)
			}
		})
	}
}

// TestCorrelator_forged is the hijack scenario of Zammad #5064: a stranger
// pastes a guessed token into a subject to attach mail to another
// customer's case.
func TestCorrelator_forged(t *testing.T) {
	ctx := context.Background()
	const support = "support@fabrikam.example"
	signedFmt := token.Format{Keys: [][]byte{testKey}}

	t.Run("signing on", func(t *testing.T) {
		st := memstore.New()
		c := token.New(st, &token.Options{Format: signedFmt})
		e := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)
		genuine := signedTok(t, signedFmt, 1, 1) // CRM:0001001-…
		track(t, e, []sent{{mail("s1@crm", "Your case "+genuine, support, 0, "anna@contoso.example"), "incident:CAS-1"}})

		cases := []struct {
			subject, note, text, reason string
		}{
			{"RE: Your case CRM:0001001-ABCDEFGH", "bad signature", "token CRM:0001001-ABCDEFGH has a bad signature",
				"the attacker knows the digits (they are sequential) but not the key"},
			{"RE: Your case CRM:0001001", "unsigned token: signing is required", "token CRM:0001001 is unsigned",
				"dropping the signature does not help"},
			{"RE: Your case " + signedTok(t, token.Format{Keys: [][]byte{[]byte("the-attackers-own-key-123")}}, 1, 1),
				"bad signature", "has a bad signature", "a token signed with another key (another deployment) fails"},
		}
		for _, tc := range cases {
			d, err := e.Correlate(ctx, mail("x@evil", tc.subject, "mallory@evil.example", 3, support))
			require.NoError(t, err)
			assert.False(t, d.Found(), tc.reason)
			require.Len(t, d.Steps, 1)
			require.NotEmpty(t, d.Steps[0].Match.Evidence, "the refusal is explained")
			assert.Equal(t, tc.note, d.Steps[0].Match.Evidence[0].Note, tc.reason)
			assert.Contains(t, d.String(), tc.text, "the Decision's text says why")
		}

		// The forged email, filed by hand, must not make its token a key that
		// genuine replies would then find.
		forged := mail("x2@evil", "Your case CRM:0001001-ABCDEFGH", "mallory@evil.example", 4, support)
		_, err := e.Track(ctx, forged, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-666"}})
		require.NoError(t, err)
		d, err := e.Correlate(ctx, mail("r1@contoso", "RE: Your case "+genuine, "anna@contoso.example", 5, support))
		require.NoError(t, err)
		assert.Equal(t, "incident:CAS-1", d.Match.Record.String(), "the genuine reply still finds its case")
		assert.InDelta(t, correlate.Certain, d.Match.Confidence, 1e-9)
	})

	t.Run("signing off, sender policy", func(t *testing.T) {
		st := memstore.New()
		c := token.New(st, &token.Options{Policy: guard.ParticipantPolicy})
		e := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)
		track(t, e, []sent{{mail("s1@crm", "Your case CRM:0001001", support, 0, "anna@contoso.example"), "incident:CAS-1"}})

		d, err := e.Correlate(ctx, mail("x@evil", "Your case CRM:0001001", "mallory@evil.example", 3, support))
		require.NoError(t, err)
		assert.False(t, d.Found(), "a stranger cannot attach mail to Anna's case")
		ev := d.Steps[0].Match.Evidence
		require.NotEmpty(t, ev)
		last := ev[len(ev)-1]
		assert.Equal(t, correlate.Evidence{Field: "From", Value: "mallory@evil.example",
			Note: "sender policy refused token CRM:0001001 of tracked email 1: did not take part: not a participant of tracked email 1, nor a colleague of one"}, last)
		assert.Contains(t, d.String(), "sender policy refused token CRM:0001001")

		d, err = e.Correlate(ctx, mail("r1@contoso", "RE: Your case CRM:0001001", "anna@contoso.example", 4, support))
		require.NoError(t, err)
		assert.Equal(t, "incident:CAS-1", d.Match.Record.String(), "Anna can")
	})
}

func TestCorrelator_Index(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	keys := token.Format{Keys: [][]byte{testKey}}
	c := token.New(st, &token.Options{Format: keys})
	genuine := signedTok(t, keys, 1, 1)

	var tr correlate.Tracked
	got := c.Index(mail("a@x", "RE: "+strings.ToLower(genuine)+" CRM:0001002-ABCDEFGH CRM:0001003", "a@x", 0), &tr, nil)
	assert.Equal(t, []correlate.Key{{Kind: token.KindToken, Value: "0001001"}}, got,
		"only the verified token becomes a key: forged and unsigned ones are left out")
	assert.Equal(t, genuine, tr.Token, "t.Token is set to the token in canonical form")

	tr = correlate.Tracked{Token: "CRM:0001005-" + strings.Repeat("0", 8)}
	got = c.Index(mail("a@x", "no token here", "a@x", 0), &tr, []correlate.Key{correlate.MessageIDKey("a@x")})
	assert.Equal(t, []correlate.Key{correlate.MessageIDKey("a@x")}, got, "a badly signed t.Token is not indexed either")

	plain := token.New(st, &token.Options{MaxTokens: 2})
	tr = correlate.Tracked{Token: "CRM:0001009"}
	got = plain.Index(mail("a@x", "CRM:0001001 CRM:0001002 CRM:0001003 CRM:0001003", "a@x", 0), &tr, nil)
	assert.Equal(t, []correlate.Key{{Kind: "token", Value: "0001009"}, {Kind: "token", Value: "0001003"}, {Kind: "token", Value: "0001002"}}, got,
		"t.Token first, then the last MaxTokens tokens of the subject, each key once")
	assert.Equal(t, "CRM:0001009", tr.Token, "a t.Token already set is kept")

	// Through an Engine the keys reach the store.
	e := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{plain}}, nil)
	saved, err := e.Track(ctx, mail("s@crm", "Printer crm:0001007", "s@crm", 0), correlate.Match{})
	require.NoError(t, err)
	assert.Equal(t, "CRM:0001007", saved.Token)
	n, err := st.Count(ctx, correlate.Key{Kind: token.KindToken, Value: "0001007"})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// failIndex is a Lookuper whose store is down.
type failIndex struct{ err error }

func (f failIndex) Lookup(context.Context, correlate.Key, correlate.Query) ([]correlate.Tracked, error) {
	return nil, f.err
}

func TestCorrelator_errors(t *testing.T) {
	boom := errors.New("connection refused")
	c := token.New(failIndex{boom}, nil)
	_, err := c.Correlate(context.Background(), mail("r@x", "RE: CRM:0001001", "a@x", 0))
	assert.ErrorIs(t, err, boom, "a store failure is an error: the chain must stop")
	assert.EqualError(t, err, `token: lookup "0001001": connection refused`)

	m, err := c.Correlate(context.Background(), mail("r@x", "no token", "a@x", 0))
	assert.NoError(t, err, "without a token the store is not asked")
	assert.Equal(t, correlate.Match{}, m)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = token.New(memstore.New(), nil).Correlate(ctx, mail("r@x", "RE: CRM:0001001", "a@x", 0))
	assert.ErrorIs(t, err, context.Canceled)

	bad := token.New(memstore.New(), &token.Options{Format: token.Format{Base: 5000}})
	_, err = bad.Correlate(context.Background(), mail("r@x", "RE: CRM:0001001", "a@x", 0))
	assert.ErrorIs(t, err, token.ErrInvalidFormat, "a misconfigured Correlator stops the chain instead of misfiling mail")
	var tr correlate.Tracked
	assert.Empty(t, bad.Index(mail("r@x", "CRM:0001001", "a@x", 0), &tr, nil), "and indexes nothing")

	_, err = token.New(nil, nil).Correlate(context.Background(), mail("r@x", "x", "a@x", 0))
	assert.Error(t, err, "a nil Index is a configuration error")
}

func TestCorrelator_subjectChanged(t *testing.T) {
	st := memstore.New()
	var seen [2]string
	c := token.New(st, &token.Options{SubjectChanged: func(old, new string) bool {
		seen = [2]string{old, new}
		return old != strings.TrimPrefix(new, "RE: ")
	}})
	e := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)
	track(t, e, []sent{{mail("s1@crm", "Printer offline CRM:0001001", "s@crm", 0, "a@x"), "incident:CAS-1"}})

	got, err := c.Correlate(context.Background(), mail("r1@x", "RE: Printer offline CRM:0001001", "a@x", 1))
	require.NoError(t, err)
	assert.False(t, got.SubjectChanged, "same subject after the reply prefix")
	assert.Equal(t, [2]string{"Printer offline", "RE: Printer offline"}, seen, "the hook sees subjects without tokens")

	got, err = c.Correlate(context.Background(), mail("r2@x", "RE: Toner empty [CRM:0001001]", "a@x", 1))
	require.NoError(t, err)
	assert.True(t, got.SubjectChanged, "the user changed the subject but kept the token")
}

func TestCorrelator_String(t *testing.T) {
	c := token.New(memstore.New(), nil)
	assert.Equal(t, "token", c.String())
	assert.Equal(t, "token", correlate.NameOf(c))
	assert.Equal(t, token.Format{}, c.Format())
}

// TestCorrelator_layoutHistory is issue 17 #12: after the number of digits
// changed, tokens already sent (seven digits, CRM:0001005) were no longer
// found unless MinDigits was set by hand.
func TestCorrelator_layoutHistory(t *testing.T) {
	ctx := context.Background()
	before := token.Format{}
	after := token.Format{CounterDigits: 4, LayoutHistory: []token.Layout{{}}}
	st := memstore.New()
	old := token.New(st, &token.Options{Format: before})
	eng := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{old}}, nil)
	tok, err := before.Make(1, 5)
	require.NoError(t, err)
	require.Equal(t, "CRM:0001005", tok.String())
	track(t, eng, []sent{{mail("s1@crm", "Printer offline "+tok.String(), "support@fabrikam.example", 0, "anna@contoso.example"), "incident:CAS-5"}})

	for _, f := range []token.Format{after, {CounterDigits: 4}} {
		c := token.New(st, &token.Options{Format: f})
		got, err := c.Correlate(ctx, mail("r1@contoso", "RE: Printer offline CRM:0001005", "anna@contoso.example", 2))
		require.NoError(t, err)
		if len(f.LayoutHistory) == 0 {
			assert.False(t, got.Found(), "without the history the old token is not one: the defect, kept as the reason for LayoutHistory")
			continue
		}
		assert.Equal(t, "incident:CAS-5", got.Record.String(), "a reply carrying a token issued under the earlier layout still correlates")

		// An email tracked after the change that still carries the old
		// token is indexed under it, so the thread goes on.
		eng := correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)
		tr, err := eng.Track(ctx, mail("r2@contoso", "RE: Printer offline CRM:0001005", "anna@contoso.example", 3), got)
		require.NoError(t, err)
		assert.Equal(t, "CRM:0001005", tr.Token)
		next, err := f.Make(1, 6)
		require.NoError(t, err)
		assert.Equal(t, "CRM:00010006", next.String(), "new tokens have the current layout")
	}
}
