package party_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// ent is shorthand for an active or inactive entry of one address.
func ent(addr, record string, active bool) party.Entry {
	return party.Entry{Address: addr, Record: rec(record), Active: active}
}

func directory(t testing.TB, es ...party.Entry) *party.MemDirectory {
	t.Helper()
	d := party.NewMemDirectory(nil)
	for _, e := range es {
		require.NoError(t, d.Add(e))
	}
	return d
}

func addrs(list ...string) []correlate.Address {
	out := make([]correlate.Address, len(list))
	for i, a := range list {
		out[i] = correlate.Address{Address: a}
	}
	return out
}

func records(ss ...string) []correlate.Record {
	if len(ss) == 0 {
		return nil
	}
	out := make([]correlate.Record, len(ss))
	for i, s := range ss {
		out[i] = rec(s)
	}
	return out
}

const sender = "pat@contoso.example"

func TestResolveSenderOrder(t *testing.T) {
	owned := func(record, owner string) party.Entry {
		e := ent(sender, record, true)
		e.Owner = rec(owner)
		return e
	}
	tests := []struct {
		name      string
		entries   []party.Entry
		opts      *party.Options
		mailbox   string
		want      []string
		ambiguous bool
		ownerRule bool
		reason    string
	}{
		{"UserBeatsContact", []party.Entry{ent(sender, "contact:c", true), ent(sender, "systemuser:u", true)}, nil, "", []string{"systemuser:u"}, false, false,
			"SystemUser comes first in Dynamics' order, whatever the directory order"},
		{"ContactBeatsAccount", []party.Entry{ent(sender, "account:a", true), ent(sender, "contact:c", true)}, nil, "", []string{"contact:c"}, false, false,
			"Contact before Account"},
		{"AccountBeatsLead", []party.Entry{ent(sender, "lead:l", true), ent(sender, "account:a", true)}, nil, "", []string{"account:a"}, false, false,
			"Account before Lead"},
		{"LeadBeatsEquipment", []party.Entry{ent(sender, "equipment:e", true), ent(sender, "lead:l", true)}, nil, "", []string{"lead:l"}, false, false,
			"Lead before Equipment"},
		{"EquipmentBeatsTeam", []party.Entry{ent(sender, "team:t", true), ent(sender, "equipment:e", true)}, nil, "", []string{"equipment:e"}, false, false,
			"Equipment before Team"},
		{"TeamBeatsBusinessUnit", []party.Entry{ent(sender, "businessunit:b", true), ent(sender, "team:t", true)}, nil, "", []string{"team:t"}, false, false,
			"Team before Business unit"},
		{"BusinessUnitBeatsQueue", []party.Entry{ent(sender, "queue:q", true), ent(sender, "businessunit:b", true)}, nil, "", []string{"businessunit:b"}, false, false,
			"Business unit before the other email-enabled types"},
		{"OthersInDirectoryOrder", []party.Entry{ent(sender, "new_vendor:v", true), ent(sender, "queue:q", true)}, nil, "", []string{"new_vendor:v"}, false, false,
			"types outside the order rank equal; the directory order decides"},
		{"InactiveSkipped", []party.Entry{ent(sender, "systemuser:u", false), ent(sender, "contact:c", false), ent(sender, "lead:l", true)}, nil, "", []string{"lead:l"}, false, false,
			"the first *active* record: a disabled user and a deactivated contact are skipped"},
		{"AllInactive", []party.Entry{ent(sender, "contact:c", false)}, nil, "", nil, false, false,
			"only inactive records: the sender is unresolved"},
		{"Unknown", nil, nil, "", nil, false, false,
			"no record uses the address"},
		{"TieFirstAdded", []party.Entry{ent(sender, "contact:c1", true), ent(sender, "contact:c2", true)}, nil, "", []string{"contact:c1"}, false, false,
			"two contacts share the address; by default the first the directory returns wins"},
		{"TieUnresolved", []party.Entry{ent(sender, "contact:c1", true), ent(sender, "contact:c2", true)}, &party.Options{UnresolveAmbiguous: true}, "", nil, true, false,
			"UnresolveAmbiguous: the order cannot separate two contacts, so the sender stays unresolved"},
		{"TieBelowWinner", []party.Entry{ent(sender, "contact:c1", true), ent(sender, "contact:c2", true), ent(sender, "systemuser:u", true)}, &party.Options{UnresolveAmbiguous: true}, "", []string{"systemuser:u"}, false, false,
			"duplicates of a lower-ranked type do not matter: the order picks the user"},
		{"TieWithInactive", []party.Entry{ent(sender, "contact:c1", false), ent(sender, "contact:c2", true)}, &party.Options{UnresolveAmbiguous: true}, "", []string{"contact:c2"}, false, false,
			"an inactive duplicate is no rival"},
		{"CustomOrder", []party.Entry{ent(sender, "contact:c", true), ent(sender, "lead:l", true), ent(sender, "systemuser:u", true)}, &party.Options{Order: []string{"lead", "contact"}}, "", []string{"lead:l"}, false, false,
			"a configured order replaces Dynamics' one; unlisted types (systemuser) rank last"},
		{"OwnerRule", []party.Entry{ent(sender, "systemuser:u-pat", true), owned("contact:c", "systemuser:u-me"), ent("me@fabrikam.example", "systemuser:u-me", true)}, nil, "me@fabrikam.example", []string{"contact:c"}, false, true,
			"the tracking user (owner of the mailbox me@) owns the duplicate contact, so it wins over the user (MS draft)"},
		{"OwnerRuleOtherOwner", []party.Entry{ent(sender, "systemuser:u-pat", true), owned("contact:c", "systemuser:u-other"), ent("me@fabrikam.example", "systemuser:u-me", true)}, nil, "me@fabrikam.example", []string{"systemuser:u-pat"}, false, false,
			"the tracking user does not own the contact: the user wins"},
		{"OwnerRuleNoMailbox", []party.Entry{ent(sender, "systemuser:u-pat", true), owned("contact:c", "systemuser:u-me")}, nil, "", []string{"systemuser:u-pat"}, false, false,
			"without a mailbox there is no tracking user"},
		{"OwnerRuleInactive", []party.Entry{ent(sender, "systemuser:u-pat", true), func() party.Entry { e := owned("contact:c", "systemuser:u-me"); e.Active = false; return e }(), ent("me@fabrikam.example", "systemuser:u-me", true)}, nil, "me@fabrikam.example", []string{"systemuser:u-pat"}, false, false,
			"an inactive owned record is skipped like any inactive record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := party.NewResolver(directory(t, tt.entries...), tt.opts)
			m := &correlate.Message{From: []correlate.Address{{Name: "Pat", Address: strings.ToUpper(sender)}}, Mailbox: tt.mailbox}
			res, err := r.Resolve(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, records(tt.want...), res.From.Records, "Resolve(From) = %v: %s", res.From, tt.reason)
			assert.Equal(t, tt.ambiguous, res.From.Ambiguous, tt.reason)
			assert.Equal(t, tt.ownerRule, res.From.OwnerRule, tt.reason)
			assert.Equal(t, sender, res.From.Address)
			assert.Equal(t, "Pat", res.From.Name)
			assert.Equal(t, party.FieldFrom, res.From.Field)
			assert.Len(t, res.From.Matches, countFor(tt.entries, sender), "Matches hold every entry of the address")
			if len(tt.want) == 0 {
				assert.Equal(t, []string{sender}, res.Unresolved, tt.reason)
			} else {
				assert.Empty(t, res.Unresolved)
			}
		})
	}
}

