package samplegen_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

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

// stripReceived removes the Received field, the only bytes Stream draws
// differently from Generate.
func stripReceived(raw []byte) string {
	s := string(raw)
	if i := strings.Index(s, "Received: "); i >= 0 {
		if j := strings.Index(s[i:], "\r\nFrom: "); j >= 0 {
			return s[:i] + s[i+j+2:]
		}
	}
	return s
}

func TestStreamMatchesGenerate(t *testing.T) {
	tests := []struct {
		name   string
		opts   *samplegen.Options
		reason string
	}{
		{"embedded", nil, "the embedded sample, streamed, is the same mail"},
		{"extra", &samplegen.Options{ExtraCustomers: 60, Seed: 3}, "extra customers are made on the fly in the same order"},
		{"reps-gap", &samplegen.Options{ExtraCustomers: 200, Reps: 50, Gap: 7 * time.Minute},
			"a short gap interleaves threads; flushing in date order must still give Generate's order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := samplegen.Generate(tt.opts)
			var got []samplegen.Mail
			n := samplegen.Stream(tt.opts, func(m samplegen.Mail) bool {
				got = append(got, m)
				return true
			})
			require.Equal(t, len(want.Mails), n, tt.reason)
			require.Len(t, got, n)
			for i := range got {
				w, g := want.Mails[i], got[i]
				require.Equal(t, w.MessageID, g.MessageID, "message %d: %s", i, tt.reason)
				assert.Equal(t, w.Name, g.Name)
				assert.True(t, w.Date.Equal(g.Date))
				assert.Equal(t, w.Regarding, g.Regarding)
				assert.Equal(t, w.Seed, g.Seed)
				assert.Equal(t, w.Folder, g.Folder)
				assert.Equal(t, stripReceived(w.Raw), stripReceived(g.Raw), "message %d differs beyond Received", i)
			}
		})
	}
}

func TestStreamStops(t *testing.T) {
	seen := 0
	n := samplegen.Stream(&samplegen.Options{ExtraCustomers: 100}, func(samplegen.Mail) bool {
		seen++
		return seen < 10
	})
	assert.Equal(t, 10, seen, "yield is not called again after it returned false")
	assert.Equal(t, 10, n)
}

func TestRepsAndGap(t *testing.T) {
	s := samplegen.Generate(&samplegen.Options{ExtraCustomers: 300, Reps: 120, Gap: 10 * time.Minute})
	tokens := map[string]int{}
	from := map[string]bool{}
	for _, m := range s.Mails {
		msg, err := correlate.ParseMessage(bytes.NewReader(m.Raw), nil)
		require.NoError(t, err)
		if m.Scenario == "crm-sent" {
			from[msg.SenderAddress()] = true
			if i := strings.Index(msg.Subject, "CRM:"); i >= 0 {
				tokens[msg.Subject[i:]]++
			}
		}
	}
	assert.Greater(t, len(from), 100, "crm mail comes from many reps")
	for tok, n := range tokens {
		assert.Equal(t, 1, n, "token %s issued once: 120 reps share 309 customers, no counter rolls over", tok)
	}
	span := s.Mails[len(s.Mails)-1].Date.Sub(s.Mails[0].Date)
	assert.Less(t, span, 120*24*time.Hour, "a 10-minute gap keeps 309 customers within a few months, not 30 years")
}
