package smartmatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// day0 is the date of the first tracked email of the fixtures.
var day0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return day0.Add(time.Duration(n) * 24 * time.Hour) }

// email builds a message: id, subject, date, From, then To addresses.
// An address written "cc:x@y" goes to Cc, "mailbox:x@y" sets Mailbox.
func email(id, subj string, date time.Time, from string, to ...string) *correlate.Message {
	m := &correlate.Message{MessageID: id, Subject: subj, Date: date}
	if from != "" {
		m.From = []correlate.Address{{Address: from}}
	}
	for _, a := range to {
		switch {
		case strings.HasPrefix(a, "cc:"):
			m.Cc = append(m.Cc, correlate.Address{Address: a[3:]})
		case strings.HasPrefix(a, "mailbox:"):
			m.Mailbox = a[8:]
		default:
			m.To = append(m.To, correlate.Address{Address: a})
		}
	}
	return m
}

// tracked is an email filed under a record ("" for none) before the test.
type tracked struct {
	m   *correlate.Message
	rec string
}

// fixture is a memstore with a Correlator and an Engine around it.
type fixture struct {
	t   *testing.T
	st  *memstore.Store
	c   *smartmatch.Correlator
	eng *correlate.Engine
}

func newFixture(t *testing.T, opts *smartmatch.Options, emails ...tracked) *fixture {
	t.Helper()
	st := memstore.New()
	c := smartmatch.New(st, opts)
	f := &fixture{t: t, st: st, c: c,
		eng: correlate.NewEngine(st, &correlate.Chain{Correlators: []correlate.Correlator{c}}, nil)}
	for _, e := range emails {
		f.track(e.m, e.rec)
	}
	return f
}

func (f *fixture) track(m *correlate.Message, rec string) correlate.Tracked {
	f.t.Helper()
	r, err := correlate.ParseRecord(rec)
	require.NoError(f.t, err)
	got, err := f.eng.Track(context.Background(), m, correlate.Match{Record: r})
	require.NoError(f.t, err)
	return got
}

func (f *fixture) correlate(m *correlate.Message) correlate.Match {
	f.t.Helper()
	got, err := f.c.Correlate(context.Background(), m)
	require.NoError(f.t, err)
	return got
}

// evidence returns the notes of the Evidence of mt with the given field.
func evidence(mt correlate.Match, field string) []string {
	var out []string
	for _, e := range mt.Evidence {
		if e.Field == field {
			out = append(out, e.Value+": "+e.Note)
		}
	}
	return out
}
