package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/store"
)

func testStates(t *testing.T, s store.Store) {
	ctx := context.Background()
	v := []byte("cursor\x00\xff")
	apply(t, s, store.Batch{States: []store.State{
		{Name: "imap/b/2", Value: []byte("2")},
		{Name: "imap/a/1", Value: v},
		{Name: "imap/b/1", Value: []byte("1")},
		{Name: "imap/b/\xff", Value: []byte("high")},
		{Name: "imap/empty", Value: []byte{}},
		{Name: "pop/x", Value: []byte("p")},
		{Name: "a_1", Value: []byte("underscore")},
		{Name: "ab1", Value: []byte("b")},
		{Name: "a%", Value: []byte("percent")},
	}})
	v[0] = 'X' // the store keeps its own copy
	all, err := s.States(ctx, "imap/")
	require.NoError(t, err)
	var names []string
	for _, st := range all {
		names = append(names, st.Name)
	}
	assert.Equal(t, []string{"imap/a/1", "imap/b/1", "imap/b/2", "imap/b/\xff", "imap/empty"}, names, "a prefix's states, in byte order of names")
	assert.Equal(t, []byte("cursor\x00\xff"), all[0].Value, "values are bytes, NUL and invalid UTF-8 included")
	assert.NotNil(t, all[4].Value, "an empty value is a state, not a deletion")
	assert.Empty(t, all[4].Value)
	all[0].Value[0] = 'Y'
	assert.Equal(t, "cursor\x00\xff", states(t, s, "imap/a/")["imap/a/1"], "a caller may change what States returned")
	assert.Equal(t, map[string]string{"a_1": "underscore"}, states(t, s, "a_"), "_ in a prefix is a character, not a wildcard")
	assert.Equal(t, map[string]string{"a%": "percent"}, states(t, s, "a%"), "% in a prefix is a character, not a wildcard")
	assert.Equal(t, map[string]string{"imap/b/\xff": "high"}, states(t, s, "imap/b/\xff"), "a prefix ending in 0xff")
	assert.Len(t, states(t, s, ""), 9, "the empty prefix lists every state")
	assert.Empty(t, states(t, s, "nothing/"))

	apply(t, s, store.Batch{States: []store.State{
		{Name: "imap/b/1", Value: []byte("one")}, // replaced
		{Name: "imap/b/2"},                       // deleted
		{Name: "never/was"},                      // deleting nothing is no error
		{Name: "imap/c", Value: []byte("c1")},
		{Name: "imap/c", Value: []byte("c2")}, // the later write of a batch wins
	}})
	assert.Equal(t, map[string]string{"imap/b/1": "one", "imap/b/\xff": "high"}, states(t, s, "imap/b/"))
	assert.Equal(t, "c2", states(t, s, "imap/c")["imap/c"])
}

func testStateNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	longest := strings.Repeat("n", store.MaxNameLen)
	apply(t, s, store.Batch{States: []store.State{{Name: longest, Value: []byte("v")}}})
	assert.Equal(t, map[string]string{longest: "v"}, states(t, s, "nnn"), "a name of MaxNameLen bytes is stored")
	for _, name := range []string{"", longest + "n"} {
		_, err := s.Apply(ctx, store.Batch{States: []store.State{{Name: name, Value: []byte("v")}}})
		assert.Error(t, err, "a name of %d bytes is refused", len(name))
	}
}
