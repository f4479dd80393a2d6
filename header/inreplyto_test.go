package header_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// tracked is an email filed before the one under test.
type tracked struct {
	raw    string
	record string // "type:id"; "" files it without a record
}

// fileAll tracks the fixtures through an Engine whose chain holds cr, so
// cr's Indexer contributes its keys.
func fileAll(t *testing.T, s correlate.Store, cr correlate.Correlator, fixtures []tracked) {
	t.Helper()
	ctx := context.Background()
	eng := correlate.NewEngine(s, &correlate.Chain{Correlators: []correlate.Correlator{cr}}, nil)
	for _, f := range fixtures {
		var r correlate.Record
		if f.record != "" {
			var err error
			r, err = correlate.ParseRecord(f.record)
			require.NoError(t, err)
		}
		_, err := eng.Track(ctx, parse(t, f.raw), correlate.Match{Record: r})
		require.NoError(t, err)
	}
}

func hasNote(ev []correlate.Evidence, field, note string) bool {
	for _, e := range ev {
		if e.Field == field && strings.Contains(e.Note, note) {
			return true
		}
	}
	return false
}

const (
	crmCase = `Message-ID: <case-1@crm.example>
From: Support <support@fabrikam.example>
To: Ann <ann@example.com>
Subject: Printer broken [CAS-01042]
Date: Mon, 3 Mar 2025 09:00:00 +0000

`
	crmRoot = `Message-ID: <root@crm.example>
From: Support <support@fabrikam.example>
To: Ann <ann@example.com>
Subject: Printer broken
Date: Mon, 3 Mar 2025 08:00:00 +0000

`
)

