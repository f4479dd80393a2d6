package party_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
)

func participationWorld(t *testing.T, n *party.Normalizer) *party.MemDirectory {
	d := party.NewMemDirectory(n)
	for _, e := range []party.Entry{
		{Address: "anna@contoso.example", Record: rec("contact:anna"), Active: true, Account: rec("account:contoso")},
		{Address: "anna.private@mail.example", Record: rec("contact:anna"), Active: true, Account: rec("account:contoso")},
		{Address: "bob@contoso.example", Record: rec("contact:bob"), Active: true, Account: rec("account:contoso")},
		{Address: "former@contoso.example", Record: rec("contact:former"), Active: false, Account: rec("account:contoso")},
		{Address: "@contoso.example", Record: rec("account:contoso"), Active: true},
		{Address: "mallory@northwind.example", Record: rec("contact:mallory"), Active: true, Account: rec("account:northwind")},
		{Address: "support@fabrikam.example", Record: rec("queue:support"), Active: true},
		{Address: "sam@fabrikam.example", Record: rec("systemuser:sam"), Active: true},
	} {
		require.NoError(t, d.Add(e))
	}
	return d
}

func TestTookPart(t *testing.T) {
	plain := party.NewResolver(participationWorld(t, nil), nil)
	tagless := party.NewResolver(participationWorld(t, party.NewNormalizer(&party.NormalizeOptions{StripTags: true})), nil)
	strict := party.NewResolver(participationWorld(t, nil), &party.Options{IgnoreAccounts: true})
	conv := correlate.Tracked{ID: 42, Record: rec("incident:CAS-1"), Participants: []string{"anna@contoso.example", "support@fabrikam.example"}}
	onAccount := conv
	onAccount.Record = rec("account:northwind")
	onContact := conv
	onContact.Record = rec("contact:mallory")
	noRecord := conv
	noRecord.Record = correlate.Record{}
	tests := []struct {
		name   string
		r      *party.Resolver
		from   string
		t      correlate.Tracked
		want   bool
		by     string
		via    string
		reason string
	}{
		{"SameAddress", plain, "anna@contoso.example", conv, true, party.ByAddress, "", "the sender wrote to or from this conversation before"},
		{"SameAddressOtherCase", plain, "Anna <ANNA@Contoso.Example>", conv, true, party.ByAddress, "", "addresses compare normalized"},
		{"OwnMailbox", plain, "support@fabrikam.example", conv, true, party.ByAddress, "", "the support queue is a participant like any other"},
		{"TaggedStripped", tagless, "anna+crm@contoso.example", conv, true, party.ByAddress, "", "with StripTags the tagged address is Anna's address"},
		{"TaggedDomainOnly", plain, "anna+crm@contoso.example", conv, true, party.ByAccount, "account:contoso", "without StripTags it is an unknown address at Anna's customer: a colleague by domain"},
		{"SameContactOtherAddress", plain, "anna.private@mail.example", conv, true, party.ByRecord, "contact:anna", "Anna writing from her second address is still Anna"},
		{"KnownColleague", plain, "bob@contoso.example", conv, true, party.ByAccount, "account:contoso", "Bob is a contact of Contoso, Anna's account: a colleague joining the case"},
		{"NewColleague", plain, "new.hire@contoso.example", conv, true, party.ByAccount, "account:contoso", "no record yet, but the contoso.example domain entry places them at Contoso"},
		{"Stranger", plain, "eve@evil.example", conv, false, "", "", "an unknown address at an unknown domain: the token-hijack case of Zammad #5064"},
		{"OtherCustomer", plain, "mallory@northwind.example", conv, false, "", "", "a contact of another customer quoting Contoso's case number is refused"},
		{"InactiveContact", plain, "former@contoso.example", conv, true, party.ByAccount, "account:contoso", "a deactivated contact has no record, but their domain still belongs to Contoso"},
		{"Colleague", plain, "sam@fabrikam.example", conv, false, "", "", "an internal user who never took part shares no record or account (users have no customer account)"},
		{"RegardingAccount", plain, "mallory@northwind.example", onAccount, true, party.ByRegarding, "account:northwind", "the email is filed under Mallory's own account"},
		{"RegardingContact", plain, "mallory@northwind.example", onContact, true, party.ByRegarding, "contact:mallory", "the email is filed under Mallory herself"},
		{"NoRecordTracked", plain, "bob@contoso.example", noRecord, true, party.ByAccount, "account:contoso", "a tracked email without a record still has participants"},
		{"StrictColleague", strict, "bob@contoso.example", conv, false, "", "", "IgnoreAccounts: only the same address or record counts"},
		{"StrictSameContact", strict, "anna.private@mail.example", conv, true, party.ByRecord, "contact:anna", "IgnoreAccounts still accepts the same record"},
		{"SecondAuthor", plain, "eve@evil.example, anna@contoso.example", conv, true, party.ByAddress, "",
			"From: a1, a2 — the second author is a participant, and every address counts (issue 17 #13)"},
		{"SecondAuthorColleague", plain, "eve@evil.example, bob@contoso.example", conv, true, party.ByAccount, "account:contoso",
			"the second author is Anna's colleague"},
		{"BadFirstAuthor", plain, "anna@@contoso.example, anna@contoso.example", conv, true, party.ByAddress, "",
			"a bad first address does not hide a good second one"},
		{"TwoStrangers", plain, "eve@evil.example, mallory@northwind.example", conv, false, "", "",
			"two authors who took no part are still refused"},
		{"BadSender", plain, "anna@@contoso.example", conv, false, "", "", "a bad address takes part in nothing"},
		{"NoSender", plain, "", conv, false, "", "", "an email without a sender takes part in nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &correlate.Message{}
			if tt.from != "" {
				m.From = addrs(strings.Split(tt.from, ", ")...)
			}
			p, err := tt.r.TookPart(context.Background(), m, tt.t)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.TookPart, "TookPart(%s) = %+v: %s", tt.from, p, tt.reason)
			assert.Equal(t, tt.by, p.By, tt.reason)
			if tt.via != "" {
				assert.Equal(t, rec(tt.via), p.Via, tt.reason)
			}
			assert.NotEmpty(t, p.Reason)
			ev, ok := tt.r.SenderPolicy()(context.Background(), m, tt.t)
			assert.Equal(t, tt.want, ok, "SenderPolicy agrees with TookPart")
			assert.Equal(t, p.Evidence(), ev, "and explains itself with the Participation's Evidence")
		})
	}
}

