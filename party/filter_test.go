package party_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// filterWorld is the directory the filter tests resolve against.
func filterWorld(t *testing.T) *party.Resolver {
	d := directory(t,
		party.Entry{Address: "contact@contoso.example", Record: rec("contact:c"), Active: true, Account: rec("account:contoso")},
		ent("lead@prospect.example", "lead:l", true),
		ent("billing@northwind.example", "account:northwind", true),
		ent("colleague@fabrikam.example", "systemuser:u", true),
		ent("support@fabrikam.example", "queue:support", true),
		ent("vendor@supplier.example", "new_vendor:v", true),
		ent("twin@contoso.example", "contact:t1", true),
		ent("twin@contoso.example", "contact:t2", true),
		ent("gone@contoso.example", "contact:gone", false),
	)
	return party.NewResolver(d, &party.Options{UnresolveAmbiguous: true})
}

var (
	noDecision = correlate.Decision{}
	replyTo    = correlate.Decision{Match: correlate.Match{Record: rec("incident:CAS-1"), Method: correlate.InReplyTo,
		Confidence: correlate.Certain, Strategy: "inreplyto", CorrelatedWith: &correlate.Tracked{ID: 12}}}
	folderRule = correlate.Decision{Match: correlate.Match{Record: rec("account:contoso"), Method: correlate.FolderTracking,
		Confidence: correlate.Certain, Strategy: "folder"}}
	trackOnly = correlate.Decision{Steps: []correlate.Step{{Strategy: "folder", Match: correlate.Match{Track: true, Method: correlate.FolderTracking}}}}
	autoReply = func(d correlate.Decision) correlate.Decision {
		d.NoTrack = "auto-reply: correlated but not tracked"
		return d
	}
)