func TestInReplyTo(t *testing.T) {
	tests := []struct {
		name     string
		opts     *header.Options
		fixtures []tracked
		msg      string
		want     string // record, "" for none
		conf     float64
		with     string // CorrelatedWith Message-ID
		parent   string // Parent Message-ID
		reason   string // Match.Reason must contain it
		evidence [2]string
		// conflicts are the records of Match.Conflicts, in order
		conflicts []string
		why       string
	}{
		{
			name:     "InReplyTo",
			fixtures: []tracked{{crmCase, "incident:CAS-01042"}},
			msg: `Message-ID: <r1@mail.example.com>
From: Ann <ann@example.com>
In-Reply-To: <case-1@crm.example>
Subject: Re: Printer broken [CAS-01042]

`,
			want: "incident:CAS-01042", conf: correlate.Certain, with: "case-1@crm.example", parent: "case-1@crm.example",
			reason: "In-Reply-To", evidence: [2]string{"In-Reply-To", "names a tracked email"},
			why: "Dynamics' own rule: In-Reply-To names a tracked email",
		},
		{
			name:     "OlderReference",
			fixtures: []tracked{{crmRoot, "incident:CAS-7"}},
			msg: `Message-ID: <r2@mail.example.com>
In-Reply-To: <never-seen@other.example>
References: <root@crm.example> <never-seen@other.example>
Subject: Re: Printer broken

`,
			want: "incident:CAS-7", conf: correlate.High, with: "root@crm.example", parent: "root@crm.example",
			reason: "ancestor", evidence: [2]string{"References", "names a tracked email"},
			why: "the parent was never tracked (a Cc added mid-thread); References still names the CRM's email (FreeScout #4020)",
		},
		{
			name:     "NewestReferenceIsParent",
			fixtures: []tracked{{crmRoot, "incident:CAS-7"}},
			msg: `Message-ID: <r3@mail.example.com>
References: <old@other.example> <root@crm.example>
Subject: Re: Printer broken

`,
			want: "incident:CAS-7", conf: correlate.Certain, with: "root@crm.example", parent: "root@crm.example",
			reason: "References names the tracked email it replies to",
			why:    "Outlook drops In-Reply-To when the subject is edited; the newest References id is the parent",
		},
		{
			name:     "Duplicate",
			fixtures: []tracked{{crmCase, "incident:CAS-01042"}},
			msg:      strings.Replace(crmCase, "Subject:", "X-Synced-From: second mailbox\nSubject:", 1),
			want:     "incident:CAS-01042", conf: correlate.Certain, with: "case-1@crm.example",
			reason: "duplicate", evidence: [2]string{"Message-ID", "already tracked"},
			why: "the same email synchronized from a second mailbox (Dynamics' duplicate check); no parent",
		},
		{
			name: "GitSendEmailYes",
			fixtures: []tracked{{`Message-ID: <1258848661-4660-1-git-send-email-s@example.org>
In-Reply-To: <yes>
References: <yes>
Subject: [PATCH 1/2] lib: add flags

`, "project:notmuch"}},
			msg: `Message-ID: <1277220005-3322-1-git-send-email-j@example.com>
In-Reply-To: <yes>
References: <yes>
Subject: [PATCH] cifs: fix

`,
			evidence: [2]string{"In-Reply-To", header.JunkNoAt},
			why:      "two unrelated patch series share only the junk id <yes>: no match, and the junk is reported",
		},
		{
			name: "AddressInInReplyTo",
			fixtures: []tracked{{`Message-ID: <old@x.example>
From: Ann <ann@example.com>
Subject: Question

`, "incident:CAS-1"}},
			msg: `Message-ID: <new@y.example>
From: Bob <bob@example.org>
To: Ann <ann@example.com>
In-Reply-To: <ann@example.com>
Subject: Re: something else

`,
			evidence: [2]string{"In-Reply-To", header.JunkAddress},
			why:      "an address in In-Reply-To names a person, not an email",
		},
		{
			name: "ConflictTakesInReplyTo",
			fixtures: []tracked{
				{crmRoot, "incident:CAS-7"},
				{`Message-ID: <moved@crm.example>
References: <root@crm.example>
Subject: Re: Printer broken, and now the scanner

`, "incident:CAS-8"},
			},
			msg: `Message-ID: <r4@mail.example.com>
In-Reply-To: <moved@crm.example>
References: <root@crm.example> <moved@crm.example>
Subject: Re: Printer broken, and now the scanner

`,
			want: "incident:CAS-8", conf: correlate.High, with: "moved@crm.example", parent: "moved@crm.example",
			reason: "conflict: other ids name incident:CAS-7", evidence: [2]string{"References", "conflict with incident:CAS-8"},
			conflicts: []string{"incident:CAS-7"},
			why:       "a user split the thread: the reply follows the email it answers one step less sure, and the root's other record is a conflict (issue 17 #10)",
		},
		{
			name: "ConflictOnePerRecord",
			fixtures: []tracked{
				{crmRoot, "incident:CAS-7"},
				{`Message-ID: <second@crm.example>
Subject: Re: Printer broken

`, "incident:CAS-7"},
				{`Message-ID: <moved@crm.example>
Subject: Re: Printer broken, and now the scanner

`, "incident:CAS-8"},
			},
			msg: `Message-ID: <r9@mail.example.com>
References: <root@crm.example> <second@crm.example> <moved@crm.example>
Subject: Re: Printer broken, and now the scanner

`,
			want: "incident:CAS-8", conf: correlate.High, with: "moved@crm.example", parent: "moved@crm.example",
			conflicts: []string{"incident:CAS-7"},
			why:       "two older ids of one other record are one conflict; the parent's Certain drops to High",
		},
		{
			name: "SiblingsOfTwoRecords",
			fixtures: []tracked{
				{`Message-ID: <reply-1@a.example>
In-Reply-To: <ghost@customer.example>

`, "incident:CAS-9"},
				{`Message-ID: <reply-3@c.example>
In-Reply-To: <ghost@customer.example>

`, "incident:CAS-10"},
			},
			msg: `Message-ID: <reply-2@b.example>
In-Reply-To: <ghost@customer.example>

`,
			want: "incident:CAS-10", conf: correlate.Weak, with: "reply-3@c.example",
			reason: "conflict", conflicts: []string{"incident:CAS-9"},
			why: "ancestor memory names two records: the newest wins one step lower (Likely → Weak), the other is a conflict",
		},
		{
			name:     "HijackByReusedID",
			fixtures: []tracked{{crmCase, "incident:CAS-01042"}},
			msg: `Message-ID: <case-1@crm.example>
From: M. Allory <m.allory@freemail.example>
Subject: Refund to this account, please
Date: Tue, 4 Mar 2025 10:00:00 +0000

`,
			reason: "collides with another email, tracked email 1", evidence: [2]string{"Message-ID", "collision"},
			why: "a stranger reused the id of a tracked email (read in a reply's References): not a duplicate, and nothing else names a record (issue 17 #1)",
		},
		{
			name: "HijackCorrelatedByItsReferences",
			fixtures: []tracked{
				{crmCase, "incident:CAS-01042"},
				{crmRoot, "incident:CAS-7"},
			},
			msg: `Message-ID: <case-1@crm.example>
From: Ann <ann@example.com>
In-Reply-To: <root@crm.example>
Subject: Re: Printer broken
Date: Tue, 4 Mar 2025 10:00:00 +0000

`,
			want: "incident:CAS-7", conf: correlate.Certain, with: "root@crm.example", parent: "root@crm.example",
			reason: "collides", evidence: [2]string{"Subject", "the tracked email's subject is"},
			why: "a client that reused an id: the message is correlated by its own In-Reply-To, never by the id it reuses",
		},
		{
			name: "HijackNoDescendant",
			fixtures: []tracked{
				{crmCase, "incident:CAS-01042"},
				{`Message-ID: <reply-9@example.com>
From: Ann <ann@example.com>
In-Reply-To: <case-1@crm.example>
Subject: Re: Printer broken [CAS-01042]

`, "incident:CAS-01042"},
			},
			msg: `Message-ID: <case-1@crm.example>
From: M. Allory <m.allory@freemail.example>
Subject: Refund
Date: Tue, 4 Mar 2025 10:00:00 +0000

`,
			reason: "collides", evidence: [2]string{"From", "the tracked email's sender is support@fabrikam.example"},
			why: "ancestor memory would find the victim's reply through the reused id: it is not used either",
		},
		{
			name: "AliasClaimDoesNotCaptureReplies",
			fixtures: []tracked{
				{crmCase, "incident:CAS-01042"},
				{`Message-ID: <fresh@evil.example>
X-Google-Original-Message-ID: <case-1@crm.example>
From: M. Allory <m.allory@freemail.example>
Subject: Refund

`, "incident:CAS-666"},
			},
			msg: `Message-ID: <r10@mail.example.com>
From: Ann <ann@example.com>
In-Reply-To: <case-1@crm.example>
Subject: Re: Printer broken [CAS-01042]

`,
			want: "incident:CAS-01042", conf: correlate.Certain, with: "case-1@crm.example", parent: "case-1@crm.example",
			why: "a stranger's email claiming the case email's id in a provider header is not indexed under it: replies to the case still find the case",
		},
		{
			name:     "HijackByAlias",
			fixtures: []tracked{{crmCase, "incident:CAS-01042"}},
			msg: `Message-ID: <fresh@evil.example>
X-Google-Original-Message-ID: <case-1@crm.example>
From: M. Allory <m.allory@freemail.example>
Subject: Refund

`,
			evidence: [2]string{"X-Google-Original-Message-ID", "collision"},
			why:      "a provider-preserved original id is a claim to be that email: a stranger's claim names nothing",
		},
		{
			name: "ConflictAbstains",
			opts: &header.Options{AbstainOnConflict: true},
			fixtures: []tracked{
				{crmRoot, "incident:CAS-7"},
				{`Message-ID: <moved@crm.example>
Subject: other

`, "incident:CAS-8"},
			},
			msg: `Message-ID: <r5@mail.example.com>
In-Reply-To: <moved@crm.example>
References: <root@crm.example> <moved@crm.example>

`,
			reason: "different records", evidence: [2]string{"References", "conflict"},
			why: "AbstainOnConflict refuses, as RT's CheckMessageId does",
		},
		{
			name: "FirstHitSkipsConflictScan",
			opts: &header.Options{FirstHit: true},
			fixtures: []tracked{
				{crmRoot, "incident:CAS-7"},
				{`Message-ID: <moved@crm.example>
Subject: other

`, "incident:CAS-8"},
			},
			msg: `Message-ID: <r6@mail.example.com>
In-Reply-To: <moved@crm.example>
References: <root@crm.example> <moved@crm.example>

`,
			want: "incident:CAS-8", conf: correlate.Certain, with: "moved@crm.example", parent: "moved@crm.example",
			why: "FirstHit stops at In-Reply-To without looking up the root",
		},
		{
			name: "TrackedUnderGmailAlias",
			fixtures: []tracked{{`Message-ID: <5d1e.SMTPIN_ADDED_BROKEN@mx.google.com>
X-Google-Original-Message-ID: <orig-42@client.example>
From: Ann <ann@example.com>
Subject: Invoice

`, "account:ACME"}},
			msg: `Message-ID: <r7@mail.example.com>
In-Reply-To: <orig-42@client.example>
Subject: Re: Invoice

`,
			want: "account:ACME", conf: correlate.Certain, with: "5d1e.SMTPIN_ADDED_BROKEN@mx.google.com", parent: "5d1e.SMTPIN_ADDED_BROKEN@mx.google.com",
			why: "Gmail rewrote the tracked email's id; other recipients reply to the original, which is indexed as an alias (Odoo #40461)",
		},
		{
			name: "IncomingGmailAlias",
			fixtures: []tracked{{`Message-ID: <orig-43@client.example>
Subject: Invoice

`, "account:ACME"}},
			msg: `Message-ID: <77aa.SMTPIN_ADDED_BROKEN@mx.google.com>
X-Google-Original-Message-ID: <orig-43@client.example>
Subject: Invoice

`,
			want: "account:ACME", conf: correlate.High, with: "orig-43@client.example",
			reason: "original Message-ID", evidence: [2]string{"X-Google-Original-Message-ID", "names a tracked email"},
			why: "the copy Gmail received is the tracked email itself under a rewritten id",
		},
		{
			name: "SiblingOfGhost",
			fixtures: []tracked{{`Message-ID: <reply-1@a.example>
In-Reply-To: <ghost@customer.example>
References: <ghost@customer.example>
Subject: Re: Outage

`, "incident:CAS-9"}},
			msg: `Message-ID: <reply-2@b.example>
In-Reply-To: <ghost@customer.example>
References: <ghost@customer.example>
Subject: Re: Outage

`,
			want: "incident:CAS-9", conf: correlate.Likely, with: "reply-1@a.example",
			reason: "ancestor memory", evidence: [2]string{"In-Reply-To", "shared ancestor"},
			why: "both answer a message the CRM never saw (Zammad #5716): ancestor memory, ranked below direct ids, no parent",
		},
		{
			name: "SiblingWithoutAncestorMemory",
			opts: &header.Options{NoAncestors: true},
			fixtures: []tracked{{`Message-ID: <reply-1@a.example>
In-Reply-To: <ghost@customer.example>

`, "incident:CAS-9"}},
			msg: `Message-ID: <reply-2@b.example>
In-Reply-To: <ghost@customer.example>

`,
			why: "with NoAncestors a ghost id links nothing, as in Dynamics",
		},
		{
			name: "ReplyTrackedFirst",
			fixtures: []tracked{{`Message-ID: <reply@a.example>
In-Reply-To: <late@customer.example>

`, "incident:CAS-10"}},
			msg: `Message-ID: <late@customer.example>
Subject: Outage

`,
			want: "incident:CAS-10", conf: correlate.High, with: "reply@a.example",
			reason: "replies to this one", evidence: [2]string{"Message-ID", "its reply was tracked first"},
			why: "a tracked email answers this one, which arrived late (or from a second mailbox)",
		},
		{
			name: "PhraseIdsAreNotRemembered",
			fixtures: []tracked{{`Message-ID: <a1@a.example>
From: Bob <bob@example.org>
In-Reply-To: Message from Justin <jm@example.net> of "Thu, 22 Aug 2002"

`, "incident:CAS-11"}},
			msg: `Message-ID: <b1@b.example>
From: Carol <carol@example.org>
In-Reply-To: Message from Justin <jm@example.net> of "Fri, 23 Aug 2002"

`,
			why: "nmh's phrase form names Justin's address; it is looked up but never shared as an ancestor (spamassassin-ham corpus)",
		},
		{
			name:     "ForwardSkipped",
			opts:     &header.Options{SkipForwards: true},
			fixtures: []tracked{{crmCase, "incident:CAS-01042"}},
			msg: `Message-ID: <f1@mail.example.com>
In-Reply-To: <case-1@crm.example>
Subject: WG: Printer broken [CAS-01042]

`,
			reason: "forward", evidence: [2]string{"Subject", "forward"},
			why: "SkipForwards: a forward (German WG:) is not correlated by headers",
		},
		{
			name:     "ForwardCorrelatedByDefault",
			fixtures: []tracked{{crmCase, "incident:CAS-01042"}},
			msg: `Message-ID: <f2@mail.example.com>
In-Reply-To: <case-1@crm.example>
Subject: Fwd: Printer broken [CAS-01042]

`,
			want: "incident:CAS-01042", conf: correlate.Certain, with: "case-1@crm.example", parent: "case-1@crm.example",
			why: "Dynamics correlates forwards like replies unless told not to",
		},
		{
			name: "ForwardHook",
			opts: &header.Options{SkipForwards: true, IsForward: func(s string) bool {
				return strings.HasPrefix(s, "VS:")
			}},
			fixtures: []tracked{{crmCase, "incident:CAS-01042"}},
			msg: `Message-ID: <f3@mail.example.com>
In-Reply-To: <case-1@crm.example>
Subject: VS: Printer broken

`,
			reason: "forward",
			why:    "the caller's IsForward (Danish VS:) decides",
		},
		{
			name: "RecordlessParent",
			fixtures: []tracked{
				{crmRoot, "incident:CAS-7"},
				{`Message-ID: <private@crm.example>
Subject: Re: Printer broken

`, ""},
			},
			msg: `Message-ID: <r8@mail.example.com>
In-Reply-To: <private@crm.example>
References: <root@crm.example> <private@crm.example>

`,
			want: "incident:CAS-7", conf: correlate.High, with: "root@crm.example", parent: "root@crm.example",
			evidence: [2]string{"In-Reply-To", "without a record"},
			why:      "the parent was tracked without a record (a track-only folder); the next id gives one",
		},
		{
			name: "JunkOwnID",
			msg: `Message-ID: <yes>
In-Reply-To: <nothing@x.example>

`,
			evidence: [2]string{"Message-ID", "not looked up"},
			why:      "a junk own id is never used for the duplicate check",
		},
	}
	for _, tt := range tests {
		for _, probe := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/probe=%v", tt.name, probe), func(t *testing.T) {
				ctx := context.Background()
				s := memstore.New()
				var idx correlate.Lookuper = lookupOnly{s}
				if probe {
					idx = s
				}
				c := header.NewInReplyTo(idx, tt.opts)
				fileAll(t, s, c, tt.fixtures)
				got, err := c.Correlate(ctx, parse(t, tt.msg))
				require.NoError(t, err)
				assert.Equal(t, tt.want, got.Record.String(), "Correlate = %v; %s", got, tt.why)
				if tt.want != "" {
					assert.Equal(t, correlate.InReplyTo, got.Method, tt.why)
					assert.Equal(t, tt.conf, got.Confidence, tt.why)
					assert.Equal(t, "inreplyto", got.Strategy)
					require.NotNil(t, got.CorrelatedWith, tt.why)
					assert.Equal(t, tt.with, got.CorrelatedWith.MessageID, tt.why)
					if tt.parent == "" {
						assert.Nil(t, got.Parent, tt.why)
					} else if assert.NotNil(t, got.Parent, tt.why) {
						assert.Equal(t, tt.parent, got.Parent.MessageID, tt.why)
					}
				}
				assert.Contains(t, got.Reason, tt.reason, tt.why)
				if tt.evidence[0] != "" {
					assert.True(t, hasNote(got.Evidence, tt.evidence[0], tt.evidence[1]), "Evidence %v lacks %v; %s", got.Evidence, tt.evidence, tt.why)
				}
				var conflicts []string
				for _, x := range got.Conflicts {
					conflicts = append(conflicts, x.Record.String())
					assert.Equal(t, correlate.InReplyTo, x.Method)
					assert.Equal(t, "inreplyto", x.Strategy)
					assert.NotEmpty(t, x.Reason)
					assert.NotEmpty(t, x.Evidence)
				}
				assert.Equal(t, tt.conflicts, conflicts, tt.why)
			})
		}
	}
}