// countFor counts the entries of one address.
func countFor(es []party.Entry, addr string) int {
	n := 0
	for _, e := range es {
		if e.Address == addr {
			n++
		}
	}
	return n
}

func TestResolveRecipients(t *testing.T) {
	const a = "team@contoso.example"
	tests := []struct {
		name      string
		entries   []party.Entry
		opts      *party.Options
		want      []string
		ambiguous bool
		reason    string
	}{
		{"All", []party.Entry{ent(a, "lead:l", true), ent(a, "contact:c", true), ent(a, "systemuser:u", true)}, nil, []string{"systemuser:u", "contact:c", "lead:l"}, false,
			"a recipient resolves to every matching record (Dynamics lists them all), in resolution order"},
		{"InactiveSkipped", []party.Entry{ent(a, "contact:c1", false), ent(a, "contact:c2", true)}, nil, []string{"contact:c2"}, false,
			"inactive records are skipped for recipients as for the sender"},
		{"InactiveIncluded", []party.Entry{ent(a, "contact:c1", false), ent(a, "contact:c2", true)}, &party.Options{IncludeInactiveRecipients: true}, []string{"contact:c1", "contact:c2"}, false,
			"IncludeInactiveRecipients lists deactivated records too"},
		{"Ambiguous", []party.Entry{ent(a, "contact:c1", true), ent(a, "account:a", true)}, &party.Options{UnresolveAmbiguous: true}, nil, true,
			"UnresolveAmbiguous: two matching records leave the recipient unresolved"},
		{"OneIsNotAmbiguous", []party.Entry{ent(a, "contact:c1", true), ent(a, "account:a", false)}, &party.Options{UnresolveAmbiguous: true}, []string{"contact:c1"}, false,
			"one active match is no ambiguity"},
		{"OnlyInactive", []party.Entry{ent(a, "contact:c1", false)}, nil, nil, false,
			"only inactive records: unresolved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := party.NewResolver(directory(t, tt.entries...), tt.opts)
			res, err := r.Resolve(context.Background(), &correlate.Message{Cc: addrs(a)})
			require.NoError(t, err)
			require.Len(t, res.Cc, 1)
			p := res.Cc[0]
			assert.Equal(t, records(tt.want...), p.Records, "Resolve(Cc) = %v: %s", p, tt.reason)
			assert.Equal(t, tt.ambiguous, p.Ambiguous, tt.reason)
			assert.Equal(t, party.FieldCc, p.Field)
			assert.Equal(t, len(tt.want) == 0, len(res.Unresolved) == 1, tt.reason)
		})
	}
}

