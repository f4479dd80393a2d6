package party_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
)

func rec(s string) correlate.Record {
	r, err := correlate.ParseRecord(s)
	if err != nil {
		panic(err)
	}
	return r
}

func lookup(t *testing.T, d party.Directory, key string) []party.Entry {
	t.Helper()
	es, err := d.Lookup(context.Background(), key, nil)
	require.NoError(t, err)
	return es
}

func TestMemDirectory(t *testing.T) {
	d := party.NewMemDirectory(nil)
	require.NoError(t, d.Add(party.Entry{Address: "Anna <Anna@Contoso.Example>", Record: rec("contact:c-1"), Active: true, Account: rec("account:contoso")}))
	require.NoError(t, d.Add(party.Entry{Address: "anna@contoso.example", Record: rec("lead:l-7"), Active: false}))
	require.NoError(t, d.Add(party.Entry{Address: "@Contoso.Example", Record: rec("account:contoso"), Active: true}))
	assert.Equal(t, 3, d.Len())

	got := lookup(t, d, "anna@contoso.example")
	assert.Equal(t, []party.Entry{
		{Address: "anna@contoso.example", Record: rec("contact:c-1"), Active: true, Account: rec("account:contoso")},
		{Address: "anna@contoso.example", Record: rec("lead:l-7"), Active: false},
	}, got, "entries come back normalized, in the order they were added, inactive ones included")
	assert.Len(t, lookup(t, d, "@contoso.example"), 1, "a domain entry is filed under @domain")
	assert.Empty(t, lookup(t, d, "Anna@Contoso.Example"), "Lookup takes normalized keys; it does not normalize")
	assert.Empty(t, lookup(t, d, "bob@contoso.example"))

	// Re-adding the same address and record updates it in place.
	require.NoError(t, d.Add(party.Entry{Address: "anna@contoso.example", Record: rec("lead:l-7"), Active: true, Owner: rec("systemuser:u-1")}))
	got = lookup(t, d, "anna@contoso.example")
	require.Len(t, got, 2, "no duplicate entry")
	assert.True(t, got[1].Active)
	assert.Equal(t, rec("systemuser:u-1"), got[1].Owner)
	assert.Equal(t, 3, d.Len())

	// dst is appended to.
	pre := []party.Entry{{Address: "x"}}
	es, err := d.Lookup(context.Background(), "anna@contoso.example", pre)
	require.NoError(t, err)
	assert.Len(t, es, 3)
	assert.Equal(t, "x", es[0].Address)

	// Remove.
	assert.True(t, d.Remove("ANNA@contoso.example", rec("contact:c-1")), "Remove normalizes")
	assert.False(t, d.Remove("anna@contoso.example", rec("contact:c-1")), "already removed")
	assert.Equal(t, []party.Entry{{Address: "anna@contoso.example", Record: rec("lead:l-7"), Active: true, Owner: rec("systemuser:u-1")}},
		lookup(t, d, "anna@contoso.example"))
	assert.True(t, d.Remove("anna@contoso.example", rec("lead:l-7")))
	assert.Empty(t, lookup(t, d, "anna@contoso.example"))
	assert.False(t, d.Remove("bad address", rec("lead:l-7")))
	assert.Equal(t, 1, d.Len())
	require.NoError(t, d.Add(party.Entry{Address: "anna@contoso.example", Record: rec("contact:c-2"), Active: true}))
	assert.Len(t, lookup(t, d, "anna@contoso.example"), 1, "an address can be filed again after removal")
}

func TestMemDirectoryRemoveMiddle(t *testing.T) {
	d := party.NewMemDirectory(nil)
	for _, r := range []string{"contact:1", "contact:2", "contact:3"} {
		require.NoError(t, d.Add(party.Entry{Address: "a@x.example", Record: rec(r), Active: true}))
	}
	require.True(t, d.Remove("a@x.example", rec("contact:2")))
	es := lookup(t, d, "a@x.example")
	require.Len(t, es, 2)
	assert.Equal(t, rec("contact:1"), es[0].Record)
	assert.Equal(t, rec("contact:3"), es[1].Record, "the chain skips the removed middle entry")
	require.True(t, d.Remove("a@x.example", rec("contact:1")))
	assert.Equal(t, rec("contact:3"), lookup(t, d, "a@x.example")[0].Record, "removing the head moves the key to the next entry")
}

func TestMemDirectoryRevive(t *testing.T) {
	d := party.NewMemDirectory(nil)
	require.NoError(t, d.Add(ent("a@x.example", "contact:1", true)))
	require.True(t, d.Remove("a@x.example", rec("contact:1")))
	assert.Zero(t, d.Len())
	require.NoError(t, d.Add(ent("a@x.example", "contact:1", false)))
	assert.Equal(t, 1, d.Len(), "re-adding a removed entry counts it again")
	assert.Equal(t, []party.Entry{{Address: "a@x.example", Record: rec("contact:1"), Active: false}}, lookup(t, d, "a@x.example"))
}