func TestInReplyToSubjectChanged(t *testing.T) {
	tests := []struct {
		name, subject string
		opts          *header.Options
		want          bool
		reason        string
	}{
		{name: "Reply", subject: "Re: Printer broken", want: false, reason: "a reply prefix is not a change"},
		{name: "ListTagAndPrefixes", subject: "[support] AW: RE: printer  BROKEN", want: false, reason: "tags, localized prefixes, case and spacing are not changes"},
		{name: "Edited", subject: "Re: Printer fixed, invoice please", want: true, reason: "the user wrote a new subject"},
		{name: "Hook", subject: "Re: Printer fixed", opts: &header.Options{SubjectKey: func(string) string { return "" }}, want: false,
			reason: "the caller's SubjectKey decides"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memstore.New()
			c := header.NewInReplyTo(s, tt.opts)
			fileAll(t, s, c, []tracked{{crmRoot, "incident:CAS-7"}})
			got, err := c.Correlate(context.Background(), parse(t, "Message-ID: <x@y.example>\nIn-Reply-To: <root@crm.example>\nSubject: "+tt.subject+"\n\n"))
			require.NoError(t, err)
			require.True(t, got.Found())
			assert.Equal(t, tt.want, got.SubjectChanged, tt.reason)
		})
	}
}