// TestResolveMessage resolves a whole message: every field, duplicates,
// bad addresses, the unresolved list and accounts.
func TestResolveMessage(t *testing.T) {
	d := directory(t,
		party.Entry{Address: "anna@contoso.example", Record: rec("contact:anna"), Active: true, Account: rec("account:contoso")},
		party.Entry{Address: "support@fabrikam.example", Record: rec("queue:support"), Active: true},
		party.Entry{Address: "sam@fabrikam.example", Record: rec("systemuser:sam"), Active: true},
		party.Entry{Address: "@contoso.example", Record: rec("account:contoso"), Active: true},
		party.Entry{Address: "boss@northwind.example", Record: rec("account:northwind"), Active: true},
	)
	r := party.NewResolver(d, nil)
	m := &correlate.Message{
		From: []correlate.Address{{Name: "Anna", Address: "Anna@Contoso.example"}},
		To:   addrs("support@fabrikam.example", "new.colleague@contoso.example"),
		Cc:   addrs("sam@fabrikam.example", "stranger@elsewhere.example", "not-an-address", "Support@Fabrikam.Example"),
		Bcc:  addrs("boss@northwind.example", "stranger@elsewhere.example"),
	}
	res, err := r.Resolve(context.Background(), m)
	require.NoError(t, err)

	assert.Equal(t, records("contact:anna"), res.From.Records)
	assert.Equal(t, records("account:contoso"), res.From.Accounts, "the contact's parent account")
	assert.False(t, res.From.AccountByDomain)

	require.Len(t, res.To, 2)
	assert.Equal(t, records("queue:support"), res.To[0].Records, "queues are email-enabled records")
	assert.Empty(t, res.To[0].Accounts, "the own organization's queue belongs to no customer account")
	assert.False(t, res.To[1].Resolved(), "a new colleague has no record yet")
	assert.Equal(t, records("account:contoso"), res.To[1].Accounts, "but the domain entry says which customer they work for")
	assert.True(t, res.To[1].AccountByDomain)

	require.Len(t, res.Cc, 4)
	assert.Equal(t, records("systemuser:sam"), res.Cc[0].Records)
	assert.False(t, res.Cc[1].Resolved())
	assert.Empty(t, res.Cc[1].Accounts)
	assert.ErrorIs(t, res.Cc[2].Err, party.ErrBadAddress, "a bad address is unresolved with its reason, not an error")
	assert.Equal(t, "not-an-address", res.Cc[2].Address, "a bad address is kept as written")
	assert.Equal(t, records("queue:support"), res.Cc[3].Records, "the same address twice resolves twice")

	require.Len(t, res.Bcc, 2)
	assert.Equal(t, records("account:northwind"), res.Bcc[0].Records)
	assert.Equal(t, records("account:northwind"), res.Bcc[0].Accounts, "an account is its own customer account")

	assert.Equal(t, []string{"new.colleague@contoso.example", "stranger@elsewhere.example", "not-an-address"}, res.Unresolved,
		"every unresolved address once, in message order")
	assert.Equal(t, records("contact:anna", "queue:support", "systemuser:sam", "account:northwind"), res.Records())
	assert.Equal(t, records("account:contoso", "account:northwind"), res.Accounts())
	assert.Len(t, res.Parties(), 9)

	// Aliasing: appending to one party's slices must not clobber another's.
	_ = append(res.To[0].Records, rec("x:y"))
	_ = append(res.To[0].Matches, party.Entry{})
	assert.Equal(t, records("account:contoso"), res.To[1].Accounts)
	assert.Equal(t, records("systemuser:sam"), res.Cc[0].Records)

	want := `From anna@contoso.example: contact:anna (account account:contoso)
To support@fabrikam.example: queue:support
To new.colleague@contoso.example: unresolved, no record (account account:contoso by domain)
Cc sam@fabrikam.example: systemuser:sam
Cc stranger@elsewhere.example: unresolved, no record
Cc not-an-address: party: bad address "not-an-address": no @
Cc support@fabrikam.example: queue:support
Bcc boss@northwind.example: account:northwind (account account:northwind)
Bcc stranger@elsewhere.example: unresolved, no record`
	assert.Equal(t, want, res.String())
}

