package guard_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// caseRecord is the record the fixtures' original email (testdata/sent.eml,
// <sent-1@crm.fabrikam.example>) is filed under.
var caseRecord = correlate.Record{Type: "incident", ID: "CAS-01042"}

// load parses a fixture; keepBody as a pipeline that reads bounces would.
func load(t testing.TB, name string, keepBody bool) *correlate.Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	m, err := correlate.ParseMessage(bytes.NewReader(raw), &correlate.ParseOptions{KeepBody: keepBody})
	require.NotNil(t, m, "%s: %v", name, err)
	return m
}

func hasEvidence(ev []correlate.Evidence, field string) bool {
	for _, e := range ev {
		if strings.EqualFold(e.Field, field) {
			return true
		}
	}
	return false
}

func TestClassify(t *testing.T) {
	cases := []struct {
		file     string
		class    string
		reason   string   // in Classification.Reason
		evidence []string // fields that must appear in Evidence
		original bool     // a returned message is read (with KeepBody)
		quiet    bool     // NoAutoResponse
		why      string
	}{
		{"sent.eml", guard.Normal, "", nil, false, false,
			"the CRM's own email to a customer: nothing automatic about it"},
		{"autoreply-rfc3834.eml", guard.AutoReply, "Auto-Submitted: auto-replied", []string{"Auto-Submitted", "Subject", "X-Auto-Response-Suppress"}, false, true,
			"RFC 3834 §5: auto-replied marks an automatic response; Outlook adds the subject prefix"},
		{"autoreply-generated.eml", guard.AutoReply, "auto-generated", []string{"Auto-Submitted"}, false, true,
			"another helpdesk's acknowledgement: any Auto-Submitted other than no is automatic"},
		{"autoreply-vacation.eml", guard.AutoReply, "X-Autoreply", []string{"X-Autoreply", "Precedence"}, false, true,
			"vacation programs write X-Autoreply; it outranks the Precedence: bulk they add"},
		{"autoreply-xautorespond.eml", guard.AutoReply, "X-Autorespond", []string{"X-Autorespond"}, false, true,
			"X-Autorespond names an automatic reply"},
		{"autoreply-precedence.eml", guard.AutoReply, "Precedence: auto_reply", []string{"Precedence"}, false, true,
			"Precedence: auto_reply is an auto-responder's mark"},
		{"autoreply-subject-de.eml", guard.AutoReply, "out-of-office subject", []string{"Subject"}, false, true,
			"Lotus Notes' German out-of-office prefix, with no header to say so"},
		{"null-return-path-autoreply.eml", guard.AutoReply, "out-of-office subject", []string{"Return-Path", "Subject"}, false, true,
			"RFC 3834 responders send with an empty Return-Path too; the subject says which"},
		{"read-receipt.eml", guard.AutoReply, "read receipt", []string{"Content-Type"}, false, true,
			"a disposition notification is automatic, not a reply"},
		{"normal-car.eml", guard.Normal, "", []string{"Subject"}, false, false,
			"'Auto:' alone begins subjects about cars, and Auto-Submitted: no says a person wrote it"},
		{"normal-suppress.eml", guard.Normal, "", []string{"X-Auto-Response-Suppress"}, false, true,
			"X-Auto-Response-Suppress asks not to be auto-answered; it does not make the mail automatic"},
		{"bulk-newsletter.eml", guard.Bulk, "Precedence: bulk", []string{"Precedence"}, false, true,
			"Precedence: bulk marks mail sent to many"},
		{"bulk-list.eml", guard.Bulk, "mailing list", []string{"List-Id", "List-Unsubscribe"}, false, true,
			"List-Id with List-Unsubscribe is a list post (RFC 2919, RFC 2369)"},
		{"normal-listid-only.eml", guard.Normal, "", nil, false, false,
			"a List-Id alone is added by team aliases too"},
		{"dsn-postfix.eml", guard.Bounce, "delivery status notification", []string{"Content-Type", "From", "Return-Path", "Action", "Status", "Final-Recipient", "Diagnostic-Code"}, true, true,
			"Postfix: multipart/report; report-type=delivery-status with the message/rfc822 returned"},
		{"dsn-postfix-headers.eml", guard.Bounce, "Action failed 5.1.1", []string{"Content-Type", "Final-Recipient"}, true, true,
			"Postfix configured to return headers only: text/rfc822-headers"},
		{"dsn-exchange.eml", guard.Bounce, "delivery status notification", []string{"X-MS-Exchange-Message-Is-Ndr", "Status"}, true, true,
			"Exchange Online: the sender is no mailer-daemon, the report type and X-MS-Exchange-Message-Is-Ndr say it"},
		{"dsn-gmail.eml", guard.Bounce, "delivery status notification", []string{"X-Failed-Recipients", "From", "Action"}, true, true,
			"Gmail: Mail Delivery Subsystem <mailer-daemon@…>, multipart/related notice inside the report"},
		{"dsn-delayed.eml", guard.Bounce, "Action delayed", []string{"Action", "Status"}, true, true,
			"a delay warning is a delivery status notification too; Evidence tells it from a failure"},
		{"bounce-qmail.eml", guard.Bounce, "sent by a mail system", []string{"From", "body"}, true, true,
			"qmail's plain-text bounce quotes the original's header after its notice"},
		{"bounce-exim-base64.eml", guard.Bounce, "sent by a mail system", []string{"From"}, true, true,
			"a non-DSN bounce whose message/rfc822 part is base64-encoded"},
		{"null-return-path.eml", guard.Bounce, "empty Return-Path", []string{"Return-Path"}, false, true,
			"RT's rule: an empty Return-Path with nothing else is a mail-system message"},
	}
	c := guard.New(nil)
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			for _, keep := range []bool{true, false} {
				got := c.Classify(load(t, tc.file, keep))
				assert.Equal(t, tc.class, got.Class, "%s (KeepBody %v): %s", tc.why, keep, got)
				if tc.reason != "" && (keep || !tc.original) {
					assert.Contains(t, got.Reason, tc.reason, tc.why)
				}
				for _, f := range tc.evidence {
					if f == "body" || f == "Action" || f == "Status" || f == "Final-Recipient" || f == "Diagnostic-Code" {
						if !keep {
							continue // read from the body
						}
					}
					assert.True(t, hasEvidence(got.Evidence, f), "%s: evidence %v lacks %s", tc.why, got.Evidence, f)
				}
				assert.Equal(t, tc.quiet, got.NoAutoResponse, tc.why)
				if keep && tc.original {
					require.NotNil(t, got.Original, "%s: the returned message is read", tc.why)
					assert.Equal(t, "sent-1@crm.fabrikam.example", got.Original.MessageID, tc.why)
					assert.Equal(t, correlate.Outgoing, got.Original.Direction, "the returned message is the one this mailbox sent")
				} else {
					assert.Nil(t, got.Original, "%s: no body, no original", tc.why)
				}
			}
		})
	}
}

