package cli_test

import (
	"bytes"
	"errors"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// parse registers Flags on a fresh flag set and parses args.
func parse(t *testing.T, args ...string) (*cli.Flags, error) {
	t.Helper()
	var f cli.Flags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	f.Register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return &f, err
	}
	return &f, f.Check()
}

func TestFlagsDefaults(t *testing.T) {
	f, err := parse(t)
	require.NoError(t, err)
	assert.Equal(t, cli.Flags{Store: "memory", Format: "table", Smart: "improved", Preset: "serversidesync"}, *f,
		"the defaults the README documents for both commands")
	assert.Equal(t, cli.DefaultChain(), f.Chain(), "the default flags give the default chain")
	filter, err := f.ParseFilter()
	require.NoError(t, err)
	assert.Equal(t, party.ResponsesToTrackedEmail, filter, "no -filter is Dynamics' default")
}

func TestFlagsCheck(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" for a usable command line
	}{
		{[]string{"-format", "jsonl", "-smart", "off", "-preset", "emailrouter", "-filter", "email-enabled"}, ""},
		{[]string{"-filter", "All"}, ""}, // the filter's names are read as Dynamics writes them too
		{[]string{"-format", "xml"}, `-format "xml": want table or jsonl`},
		{[]string{"-smart", "on"}, `-smart "on": want off, dynamics or improved`},
		{[]string{"-smart", ""}, `-smart "": want off, dynamics or improved`}, // empty is no mode, not the default
		{[]string{"-preset", "exchange"}, `-preset "exchange": want serversidesync or emailrouter`},
		{[]string{"-filter", "some"}, "-filter: "},
		{[]string{"-nosuchflag"}, "flag provided but not defined: -nosuchflag"},
	}
	for _, tt := range tests {
		_, err := parse(t, tt.args...)
		if tt.want == "" {
			assert.NoError(t, err, "%v", tt.args)
			continue
		}
		var ue cli.UsageError
		require.True(t, errors.As(err, &ue), "%v: %v is a usage error (exit status 1)", tt.args, err)
		assert.Contains(t, err.Error(), tt.want, "%v", tt.args)
	}
	_, err := parse(t, "-h")
	assert.Equal(t, cli.ErrHelp, err, "-h prints the usage and is no error")
}

func TestFlagsChain(t *testing.T) {
	f, err := parse(t, "-smart", "dynamics", "-preset", "emailrouter")
	require.NoError(t, err)
	c := f.Chain()
	assert.Equal(t, "dynamics", c.Smart)
	assert.Equal(t, "emailrouter", c.Preset)
	assert.Equal(t, []mailcorrelate.Stage{mailcorrelate.Token, mailcorrelate.Smart}, c.Stages(), "the Email Router's stages, smart matching last")
	assert.True(t, c.Audit, "the commands consult every strategy")
}

func TestSplitList(t *testing.T) {
	assert.Equal(t, []string{"a@x.example", "@y.example"}, cli.SplitList(" a@x.example, ,@y.example ,"), "spaces and empty items dropped")
	assert.Nil(t, cli.SplitList(""))
}
