package folder_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
)

var fabrikam = correlate.Record{Type: "account", ID: "fabrikam"}

// TestOperations runs one scenario per rule of §6 that changes tracked email
// through the store.
func TestOperations(t *testing.T) {
	base := []folder.Mapping{
		mapping(anna, "F-contoso", "Inbox/Clients/Contoso", contoso),
		mapping(anna, "F-northwind", "Inbox/Clients/Northwind", northwind),
		mapping(anna, "F-misc", "Inbox/Misc", correlate.Record{}),
		mapping(ben, "B-orders", "Inbox/Orders", fabrikam),
	}
	inContoso := func(id string) *correlate.Message { return msg(id, anna, "F-contoso", "Inbox/Clients/Contoso") }
	tests := []struct {
		name   string
		reason string
		run    func(t *testing.T, e *env)
	}{
		{
			name:   "changing the record re-links every email in the folder",
			reason: "§6: changing a folder's regarding record re-links all email in it, old mail included",
			run: func(t *testing.T, e *env) {
				for _, id := range []string{"o1@x", "o2@x", "o3@x"} {
					e.file(t, inContoso(id))
				}
				e.file(t, msg("n1@x", anna, "F-northwind", "Inbox/Clients/Northwind"))
				e.file(t, msg("s1@x", anna, "F-sub", "Inbox/Clients/Contoso/2024")) // unmapped subfolder
				n, err := e.rules.SetRecord(t.Context(), e.store, anna, "F-contoso", fabrikam)
				require.NoError(t, err)
				assert.Equal(t, 3, n, "the three emails of the folder")
				for _, id := range []string{"o1@x", "o2@x", "o3@x"} {
					assert.Equal(t, fabrikam, e.record(t, id))
				}
				assert.Equal(t, northwind, e.record(t, "n1@x"), "other folders are untouched")
				d, _ := e.file(t, inContoso("o4@x"))
				assert.Equal(t, fabrikam, d.Match.Record, "new mail gets the new record")
			},
		},
		{
			name:   "setting a record on a track-only folder files its email",
			reason: "§6: the re-link covers all email in the folder, also email tracked without a record",
			run: func(t *testing.T, e *env) {
				e.file(t, msg("m1@x", anna, "F-misc", "Inbox/Misc"))
				require.Zero(t, e.record(t, "m1@x"))
				n, err := e.rules.SetRecord(t.Context(), e.store, anna, "F-misc", contoso)
				require.NoError(t, err)
				assert.Equal(t, 1, n)
				assert.Equal(t, contoso, e.record(t, "m1@x"))
			},
		},
		{
			name:   "removing the record keeps existing links",
			reason: "§6: removing a folder's regarding link: existing emails stay linked; new mail is not linked",
			run: func(t *testing.T, e *env) {
				e.file(t, inContoso("r1@x"))
				n, err := e.rules.SetRecord(t.Context(), e.store, anna, "F-contoso", correlate.Record{})
				require.NoError(t, err)
				assert.Zero(t, n)
				assert.Equal(t, contoso, e.record(t, "r1@x"))
				d, tr := e.file(t, inContoso("r2@x"))
				assert.False(t, d.Found(), "new mail is not linked")
				assert.True(t, d.Track(), "but still tracked: the folder is track-only now")
				assert.Zero(t, tr.Record)
			},
		},
		{
			name:   "removing the mapping keeps existing links",
			reason: "§6: removing a folder's tracking: existing emails stay tracked and linked; new mail is not tracked",
			run: func(t *testing.T, e *env) {
				e.file(t, inContoso("x1@x"))
				require.NoError(t, e.rules.Remove(anna, "F-contoso"))
				assert.Equal(t, contoso, e.record(t, "x1@x"))
				d, tr := e.file(t, inContoso("x2@x"))
				assert.False(t, d.Track(), "new mail in the folder is no longer tracked")
				assert.Zero(t, tr.ID)
			},
		},
		{
			name:   "moving an email to another mapped folder re-links it",
			reason: "§6: moving an email to a folder that has a regarding record re-links it to that record",
			run: func(t *testing.T, e *env) {
				m := inContoso("v1@x")
				e.file(t, m)
				m.FolderID, m.FolderPath = "F-northwind", "Inbox/Clients/Northwind"
				tr, err := e.rules.Move(t.Context(), e.engine, m)
				require.NoError(t, err)
				assert.Equal(t, northwind, tr.Record)
				assert.Equal(t, correlate.FolderTracking, tr.Method)
				assert.Equal(t, "F-northwind", tr.FolderID)

				// It now belongs to the new folder only.
				n, err := e.rules.SetRecord(t.Context(), e.store, anna, "F-contoso", fabrikam)
				require.NoError(t, err)
				assert.Zero(t, n, "the old folder's rule no longer touches it")
				assert.Equal(t, northwind, e.record(t, "v1@x"))
				n, err = e.rules.SetRecord(t.Context(), e.store, anna, "F-northwind", contoso)
				require.NoError(t, err)
				assert.Equal(t, 1, n, "the new folder's rule does")
			},
		},
		{
			name:   "moving an email to an unmapped folder keeps its record",
			reason: "§6: if the new folder has no regarding record, the email keeps the old one",
			run: func(t *testing.T, e *env) {
				m := inContoso("u1@x")
				e.file(t, m)
				m.FolderID, m.FolderPath = "F-personal", "Inbox/Personal"
				tr, err := e.rules.Move(t.Context(), e.engine, m)
				require.NoError(t, err)
				assert.Equal(t, contoso, tr.Record)
				n, err := e.rules.Apply(t.Context(), e.store, anna)
				require.NoError(t, err)
				assert.Zero(t, n, "Apply does not pull a moved email back into the old folder's record")
				_, err = e.rules.SetRecord(t.Context(), e.store, anna, "F-contoso", fabrikam)
				require.NoError(t, err)
				assert.Equal(t, contoso, e.record(t, "u1@x"), "nor does a change of the old folder's record")
			},
		},
		{
			name:   "moving an email to a track-only folder keeps its record",
			reason: "§6: a folder with no regarding record does not re-link; the email is tracked in it from now on",
			run: func(t *testing.T, e *env) {
				m := inContoso("t1@x")
				e.file(t, m)
				m.FolderID, m.FolderPath = "F-misc", "Inbox/Misc"
				tr, err := e.rules.Move(t.Context(), e.engine, m)
				require.NoError(t, err)
				assert.Equal(t, contoso, tr.Record)
				n, err := e.rules.SetRecord(t.Context(), e.store, anna, "F-misc", northwind)
				require.NoError(t, err)
				assert.Equal(t, 1, n, "it belongs to the track-only folder now")
			},
		},
		{
			name:   "dragging an untracked email into a mapped folder tracks it",
			reason: "§6: moving an email into a tracked folder is how a user tracks it",
			run: func(t *testing.T, e *env) {
				tr, err := e.rules.Move(t.Context(), e.engine, inContoso("d1@x"))
				require.NoError(t, err)
				assert.Equal(t, contoso, tr.Record)
				tr, err = e.rules.Move(t.Context(), e.engine, msg("d2@x", anna, "F-personal", "Inbox/Personal"))
				require.NoError(t, err)
				assert.Zero(t, tr, "an untracked email moved to an unmapped folder stays untracked")
			},
		},
		{
			name:   "another mailbox's copy does not move the email",
			reason: "§6: when two users file the same email, the first processed wins",
			run: func(t *testing.T, e *env) {
				e.file(t, inContoso("w1@x"))
				tr, err := e.rules.Move(t.Context(), e.engine, msg("w1@x", ben, "B-orders", "Inbox/Orders"))
				require.NoError(t, err)
				assert.Equal(t, contoso, tr.Record)
				assert.Equal(t, contoso, e.record(t, "w1@x"))
			},
		},
		{
			name:   "a manual relink is overwritten when the rules are applied",
			reason: "§6: a manual regarding change in a mapped folder is overwritten at the next sync (the folder rule takes precedence)",
			run: func(t *testing.T, e *env) {
				_, tr := e.file(t, inContoso("h1@x"))
				e.file(t, msg("h2@x", ben, "B-orders", "Inbox/Orders"))
				require.NoError(t, e.engine.Relink(t.Context(), tr.ID, northwind))
				d, _ := e.engine.Correlate(t.Context(), inContoso("h1@x"))
				assert.Equal(t, contoso, d.Match.Record, "the rule takes precedence in the decision")
				assert.Contains(t, evidence(d.Match, folder.FieldTracked)[0].Note, "the folder rule takes precedence")
				assert.Equal(t, northwind, e.record(t, "h1@x"), "until the rules are applied")

				n, err := e.rules.Apply(t.Context(), e.store, ben)
				require.NoError(t, err)
				assert.Zero(t, n, "Apply of another mailbox leaves Anna's email alone")
				n, err = e.rules.Apply(t.Context(), e.store, "")
				require.NoError(t, err)
				assert.Equal(t, 1, n)
				assert.Equal(t, contoso, e.record(t, "h1@x"))
			},
		},
		{
			name:   "a relink outside mapped folders survives Apply",
			reason: "§6 applies the rule to email in mapped folders only",
			run: func(t *testing.T, e *env) {
				_, tr := e.file(t, msg("k1@x", anna, "F-misc", "Inbox/Misc"))
				require.NoError(t, e.engine.Relink(t.Context(), tr.ID, northwind))
				n, err := e.rules.Apply(t.Context(), e.store, "")
				require.NoError(t, err)
				assert.Zero(t, n, "a track-only folder has no record to re-assert")
				assert.Equal(t, northwind, e.record(t, "k1@x"))
			},
		},
		{
			name:   "a folder moved outside Inbox stops tracking",
			reason: "§6: moving the folder itself outside Inbox disables the rule",
			run: func(t *testing.T, e *env) {
				e.file(t, inContoso("q1@x"))
				require.ErrorIs(t, e.rules.SetPath(anna, "F-contoso", "Archive/Contoso"), folder.ErrDisabled)
				d, _ := e.file(t, msg("q2@x", anna, "F-contoso", "Archive/Contoso"))
				assert.False(t, d.Track(), "new mail is not tracked")
				_, err := e.rules.SetRecord(t.Context(), e.store, anna, "F-contoso", northwind)
				require.ErrorIs(t, err, folder.ErrDisabled)
				_, err = e.rules.Apply(t.Context(), e.store, "")
				require.NoError(t, err)
				assert.Equal(t, contoso, e.record(t, "q1@x"), "existing links stay")
			},
		},
		{
			name:   "several folders map to one record",
			reason: "§6: several folders may map to the same record; each folder keeps its own email",
			run: func(t *testing.T, e *env) {
				require.NoError(t, e.rules.Add(mapping(anna, "F-contoso2", "Inbox/Contoso Archive", contoso)))
				e.file(t, inContoso("y1@x"))
				e.file(t, msg("y2@x", anna, "F-contoso2", "Inbox/Contoso Archive"))
				assert.Equal(t, contoso, e.record(t, "y2@x"))
				n, err := e.rules.SetRecord(t.Context(), e.store, anna, "F-contoso2", fabrikam)
				require.NoError(t, err)
				assert.Equal(t, 1, n)
				assert.Equal(t, contoso, e.record(t, "y1@x"), "the other folder keeps its email")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Log(tt.reason)
			tt.run(t, newEnv(t, false, base...))
		})
	}
}

