package mailcorrelate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
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
		{"defaults", nil, []string{"folder", "header.InReplyTo", "token", "header.ConversationIndex"},
			"Dynamics' defaults: smart matching off"},
		{"smart on", &mailcorrelate.Options{Smart: mailcorrelate.SmartImproved},
			[]string{"folder", "header.InReplyTo", "token", "header.ConversationIndex", "smartmatch"}, "smart matching last"},
		{"email router", &mailcorrelate.Options{Preset: mailcorrelate.EmailRouter, Smart: mailcorrelate.SmartDynamics},
			[]string{"token", "smartmatch"}, "the Email Router sees no folders and no headers"},
		{"ignore headers", &mailcorrelate.Options{IgnoreHeaders: true}, []string{"folder", "token"},
			"IgnoreConversationIndexAndInReplyToForCorrelation"},
		{"custom order", &mailcorrelate.Options{Strategies: []mailcorrelate.Strategy{mailcorrelate.Token, mailcorrelate.InReplyTo}},
			[]string{"token", "header.InReplyTo"}, "precedence is the caller's"},
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
	_, err := mailcorrelate.New(s, &mailcorrelate.Options{Strategies: []mailcorrelate.Strategy{"psychic"}})
	assert.ErrorContains(t, err, "unknown strategy")
	_, err = mailcorrelate.New(s, &mailcorrelate.Options{Strategies: []mailcorrelate.Strategy{mailcorrelate.Token, mailcorrelate.Token}})
	assert.ErrorContains(t, err, "twice")
	_, err = mailcorrelate.New(s, &mailcorrelate.Options{Token: token.Format{UserDigits: 2, Base: 500}})
	assert.ErrorIs(t, err, token.ErrInvalidFormat, "a base that does not fit the user digits is refused up front")
}