func TestInReplyToIndex(t *testing.T) {
	m := parse(t, `Message-ID: <5d1e.SMTPIN_ADDED_BROKEN@mx.google.com>
X-Google-Original-Message-ID: <orig@client.example>
From: Ann <ann@example.com>
In-Reply-To: <p@x.example>
References: <yes> <r@x.example> <p@x.example> <ann@example.com>

`)
	tests := []struct {
		name   string
		opts   *header.Options
		want   []correlate.Key
		reason string
	}{
		{name: "Default", want: []correlate.Key{
			{Kind: correlate.KindMessageID, Value: "orig@client.example"},
			{Kind: header.KindAncestor, Value: "p@x.example"},
			{Kind: header.KindAncestor, Value: "r@x.example"},
		}, reason: "the preserved original as a Message-ID, the clean references as ancestors; <yes> and the address dropped"},
		{name: "NoAncestors", opts: &header.Options{NoAncestors: true}, want: []correlate.Key{
			{Kind: correlate.KindMessageID, Value: "orig@client.example"},
		}, reason: "no ancestor memory, no ancestor keys"},
		{name: "NoAliases", opts: &header.Options{AliasFields: []string{}}, want: []correlate.Key{
			{Kind: header.KindAncestor, Value: "p@x.example"},
			{Kind: header.KindAncestor, Value: "r@x.example"},
		}, reason: "an empty AliasFields turns aliases off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := header.NewInReplyTo(memstore.New(), tt.opts).Index(m, &correlate.Tracked{}, nil)
			assert.Equal(t, tt.want, got, tt.reason)
		})
	}
	assert.Nil(t, header.NewInReplyTo(memstore.New(), nil).Index(nil, &correlate.Tracked{}, nil), "nil message, no keys")
}