// TestMemDirectoryGrowth fills the directory past several table growths
// and checks every address still finds its own records.
func TestMemDirectoryGrowth(t *testing.T) {
	d := party.NewMemDirectory(nil)
	const n = 5000
	for i := range n {
		require.NoError(t, d.Add(ent(fmt.Sprintf("u%d@x%d.example", i, i%7), fmt.Sprintf("contact:%d", i), true)))
		if i%3 == 0 {
			require.NoError(t, d.Add(ent(fmt.Sprintf("u%d@x%d.example", i, i%7), fmt.Sprintf("lead:%d", i), i%2 == 0)))
		}
	}
	for i := range n {
		es := lookup(t, d, fmt.Sprintf("u%d@x%d.example", i, i%7))
		want := 1
		if i%3 == 0 {
			want = 2
		}
		require.Len(t, es, want, "u%d", i)
		assert.Equal(t, rec(fmt.Sprintf("contact:%d", i)), es[0].Record)
	}
	assert.Equal(t, n+(n+2)/3, d.Len())
	assert.Empty(t, lookup(t, d, "u5000@x2.example"))
}

func TestMemDirectoryAddErrors(t *testing.T) {
	d := party.NewMemDirectory(nil)
	tests := []struct {
		name   string
		e      party.Entry
		bad    bool
		reason string
	}{
		{"BadAddress", party.Entry{Address: "not an address", Record: rec("contact:1")}, true, "the address cannot be normalized"},
		{"BadDomain", party.Entry{Address: "@", Record: rec("account:1")}, true, "a domain entry without a domain"},
		{"ZeroRecord", party.Entry{Address: "a@x.example"}, false, "an entry must name a record"},
		{"NoID", party.Entry{Address: "a@x.example", Record: correlate.Record{Type: "contact"}}, false, "a record needs an id"},
		{"LongID", party.Entry{Address: "a@x.example", Record: correlate.Record{Type: "contact", ID: strings.Repeat("9", party.MaxRecordID+1)}}, false, "ids are bounded so the compact storage can hold them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Add(tt.e)
			require.Error(t, err, tt.reason)
			assert.Equal(t, tt.bad, errors.Is(err, party.ErrBadAddress), tt.reason)
		})
	}
	assert.Zero(t, d.Len())
}

func TestMemDirectoryNormalizer(t *testing.T) {
	n := party.NewNormalizer(&party.NormalizeOptions{StripTags: true})
	d := party.NewMemDirectory(n)
	require.NoError(t, d.Add(party.Entry{Address: "anna+crm@contoso.example", Record: rec("contact:1"), Active: true}))
	assert.Len(t, lookup(t, d, "anna@contoso.example"), 1, "the directory's rules strip the tag on Add")
	assert.Same(t, n, d.Normalizer())
}

func TestMemDirectoryConcurrent(t *testing.T) {
	d := party.NewMemDirectory(nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 200 {
				assert.NoError(t, d.Add(party.Entry{Address: fmt.Sprintf("u%d@x.example", i), Record: rec(fmt.Sprintf("contact:%d-%d", w, i)), Active: true}))
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 200 {
				_, err := d.Lookup(context.Background(), fmt.Sprintf("u%d@x.example", i), nil)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 800, d.Len())
	assert.Len(t, lookup(t, d, "u7@x.example"), 4)
}

func TestLoadDirectory(t *testing.T) {
	const file = `# sample directory
{"address": "anna@contoso.example", "record": "contact:c-1", "active": true, "account": "account:contoso"}
{"address": "Support@Fabrikam.example", "record": "queue:support"}

{"address": "old@contoso.example", "record": "contact:c-9", "active": false, "owner": "systemuser:u-1", "name": "ignored"}
{"address": "@contoso.example", "record": "account:contoso"}
not json
{"address": "no-at", "record": "contact:c-2"}
{"address": "x@y.example"}
{"address": "x@y.example", "record": "nocolon"}
{"address": "x@y.example", "record": "contact:c-3", "account": ":bad"}
{"address": "x@y.example", "record": "contact:c-3", "owner": "bad owner"}
{"address": "last@contoso.example", "record": "lead:l-1"}`
	d, err := party.LoadDirectory(strings.NewReader(file))
	require.NotNil(t, d, "the directory is returned even with skipped lines")
	var le *party.LoadError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 6, le.Skipped, "the six broken lines are skipped")
	require.Len(t, le.Lines, 6)
	assert.True(t, strings.HasPrefix(le.Lines[0], "line 7: not a JSON object"), le.Lines[0])
	assert.Contains(t, le.Lines[1], "line 8:")
	assert.Contains(t, le.Lines[1], "bad address")
	assert.Equal(t, "line 9: no record", le.Lines[2])
	assert.Contains(t, le.Lines[3], "line 10: record:")
	assert.Contains(t, le.Lines[4], "line 11: account:")
	assert.Contains(t, le.Lines[5], "line 12: owner:")
	assert.Contains(t, err.Error(), "party: directory: 6 lines skipped: line 7")

	assert.Equal(t, 5, d.Len())
	assert.Equal(t, []party.Entry{{Address: "support@fabrikam.example", Record: rec("queue:support"), Active: true}},
		lookup(t, d, "support@fabrikam.example"), "active defaults to true; the address is normalized")
	assert.Equal(t, []party.Entry{{Address: "old@contoso.example", Record: rec("contact:c-9"), Active: false, Owner: rec("systemuser:u-1")}},
		lookup(t, d, "old@contoso.example"), "active false and owner are read; unknown fields ignored")
	assert.Len(t, lookup(t, d, "last@contoso.example"), 1, "a last line without newline is read")
	assert.Len(t, lookup(t, d, "@contoso.example"), 1)
}

func TestLoadDirectoryClean(t *testing.T) {
	d, err := party.LoadDirectory(strings.NewReader("{\"address\":\"a@x.example\",\"record\":\"contact:1\"}\r\n\r\n"))
	require.NoError(t, err, "CRLF line ends and blank lines are fine")
	assert.Equal(t, 1, d.Len())

	d, err = party.LoadDirectory(strings.NewReader(""))
	require.NoError(t, err, "an empty file is an empty directory")
	assert.Zero(t, d.Len())
}

func TestLoadDirectoryLongLine(t *testing.T) {
	long := `{"address": "a@x.example", "record": "contact:1", "pad": "` + strings.Repeat("x", 100<<10) + `"}`
	file := long + "\n" + `{"address": "b@x.example", "record": "contact:2"}` + "\n" + long
	d, err := party.LoadDirectory(strings.NewReader(file))
	var le *party.LoadError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 2, le.Skipped, "lines over 64 KiB are skipped, including the last one")
	assert.Contains(t, le.Lines[0], "line 1: longer than")
	assert.Contains(t, le.Lines[1], "line 3: longer than")
	assert.Equal(t, 1, d.Len(), "the line after a long one is still read")
}