func TestTookPartEvidence(t *testing.T) {
	r := party.NewResolver(participationWorld(t, nil), nil)
	conv := correlate.Tracked{ID: 42, Record: rec("incident:CAS-1"), Participants: []string{"anna@contoso.example"}}
	p, err := r.TookPart(context.Background(), &correlate.Message{From: addrs("new.hire@contoso.example")}, conv)
	require.NoError(t, err)
	assert.Equal(t, correlate.Evidence{Field: "From", Value: "new.hire@contoso.example",
		Note: "took part: same account account:contoso as participant anna@contoso.example (by domain)"}, p.Evidence())
	p, err = r.TookPart(context.Background(), &correlate.Message{From: addrs("eve@evil.example")}, conv)
	require.NoError(t, err)
	assert.Equal(t, correlate.Evidence{Field: "From", Value: "eve@evil.example",
		Note: "did not take part: not a participant of tracked email 42, and resolves to no record or account"}, p.Evidence())
}

func TestTookPartErrors(t *testing.T) {
	boom := errors.New("directory down")
	r := party.NewResolver(failing{boom}, nil)
	conv := correlate.Tracked{ID: 1, Participants: []string{"anna@contoso.example"}}
	m := &correlate.Message{From: addrs("bob@contoso.example")}
	_, err := r.TookPart(context.Background(), m, conv)
	assert.ErrorIs(t, err, boom)
	ev, ok := r.SenderPolicy()(context.Background(), m, conv)
	assert.False(t, ok, "a claim that cannot be checked is refused")
	assert.Contains(t, ev.Note, "directory down", "and the Evidence says why")

	p, err := r.TookPart(context.Background(), &correlate.Message{From: addrs("anna@contoso.example")}, conv)
	require.NoError(t, err, "the same address needs no lookup")
	assert.True(t, p.TookPart)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.TookPart(ctx, m, conv)
	assert.ErrorIs(t, err, context.Canceled)

	p, err = r.TookPart(context.Background(), nil, conv)
	require.NoError(t, err)
	assert.False(t, p.TookPart, "a nil message takes part in nothing")
}

func TestSameAccount(t *testing.T) {
	r := party.NewResolver(participationWorld(t, nil), nil)
	tests := []struct {
		name     string
		a, b     []string
		want     string
		wantA    string
		wantB    string
		byDomain bool
		reason   string
	}{
		{"Colleagues", []string{"bob@contoso.example"}, []string{"anna@contoso.example"}, "account:contoso", "bob@contoso.example", "anna@contoso.example", false,
			"both are contacts of Contoso"},
		{"ByDomain", []string{"new.hire@contoso.example"}, []string{"anna@contoso.example"}, "account:contoso", "new.hire@contoso.example", "anna@contoso.example", true,
			"one side is at Contoso only by its domain"},
		{"SkipsOwnOrg", []string{"support@fabrikam.example", "bob@contoso.example"}, []string{"sam@fabrikam.example", "mallory@northwind.example", "anna@contoso.example"}, "account:contoso", "bob@contoso.example", "anna@contoso.example", false,
			"the own organization's queue and user have no customer account, so they never make two emails 'same customer'"},
		{"Different", []string{"mallory@northwind.example"}, []string{"anna@contoso.example"}, "", "", "", false,
			"Northwind and Contoso are different customers"},
		{"Unknown", []string{"eve@evil.example"}, []string{"anna@contoso.example"}, "", "", "", false,
			"an unknown address belongs to no account"},
		{"BadSkipped", []string{"not an address", "bob@contoso.example"}, []string{"anna@contoso.example"}, "account:contoso", "bob@contoso.example", "anna@contoso.example", false,
			"bad addresses are skipped, not fatal"},
		{"Empty", nil, []string{"anna@contoso.example"}, "", "", "", false,
			"nothing to compare"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			am, err := r.SameAccount(context.Background(), tt.a, tt.b)
			require.NoError(t, err)
			if tt.want == "" {
				assert.False(t, am.Found(), "%+v: %s", am, tt.reason)
				assert.Equal(t, "no shared customer account", am.Evidence().Note)
				return
			}
			assert.Equal(t, rec(tt.want), am.Account, tt.reason)
			assert.Equal(t, tt.wantA, am.A, tt.reason)
			assert.Equal(t, tt.wantB, am.B, tt.reason)
			assert.Equal(t, tt.byDomain, am.ByDomain, tt.reason)
			assert.Equal(t, "account", am.Evidence().Field)
			assert.Equal(t, tt.want, am.Evidence().Value)
		})
	}
	_, err := party.NewResolver(failing{errors.New("down")}, nil).SameAccount(context.Background(), []string{"a@b.example"}, []string{"c@d.example"})
	assert.Error(t, err, "a failing directory is an error")
}