func TestResolveSenderFallback(t *testing.T) {
	d := directory(t, ent("assistant@contoso.example", "contact:asst", true))
	r := party.NewResolver(d, nil)
	tests := []struct {
		name   string
		m      *correlate.Message
		want   string
		reason string
	}{
		{"SenderWhenNoFrom", &correlate.Message{Sender: correlate.Address{Address: "assistant@contoso.example"}}, "assistant@contoso.example", "without From, the Sender field names the sender"},
		{"FirstNonEmptyFrom", &correlate.Message{From: addrs("", "assistant@contoso.example")}, "assistant@contoso.example", "an empty From address is skipped"},
		{"FromWinsOverSender", &correlate.Message{From: addrs("boss@contoso.example"), Sender: correlate.Address{Address: "assistant@contoso.example"}}, "boss@contoso.example", "From is the author; Sender only the agent"},
		{"NoSender", &correlate.Message{To: addrs("assistant@contoso.example")}, "", "an email without From or Sender has no sender"},
		{"NilMessage", nil, "", "a nil message resolves to nothing, without panicking"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Resolve(context.Background(), tt.m)
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.From.Address, tt.reason)
			assert.Equal(t, party.FieldFrom, res.From.Field)
			assert.NotContains(t, res.Unresolved, "", "no empty address is listed")
		})
	}
}

func TestResolveAmbiguousSenderAccounts(t *testing.T) {
	d := directory(t,
		party.Entry{Address: sender, Record: rec("contact:c1"), Active: true, Account: rec("account:contoso")},
		party.Entry{Address: sender, Record: rec("contact:c2"), Active: true, Account: rec("account:contoso")},
	)
	r := party.NewResolver(d, &party.Options{UnresolveAmbiguous: true})
	res, err := r.Resolve(context.Background(), &correlate.Message{From: addrs(sender)})
	require.NoError(t, err)
	assert.True(t, res.From.Ambiguous)
	assert.Empty(t, res.From.Records)
	assert.Equal(t, records("account:contoso"), res.From.Accounts, "both duplicates are at one account: that much is certain")
	assert.Equal(t, "From pat@contoso.example: unresolved, ambiguous: contact:c1, contact:c2 (account account:contoso)", res.From.String())
}

// failing is a Directory whose store is down.
type failing struct{ err error }

func (f failing) Lookup(ctx context.Context, key string, dst []party.Entry) ([]party.Entry, error) {
	return dst, f.err
}

// forgetful is a Directory that ignores dst, as a careless implementation
// might.
type forgetful struct{ d *party.MemDirectory }

func (f forgetful) Lookup(ctx context.Context, key string, dst []party.Entry) ([]party.Entry, error) {
	return f.d.Lookup(ctx, key, nil)
}

