package folder_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// env is a store, an engine whose chain holds the folder correlator, and
// the rules.
type env struct {
	store  *memstore.Store
	fc     *folder.Correlator
	engine *correlate.Engine
	rules  *folder.Rules
}

func newEnv(t testing.TB, audit bool, mappings ...folder.Mapping) *env {
	t.Helper()
	s := memstore.New()
	fc := folder.New(s, nil)
	for _, mp := range mappings {
		require.NoError(t, fc.Rules().Add(mp))
	}
	chain := &correlate.Chain{Audit: audit, Correlators: []correlate.Correlator{fc}}
	return &env{store: s, fc: fc, engine: correlate.NewEngine(s, chain, nil), rules: fc.Rules()}
}

var day0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

// msg builds a message with a Message-ID, in a mailbox folder.
func msg(id, mailbox, folderID, path string) *correlate.Message {
	n := len(id)
	return &correlate.Message{
		MessageID:  correlate.NormalizeMessageID(id),
		Subject:    "Order " + id,
		From:       []correlate.Address{{Address: "dan@contoso.example"}},
		To:         []correlate.Address{{Address: mailbox}},
		Date:       day0.Add(time.Duration(n) * time.Minute),
		Mailbox:    mailbox,
		FolderID:   folderID,
		FolderPath: path,
	}
}

// file runs the chain on m and tracks it when the decision says so, as a
// synchronization loop does.
func (e *env) file(t testing.TB, m *correlate.Message) (correlate.Decision, correlate.Tracked) {
	t.Helper()
	d, err := e.engine.Correlate(context.Background(), m)
	require.NoError(t, err)
	if !d.Track() {
		return d, correlate.Tracked{}
	}
	tr, err := e.engine.Track(context.Background(), m, d.Match)
	require.NoError(t, err)
	return d, tr
}

func (e *env) record(t testing.TB, id string) correlate.Record {
	t.Helper()
	tr, err := e.engine.Lookup(context.Background(), id)
	require.NoError(t, err)
	return tr.Record
}

func evidence(m correlate.Match, field string) []correlate.Evidence {
	var out []correlate.Evidence
	for _, ev := range m.Evidence {
		if ev.Field == field {
			out = append(out, ev)
		}
	}
	return out
}