func TestMoveErrors(t *testing.T) {
	e := newEnv(t, false, mapping(anna, "F1", "Inbox/A", contoso))
	_, err := e.rules.Move(t.Context(), e.engine, msg("", anna, "F1", "Inbox/A"))
	require.ErrorIs(t, err, correlate.ErrNoMessageID, "an email without Message-ID cannot be found")
	requireRuleError(t, err, correlate.ErrNoMessageID, anna, "Inbox/A", "the error names the folder")
	_, err = e.rules.Move(t.Context(), e.engine, nil)
	require.ErrorIs(t, err, correlate.ErrNoMessageID)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = e.rules.Move(ctx, e.engine, msg("z@x", anna, "F1", "Inbox/A"))
	require.ErrorIs(t, err, context.Canceled)
}

// brokenTrack is a Refiler whose Track fails after Untrack succeeded.
type brokenTrack struct {
	*correlate.Engine
	err error
}

func (b brokenTrack) Track(context.Context, *correlate.Message, correlate.Match) (correlate.Tracked, error) {
	return correlate.Tracked{}, b.err
}

func TestMoveRetrackFails(t *testing.T) {
	e := newEnv(t, false, mapping(anna, "F1", "Inbox/A", contoso), mapping(anna, "F2", "Inbox/B", northwind))
	m := msg("f@x", anna, "F1", "Inbox/A")
	e.file(t, m)
	m.FolderID, m.FolderPath = "F2", "Inbox/B"
	down := errors.New("disk full")
	_, err := e.rules.Move(t.Context(), brokenTrack{e.engine, down}, m)
	require.ErrorIs(t, err, down)
	assert.Contains(t, err.Error(), "was untracked but could not be tracked again", "the caller learns the email must be re-tracked")
	requireRuleError(t, err, down, anna, "Inbox/B", "the error names the target folder")
}

func TestMovePreservesLinks(t *testing.T) {
	e := newEnv(t, false, mapping(anna, "F1", "Inbox/A", contoso), mapping(anna, "F2", "Inbox/B", northwind))
	ctx := t.Context()
	parent, err := e.engine.Track(ctx, msg("p@x", anna, "", ""), correlate.Match{Record: contoso})
	require.NoError(t, err)
	m := msg("c@x", anna, "F1", "Inbox/A")
	_, err = e.engine.Track(ctx, m, correlate.Match{Record: contoso, Method: correlate.InReplyTo,
		CorrelatedWith: &parent, Parent: &parent})
	require.NoError(t, err)

	m.FolderID, m.FolderPath = "F2", "Inbox/B"
	tr, err := e.rules.Move(ctx, e.engine, m)
	require.NoError(t, err)
	assert.Equal(t, parent.ID, tr.CorrelatedWith, "the correlation links survive the re-filing")
	assert.Equal(t, parent.ID, tr.Parent)
	assert.Equal(t, m.Subject, tr.Subject)
	st, err := e.store.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), st.Emails, "re-filed, not duplicated")
}
