package mailcorrelate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/token"
)

func names(c *correlate.Chain) []string {
	var out []string
	for _, x := range c.Correlators {
		out = append(out, correlate.NameOf(x))
	}
	return out
}

func TestNewChain(t *testing.T) {
	cases := []struct {
		name   string
		opts   *mailcorrelate.Options
		want   []string
		reason string
	}{
		{"defaults", nil, []string{"folder", "inreplyto", "token", "conversation"},
			"Dynamics' defaults: smart matching off"},
		{"smart on", &mailcorrelate.Options{Stages: append(mailcorrelate.ServerSideSync(), mailcorrelate.Smart)},
			[]string{"folder", "inreplyto", "token", "conversation", "smart"}, "smart matching last"},
		{"email router", &mailcorrelate.Options{Stages: append(mailcorrelate.EmailRouter(), mailcorrelate.Smart),
			Smart: smartmatch.Options{Mode: smartmatch.Dynamics}},
			[]string{"token", "smart"}, "the Email Router sees no folders and no headers"},
		{"ignore headers", &mailcorrelate.Options{Stages: []mailcorrelate.Stage{mailcorrelate.Folder, mailcorrelate.Token}}, []string{"folder", "token"},
			"IgnoreConversationIndexAndInReplyToForCorrelation is a stage list without the header stages"},
		{"custom order", &mailcorrelate.Options{Stages: []mailcorrelate.Stage{mailcorrelate.Token, mailcorrelate.InReplyTo}},
			[]string{"token", "inreplyto"}, "precedence is the caller's"},
		{"custom stage", &mailcorrelate.Options{Stages: append(mailcorrelate.ServerSideSync(),
			mailcorrelate.Use(correlate.Named("crm", correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
				return correlate.Match{}, nil
			}))))},
			[]string{"folder", "inreplyto", "token", "conversation", "crm"}, "a custom strategy is a stage like the built-in ones"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mailcorrelate.NewChain(memstore.New(), tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.want, names(c), tc.reason)
		})
	}
}

func TestNewErrors(t *testing.T) {
	s := memstore.New()
	_, err := mailcorrelate.New(s, &mailcorrelate.Options{Stages: []mailcorrelate.Stage{mailcorrelate.Strategy("psychic")}})
	assert.ErrorContains(t, err, "unknown strategy")
	_, err = mailcorrelate.New(s, &mailcorrelate.Options{Stages: []mailcorrelate.Stage{mailcorrelate.Token, mailcorrelate.Token}})
	assert.ErrorContains(t, err, "twice")
	boom := errors.New("crm unreachable")
	_, err = mailcorrelate.New(s, &mailcorrelate.Options{Stages: []mailcorrelate.Stage{mailcorrelate.StageFunc(
		func(correlate.Store, *mailcorrelate.Options) (correlate.Correlator, error) { return nil, boom })}})
	assert.ErrorIs(t, err, boom, "a custom stage's error is returned, wrapped")
	assert.ErrorContains(t, err, "mailcorrelate: stage 1: ")
	_, err = mailcorrelate.New(s, &mailcorrelate.Options{Token: token.Format{UserDigits: 2, Base: 500}})
	assert.ErrorIs(t, err, token.ErrInvalidFormat, "a base that does not fit the user digits is refused up front")
}

// TestMessageIDCollision is issue 17 #1 through the default engine: a
// message reusing the Message-ID of a tracked email, with another sender
// and subject, was filed under that email's record at confidence 1.00 as
// "the same email is already tracked (duplicate)", and Track returned the
// other email.
func TestMessageIDCollision(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	eng, err := mailcorrelate.New(s, nil)
	require.NoError(t, err)
	parse := func(raw string) *correlate.Message {
		m, err := correlate.ParseMessage(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")), nil)
		require.NoError(t, err)
		return m
	}
	case1 := "Message-ID: <case-1@crm.fabrikam.example>\nFrom: support@fabrikam.example\nTo: jane@contoso.example\n" +
		"Subject: Printer broken CRM:0001001\nDate: Mon, 3 Mar 2025 09:00:00 +0000\n\n"
	case2 := "Message-ID: <case-2@crm.fabrikam.example>\nFrom: support@fabrikam.example\nTo: bob@northwind.example\n" +
		"Subject: Invoice question CRM:0001002\nDate: Mon, 3 Mar 2025 10:00:00 +0000\n\n"
	rec1, rec2 := correlate.Record{Type: "incident", ID: "CAS-1"}, correlate.Record{Type: "incident", ID: "CAS-2"}
	first, err := eng.Track(ctx, parse(case1), correlate.Match{Record: rec1})
	require.NoError(t, err)
	_, err = eng.Track(ctx, parse(case2), correlate.Match{Record: rec2})
	require.NoError(t, err)

	// Bob answers his own case, but his mail program reused case 1's id.
	collider := parse("Message-ID: <case-1@crm.fabrikam.example>\nFrom: bob@northwind.example\nTo: support@fabrikam.example\n" +
		"Subject: RE: Invoice question CRM:0001002\nDate: Tue, 4 Mar 2025 08:00:00 +0000\n\n")
	d, err := eng.Correlate(ctx, collider)
	require.NoError(t, err)
	assert.Equal(t, rec2, d.Match.Record, "correlated by its token, never by the id it reuses")
	assert.Equal(t, correlate.TrackingToken, d.Match.Method)
	var hdr correlate.Step
	for _, st := range d.Steps {
		if st.Strategy == "inreplyto" {
			hdr = st
		}
	}
	assert.False(t, hdr.Match.Found(), "the header step names no record")
	assert.Contains(t, hdr.Match.Reason, "collides with another email, tracked email 1")
	collision := false
	for _, e := range hdr.Match.Evidence {
		collision = collision || e.Field == "Message-ID" && strings.HasPrefix(e.Note, "collision")
	}
	assert.True(t, collision, "Evidence a program can read: %v", hdr.Match.Evidence)

	got, err := eng.Track(ctx, collider, d.Match)
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, got.ID, "tracked as its own email")
	assert.Equal(t, rec2, got.Record)
	owner, err := eng.Lookup(ctx, "case-1@crm.fabrikam.example")
	require.NoError(t, err)
	assert.Equal(t, first.ID, owner.ID, "the id still names the email that had it first")

	dup := parse(strings.Replace(case1, "Subject:", "X-Mailbox: second\nSubject:", 1))
	d, err = eng.Correlate(ctx, dup)
	require.NoError(t, err)
	assert.Equal(t, rec1, d.Match.Record, "a true duplicate is still one")
	assert.Contains(t, d.Match.Reason, "duplicate")
	again, err := eng.Track(ctx, dup, d.Match)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID, "and tracking it stays idempotent")

	// The copy in the sender's Sent folder lacks the token the relay
	// stamped on the way out: still the same email, not a collision.
	unstamped := parse(strings.Replace(case1, " CRM:0001001", "", 1))
	d, err = eng.Correlate(ctx, unstamped)
	require.NoError(t, err)
	assert.Equal(t, rec1, d.Match.Record, "a copy without the token is the same email")
	assert.Contains(t, d.Match.Reason, "duplicate")
	again, err = eng.Track(ctx, unstamped, d.Match)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID, "tracked once")
}