// TestBounceCorrelatesToOriginal runs every bounce through the default
// engine: each lands on the record of the message it returns, says so, and
// is not tracked.
func TestBounceCorrelatesToOriginal(t *testing.T) {
	ctx := context.Background()
	for _, file := range []string{"dsn-postfix.eml", "dsn-postfix-headers.eml", "dsn-exchange.eml", "dsn-gmail.eml",
		"dsn-delayed.eml", "bounce-qmail.eml", "bounce-exim-base64.eml"} {
		t.Run(file, func(t *testing.T) {
			eng, err := mailcorrelate.New(memstore.New(), nil)
			require.NoError(t, err)
			sent := load(t, "sent.eml", true)
			sent.Direction = correlate.Outgoing
			_, err = eng.Track(ctx, sent, correlate.Match{Record: caseRecord})
			require.NoError(t, err)

			b := load(t, file, true)
			d, err := eng.Correlate(ctx, b)
			require.NoError(t, err)
			assert.Equal(t, guard.Bounce, d.Class(), d.String())
			assert.Equal(t, caseRecord, d.Match.Record, "the bounce is about the original's record: %s", d)
			assert.True(t, d.OfOriginal, "correlated through the returned message")
			require.NotNil(t, d.Match.CorrelatedWith)
			assert.Equal(t, "sent-1@crm.fabrikam.example", d.Match.CorrelatedWith.MessageID, "the tracked email is the original itself")
			assert.Contains(t, d.Match.Reason, "duplicate", "the original's own Message-ID is the tracked email (InReplyTo's duplicate check)")
			assert.False(t, d.Track(), "a bounce is never counted as a reply")
			assert.Contains(t, d.NoTrack, "bounce")
			assert.Contains(t, d.String(), "correlated through the returned message <sent-1@crm.fabrikam.example>")

			// Headers only: still a Bounce; the Gmail one names the
			// original in In-Reply-To and correlates anyway.
			h := load(t, file, false)
			dh, err := eng.Correlate(ctx, h)
			require.NoError(t, err)
			assert.Equal(t, guard.Bounce, dh.Class())
			assert.False(t, dh.OfOriginal)
			assert.False(t, dh.Track())
			if file == "dsn-gmail.eml" {
				assert.Equal(t, caseRecord, dh.Match.Record, "Gmail's bounce carries In-Reply-To")
			}
		})
	}
}