// failing is a Lookuper whose store is down.
type failing struct{ err error }

func (f failing) Lookup(context.Context, correlate.Key, correlate.Query) ([]correlate.Tracked, error) {
	return nil, f.err
}

func TestInReplyToErrors(t *testing.T) {
	boom := errors.New("connection refused")
	m := parse(t, "Message-ID: <a@b.example>\nIn-Reply-To: <p@x.example>\n\n")

	_, err := header.NewInReplyTo(failing{boom}, nil).Correlate(context.Background(), m)
	require.Error(t, err, "a failing store is an error, never a silent miss")
	assert.ErrorIs(t, err, boom)
	assert.True(t, strings.HasPrefix(err.Error(), "header: lookup msgid"), err.Error())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = header.NewInReplyTo(memstore.New(), nil).Correlate(ctx, m)
	assert.ErrorIs(t, err, context.Canceled, "a done context is an error")

	got, err := header.NewInReplyTo(memstore.New(), nil).Correlate(context.Background(), nil)
	assert.NoError(t, err)
	assert.Equal(t, correlate.Match{}, got, "a nil message has no opinion")

	got, err = header.NewInReplyTo(memstore.New(), nil).Correlate(context.Background(), parse(t, "Subject: hi\n\n"))
	assert.NoError(t, err)
	assert.Equal(t, correlate.Match{}, got, "a message without ids has no opinion and no evidence")
	assert.Equal(t, "inreplyto", header.NewInReplyTo(nil, nil).String())
}

