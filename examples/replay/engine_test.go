package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// TestDirectoryReachesSenderPolicy is issue 22 §3: -directory set only the
// token strategy's policy, so the chain's default sender policy still
// refused a colleague the directory places at the customer's account.
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
		eng, err := buildEngine(memstore.New(), &config{}, resolver)
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
	assert.False(t, d.Found(), "without -directory another domain is another organization")
	d = decide(withDir, "eve@evil.example")
	assert.False(t, d.Found(), "a stranger stays refused with a directory")
	d = decide(nil, "carl@contoso.example")
	assert.Equal(t, caseRec, d.Match.Record, "a colleague at Anna's domain needs no directory")
}