func TestCorrelate(t *testing.T) {
	rules := []folder.Mapping{
		mapping(anna, "F-contoso", "Inbox/Clients/Contoso", contoso),
		mapping(anna, "F-clients", "Inbox/Clients", correlate.Record{}),
		mapping(anna, "F-old", "Archive/Old", northwind),
	}
	rules[2].Disabled = true
	tests := []struct {
		name      string
		m         *correlate.Message
		want      correlate.Record
		track     bool
		evidence  string // a substring of some Evidence note; "" for none
		strategy  bool   // whether the step carries the strategy name (Found, Track or Evidence)
		reason    string
		tracked   *correlate.Message // tracked before m, with its record
		trackedAs correlate.Record
	}{
		{name: "mapped with record", m: msg("a1@x", anna, "F-contoso", "Inbox/Clients/Contoso"),
			want: contoso, track: true, evidence: "mapped to account:contoso", strategy: true,
			reason: "§6: an email in a folder mapped to a record gets that record"},
		{name: "track only", m: msg("a2@x", anna, "F-clients", "Inbox/Clients"),
			track: true, evidence: "tracked without a record", strategy: true,
			reason: "§6: a folder mapped to no record only tracks; later strategies choose the record"},
		{name: "unmapped subfolder", m: msg("a3@x", anna, "F-clients-sub", "Inbox/Clients/Northwind"),
			reason: "§6: subfolders are not tracked unless mapped themselves, even inside a tracked folder"},
		{name: "inbox mail", m: msg("a4@x", anna, "F-inbox", "Inbox"),
			reason: "§0: mail directly in Inbox is left to the other strategies"},
		{name: "no folder data", m: msg("a5@x", anna, "", ""),
			reason: "Email Router deployments have no folder data: no opinion"},
		{name: "other mailbox same id", m: msg("a6@x", ben, "F-contoso", "Inbox/Clients/Contoso"),
			reason: "rules belong to one mailbox; Ben has not mapped this folder"},
		{name: "mailbox case", m: msg("a7@x", "ANNA@fabrikam.example", "F-contoso", "Inbox/Clients/Contoso"),
			want: contoso, track: true, evidence: "mapped to", strategy: true,
			reason: "mailboxes compare as addresses: case-insensitively"},
		{name: "renamed", m: msg("a8@x", anna, "F-contoso", "Inbox/Customers/Contoso Ltd"),
			want: contoso, track: true, evidence: "follows the folder id", strategy: true,
			reason: "§6: renaming keeps the rule, because the folder id is used, not the name"},
		{name: "moved outside inbox", m: msg("a9@x", anna, "F-contoso", "Archive/Contoso"),
			evidence: "rule disabled", strategy: true,
			reason: "§6: moving the folder outside Inbox disables the rule, even before SetPath is told"},
		{name: "disabled rule", m: msg("a10@x", anna, "F-old", "Archive/Old"),
			evidence: "rule disabled", strategy: true,
			reason: "§6: a folder moved outside Inbox is no longer tracked"},
		{name: "hostile path", m: msg("a11@x", anna, "F-contoso", "Inbox/\x00\u202e"),
			want: contoso, track: true, evidence: "message's folder path ignored", strategy: true,
			reason: "a malformed path given with the message cannot override the folder id; noted, not an error"},
		{name: "no message id", m: msg("", anna, "F-contoso", "Inbox/Clients/Contoso"),
			want: contoso, track: true, evidence: "mapped to", strategy: true,
			reason: "the rule needs no Message-ID; only the tracked check is skipped"},
		{name: "already tracked same record", m: msg("b1@x", anna, "F-contoso", "Inbox/Clients/Contoso"),
			tracked: msg("b1@x", anna, "F-contoso", "Inbox/Clients/Contoso"), trackedAs: contoso,
			want: contoso, track: true, evidence: "already tracked as email", strategy: true,
			reason: "a second sync of the same email gives the same answer, noted"},
		{name: "manual relink", m: msg("b2@x", anna, "F-contoso", "Inbox/Clients/Contoso"),
			tracked: msg("b2@x", anna, "F-contoso", "Inbox/Clients/Contoso"), trackedAs: northwind,
			want: contoso, track: true, evidence: "the folder rule takes precedence", strategy: true,
			reason: "§6: a manual regarding change in a mapped folder is overwritten: the tracked folder rule takes precedence"},
		{name: "moved in from another folder", m: msg("b3@x", anna, "F-contoso", "Inbox/Clients/Contoso"),
			tracked: msg("b3@x", anna, "F-inbox", "Inbox"), trackedAs: northwind,
			want: contoso, track: true, evidence: "was moved here from", strategy: true,
			reason: "§6: moving an email to a folder with a record re-links it"},
		{name: "first processed wins", m: msg("b4@x", anna, "F-contoso", "Inbox/Clients/Contoso"),
			tracked: msg("b4@x", ben, "B-orders", "Inbox/Orders"), trackedAs: northwind,
			want: northwind, track: true, evidence: "lost", strategy: true,
			reason: "§6: two users put the same email in folders with different records: the first processed wins"},
		{name: "tracked elsewhere without record", m: msg("b5@x", anna, "F-contoso", "Inbox/Clients/Contoso"),
			tracked: msg("b5@x", ben, "B-news", "Inbox/News"), trackedAs: correlate.Record{},
			want: contoso, track: true, evidence: "without a record", strategy: true,
			reason: "no record competes: the rule names one"},
		{name: "track only already tracked", m: msg("b6@x", anna, "F-clients", "Inbox/Clients"),
			tracked: msg("b6@x", ben, "B-orders", "Inbox/Orders"), trackedAs: northwind,
			track: true, evidence: "already tracked as email", strategy: true,
			reason: "a track-only rule names no record, so nothing conflicts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, false, rules...)
			if tt.tracked != nil {
				_, err := e.engine.Track(t.Context(), tt.tracked, correlate.Match{Record: tt.trackedAs})
				require.NoError(t, err)
			}
			got, err := e.fc.Correlate(t.Context(), tt.m)
			require.NoError(t, err, tt.reason)
			assert.Equal(t, tt.want, got.Record, "Correlate(%s) = %v: %s", tt.name, got, tt.reason)
			d, err := e.engine.Correlate(t.Context(), tt.m)
			require.NoError(t, err)
			assert.Equal(t, tt.track, d.Track(), "Decision.Track: %s", tt.reason)
			if tt.want.IsZero() {
				assert.Zero(t, got.Confidence, tt.reason)
			} else {
				assert.Equal(t, correlate.Certain, got.Confidence, tt.reason)
				assert.Equal(t, correlate.FolderTracking, got.Method, tt.reason)
			}
			if tt.track {
				assert.Equal(t, correlate.FolderTracking, got.Method)
			}
			if tt.evidence == "" {
				assert.Empty(t, got.Evidence, tt.reason)
				assert.Zero(t, got.Reason, tt.reason)
			} else {
				var notes []string
				for _, ev := range got.Evidence {
					notes = append(notes, ev.String())
				}
				assert.Contains(t, strings.Join(notes, "\n"), tt.evidence, tt.reason)
			}
			require.Len(t, d.Steps, 1)
			assert.Equal(t, "folder", d.Steps[0].Strategy)
			if tt.strategy {
				assert.Equal(t, "folder", d.Steps[0].Match.Strategy, "the chain names the strategy")
			}
		})
	}
}