func TestFilterAccept(t *testing.T) {
	r := filterWorld(t)
	type scenario struct {
		from string
		d    correlate.Decision
		dir  correlate.Direction
	}
	var (
		replyFromContact = scenario{"contact@contoso.example", replyTo, correlate.Incoming}
		newFromContact   = scenario{"contact@contoso.example", noDecision, correlate.Incoming}
		newFromLead      = scenario{"lead@prospect.example", noDecision, correlate.Incoming}
		newFromAccount   = scenario{"billing@northwind.example", noDecision, correlate.Incoming}
		newFromUser      = scenario{"colleague@fabrikam.example", noDecision, correlate.Incoming}
		newFromQueue     = scenario{"support@fabrikam.example", noDecision, correlate.Incoming}
		newFromCustom    = scenario{"vendor@supplier.example", noDecision, correlate.Incoming}
		newFromStranger  = scenario{"stranger@spam.example", noDecision, correlate.Incoming}
		replyFromStrange = scenario{"stranger@spam.example", replyTo, correlate.Incoming}
		newFromTwin      = scenario{"twin@contoso.example", noDecision, correlate.Incoming}
		newFromInactive  = scenario{"gone@contoso.example", noDecision, correlate.Incoming}
		noSender         = scenario{"", noDecision, correlate.Incoming}
		badSender        = scenario{"stranger@@spam.example", noDecision, correlate.Incoming}
		folderStranger   = scenario{"stranger@spam.example", folderRule, correlate.Incoming}
		trackOnlyFolder  = scenario{"stranger@spam.example", trackOnly, correlate.Incoming}
		outgoingReply    = scenario{"colleague@fabrikam.example", replyTo, correlate.Outgoing}
		outgoingNew      = scenario{"colleague@fabrikam.example", noDecision, correlate.Outgoing}
		autoReplyReply   = scenario{"contact@contoso.example", autoReply(replyTo), correlate.Incoming}
		autoReplyFolder  = scenario{"stranger@spam.example", autoReply(folderRule), correlate.Incoming}
		secondAuthor     = scenario{"stranger@spam.example, contact@contoso.example", noDecision, correlate.Incoming}
	)
	tests := []struct {
		name   string
		f      party.Filter
		s      scenario
		want   bool
		manual bool
		reason string
	}{
		// All
		{"All/Stranger", party.All, newFromStranger, true, false, "All tracks every received email, even from unknown senders"},
		{"All/NoSender", party.All, noSender, true, false, "All does not look at the sender at all"},
		{"All/OutgoingNew", party.All, outgoingNew, false, false, "the incoming-email filter does not apply to sent email: uncorrelated sent mail is not tracked"},
		{"All/AutoReply", party.All, autoReplyReply, false, false, "an auto-reply the engine said not to track is not tracked, even under All"},
		// ResponsesToTrackedEmail
		{"Responses/AutoReply", party.ResponsesToTrackedEmail, autoReplyReply, false, false, "an auto-reply correlates but is not a response to file"},
		{"Responses/AutoReplyInFolder", party.ResponsesToTrackedEmail, autoReplyFolder, false, false, "NoTrack wins over a folder rule: a loop must not be filed"},
		{"Responses/Reply", party.ResponsesToTrackedEmail, replyFromContact, true, false, "a reply that correlated (In-Reply-To) with tracked email is a response"},
		{"Responses/ReplyFromStranger", party.ResponsesToTrackedEmail, replyFromStrange, true, false, "the filter only asks whether it correlated; sender policy is the strategies' business"},
		{"Responses/NewFromContact", party.ResponsesToTrackedEmail, newFromContact, false, false, "a new email from a known contact is not a response to tracked email"},
		{"Responses/NewFromStranger", party.ResponsesToTrackedEmail, newFromStranger, false, false, "nothing correlated"},
		{"Responses/Folder", party.ResponsesToTrackedEmail, folderStranger, true, true, "a folder-level tracking rule is manual tracking, which bypasses the filter"},
		// FromCRMRecords
		{"CRM/Contact", party.FromCRMRecords, newFromContact, true, false, "the sender resolves to a contact"},
		{"CRM/Lead", party.FromCRMRecords, newFromLead, true, false, "the sender resolves to a lead"},
		{"CRM/Account", party.FromCRMRecords, newFromAccount, true, false, "the sender resolves to an account"},
		{"CRM/User", party.FromCRMRecords, newFromUser, false, false, "a user is email-enabled but not a lead, contact or account"},
		{"CRM/Queue", party.FromCRMRecords, newFromQueue, false, false, "a queue is not a lead, contact or account"},
		{"CRM/Stranger", party.FromCRMRecords, newFromStranger, false, false, "the sender resolves to no record"},
		{"CRM/ReplyFromStranger", party.FromCRMRecords, replyFromStrange, false, false, "being a reply does not matter under this filter; the sender does"},
		{"CRM/Twin", party.FromCRMRecords, newFromTwin, true, false, "left ambiguous between two contacts, the sender is still certainly a contact"},
		{"CRM/Inactive", party.FromCRMRecords, newFromInactive, false, false, "a deactivated contact does not resolve"},
		{"CRM/NoSender", party.FromCRMRecords, noSender, false, false, "no sender, no record"},
		{"CRM/BadSender", party.FromCRMRecords, badSender, false, false, "a bad address resolves to nothing"},
		{"CRM/TrackOnlyFolder", party.FromCRMRecords, trackOnlyFolder, true, true, "a track-only folder is manual tracking too"},
		{"CRM/SecondAuthor", party.FromCRMRecords, secondAuthor, true, false, "From: a1, a2 — a2 is a contact, and every author counts (issue 17 #13)"},
		// FromEmailEnabledRecords
		{"EmailEnabled/Contact", party.FromEmailEnabledRecords, newFromContact, true, false, "a contact is an email-enabled record"},
		{"EmailEnabled/User", party.FromEmailEnabledRecords, newFromUser, true, false, "users are email-enabled records"},
		{"EmailEnabled/Queue", party.FromEmailEnabledRecords, newFromQueue, true, false, "queues are email-enabled records"},
		{"EmailEnabled/Custom", party.FromEmailEnabledRecords, newFromCustom, true, false, "custom email-enabled tables count (Dynamics: 'including custom tables')"},
		{"EmailEnabled/Twin", party.FromEmailEnabledRecords, newFromTwin, true, false, "an ambiguous sender still matches records"},
		{"EmailEnabled/Stranger", party.FromEmailEnabledRecords, newFromStranger, false, false, "no record uses the address"},
		{"EmailEnabled/Inactive", party.FromEmailEnabledRecords, newFromInactive, false, false, "inactive records do not resolve"},
		{"EmailEnabled/SecondAuthor", party.FromEmailEnabledRecords, secondAuthor, true, false, "the second author is a record"},
		// None
		{"None/Reply", party.None, replyFromContact, false, false, "None tracks nothing automatically, replies included"},
		{"None/Contact", party.None, newFromContact, false, false, "None tracks nothing automatically"},
		{"None/Folder", party.None, folderStranger, true, true, "manual tracking works even under None (Dynamics: 'only affects auto tracked emails')"},
		{"None/OutgoingReply", party.None, outgoingReply, true, false, "sent email that correlated is tracked: the incoming filter does not apply to it"},
		// unknown
		{"Unknown", party.Filter(42), newFromContact, false, false, "an unknown filter value tracks nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &correlate.Message{Direction: tt.s.dir}
			if tt.s.from != "" {
				m.From = addrs(strings.Split(tt.s.from, ", ")...)
			}
			res, err := r.Resolve(context.Background(), m)
			require.NoError(t, err)
			v := tt.f.Accept(m, tt.s.d, res)
			assert.Equal(t, tt.want, v.Track, "%v.Accept = %v: %s", tt.f, v, tt.reason)
			assert.Equal(t, tt.manual, v.Manual, tt.reason)
			assert.Equal(t, tt.f, v.Filter)
			assert.NotEmpty(t, v.Reason, "every verdict says why")
		})
	}
}