func TestLoadDirectoryManyErrors(t *testing.T) {
	file := strings.Repeat("junk\n", 25)
	_, err := party.LoadDirectory(strings.NewReader(file))
	var le *party.LoadError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 25, le.Skipped)
	assert.Len(t, le.Lines, 10, "only the first ten problems are kept")
	assert.True(t, strings.HasSuffix(err.Error(), "; …"))
}

func TestLoadDirectoryReadError(t *testing.T) {
	r := iotest.TimeoutReader(strings.NewReader(`{"address": "a@x.example", "record": "contact:1"}` + "\n"))
	d, err := party.LoadDirectory(r)
	require.ErrorIs(t, err, iotest.ErrTimeout, "TimeoutReader fails the second read, after the whole first line")
	assert.Equal(t, 1, d.Len(), "what was read before the error is kept")

	boom := errors.New("disk on fire")
	d, err = party.LoadDirectory(iotest.ErrReader(boom))
	require.ErrorIs(t, err, boom, "a read error is returned wrapped")
	assert.Zero(t, d.Len())
}

func TestEntryCustomerAccount(t *testing.T) {
	assert.Equal(t, rec("account:a"), party.Entry{Record: rec("contact:c"), Account: rec("account:a")}.CustomerAccount(), "a contact's parent account")
	assert.Equal(t, rec("account:a"), party.Entry{Record: rec("account:a")}.CustomerAccount(), "an account is its own customer account")
	assert.True(t, party.Entry{Record: rec("systemuser:u")}.CustomerAccount().IsZero(), "a user belongs to no customer account")
}

// TestLookupBatch checks that a batch lookup answers exactly as the single
// lookups do, key after key, with the right ends.
func TestLookupBatch(t *testing.T) {
	d := directory(t,
		ent("a@x.example", "contact:a", true), ent("a@x.example", "lead:a", false),
		ent("b@x.example", "contact:b", true), party.Entry{Address: "@x.example", Record: rec("account:x"), Active: true},
	)
	ctx := context.Background()
	for _, keys := range [][]string{
		nil,
		{"a@x.example"},
		{"nobody@x.example", "a@x.example", "@x.example", "a@x.example", "b@x.example"},
		func() []string { // more than one internal group of 16
			var ks []string
			for i := range 40 {
				ks = append(ks, []string{"a@x.example", "b@x.example", "c@x.example"}[i%3])
			}
			return ks
		}(),
	} {
		pre := []party.Entry{{Address: "keep"}}
		got, ends, err := d.LookupBatch(ctx, keys, pre, nil)
		require.NoError(t, err)
		require.Len(t, ends, len(keys))
		assert.Equal(t, "keep", got[0].Address, "dst is appended to")
		prev := 1
		for i, k := range keys {
			want := lookup(t, d, k)
			assert.Equal(t, want, nilIfEmpty(got[prev:ends[i]]), "key %d %q", i, k)
			prev = ends[i]
		}
		assert.Equal(t, len(got), prev)
	}
	empty := party.NewMemDirectory(nil)
	got, ends, err := empty.LookupBatch(ctx, []string{"a@x.example"}, nil, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, []int{0}, ends, "an empty directory answers every key with nothing")
}

func nilIfEmpty(es []party.Entry) []party.Entry {
	if len(es) == 0 {
		return nil
	}
	return es
}