func TestCorrelateEvidenceShared(t *testing.T) {
	e := newEnv(t, false, mapping(anna, "F1", "Inbox/A", contoso))
	a, err := e.fc.Correlate(t.Context(), msg("s1@x", anna, "F1", "Inbox/A"))
	require.NoError(t, err)
	b, err := e.fc.Correlate(t.Context(), msg("s2@x", anna, "F1", "Inbox/A"))
	require.NoError(t, err)
	a.Evidence = append(a.Evidence, correlate.Evidence{Field: "x"})
	assert.Len(t, b.Evidence, 1, "appending to one Match's Evidence never shows in another's")
	assert.Equal(t, folder.FieldFolder, b.Evidence[0].Field)
}

func TestCorrelateConflict(t *testing.T) {
	e := newEnv(t, true,
		mapping(anna, "A1", "Inbox/Contoso", contoso),
		mapping(ben, "B1", "Inbox/Orders", northwind))
	first, tr := e.file(t, msg("c1@x", anna, "A1", "Inbox/Contoso"))
	require.Equal(t, contoso, first.Match.Record)
	require.Equal(t, contoso, tr.Record)

	d, tr2 := e.file(t, msg("c1@x", ben, "B1", "Inbox/Orders"))
	assert.Equal(t, contoso, d.Match.Record, "§6: the first processed wins")
	assert.Equal(t, tr.ID, tr2.ID, "the email is tracked once")
	assert.Equal(t, contoso, e.record(t, "c1@x"))
	conf := evidence(d.Match, folder.FieldConflict)
	require.Len(t, conf, 1, "the other rule is reported as a conflict")
	assert.Equal(t, northwind.String(), conf[0].Value)
	assert.Contains(t, conf[0].Note, ben)
	assert.Contains(t, conf[0].Note, `"Inbox/Orders"`)
	assert.Contains(t, d.String(), "first processed wins", "people read it in the Decision too")

	// Ben's rule does not re-link Anna's email: it is not in Ben's folder index.
	n, err := e.rules.Apply(t.Context(), e.store, "")
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, contoso, e.record(t, "c1@x"), "Apply keeps the first processed record")
}

// failing is a Lookuper and Relinker whose store is down.
type failing struct{ err error }

func (f failing) Lookup(context.Context, correlate.Key, correlate.Query) ([]correlate.Tracked, error) {
	return nil, f.err
}

func (f failing) RelinkKey(context.Context, correlate.Key, correlate.Record) (int, error) {
	return 0, f.err
}