// TestAutoRepliesNotTracked: auto-replies and bulk mail correlate; only the
// auto-reply is kept out of the store.
func TestAutoRepliesNotTracked(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		file   string
		class  string
		track  bool
		reason string
	}{
		{"autoreply-rfc3834.eml", guard.AutoReply, false, "an out-of-office notice must not become a correlation target"},
		{"autoreply-generated.eml", guard.AutoReply, false, "another helpdesk's acknowledgement neither"},
		{"bulk-list.eml", guard.Bulk, true, "a list post by the customer is her reply"},
		{"normal-suppress.eml", guard.Normal, true, "a person's reply that asks for no auto-reply is still a reply"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			eng, err := mailcorrelate.New(memstore.New(), nil)
			require.NoError(t, err)
			sent := load(t, "sent.eml", false)
			sent.Direction = correlate.Outgoing
			_, err = eng.Track(ctx, sent, correlate.Match{Record: caseRecord})
			require.NoError(t, err)
			d, err := eng.Correlate(ctx, load(t, tc.file, false))
			require.NoError(t, err)
			assert.Equal(t, tc.class, d.Class(), tc.reason)
			assert.Equal(t, caseRecord, d.Match.Record, "correlated either way: %s", d)
			assert.Equal(t, tc.track, d.Track(), tc.reason)
		})
	}
	// Tracking every class is one option away.
	eng, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Guard: guard.Options{Untracked: []string{}}})
	require.NoError(t, err)
	sent := load(t, "sent.eml", false)
	_, err = eng.Track(ctx, sent, correlate.Match{Record: caseRecord})
	require.NoError(t, err)
	d, err := eng.Correlate(ctx, load(t, "autoreply-rfc3834.eml", false))
	require.NoError(t, err)
	assert.Equal(t, guard.AutoReply, d.Class())
	assert.True(t, d.Track(), "Untracked: [] tracks auto-replies too")
}

func TestClassifyOptions(t *testing.T) {
	m := load(t, "autoreply-subject-de.eml", false)
	assert.Equal(t, guard.Normal, guard.New(&guard.Options{NoSubject: true}).Classify(m).Class,
		"NoSubject leaves only header fields to decide")
	custom := guard.New(&guard.Options{AutoReplySubject: func(s string) (string, bool) {
		return "Vacation reply:", strings.HasPrefix(s, "Vacation reply:")
	}})
	v := &correlate.Message{Subject: "Vacation reply: back on Monday"}
	assert.Equal(t, guard.AutoReply, custom.Classify(v).Class, "a caller's own prefixes")
	assert.Equal(t, guard.Normal, custom.Classify(m).Class, "replacing the function replaces the table")
	assert.Equal(t, correlate.Classification{}, guard.New(nil).Classify(nil), "nil is Normal")
	assert.Equal(t, correlate.Classification{}, guard.New(nil).Classify(&correlate.Message{}), "an empty message is Normal")
	assert.Equal(t, "guard", guard.New(nil).String())
}

// TestClassifyHandBuilt: a Message built by hand (from an API, no Header
// map) classifies by what it has.
func TestClassifyHandBuilt(t *testing.T) {
	c := guard.New(nil)
	m := &correlate.Message{From: []correlate.Address{{Address: "Postmaster@Contoso.example"}}, Subject: "Undeliverable"}
	assert.Equal(t, guard.Bounce, c.Classify(m).Class, "postmaster@ is a mail system (RFC 5321 §4.5.1)")
	m = &correlate.Message{Sender: correlate.Address{Address: "MAILER-DAEMON"}}
	assert.Equal(t, guard.Bounce, c.Classify(m).Class, "a bare MAILER-DAEMON too")
	m = &correlate.Message{From: []correlate.Address{{Address: "daemon.fan@contoso.example"}}, Subject: "Out of Office: x"}
	assert.Equal(t, guard.AutoReply, c.Classify(m).Class)
}

// TestNormalAllocs: classifying ordinary mail allocates nothing, so the
// guardrails cost the hot path no garbage.
func TestNormalAllocs(t *testing.T) {
	c := guard.New(nil)
	m := load(t, "sent.eml", false)
	allocs := testing.AllocsPerRun(100, func() { _ = c.Classify(m) })
	assert.Zero(t, allocs)
}

func newDefaultClassifier() *guard.Classifier { return guard.New(nil) }
