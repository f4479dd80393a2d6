package cli_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/party"
)

func TestDecodeLabels(t *testing.T) {
	cas := correlate.Record{Type: "incident", ID: "CAS-1"}
	tests := []struct {
		why   string
		in    string
		want  map[string]correlate.Record
		error string // "" for none
	}{
		{"ids are keyed as the parser keys Message-IDs: no angle brackets, the domain lower-cased",
			`{"message_id":"<A@X.EXAMPLE>","regarding":"incident:CAS-1"}`,
			map[string]correlate.Record{"A@x.example": cas}, ""},
		{`"" means about no record (a label saying the answer is none)`,
			`{"message_id":"b@x","regarding":""}`,
			map[string]correlate.Record{"b@x": {}}, ""},
		{"blank lines and spaces around a line are skipped",
			"\n  \n\t{\"message_id\":\"b@x\",\"regarding\":\"incident:CAS-1\"}  \r\n\n",
			map[string]correlate.Record{"b@x": cas}, ""},
		{"a later line for the same email replaces an earlier one",
			`{"message_id":"b@x","regarding":"lead:1"}` + "\n" + `{"message_id":"<b@x>","regarding":"incident:CAS-1"}`,
			map[string]correlate.Record{"b@x": cas}, ""},
		{"fields other than message_id and regarding are ignored (a ledger or a -labels-out file reads as labels)",
			`{"message_id":"b@x","regarding":"incident:CAS-1","method":"InReplyTo"}`,
			map[string]correlate.Record{"b@x": cas}, ""},
		{"a line that is no JSON object stops the reading; what came before is kept",
			`{"message_id":"b@x","regarding":"incident:CAS-1"}` + "\n{",
			map[string]correlate.Record{"b@x": cas}, "labels.jsonl:2: unexpected end of JSON input"},
		{"an email needs an id: a line without one could never match a message",
			`{"message_id":"  ","regarding":"incident:CAS-1"}`,
			map[string]correlate.Record{}, "labels.jsonl:1: empty message_id"},
		{"a record is type:id",
			"\n" + `{"message_id":"a@b","regarding":"nocolon"}`,
			map[string]correlate.Record{}, "labels.jsonl:2: "},
		{"a line longer than 1 MiB is refused, not read into memory whole",
			`{"message_id":"b@x","regarding":"incident:CAS-1"}` + "\n" + strings.Repeat("x", 1<<20+1),
			map[string]correlate.Record{"b@x": cas}, "labels.jsonl:2: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		got, err := cli.DecodeLabels(strings.NewReader(tt.in), "labels.jsonl")
		if tt.error == "" {
			assert.NoError(t, err, tt.why)
		} else {
			assert.ErrorContains(t, err, tt.error, tt.why)
		}
		assert.Equal(t, tt.want, got, tt.why)
	}
}

// FuzzDecodeLabels feeds arbitrary bytes to the labels reader: it never
// panics, it always returns a map, and no id it returns is empty.
func FuzzDecodeLabels(f *testing.F) {
	f.Add([]byte("{\"message_id\":\"<a@b>\",\"regarding\":\"incident:1\"}\n"))
	f.Add([]byte("{\"message_id\":\"x@y\",\"regarding\":\"\"}\n\n{"))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := cli.DecodeLabels(bytes.NewReader(data), "f")
		if got == nil {
			t.Fatalf("no map (error %v)", err)
		}
		for id := range got {
			if id == "" {
				t.Fatal("an empty Message-ID was accepted")
			}
		}
	})
}

func TestFilesOpen(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "seed.jsonl")
	require.NoError(t, os.WriteFile(disk, []byte(`{"message_id":"disk@x","regarding":"a:1"}`), 0o644))
	sample := fstest.MapFS{"seed.jsonl": {Data: []byte(`{"message_id":"sample@x","regarding":"a:2"}`)}}

	got, err := cli.Files{Sample: sample}.ReadLabels("sample:seed.jsonl")
	require.NoError(t, err)
	assert.Contains(t, got, "sample@x", "sample:NAME is a file of the sample")
	got, err = cli.Files{Sample: sample}.ReadLabels(disk)
	require.NoError(t, err)
	assert.Contains(t, got, "disk@x", "any other name is a file of the operating system")
	_, err = cli.Files{}.ReadLabels("sample:seed.jsonl")
	assert.ErrorIs(t, err, os.ErrNotExist, "without a sample, sample:NAME is an ordinary file name")
	_, err = cli.Files{}.ReadLabels(filepath.Join(dir, "missing.jsonl"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestReadFolders(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "folders.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"mappings":[{"mailbox":"a@fabrikam.example","folder_id":"Inbox/Contoso","folder_path":"Inbox/Contoso","record":"account:contoso"}]}`), 0o644))
	rules, err := cli.Files{}.ReadFolders(good)
	require.NoError(t, err)
	assert.Len(t, rules.Mappings("a@fabrikam.example"), 1)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"mapings":[]}`), 0o644))
	_, err = cli.Files{}.ReadFolders(bad)
	assert.ErrorContains(t, err, "mapings", "an unknown field is a typo, not something to ignore")
}

func TestReadDirectory(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "directory.jsonl")
	require.NoError(t, os.WriteFile(name, []byte(`{"address":"jane@contoso.example","record":"contact:jane","active":true}`+"\n"+
		"not json\n"), 0o644))
	d, err := cli.Files{}.ReadDirectory(name)
	require.NotNil(t, d, "a skipped line does not lose the others")
	var le *party.LoadError
	require.True(t, errors.As(err, &le), "%v", err)
	assert.Equal(t, 1, le.Skipped)
	entries, err := d.Lookup(t.Context(), "jane@contoso.example", nil)
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	d, err = cli.Files{}.ReadDirectory(filepath.Join(dir, "missing.jsonl"))
	assert.Nil(t, d)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