func TestResolveErrors(t *testing.T) {
	boom := errors.New("directory down")
	r := party.NewResolver(failing{boom}, nil)
	_, err := r.Resolve(context.Background(), &correlate.Message{From: addrs(sender)})
	require.ErrorIs(t, err, boom, "a failing directory is an error, wrapped")
	assert.Contains(t, err.Error(), `party: lookup "pat@contoso.example"`)

	_, err = r.Resolve(context.Background(), &correlate.Message{From: addrs("bad")})
	require.NoError(t, err, "a bad address is never looked up, so the failing directory is not reached")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = party.NewResolver(directory(t), nil).Resolve(ctx, &correlate.Message{From: addrs(sender)})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestResolveForgetfulDirectory(t *testing.T) {
	d := directory(t, ent("a@x.example", "contact:a", true), ent("b@x.example", "contact:b", true))
	r := party.NewResolver(forgetful{d}, nil)
	res, err := r.Resolve(context.Background(), &correlate.Message{From: addrs("a@x.example"), To: addrs("b@x.example")})
	require.NoError(t, err)
	assert.Equal(t, records("contact:a"), res.From.Records)
	assert.Equal(t, records("contact:b"), res.To[0].Records, "a Directory that ignores dst still resolves correctly")
}

func TestResolverNormalizer(t *testing.T) {
	dn := party.NewNormalizer(&party.NormalizeOptions{StripTags: true})
	d := party.NewMemDirectory(dn)
	require.NoError(t, d.Add(ent("anna@contoso.example", "contact:anna", true)))
	assert.Same(t, dn, party.NewResolver(d, nil).Normalizer(), "the directory's rules by default")

	res, err := party.NewResolver(d, nil).Resolve(context.Background(), &correlate.Message{From: addrs("anna+crm@contoso.example")})
	require.NoError(t, err)
	assert.Equal(t, records("contact:anna"), res.From.Records, "the tag is stripped by the directory's rules")

	other := party.NewNormalizer(nil)
	assert.Same(t, other, party.NewResolver(d, &party.Options{Normalizer: other}).Normalizer(), "an explicit Normalizer wins")
	assert.NotNil(t, party.NewResolver(failing{}, nil).Normalizer(), "a directory without rules gets the default")
}

func TestCreateSender(t *testing.T) {
	d := directory(t, ent("known@contoso.example", "contact:known", true), party.Entry{Address: "@contoso.example", Record: rec("account:contoso"), Active: true})
	var calls []party.Party
	hook := func(ctx context.Context, m *correlate.Message, p party.Party) (correlate.Record, error) {
		calls = append(calls, p)
		switch {
		case strings.HasPrefix(p.Address, "decline"):
			return correlate.Record{}, nil
		case strings.HasPrefix(p.Address, "fail"):
			return correlate.Record{}, errors.New("crm unavailable")
		}
		r := rec("contact:new-" + p.Address)
		return r, d.Add(party.Entry{Address: p.Address, Record: r, Active: true, Account: firstOr(p.Accounts)})
	}
	r := party.NewResolver(d, &party.Options{NewContact: hook})
	tests := []struct {
		name     string
		from     string
		created  bool
		wantErr  bool
		wantCall bool
		reason   string
	}{
		{"Unknown", "new@contoso.example", true, false, true, "an unresolved sender is offered to the hook, which creates a contact"},
		{"Known", "known@contoso.example", false, false, false, "a resolved sender needs no record"},
		{"Declined", "decline@contoso.example", false, false, true, "the hook may decline: the library never invents records"},
		{"HookError", "fail@contoso.example", false, true, true, "a failing hook is an error"},
		{"BadAddress", "not-an-address", false, false, false, "a bad address is never offered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			m := &correlate.Message{From: addrs(tt.from), To: addrs("x@y.example")}
			res, err := r.Resolve(context.Background(), m)
			require.NoError(t, err)
			created, err := r.CreateSender(context.Background(), m, &res)
			assert.Equal(t, tt.wantErr, err != nil, "%v: %s", err, tt.reason)
			assert.Equal(t, tt.created, created, tt.reason)
			assert.Equal(t, tt.wantCall, len(calls) == 1, tt.reason)
			assert.Equal(t, tt.created, res.From.Created)
			if tt.created {
				assert.Equal(t, records("contact:new-"+tt.from), res.From.Records)
				assert.Equal(t, records("account:contoso"), calls[0].Accounts, "the hook learns the account of the sender's domain")
				assert.Equal(t, []string{"x@y.example"}, res.Unresolved, "the sender is no longer unresolved")
				again, err := r.Resolve(context.Background(), m)
				require.NoError(t, err)
				assert.Equal(t, res.From.Records, again.From.Records, "the hook filed the contact, so the next email resolves")
			}
		})
	}
	res := party.Resolution{From: party.Party{Field: party.FieldFrom, Address: "a@b.example"}}
	created, err := party.NewResolver(d, nil).CreateSender(context.Background(), nil, &res)
	require.NoError(t, err)
	assert.False(t, created, "no hook, nothing created")
}

