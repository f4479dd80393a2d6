package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/ledger"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

func TestOpenStore(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"", "memory"} {
		st, closeStore, err := cli.OpenStore(ctx, u)
		require.NoError(t, err, "%q", u)
		assert.IsType(t, &memstore.Store{}, st, "%q is an empty store in memory", u)
		assert.NoError(t, closeStore())
	}

	db := filepath.Join(t.TempDir(), "ledger.db")
	st, closeStore, err := cli.OpenStore(ctx, "sqlite:"+db)
	require.NoError(t, err)
	assert.IsType(t, &sqlstore.Store{}, st, "sqlite:PATH is a SQLite file")
	require.NoError(t, closeStore())
	_, err = os.Stat(db)
	assert.NoError(t, err, "the file is created")

	for _, u := range []string{"mysql://crm:s3cret@db/mail", "ledger.db", "postgress://x"} {
		_, _, err := cli.OpenStore(ctx, u)
		require.Error(t, err, "%q names no store", u)
		assert.Contains(t, err.Error(), "want memory, sqlite:PATH or postgres://…", u)
		assert.NotContains(t, err.Error(), "s3cret", "the message never shows a password")
	}
}

func TestStoreName(t *testing.T) {
	for in, want := range map[string]string{
		"memory":           "memory",
		"sqlite:/tmp/x.db": "sqlite:/tmp/x.db",
		"postgres://u:secret@db:5432/crm?sslmode=disable":     "postgres://u:xxxxx@db:5432/crm?sslmode=disable",
		"postgres://u@db/crm?password=secret&sslmode=disable": "postgres://u@db/crm?password=xxxxx&sslmode=disable",
		"postgres://u@db/crm?PassWord=secret":                 "postgres://u@db/crm?PassWord=xxxxx",
		"postgres://%zz":                                      "(unparsable store URL)",
	} {
		got := cli.StoreName(in)
		assert.Equal(t, want, got, in)
		assert.NotContains(t, got, "secret", in)
	}
}

func TestExportLedger(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	eng, err := cli.NewEngine(st, cli.Chain{})
	require.NoError(t, err)
	for _, id := range []string{"b@x", "a@x"} {
		m := &correlate.Message{MessageID: id}
		_, err := eng.Track(ctx, m, correlate.Match{Record: correlate.Record{Type: "incident", ID: "1"}, Method: correlate.InReplyTo})
		require.NoError(t, err)
	}
	want := `{"message_id":"a@x","regarding":"incident:1","method":"InReplyTo"}` + "\n" +
		`{"message_id":"b@x","regarding":"incident:1","method":"InReplyTo"}` + "\n"

	var stdout bytes.Buffer
	n, err := cli.ExportLedger(ctx, st, "-", &stdout)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, want, stdout.String(), `"-" is standard output; lines sorted by message_id`)

	file := filepath.Join(t.TempDir(), "ledger.jsonl")
	stdout.Reset()
	_, err = cli.ExportLedger(ctx, st, file, &stdout)
	require.NoError(t, err)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, want, string(b))
	assert.Empty(t, stdout.String(), "a file name writes the file, not standard output")
	lines, err := ledger.Read(strings.NewReader(string(b)))
	require.NoError(t, err)
	assert.Len(t, lines, 2, "it reads back as a ledger")

	_, err = cli.ExportLedger(ctx, st, filepath.Join(t.TempDir(), "no", "such", "dir.jsonl"), &stdout)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
