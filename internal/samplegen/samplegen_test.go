package samplegen_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

func TestGenerateDeterministic(t *testing.T) {
	a := samplegen.Generate(nil)
	b := samplegen.Generate(nil)
	require.Equal(t, len(a.Mails), len(b.Mails))
	for i := range a.Mails {
		assert.True(t, bytes.Equal(a.Mails[i].Raw, b.Mails[i].Raw), "message %d differs between runs", i)
	}
	c := samplegen.Generate(&samplegen.Options{Seed: 7})
	assert.NotEqual(t, string(a.Mails[0].Raw), string(c.Mails[0].Raw), "another seed, another sample")
}

func TestGenerateParses(t *testing.T) {
	s := samplegen.Generate(nil)
	t.Logf("%d messages, %d seeded", len(s.Mails), len(s.Seed()))
	ids := map[string]bool{}
	scen := map[string]int{}
	for i, m := range s.Mails {
		msg, err := correlate.ParseMessage(bytes.NewReader(m.Raw), nil)
		require.NoError(t, err, "message %d (%s) must parse cleanly", i, m.Scenario)
		assert.Equal(t, correlate.NormalizeMessageID(m.MessageID), msg.MessageID)
		assert.False(t, ids[m.MessageID], "Message-IDs are unique")
		ids[m.MessageID] = true
		assert.NotEmpty(t, msg.Subject)
		assert.True(t, msg.Date.Equal(m.Date))
		if i > 0 {
			assert.False(t, m.Date.Before(s.Mails[i-1].Date), "date order")
		}
		scen[m.Scenario]++
	}
	for _, want := range []string{"new-case", "crm-sent", "reply:outlook", "reply:gmail", "reply:foxmail", "reply:thunderbird",
		"conversation-index-only", "token-only:pop3", "no-headers-no-token:pop3", "edited-subject-headers", "reply-to-unseen-forward",
		"auto-reply", "sibling-of-tracked", "fresh-thread-index", "folder-new-mail", "folder-overrides-thread", "track-only-folder",
		"generic-subject", "generic-subject-follow-up", "stranger-token", "bounce", "newsletter", "untracked-inquiry"} {
		assert.Positive(t, scen[want], "scenario %s present", want)
	}
	for _, m := range s.Mails {
		if m.Scenario == "reply:foxmail" {
			assert.Contains(t, string(m.Raw), "=?gbk?b?", "Foxmail writes GBK encoded words")
			break
		}
	}
	big := samplegen.Generate(&samplegen.Options{ExtraCustomers: 40})
	assert.Greater(t, len(big.Mails), len(s.Mails)+40*10, "extra customers add threads")
	for _, m := range s.Mails {
		if m.Scenario == "stranger-token" {
			assert.True(t, strings.Contains(string(m.Raw), "CRM:0"), "the stranger pastes a real token")
			assert.Empty(t, m.Regarding)
		}
	}
}