func TestCorrelateErrors(t *testing.T) {
	down := errors.New("connection refused")
	var r folder.Rules
	require.NoError(t, r.Add(mapping(anna, "F1", "Inbox/A", contoso)))

	c := folder.New(failing{down}, &folder.Options{Rules: &r})
	_, err := c.Correlate(t.Context(), msg("e1@x", anna, "F1", "Inbox/A"))
	require.ErrorIs(t, err, down, "a failing store is an error, never a guess")
	assert.Equal(t, `folder: lookup "e1@x": connection refused`, err.Error())

	got, err := c.Correlate(t.Context(), msg("e1@x", anna, "F9", "Inbox/B"))
	require.NoError(t, err, "unmapped folders never reach the store")
	assert.Zero(t, got.Record)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = folder.New(memstore.New(), &folder.Options{Rules: &r}).Correlate(ctx, msg("e1@x", anna, "F1", "Inbox/A"))
	require.ErrorIs(t, err, context.Canceled)

	skip := folder.New(failing{down}, &folder.Options{Rules: &r, SkipTrackedCheck: true})
	got, err = skip.Correlate(t.Context(), msg("e1@x", anna, "F1", "Inbox/A"))
	require.NoError(t, err, "SkipTrackedCheck does not read the store")
	assert.Equal(t, contoso, got.Record)

	got, err = c.Correlate(t.Context(), nil)
	require.NoError(t, err, "a nil message is no opinion")
	assert.Zero(t, got)

	n, err := r.SetRecord(t.Context(), failing{down}, anna, "F1", northwind)
	require.ErrorIs(t, err, down)
	assert.Zero(t, n)
	requireRuleError(t, err, down, anna, "Inbox/A", "store failures name the folder")
	mp, _ := r.Mapping(anna, "F1")
	assert.Equal(t, northwind, mp.Record, "the rule changed; Apply finishes the job")

	_, err = r.Apply(t.Context(), failing{down}, "")
	requireRuleError(t, err, down, anna, "Inbox/A", "store failures name the folder")
}

func TestIndex(t *testing.T) {
	var r folder.Rules
	require.NoError(t, r.Add(mapping(anna, "F1", "Inbox/A", contoso)))
	require.NoError(t, r.Add(mapping(anna, "F2", "Inbox/B", correlate.Record{})))
	require.NoError(t, r.Add(folder.Mapping{Mailbox: anna, FolderID: "F3", FolderPath: "Archive/C", Disabled: true}))
	c := folder.New(nil, &folder.Options{Rules: &r})
	tests := []struct {
		name   string
		m      *correlate.Message
		want   []correlate.Key
		reason string
	}{
		{"mapped", msg("i1@x", "Anna@Fabrikam.example", "F1", "Inbox/A"),
			[]correlate.Key{{Kind: "folder", Value: anna + "\x00F1"}},
			"an email tracked in a mapped folder is indexed by mailbox and folder id"},
		{"track only", msg("i2@x", anna, "F2", ""), []correlate.Key{folder.Key(anna, "F2")},
			"track-only folders are indexed too: a record set later re-links their email"},
		{"unmapped", msg("i3@x", anna, "F9", "Inbox/Z"), nil, "only mapped folders are indexed"},
		{"disabled", msg("i4@x", anna, "F3", "Archive/C"), nil, "a disabled rule tracks nothing"},
		{"moved outside", msg("i5@x", anna, "F1", "Deleted Items/A"), nil,
			"the message says the folder is outside Inbox now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Index(tt.m, &correlate.Tracked{}, nil)
			assert.Equal(t, tt.want, got, tt.reason)
		})
	}
}

// TestChainPrecedence checks the folder stage in a chain with a later strategy:
// a record rule wins before it, a track-only rule lets it decide.
func TestChainPrecedence(t *testing.T) {
	s := memstore.New()
	fc := folder.New(s, nil)
	require.NoError(t, fc.Rules().Add(mapping(anna, "F1", "Inbox/Contoso", contoso)))
	require.NoError(t, fc.Rules().Add(mapping(anna, "F2", "Inbox/Misc", correlate.Record{})))
	later := correlate.Named("token", correlate.Func(func(context.Context, *correlate.Message) (correlate.Match, error) {
		return correlate.Match{Record: northwind, Method: correlate.TrackingToken, Confidence: correlate.High}, nil
	}))
	chain := &correlate.Chain{Audit: true, Correlators: []correlate.Correlator{fc, later}}

	d, err := chain.Decide(t.Context(), msg("p1@x", anna, "F1", "Inbox/Contoso"))
	require.NoError(t, err)
	assert.Equal(t, contoso, d.Match.Record, "stage 0: the folder rule overrides every correlation method")
	require.Len(t, d.Conflicts, 1, "the token's other record is a conflict in audit mode")

	d, err = chain.Decide(t.Context(), msg("p2@x", anna, "F2", "Inbox/Misc"))
	require.NoError(t, err)
	assert.Equal(t, northwind, d.Match.Record, "a track-only folder lets the chain choose the record")
	assert.True(t, d.Track())
}