// TestCreateSenderEveryAuthor is issue 19's CreateSender sentence (issue 17
// #13): "From: a1, a2" offered only a1 and dropped a2 without a word.
func TestCreateSenderEveryAuthor(t *testing.T) {
	d := directory(t, ent("known@contoso.example", "contact:known", true))
	var offered []string
	hook := func(ctx context.Context, m *correlate.Message, p party.Party) (correlate.Record, error) {
		offered = append(offered, p.Address)
		if strings.HasPrefix(p.Address, "decline") {
			return correlate.Record{}, nil
		}
		return rec("contact:new-" + p.Address), nil
	}
	r := party.NewResolver(d, &party.Options{NewContact: hook})
	m := &correlate.Message{From: addrs("a1@contoso.example", "known@contoso.example", "decline@contoso.example", "a2@contoso.example")}
	res, err := r.Resolve(context.Background(), m)
	require.NoError(t, err)
	require.Len(t, res.OtherFrom, 3, "every From address after the first is a party")
	assert.Equal(t, []string{"a1@contoso.example", "decline@contoso.example", "a2@contoso.example"}, res.Unresolved)
	created, err := r.CreateSender(context.Background(), m, &res)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, []string{"a1@contoso.example", "decline@contoso.example", "a2@contoso.example"}, offered,
		"every unresolved author is offered, in order; the known one is not")
	assert.Equal(t, records("contact:new-a1@contoso.example"), res.From.Records)
	assert.True(t, res.OtherFrom[2].Created)
	assert.Equal(t, records("contact:new-a2@contoso.example"), res.OtherFrom[2].Records)
	assert.False(t, res.OtherFrom[1].Created, "the declined one stays unresolved")
	assert.Equal(t, []string{"decline@contoso.example"}, res.Unresolved)
}

func TestResolveEveryAuthor(t *testing.T) {
	d := directory(t,
		party.Entry{Address: "anna@contoso.example", Record: rec("contact:anna"), Active: true, Account: rec("account:contoso")},
		party.Entry{Address: "anna@contoso.example", Record: rec("lead:anna"), Active: true},
		party.Entry{Address: "@northwind.example", Record: rec("account:northwind"), Active: true},
	)
	r := party.NewResolver(d, nil)
	m := &correlate.Message{From: addrs("", "x@elsewhere.example", "ANNA@contoso.example", "bob@northwind.example"),
		Sender: correlate.Address{Address: "assistant@elsewhere.example"}, To: addrs("support@fabrikam.example")}
	res, err := r.Resolve(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, "x@elsewhere.example", res.From.Address, "the first From address is the sender")
	require.Len(t, res.OtherFrom, 2, "a2 is not dropped (issue 17 #13); the empty first address is skipped")
	assert.Equal(t, party.FieldFrom, res.OtherFrom[0].Field)
	assert.Equal(t, records("contact:anna"), res.OtherFrom[0].Records, "another author resolves by the From rules: one record, contact before lead")
	assert.Equal(t, records("account:northwind"), res.OtherFrom[1].Accounts, "and is placed at an account by domain")
	assert.True(t, res.OtherFrom[1].AccountByDomain)
	assert.Equal(t, records("contact:anna"), res.Records())
	assert.Equal(t, records("account:contoso", "account:northwind"), res.Accounts())
	assert.Equal(t, []string{"x@elsewhere.example", "bob@northwind.example", "support@fabrikam.example"}, res.Unresolved)
	assert.Len(t, res.Parties(), 4)
	assert.Contains(t, res.String(), "From anna@contoso.example: contact:anna")

	only := &correlate.Message{Sender: correlate.Address{Address: "assistant@elsewhere.example"}, From: addrs("")}
	res, err = r.Resolve(context.Background(), only)
	require.NoError(t, err)
	assert.Equal(t, "assistant@elsewhere.example", res.From.Address, "Sender stands in for an empty From")
	assert.Empty(t, res.OtherFrom)
}

func firstOr(rs []correlate.Record) correlate.Record {
	if len(rs) == 0 {
		return correlate.Record{}
	}
	return rs[0]
}

