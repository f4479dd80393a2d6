package token

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// A Sequencer hands out the values of named counters: 1, 2, 3 … with no
// value returned twice for the same name, however many goroutines or
// processes share it. Every [correlate.Store] is one (NextSequence).
type Sequencer interface {
	NextSequence(ctx context.Context, name string) (int64, error)
}

// A Generator issues tracking tokens from per-user counters kept in a
// Sequencer, so workers sharing a store never issue the same number. It is
// safe for concurrent use.
//
// The counter of user number u (Format.Base plus the user's ordinal) is the
// sequence named "token.user.u" (see [Generator.SequenceName]): to continue
// the numbering of a Dynamics organization, advance that sequence past the
// user's last counter before issuing tokens. Dynamics gives a queue the
// counter of its owner; do the same by passing the owner's ordinal.
type Generator struct {
	seq Sequencer
	f   Format
}

// NewGenerator returns a Generator of tokens of f drawing counters from seq.
// It fails when f is invalid (see [Format.Validate]) or seq is nil.
func NewGenerator(seq Sequencer, f Format) (*Generator, error) {
	if seq == nil {
		return nil, errors.New("token: nil Sequencer")
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &Generator{seq: seq, f: f}, nil
}

// Format returns the Format of the tokens g issues.
func (g *Generator) Format() Format { return g.f }

// SequenceName returns the name of the counter of the user with ordinal
// user (1 for the first user), or an error wrapping ErrUserRange when the
// user number does not fit the user digits.
func (g *Generator) SequenceName(user int64) (string, error) {
	num, err := g.f.userNumber(user)
	if err != nil {
		return "", err
	}
	return sequenceName(num), nil
}

func sequenceName(num int64) string { return "token.user." + strconv.FormatInt(num, 10) }

// Next issues the next token of the user with ordinal user (1 for the first
// user, whose number is Format.Base+1): the counter advances by one, and the
// token is built as [Format.Make] describes. With three counter digits and
// no Widen the 1000th token of a user repeats the first, exactly as in
// Dynamics; the Correlator resolves such duplicates, and Widen avoids them.
//
// The counter is not advanced when the user is out of range. Errors of the
// Sequencer are returned wrapped.
func (g *Generator) Next(ctx context.Context, user int64) (Token, error) {
	num, err := g.f.userNumber(user)
	if err != nil {
		return Token{}, err
	}
	seq, err := g.seq.NextSequence(ctx, sequenceName(num))
	if err != nil {
		return Token{}, fmt.Errorf("token: counter of user %d: %w", num, err)
	}
	return g.f.make(num, seq)
}
