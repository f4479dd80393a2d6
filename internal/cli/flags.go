package cli

import (
	"flag"
	"fmt"
	"slices"

	"github.com/mailcorrelate/mailcorrelate/party"
)

// Flags are the flags that mean the same, with the same defaults, in the
// replay and the sync: the seed, the folder rules, the store, the output
// format, the incoming-email filter and the chain (-preset, -smart). Each
// command defines its other flags itself, -mailbox, -q, -sent and -export
// included: their names are shared but not their defaults or meaning (the
// replay's -mailbox defaults to the sample's, the sync's to the URL's
// user; the replay's -q still names the messages it could not read; the
// replay reads Sent unless -sent=false, the sync only with -sent; the
// replay's -export takes no PATH, the sync's no mailbox).
type Flags struct {
	Seed    string // -seed FILE: emails already filed, by Message-ID
	Folders string // -folders FILE: folder rules
	Store   string // -store URL (see OpenStore)
	Format  string // -format: "table" or "jsonl"
	Filter  string // -filter: the incoming-email filter, "" for the default
	Smart   string // -smart: "off", "dynamics" or "improved"
	Preset  string // -preset: "serversidesync" or "emailrouter"
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Seed, "seed", "", "JSON Lines {\"message_id\", \"regarding\"}: emails already filed in the CRM (by hand, or sent from it), filed under that record when met")
	fs.StringVar(&f.Folders, "folders", "", "folder rules in the folder package's JSON form (rules of the mailbox, or without a mailbox)")
	fs.StringVar(&f.Store, "store", "memory", "memory, sqlite:PATH or postgres://…: where tracked emails and the sync state live")
	fs.StringVar(&f.Format, "format", "table", "table or jsonl")
	fs.StringVar(&f.Filter, "filter", "", "incoming email filter: all, responses (default), crm, email-enabled, none")
	fs.StringVar(&f.Smart, "smart", "improved", "smart matching: off, dynamics or improved")
	fs.StringVar(&f.Preset, "preset", "serversidesync", "serversidesync (all strategies) or emailrouter (token and smart matching only)")
}

// Check validates the values of -format, -smart, -preset and -filter: a
// [UsageError] names the first that is unusable.
func (f *Flags) Check() error {
	switch f.Format {
	case "table", "jsonl":
	default:
		return UsageError{fmt.Sprintf("-format %q: want table or jsonl", f.Format)}
	}
	if !slices.Contains(smartModes, f.Smart) {
		return UsageError{fmt.Sprintf("-smart %q: want off, dynamics or improved", f.Smart)}
	}
	if !slices.Contains(presets, f.Preset) {
		return UsageError{fmt.Sprintf("-preset %q: want serversidesync or emailrouter", f.Preset)}
	}
	if _, err := f.ParseFilter(); err != nil {
		return UsageError{fmt.Sprintf("-filter: %v", err)}
	}
	return nil
}

// ParseFilter returns the filter -filter names, the default
// (party.ResponsesToTrackedEmail) when it names none.
func (f *Flags) ParseFilter() (party.Filter, error) {
	if f.Filter == "" {
		return party.ResponsesToTrackedEmail, nil
	}
	return party.ParseFilter(f.Filter)
}

var (
	smartModes = []string{"off", "dynamics", "improved"}
	presets    = []string{"serversidesync", "emailrouter"}
)

// DefaultChain is the chain of the commands' defaults: the ServerSideSync
// preset, smart matching improved, every strategy consulted (audit).
func DefaultChain() Chain {
	return Chain{Preset: "serversidesync", Smart: "improved", Audit: true}
}

// Chain returns [DefaultChain] with the preset and smart matching of the
// flags (checked by [Flags.Check]).
func (f *Flags) Chain() Chain {
	c := DefaultChain()
	c.Preset, c.Smart = f.Preset, f.Smart
	return c
}