func TestVerdictText(t *testing.T) {
	r := filterWorld(t)
	tests := []struct {
		name string
		f    party.Filter
		from string
		d    correlate.Decision
		want string
		ev   []correlate.Evidence
	}{
		{"Reply", party.ResponsesToTrackedEmail, "contact@contoso.example", replyTo,
			"track: ResponsesToTrackedEmail: a response to tracked email: incident:CAS-1 by InReplyTo",
			[]correlate.Evidence{{Field: "decision", Value: "incident:CAS-1", Note: "correlated by InReplyTo with tracked email 12 (inreplyto)"}}},
		{"NotReply", party.ResponsesToTrackedEmail, "contact@contoso.example", noDecision,
			"skip: ResponsesToTrackedEmail: not a response to tracked email (no correlation)",
			[]correlate.Evidence{{Field: "decision", Note: "no record found"}}},
		{"User", party.FromCRMRecords, "colleague@fabrikam.example", noDecision,
			"skip: FromCRMRecords: sender colleague@fabrikam.example resolves to systemuser:u, not a lead, contact or account",
			[]correlate.Evidence{{Field: "From", Value: "colleague@fabrikam.example", Note: "resolves to systemuser:u, not a lead, contact or account"}}},
		{"Contact", party.FromCRMRecords, "contact@contoso.example", noDecision,
			"track: FromCRMRecords: sender contact@contoso.example resolves to contact:c",
			[]correlate.Evidence{{Field: "From", Value: "contact@contoso.example", Note: "resolves to contact:c"}}},
		{"Folder", party.None, "stranger@spam.example", folderRule,
			"track: folder-level tracking: tracked whatever the filter",
			[]correlate.Evidence{{Field: "decision", Value: "account:contoso", Note: "folder-level tracking rule (folder)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &correlate.Message{From: addrs(tt.from)}
			res, err := r.Resolve(context.Background(), m)
			require.NoError(t, err)
			v := tt.f.Accept(m, tt.d, res)
			assert.Equal(t, tt.want, v.String())
			assert.Equal(t, tt.ev, v.Evidence)
		})
	}
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in     string
		want   party.Filter
		reason string
	}{
		{"All", party.All, "the String form"},
		{"all", party.All, "case is ignored"},
		{"ResponsesToTrackedEmail", party.ResponsesToTrackedEmail, "the String form"},
		{"responses", party.ResponsesToTrackedEmail, "short name"},
		{"responses-to-tracked-email", party.ResponsesToTrackedEmail, "kebab case"},
		{"FromCRMRecords", party.FromCRMRecords, "the String form"},
		{"crm-records", party.FromCRMRecords, "short name"},
		{"from_crm_records", party.FromCRMRecords, "snake case"},
		{"crm", party.FromCRMRecords, "shortest name"},
		{"FromEmailEnabledRecords", party.FromEmailEnabledRecords, "the String form"},
		{"email-enabled", party.FromEmailEnabledRecords, "short name"},
		{"None", party.None, "the String form"},
		{" NONE ", party.None, "spaces are ignored"},
		{"0", party.All, "Dynamics option value 0 is All email messages"},
		{"1", party.ResponsesToTrackedEmail, "Dynamics option value 1 is the default"},
		{"2", party.FromCRMRecords, "Dynamics option value 2"},
		{"3", party.FromEmailEnabledRecords, "Dynamics option value 3"},
		{"4", party.None, "Dynamics option value 4"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := party.ParseFilter(tt.in)
			require.NoError(t, err, tt.reason)
			assert.Equal(t, tt.want, got, tt.reason)
		})
	}
	for _, bad := range []string{"", "some", "5", "-1", "allx"} {
		_, err := party.ParseFilter(bad)
		assert.Error(t, err, "ParseFilter(%q)", bad)
	}
}

