package party_test

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/party"
)

var corpusFolders = []string{correlatetest.Ham, correlatetest.Notmuch, correlatetest.USRP}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// corpus caches the parsed corpora for the test binary: parsing them
// takes seconds under -race, and every corpus test reads them.
var corpus struct {
	once sync.Once
	msgs []*correlate.Message
}

// corpusMessages returns every message of the shared corpora, skipping the
// test when they are absent (a user's clone has none).
func corpusMessages(t testing.TB) []*correlate.Message {
	t.Helper()
	for _, d := range corpusFolders {
		correlatetest.Path(t, d)
	}
	corpus.once.Do(func() {
		for _, mail := range correlatetest.Messages(t, nil, corpusFolders...) {
			if mail.Msg != nil {
				corpus.msgs = append(corpus.msgs, mail.Msg)
			}
		}
	})
	return corpus.msgs
}

// corpusAddresses returns every address written in the corpora's From,
// Sender, Reply-To, To, Cc and Bcc fields, as written, once each.
func corpusAddresses(t testing.TB) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range corpusMessages(t) {
		for _, list := range [][]correlate.Address{m.From, {m.Sender}, m.ReplyTo, m.To, m.Cc, m.Bcc} {
			for _, a := range list {
				if a.Address != "" && !seen[a.Address] {
					seen[a.Address] = true
					out = append(out, a.Address)
				}
			}
		}
	}
	return out
}

// TestNormalizeCorpora normalizes every address of the real mail: no
// panic, every result a fixed point, and counts of what the optional rules
// merge. The oracle is idempotence and agreement with correlate's own
// lower-casing for plain ASCII addresses.
func TestNormalizeCorpora(t *testing.T) {
	all := corpusAddresses(t)
	require.NotEmpty(t, all)
	tagged := party.NewNormalizer(&party.NormalizeOptions{StripTags: true, Providers: party.DefaultProviders()})
	keys, taggedKeys := map[string]bool{}, map[string]bool{}
	reasons := map[string]int{}
	bad, nonASCII := 0, 0
	for _, a := range all {
		k, err := party.Normalize(a)
		if err != nil {
			require.ErrorIs(t, err, party.ErrBadAddress)
			var ae *party.AddressError
			require.ErrorAs(t, err, &ae)
			reason := ae.Reason
			if i := strings.IndexAny(reason, `"'`); i > 0 {
				reason = strings.TrimSpace(reason[:i])
			}
			reasons[reason]++
			bad++
			t.Logf("bad: %q: %v", a, err)
			continue
		}
		again, err := party.Normalize(k)
		require.NoError(t, err, a)
		assert.Equal(t, k, again, "idempotent: %q", a)
		if isPlainASCII(a) {
			assert.Equal(t, correlate.NormalizeAddress(a), k, "plain ASCII addresses normalize as correlate.NormalizeAddress does: %q", a)
		} else {
			nonASCII++
		}
		keys[k] = true
		if tk, err := tagged.Normalize(a); err == nil {
			taggedKeys[tk] = true
		}
	}
	var rs []string
	for r, n := range reasons {
		rs = append(rs, r+": "+strconv.Itoa(n))
	}
	sort.Strings(rs)
	t.Logf("addresses as written %d, bad %d %v, not plain ASCII %d; keys %d (default rules), %d (tags stripped + Gmail rules)",
		len(all), bad, rs, nonASCII, len(keys), len(taggedKeys))
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == '"' || c == '<' || c == '[' || c == ' ' || c == '\t' {
			return false
		}
	}
	return strings.Count(s, "@") == 1 && !strings.HasSuffix(s, ".")
}