// TestConcurrent tracks and correlates threads from several goroutines
// through one Engine; run with -race.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	eng := correlate.NewEngine(s, &correlate.Chain{Correlators: []correlate.Correlator{
		header.NewInReplyTo(s, nil), header.NewConversationIndex(s, nil)}}, nil)
	const workers, depth = 8, 20
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			errs <- func() error {
				rec := correlate.Record{Type: "incident", ID: fmt.Sprint(w)}
				prev := ""
				for i := range depth {
					raw := fmt.Sprintf("Message-ID: <w%d-%d@x.example>\r\n", w, i)
					if prev != "" {
						raw += fmt.Sprintf("In-Reply-To: <%s>\r\nReferences: <w%d-0@x.example> <%s>\r\n", prev, w, prev)
					}
					m, err := correlate.ParseMessage(strings.NewReader(raw+"\r\n"), nil)
					if err != nil {
						return err
					}
					how := correlate.Match{Record: rec}
					if prev != "" {
						d, err := eng.Correlate(ctx, m)
						if err != nil {
							return err
						}
						if d.Match.Record != rec {
							return fmt.Errorf("w%d-%d: %v, want %v", w, i, d.Match.Record, rec)
						}
						how = d.Match
					}
					if _, err := eng.Track(ctx, m, how); err != nil {
						return err
					}
					prev = m.MessageID
				}
				return nil
			}()
		}()
	}
	for range workers {
		assert.NoError(t, <-errs)
	}
}