func TestFilterValues(t *testing.T) {
	var zero party.Filter
	assert.Equal(t, party.ResponsesToTrackedEmail, zero, "the zero Filter is Dynamics' default")
	for f, code := range map[party.Filter]int{party.All: 0, party.ResponsesToTrackedEmail: 1, party.FromCRMRecords: 2, party.FromEmailEnabledRecords: 3, party.None: 4} {
		assert.Equal(t, code, f.DynamicsCode(), "%v: incomingemailfilteringmethod value", f)
		back, err := party.ParseFilter(f.String())
		require.NoError(t, err)
		assert.Equal(t, f, back, "String round-trips through ParseFilter")
		b, err := f.MarshalText()
		require.NoError(t, err)
		var u party.Filter
		require.NoError(t, u.UnmarshalText(b))
		assert.Equal(t, f, u)
	}
	assert.Equal(t, -1, party.Filter(9).DynamicsCode())
	assert.Equal(t, "Filter(9)", party.Filter(9).String())
	_, err := party.Filter(9).MarshalText()
	assert.Error(t, err)
}

func TestFilterFlag(t *testing.T) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f party.Filter
	fs.Var(&f, "filter", "incoming-email filter")
	require.NoError(t, fs.Parse([]string{"-filter", "crm-records"}))
	assert.Equal(t, party.FromCRMRecords, f, "Filter is a flag.Value")
	assert.Error(t, fs.Parse([]string{"-filter", "bogus"}))

	b, err := json.Marshal(party.Verdict{Track: true, Filter: party.All, Reason: "r"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"track": true, "filter": "All", "reason": "r"}`, string(b))
}

func TestMailboxes(t *testing.T) {
	d := directory(t,
		ent("paul@fabrikam.example", "systemuser:paul", true),
		ent("sales@fabrikam.example", "queue:sales", true),
		ent("ann@fabrikam.example", "systemuser:ann", true),
		party.Entry{Address: "contact@contoso.example", Record: rec("contact:c"), Active: true},
	)
	r := party.NewResolver(d, nil)
	mb := party.Mailboxes{
		rec("systemuser:paul"): party.ResponsesToTrackedEmail,
		rec("queue:sales"):     party.All,
		rec("systemuser:ann"):  party.FromCRMRecords,
	}
	tests := []struct {
		name       string
		from       string
		to, cc     []string
		d          correlate.Decision
		want       bool
		acceptedBy string
		reason     string
	}{
		{"QueueAccepts", "stranger@spam.example", []string{"paul@fabrikam.example"}, []string{"sales@fabrikam.example"}, noDecision, true, "queue:sales",
			"Paul tracks only responses, but the Sales queue on Cc tracks all: Sales is the accepting entity (MS docs example)"},
		{"FirstRecipientWins", "contact@contoso.example", []string{"ann@fabrikam.example", "sales@fabrikam.example"}, nil, noDecision, true, "systemuser:ann",
			"Ann (From CRM records) accepts a contact's email first, in To order"},
		{"NobodyAccepts", "stranger@spam.example", []string{"paul@fabrikam.example", "ann@fabrikam.example"}, nil, noDecision, false, "",
			"neither Paul (responses) nor Ann (CRM records) takes a stranger's new email"},
		{"NoMailbox", "contact@contoso.example", []string{"someone@else.example"}, nil, replyTo, false, "",
			"no recipient has a synchronized mailbox, so nobody accepts, even a reply"},
		{"ManualBypass", "stranger@spam.example", []string{"someone@else.example"}, nil, folderRule, true, "",
			"a folder rule tracks whatever the filters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &correlate.Message{From: addrs(tt.from), To: addrs(tt.to...), Cc: addrs(tt.cc...)}
			res, err := r.Resolve(context.Background(), m)
			require.NoError(t, err)
			v := mb.Accept(m, tt.d, res)
			assert.Equal(t, tt.want, v.Track, "Mailboxes.Accept = %v: %s", v, tt.reason)
			if tt.acceptedBy == "" {
				assert.True(t, v.AcceptedBy.IsZero(), tt.reason)
			} else {
				assert.Equal(t, rec(tt.acceptedBy), v.AcceptedBy, tt.reason)
			}
			assert.NotEmpty(t, v.Reason)
		})
	}
}