func TestResolutionJSON(t *testing.T) {
	d := directory(t, party.Entry{Address: "anna@contoso.example", Record: rec("contact:anna"), Active: true, Account: rec("account:contoso")})
	res, err := party.NewResolver(d, nil).Resolve(context.Background(), &correlate.Message{
		From: []correlate.Address{{Name: "Anna", Address: "anna@contoso.example"}},
		Cc:   addrs("bad", "who@else.example"),
	})
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"from": {"field": "From", "address": "anna@contoso.example", "name": "Anna", "records": ["contact:anna"], "accounts": ["account:contoso"]},
		"cc": [
			{"field": "Cc", "address": "bad", "error": "party: bad address \"bad\": no @"},
			{"field": "Cc", "address": "who@else.example"}
		],
		"unresolved": ["bad", "who@else.example"]
	}`, string(b))
}

// badBatch is a BatchDirectory that breaks its contract in one of several
// ways; the Resolver must still answer correctly, key by key.
type badBatch struct {
	d    *party.MemDirectory
	mode string
}

func (b badBatch) Lookup(ctx context.Context, key string, dst []party.Entry) ([]party.Entry, error) {
	return b.d.Lookup(ctx, key, dst)
}

func (b badBatch) LookupBatch(ctx context.Context, keys []string, dst []party.Entry, ends []int) ([]party.Entry, []int, error) {
	switch b.mode {
	case "fail":
		return dst, ends, errors.New("batch down")
	case "fresh": // ignores dst
		got, ends, err := b.d.LookupBatch(ctx, keys, nil, nil)
		return got, ends, err
	case "short": // too few ends
		got, ends, err := b.d.LookupBatch(ctx, keys, dst, ends)
		return got, ends[:len(ends)-1], err
	case "wild": // ends out of range
		got, ends, err := b.d.LookupBatch(ctx, keys, dst, ends)
		for i := range ends {
			ends[i] = 1 << 30
		}
		return got, ends, err
	}
	return b.d.LookupBatch(ctx, keys, dst, ends)
}

func TestResolveBatchDirectory(t *testing.T) {
	d := directory(t, ent("a@x.example", "contact:a", true), ent("b@x.example", "contact:b", true), ent("c@x.example", "lead:c", true))
	m := &correlate.Message{From: addrs("a@x.example"), To: addrs("b@x.example", "c@x.example"), Cc: addrs("a@x.example")}
	want, err := party.NewResolver(forgetful{d}, nil).Resolve(context.Background(), m)
	require.NoError(t, err)
	for _, mode := range []string{"ok", "fresh", "short", "wild"} {
		got, err := party.NewResolver(badBatch{d, mode}, nil).Resolve(context.Background(), m)
		require.NoError(t, err, mode)
		assert.Equal(t, want.String(), got.String(), "%s: a batch answers as single lookups do, or is replaced by them", mode)
	}
	_, err = party.NewResolver(badBatch{d, "fail"}, nil).Resolve(context.Background(), m)
	assert.ErrorContains(t, err, "batch down", "a failing batch is an error")
}

// TestResolveManyRecipients resolves a message with thousands of
// recipients, many repeated: the work stays linear and the answer matches
// a message with the distinct ones.
func TestResolveManyRecipients(t *testing.T) {
	d := party.NewMemDirectory(nil)
	for i := range 500 {
		require.NoError(t, d.Add(ent(fmt.Sprintf("known%d@x.example", i), fmt.Sprintf("contact:%d", i), true)))
	}
	var cc []correlate.Address
	for i := range 3000 {
		if i%2 == 0 {
			cc = append(cc, correlate.Address{Address: fmt.Sprintf("known%d@x.example", (i/2)%500)})
		} else {
			cc = append(cc, correlate.Address{Address: fmt.Sprintf("unknown%d@x.example", (i/2)%700)})
		}
	}
	res, err := party.NewResolver(d, nil).Resolve(context.Background(), &correlate.Message{From: addrs("known1@x.example"), Cc: cc})
	require.NoError(t, err)
	require.Len(t, res.Cc, 3000)
	assert.Len(t, res.Unresolved, 700, "each unknown address listed once")
	for i, p := range res.Cc {
		assert.Equal(t, i%2 == 0, p.Resolved(), p.Address)
	}
	assert.Len(t, res.Records(), 500)
}
