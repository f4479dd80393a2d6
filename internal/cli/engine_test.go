package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// TestDirectoryReachesSenderPolicy is issue 22 §3: the replay's -directory
// set only the token strategy's policy, so the chain's default sender
// policy still refused a colleague the directory places at the customer's
// account. Every command's engine is NewEngine's: the Resolver reaches the
// chain's sender policy.
func TestDirectoryReachesSenderPolicy(t *testing.T) {
	ctx := context.Background()
	dir := party.NewMemDirectory(nil)
	for _, e := range []party.Entry{
		{Address: "anna@contoso.example", Record: correlate.Record{Type: "contact", ID: "anna"}, Active: true, Account: correlate.Record{Type: "account", ID: "contoso"}},
		{Address: "bob@contoso-group.example", Record: correlate.Record{Type: "contact", ID: "bob"}, Active: true, Account: correlate.Record{Type: "account", ID: "contoso"}},
	} {
		require.NoError(t, dir.Add(e))
	}
	caseRec := correlate.Record{Type: "incident", ID: "CAS-1"}
	decide := func(resolver *party.Resolver, from string) correlate.Decision {
		eng, err := cli.NewEngine(memstore.New(), cli.Chain{Resolver: resolver})
		require.NoError(t, err)
		sent, err := correlate.ParseMessage(strings.NewReader("Message-ID: <s1@crm.fabrikam.example>\r\nFrom: support@fabrikam.example\r\n"+
			"To: anna@contoso.example\r\nSubject: Printer offline CRM:0001001\r\n\r\n"), nil)
		require.NoError(t, err)
		_, err = eng.Track(ctx, sent, correlate.Match{Record: caseRec})
		require.NoError(t, err)
		m, err := correlate.ParseMessage(strings.NewReader("Message-ID: <r1@x.example>\r\nFrom: "+from+"\r\n"+
			"To: support@fabrikam.example\r\nSubject: RE: Printer offline CRM:0001001\r\n\r\n"), nil)
		require.NoError(t, err)
		d, err := eng.Correlate(ctx, m)
		require.NoError(t, err)
		return d
	}
	withDir := party.NewResolver(dir, nil)

	d := decide(withDir, "bob@contoso-group.example")
	assert.Equal(t, caseRec, d.Match.Record, "the directory places Bob at Contoso, Anna's account: %s", d)
	assert.Contains(t, d.Match.Reason, "same account account:contoso as participant anna@contoso.example", "and the Decision says so")

	d = decide(nil, "bob@contoso-group.example")
	assert.False(t, d.Found(), "without an address book another domain is another organization")
	d = decide(withDir, "eve@evil.example")
	assert.False(t, d.Found(), "a stranger stays refused with a directory")
	d = decide(nil, "carl@contoso.example")
	assert.Equal(t, caseRec, d.Match.Record, "a colleague at Anna's domain needs no address book")
}

// TestNewEngineChain: the flags' settings choose the chain's stages, in
// precedence order, and whether every stage is consulted.
func TestNewEngineChain(t *testing.T) {
	tests := []struct {
		why   string
		chain cli.Chain
		want  string
		audit bool
	}{
		{"the zero Chain is the library's default: smart matching off, as in Dynamics",
			cli.Chain{}, "folder inreplyto token conversation", false},
		{"the commands' defaults add smart matching, improved, last, and consult every stage",
			cli.DefaultChain(), "folder inreplyto token conversation smart", true},
		{"the Email Router saw no folders and no reliable headers",
			cli.Chain{Preset: "emailrouter", Smart: "dynamics"}, "token smart", false},
		{"-strategies orders the stages itself",
			cli.Chain{Strategies: []mailcorrelate.Strategy{mailcorrelate.Token, mailcorrelate.Folder}}, "token folder", false},
	}
	for _, tt := range tests {
		eng, err := cli.NewEngine(memstore.New(), tt.chain)
		require.NoError(t, err, tt.why)
		var names []string
		for _, c := range eng.Chain().Correlators {
			names = append(names, fmt.Sprint(c))
		}
		assert.Equal(t, tt.want, strings.Join(names, " "), tt.why)
		assert.Equal(t, tt.audit, eng.Chain().Audit, tt.why)
	}
	_, err := cli.NewEngine(memstore.New(), cli.Chain{Strategies: []mailcorrelate.Strategy{"psychic"}})
	assert.Error(t, err, "an unknown strategy")
}