// TestResolveCorpora builds a directory of every sender of the real mail
// (one contact per sender key, one account and domain entry per sender
// domain) and resolves every message against it. Oracle: every sender with
// a valid address resolves to its own contact; every recipient resolves
// exactly when it is also a sender somewhere, and is placed at an account
// by domain exactly when it is unknown at a known domain; no message fails.
func TestResolveCorpora(t *testing.T) {
	msgs := corpusMessages(t)
	require.NotEmpty(t, msgs)
	d := party.NewMemDirectory(nil)
	contact := map[string]correlate.Record{}
	domains := map[string]bool{}
	for _, m := range msgs {
		a := m.SenderAddress()
		k, err := party.Normalize(a)
		if err != nil {
			continue
		}
		if _, ok := contact[k]; ok {
			continue
		}
		r := correlate.Record{Type: party.TypeContact, ID: "c" + strconv.Itoa(len(contact)+1)}
		contact[k] = r
		dom := k[strings.LastIndexByte(k, '@')+1:]
		acc := correlate.Record{Type: party.TypeAccount, ID: dom}
		require.NoError(t, d.Add(party.Entry{Address: k, Record: r, Active: true, Account: acc}))
		if !domains[dom] {
			domains[dom] = true
			require.NoError(t, d.Add(party.Entry{Address: "@" + dom, Record: acc, Active: true}))
		}
	}
	resolver := party.NewResolver(d, nil)
	ctx := context.Background()
	var senders, sendersResolved, rcpts, rcptsResolved, rcptsByDomain, badAddrs int
	for _, m := range msgs {
		res, err := resolver.Resolve(ctx, m)
		require.NoError(t, err)
		if res.From.Address != "" && res.From.Err == nil {
			senders++
			want, ok := contact[res.From.Address]
			require.True(t, ok, "%s is in the directory", res.From.Address)
			if assert.Equal(t, []correlate.Record{want}, res.From.Records, "sender %s", res.From.Address) {
				sendersResolved++
			}
		}
		for _, list := range [][]party.Party{res.To, res.Cc, res.Bcc} {
			for _, p := range list {
				if p.Err != nil {
					badAddrs++
					continue
				}
				rcpts++
				_, known := contact[p.Address]
				assert.Equal(t, known, p.Resolved(), "recipient %s resolves exactly when it is a known sender", p.Address)
				if p.Resolved() {
					rcptsResolved++
				}
				dom := p.Address[strings.LastIndexByte(p.Address, '@')+1:]
				assert.Equal(t, !known && domains[dom], p.AccountByDomain, "recipient %s is placed by domain exactly when unknown at a known domain", p.Address)
				if p.AccountByDomain {
					rcptsByDomain++
				}
			}
		}
		if res.From.Err != nil {
			badAddrs++
		}
	}
	t.Logf("messages %d, directory %d entries (%d contacts); senders %d resolved %d (recall %.3f); recipients %d resolved %d, unresolved but placed at an account by domain %d; bad addresses %d",
		len(msgs), d.Len(), len(contact), senders, sendersResolved, float64(sendersResolved)/float64(max(senders, 1)), rcpts, rcptsResolved, rcptsByDomain, badAddrs)
	assert.Equal(t, senders, sendersResolved)
}

// TestCorpusFiltersAgree runs every filter over the real mail with the
// directory above and checks the filters' relations, which must hold for
// any email: All ⊇ FromEmailEnabledRecords ⊇ FromCRMRecords, None tracks
// nothing, and with no correlation ResponsesToTrackedEmail tracks nothing.
func TestCorpusFiltersAgree(t *testing.T) {
	msgs := corpusMessages(t)
	d := party.NewMemDirectory(nil)
	for i, m := range msgs {
		if i%2 == 0 { // half the senders are known: both outcomes occur
			if k, err := party.Normalize(m.SenderAddress()); err == nil {
				typ := party.TypeContact
				if i%6 == 0 {
					typ = party.TypeSystemUser
				}
				_ = d.Add(party.Entry{Address: k, Record: correlate.Record{Type: typ, ID: strconv.Itoa(i)}, Active: true})
			}
		}
	}
	r := party.NewResolver(d, nil)
	counts := map[party.Filter]int{}
	for _, m := range msgs {
		res, err := r.Resolve(context.Background(), m)
		require.NoError(t, err)
		v := map[party.Filter]bool{}
		for _, f := range []party.Filter{party.All, party.ResponsesToTrackedEmail, party.FromCRMRecords, party.FromEmailEnabledRecords, party.None} {
			v[f] = f.Accept(m, correlate.Decision{}, res).Track
			if v[f] {
				counts[f]++
			}
		}
		assert.True(t, v[party.All])
		assert.False(t, v[party.None])
		assert.False(t, v[party.ResponsesToTrackedEmail], "nothing correlated")
		if v[party.FromCRMRecords] {
			assert.True(t, v[party.FromEmailEnabledRecords], "a CRM record is email-enabled")
		}
	}
	t.Logf("messages %d tracked by filter: All %d, FromEmailEnabledRecords %d, FromCRMRecords %d, ResponsesToTrackedEmail %d, None %d",
		len(msgs), counts[party.All], counts[party.FromEmailEnabledRecords], counts[party.FromCRMRecords], counts[party.ResponsesToTrackedEmail], counts[party.None])
	assert.Greater(t, counts[party.FromEmailEnabledRecords], counts[party.FromCRMRecords], "users are email-enabled but not CRM records")
	assert.Less(t, counts[party.FromEmailEnabledRecords], counts[party.All], "unknown senders exist")
}
