// Package cli is the command-line plumbing the runnable programs share
// (examples/replay, examples/sync, examples/server): the flags that mean the
// same in each, the files they read (seed and labels, folder rules, the
// address book), the store a -store URL names, the engine they build from
// their flags, where a message was read from, and their rows, as a table or
// JSON Lines.
//
// One piece of code serves them all so that they cannot drift apart: the
// replay, the sync and the HTTP service file the same mail under the same
// records because they build their engine with the same function
// ([NewEngine]) from the same settings.
//
// Its errors are written for the person at the command line: they name the
// file and line, or the value, at fault, and the command adds its own name
// and the flag ("replay: -seed: seed.jsonl:3: empty message_id").
package cli

import (
	"errors"
	"flag"
	"strings"
)

// ErrHelp is what [Parse] returns for -h or -help: the usage was printed,
// and the command exits 0.
var ErrHelp = errors.New("help requested")

// A UsageError is a command line the command cannot run: an unknown flag,
// an unusable value, a file a flag names that cannot be read.
type UsageError struct{ Msg string }

// Error returns the message.
func (e UsageError) Error() string { return e.Msg }

// Parse parses args with fs: [ErrHelp] for -h, a [UsageError] for a bad
// command line (fs has printed the usage to its output).
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ErrHelp
		}
		return UsageError{err.Error()}
	}
	return nil
}

// SplitList splits a comma-separated flag value ("a@x.example, @y.example"),
// without the spaces around its items and without empty items; nil when
// there is none.
func SplitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