// TestNewEngineOwn: the mailbox's domain is the organization's own, so a
// reply that shares only the support address with a tracked email is no
// smart match; without a mailbox (or own addresses) that address counts.
func TestNewEngineOwn(t *testing.T) {
	ctx := context.Background()
	decide := func(c cli.Chain) correlate.Decision {
		eng, err := cli.NewEngine(memstore.New(), c)
		require.NoError(t, err)
		first, err := correlate.ParseMessage(strings.NewReader("Message-ID: <q1@contoso.example>\r\nFrom: jane@contoso.example\r\n"+
			"To: support@fabrikam.example\r\nSubject: Quarterly invoice 4711 for the Lisbon office\r\n\r\n"), nil)
		require.NoError(t, err)
		_, err = eng.Track(ctx, first, correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-1"}})
		require.NoError(t, err)
		m, err := correlate.ParseMessage(strings.NewReader("Message-ID: <x1@else.example>\r\nFrom: bob@else.example\r\n"+
			"To: support@fabrikam.example\r\nSubject: RE: Quarterly invoice 4711 for the Lisbon office\r\n\r\n"), nil)
		require.NoError(t, err)
		d, err := eng.Correlate(ctx, m)
		require.NoError(t, err)
		return d
	}
	c := cli.DefaultChain()
	assert.True(t, decide(c).Found(), "nobody's own: the shared support address is a participant")
	c.Mailbox = "support@fabrikam.example"
	assert.False(t, decide(c).Found(), "the mailbox's domain is the organization's own")
	c.Mailbox, c.Own = "", []string{"@fabrikam.example"}
	assert.False(t, decide(c).Found(), "so are the own addresses given")
}

func TestOwnAddresses(t *testing.T) {
	assert.Equal(t, []string{"@fabrikam.example"}, cli.OwnAddresses(nil, "support@fabrikam.example"), "the mailbox's domain")
	assert.Equal(t, []string{"a@x.example"}, cli.OwnAddresses([]string{"a@x.example"}, "support@fabrikam.example"), "own addresses given win")
	assert.Nil(t, cli.OwnAddresses(nil, ""), "neither")
	assert.Nil(t, cli.OwnAddresses(nil, "support"), "a mailbox that is no address has no domain")
}

func TestPlace(t *testing.T) {
	tests := []struct {
		why, folder, from string
		want              correlate.Direction
	}{
		{"mail in Inbox from a customer was received", "Inbox", "jane@contoso.example", correlate.Incoming},
		{"a Sent folder holds what the mailbox sent", "Inbox/Sent Items", "jane@contoso.example", correlate.Outgoing},
		{"by its last name, in any case, in the usual languages", "Gesendete Elemente", "x@y.example", correlate.Outgoing},
		{"a folder merely named like one is not enough", "Inbox/Sent Items Archive", "x@y.example", correlate.Incoming},
		{"mail the mailbox sent itself is outgoing wherever it lies", "Inbox", "Support@Fabrikam.example", correlate.Outgoing},
	}
	for _, tt := range tests {
		m := &correlate.Message{From: []correlate.Address{{Address: correlate.NormalizeAddress(tt.from)}}, Direction: correlate.Outgoing}
		cli.Place(m, "support@fabrikam.example", tt.folder)
		assert.Equal(t, tt.want, m.Direction, tt.why)
		assert.Equal(t, "support@fabrikam.example", m.Mailbox)
		assert.Equal(t, tt.folder, m.FolderPath)
		assert.Equal(t, tt.folder, m.FolderID, "a file has no server id: the path is the id")
	}
}