// TestInReplyToConflictsInDecision is issue 17 #10: References naming
// tracked emails of several records gave the newest at confidence 1.00,
// with the other records only in Evidence, never in Decision.Conflicts.
func TestInReplyToConflictsInDecision(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	c := header.NewInReplyTo(s, nil)
	fileAll(t, s, c, []tracked{
		{crmRoot, "incident:CAS-7"},
		{"Message-ID: <moved@crm.example>\nSubject: Re: Printer broken\n\n", "incident:CAS-8"},
	})
	chain := &correlate.Chain{Correlators: []correlate.Correlator{c}}
	d, err := chain.Decide(ctx, parse(t, "Message-ID: <r@mail.example.com>\nIn-Reply-To: <moved@crm.example>\nReferences: <root@crm.example> <moved@crm.example>\n\n"))
	require.NoError(t, err)
	assert.Equal(t, "incident:CAS-8", d.Match.Record.String(), "the email it answers wins")
	assert.Equal(t, correlate.High, d.Match.Confidence, "one step below Certain: the evidence disagrees")
	require.Len(t, d.Conflicts, 1, "without audit mode, the winner's own conflict is the Decision's")
	assert.Equal(t, "incident:CAS-7", d.Conflicts[0].Record.String())
	assert.Equal(t, correlate.High, d.Conflicts[0].Confidence, "an older References id")
	assert.Equal(t, "inreplyto", d.Conflicts[0].Strategy)
	assert.Contains(t, d.String(), "conflict inreplyto: incident:CAS-7")

	review := guard.Wrap(&correlate.Chain{Correlators: []correlate.Correlator{c}, MinConfidence: correlate.High}, &guard.Options{OnConflict: guard.ConflictReview})
	d, err = review.Decide(ctx, parse(t, "Message-ID: <r2@mail.example.com>\nIn-Reply-To: <moved@crm.example>\nReferences: <root@crm.example> <moved@crm.example>\n\n"))
	require.NoError(t, err)
	assert.Equal(t, guard.Review, d.Action, "under ConflictReview a person decides between the records the ids name")
}
