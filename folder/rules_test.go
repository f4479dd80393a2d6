package folder_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
)

const (
	anna = "anna@fabrikam.example"
	ben  = "ben@fabrikam.example"
)

var (
	contoso   = correlate.Record{Type: "account", ID: "contoso"}
	northwind = correlate.Record{Type: "account", ID: "northwind"}
)

func mapping(mailbox, id, path string, rec correlate.Record) folder.Mapping {
	return folder.Mapping{Mailbox: mailbox, FolderID: id, FolderPath: path, Record: rec}
}

// requireRuleError checks that err is an *Error wrapping want whose message
// names the mailbox and the folder.
func requireRuleError(t *testing.T, err, want error, mailbox, folderText string, reason string) {
	t.Helper()
	require.Error(t, err, reason)
	assert.ErrorIs(t, err, want, reason)
	var fe *folder.Error
	require.True(t, errors.As(err, &fe), "errors.As(%v, *folder.Error)", err)
	assert.Equal(t, correlate.NormalizeAddress(mailbox), fe.Mailbox)
	assert.Contains(t, err.Error(), fmt.Sprintf("%q", correlate.NormalizeAddress(mailbox)), "the message names the mailbox")
	assert.Contains(t, err.Error(), fmt.Sprintf("%q", folderText), "the message names the folder")
	assert.True(t, strings.HasPrefix(err.Error(), "folder: "), "package prefix: %q", err)
}

func TestRulesAdd(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *folder.Config
		queues  []string
		before  []folder.Mapping
		add     folder.Mapping
		want    error // nil means accepted
		reason  string
		inspect func(t *testing.T, r *folder.Rules)
	}{
		{name: "under inbox", add: mapping(anna, "F1", "Inbox/Clients/Contoso", contoso),
			reason: "§6: folders under Inbox can be tracked"},
		{name: "track only", add: mapping(anna, "F1", "Inbox/Newsletters", correlate.Record{}),
			reason: "§6: a folder can be mapped to no record; its email is only tracked",
			inspect: func(t *testing.T, r *folder.Rules) {
				mp, ok := r.Mapping(anna, "F1")
				require.True(t, ok)
				assert.True(t, mp.TrackOnly())
			}},
		{name: "outside inbox", add: mapping(anna, "F1", "Sent Items/Contoso", contoso), want: folder.ErrOutsideInbox,
			reason: "§6: only folders under Inbox; other folder emails cannot be tracked"},
		{name: "inbox itself", add: mapping(anna, "F0", "Inbox", contoso), want: folder.ErrOutsideInbox,
			reason: "§0: mail directly in Inbox is tracked by the incoming filter, not by a folder rule"},
		{name: "localized inbox", cfg: &folder.Config{InboxNames: []string{"Posteingang"}},
			add:    mapping(anna, "F1", "posteingang/Kunden/Contoso", contoso),
			reason: "the caller names the localized Inbox; case does not matter"},
		{name: "maildir dots", add: mapping(anna, "INBOX.Clients", "INBOX.Clients", contoso),
			reason: "IMAP servers with '.' as delimiter (Courier, Cyrus, Maildir++) name subfolders INBOX.x"},
		{name: "malformed path", add: mapping(anna, "F1", "Inbox/../Sent Items", contoso), want: folder.ErrBadPath,
			reason: "'..' cannot be a folder name and would climb out of Inbox"},
		{name: "empty path", add: mapping(anna, "F1", "", contoso), want: folder.ErrBadPath,
			reason: "a rule needs the path to check that the folder is under Inbox"},
		{name: "queue mailbox", queues: []string{"support@fabrikam.example"},
			add: mapping("Support@Fabrikam.example", "Q1", "Inbox/Escalations", contoso), want: folder.ErrQueue,
			reason: "§6: not supported for queue mailboxes; mailboxes compare case-insensitively"},
		{name: "25 per mailbox", before: folders(anna, 25), add: mapping(anna, "F26", "Inbox/F26", contoso),
			want:   folder.ErrTooMany,
			reason: "§6: max 25 tracked folders per user (maxfolderbasedtrackingmappings MaxValue 25)"},
		{name: "25 is per mailbox", before: folders(anna, 25), add: mapping(ben, "F26", "Inbox/F26", contoso),
			reason: "the limit counts one mailbox's folders; Ben has none yet"},
		{name: "configured limit", cfg: &folder.Config{MaxPerMailbox: 3}, before: folders(anna, 3),
			add: mapping(anna, "F4", "Inbox/F4", contoso), want: folder.ErrTooMany,
			reason: "the org setting lowers the limit (1–25)"},
		{name: "duplicate id", before: []folder.Mapping{mapping(anna, "F1", "Inbox/A", contoso)},
			add: mapping("ANNA@fabrikam.example", "F1", "Inbox/B", northwind), want: folder.ErrExists,
			reason: "one rule per folder; SetRecord and SetPath change it"},
		{name: "same path other id", before: []folder.Mapping{mapping(anna, "F1", "Inbox/A", contoso)},
			add:    mapping(anna, "F2", "Inbox/A", northwind),
			reason: "folders are identified by id: a deleted and re-created folder is another folder"},
		{name: "several folders one record",
			before: []folder.Mapping{mapping(anna, "F1", "Inbox/Contoso", contoso), mapping(ben, "F9", "Inbox/Contoso", contoso)},
			add:    mapping(anna, "F2", "Inbox/Contoso Archive", contoso),
			reason: "§6: several folders may map to the same record"},
		{name: "subfolder mapped separately", before: []folder.Mapping{mapping(anna, "F1", "Inbox/Clients", contoso)},
			add:    mapping(anna, "F2", "Inbox/Clients/Northwind", northwind),
			reason: "§6: a subfolder is tracked only when selected itself, and then by its own rule"},
		{name: "empty mailbox", add: mapping("  ", "F1", "Inbox/A", contoso), want: folder.ErrBadMapping,
			reason: "a rule belongs to a mailbox"},
		{name: "empty folder id", add: mapping(anna, "", "Inbox/A", contoso), want: folder.ErrBadMapping,
			reason: "rules are keyed by folder id"},
		{name: "mailbox with nul", add: mapping("anna\x00@x", "F1", "Inbox/A", contoso), want: folder.ErrBadMapping,
			reason: "the index key separates mailbox and folder id with NUL"},
		{name: "half record", add: mapping(anna, "F1", "Inbox/A", correlate.Record{Type: "account"}), want: folder.ErrBadMapping,
			reason: "a record needs both a type and an id"},
		{name: "disabled rule", add: folder.Mapping{Mailbox: anna, FolderID: "F1", FolderPath: "Archive/Old", Record: contoso, Disabled: true},
			reason: "a rule saved after its folder moved outside Inbox loads, disabled",
			inspect: func(t *testing.T, r *folder.Rules) {
				mp, _ := r.Mapping(anna, "F1")
				assert.True(t, mp.Disabled)
			}},
		{name: "disabled flag ignored under inbox", add: folder.Mapping{Mailbox: anna, FolderID: "F1", FolderPath: "Inbox/A", Record: contoso, Disabled: true},
			reason: "Disabled follows from the path: a folder under Inbox is enabled",
			inspect: func(t *testing.T, r *folder.Rules) {
				mp, _ := r.Mapping(anna, "F1")
				assert.False(t, mp.Disabled)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := folder.NewRules(tt.cfg)
			require.NoError(t, err)
			for _, q := range tt.queues {
				require.NoError(t, r.SetQueue(q, true))
			}
			for _, mp := range tt.before {
				require.NoError(t, r.Add(mp))
			}
			err = r.Add(tt.add)
			if tt.want == nil {
				require.NoError(t, err, tt.reason)
				assert.Equal(t, len(tt.before)+1, r.Len())
			} else {
				text := tt.add.FolderID
				if tt.add.FolderPath != "" {
					text = tt.add.FolderPath
				}
				requireRuleError(t, err, tt.want, tt.add.Mailbox, text, tt.reason)
				assert.Equal(t, len(tt.before), r.Len(), "a refused mapping is not added")
			}
			if tt.inspect != nil {
				tt.inspect(t, r)
			}
		})
	}
}

func folders(mailbox string, n int) []folder.Mapping {
	out := make([]folder.Mapping, n)
	for i := range out {
		out[i] = mapping(mailbox, fmt.Sprintf("F%d", i+1), fmt.Sprintf("Inbox/F%d", i+1), contoso)
	}
	return out
}

func TestRulesSetPath(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		want     error
		disabled bool
		reason   string
	}{
		{"rename", "Inbox/Customers/Contoso Ltd", nil, false,
			"§6: renaming keeps the rule, because the Exchange folder id is used, not the name"},
		{"move within inbox", "Inbox/Archive/Contoso", nil, false,
			"§6: moving the folder keeps it tracked while it stays under Inbox"},
		{"move outside inbox", "Archive/Contoso", folder.ErrDisabled, true,
			"§6: moving it outside Inbox disables the rule, and SetPath says so"},
		{"move to inbox root level", "Inbox", folder.ErrDisabled, true,
			"a folder cannot become Inbox itself; treat it as outside"},
		{"malformed", "Inbox/\x00", folder.ErrBadPath, false,
			"a hostile path changes nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r folder.Rules
			require.NoError(t, r.Add(mapping(anna, "F1", "Inbox/Clients/Contoso", contoso)))
			err := r.SetPath(anna, "F1", tt.path)
			mp, ok := r.Mapping(anna, "F1")
			require.True(t, ok, "the mapping stays in every case")
			assert.Equal(t, tt.disabled, mp.Disabled, tt.reason)
			if tt.want == nil {
				require.NoError(t, err, tt.reason)
				assert.Equal(t, tt.path, mp.FolderPath)
				return
			}
			requireRuleError(t, err, tt.want, anna, "F1", tt.reason)
			if tt.want == folder.ErrBadPath {
				assert.Equal(t, "Inbox/Clients/Contoso", mp.FolderPath, tt.reason)
			} else {
				assert.ErrorIs(t, err, folder.ErrOutsideInbox, "the error says why the rule is disabled")
			}
		})
	}

	t.Run("move back", func(t *testing.T) {
		var r folder.Rules
		require.NoError(t, r.Add(mapping(anna, "F1", "Inbox/Contoso", contoso)))
		require.ErrorIs(t, r.SetPath(anna, "F1", "Archive/Contoso"), folder.ErrDisabled)
		require.NoError(t, r.SetPath(anna, "F1", "Inbox/Contoso"), "moved back under Inbox, the rule applies again")
		mp, _ := r.Mapping(anna, "F1")
		assert.False(t, mp.Disabled)
	})
	t.Run("unknown", func(t *testing.T) {
		var r folder.Rules
		requireRuleError(t, r.SetPath(anna, "F9", "Inbox/X"), folder.ErrNotMapped, anna, "F9", "no rule to rename")
		assert.ErrorIs(t, r.SetPath(anna, "F9", "Inbox/X"), correlate.ErrNotFound, "ErrNotMapped wraps ErrNotFound")
	})
}

func TestRulesRemoveAndQueue(t *testing.T) {
	var r folder.Rules
	require.NoError(t, r.Add(mapping(anna, "F1", "Inbox/A", contoso)))
	require.NoError(t, r.Add(mapping(anna, "F2", "Inbox/B", contoso)))

	requireRuleError(t, r.SetQueue(anna, true), folder.ErrQueue, anna, anna,
		"a mailbox with folder rules cannot become a queue: queues do not support them")
	assert.False(t, r.IsQueue(anna))

	require.NoError(t, r.Remove("Anna@Fabrikam.example", "F1"), "mailboxes compare case-insensitively")
	requireRuleError(t, r.Remove(anna, "F1"), folder.ErrNotMapped, anna, "F1", "removed already")
	require.NoError(t, r.Remove(anna, "F2"))
	assert.Equal(t, 0, r.Len())
	assert.Empty(t, r.Mappings(anna))

	require.NoError(t, r.SetQueue(anna, true), "without rules the mailbox may become a queue")
	assert.True(t, r.IsQueue(anna))
	requireRuleError(t, r.Add(mapping(anna, "F3", "Inbox/C", contoso)), folder.ErrQueue, anna, "Inbox/C",
		"§6: not supported for queue mailboxes")
	require.NoError(t, r.SetQueue(anna, false))
	require.NoError(t, r.Add(mapping(anna, "F3", "Inbox/C", contoso)), "no longer a queue")
}

func TestRulesMappingsOrder(t *testing.T) {
	var r folder.Rules
	require.NoError(t, r.Add(mapping(ben, "B2", "Inbox/Z", contoso)))
	require.NoError(t, r.Add(mapping(anna, "A2", "Inbox/B", contoso)))
	require.NoError(t, r.Add(mapping(anna, "A1", "Inbox/A", northwind)))
	var got []string
	for _, mp := range r.Mappings("") {
		got = append(got, mp.FolderID)
	}
	assert.Equal(t, []string{"A1", "A2", "B2"}, got, "ordered by mailbox, then path")
	assert.Len(t, r.Mappings(ben), 1)
	assert.Equal(t, `anna@fabrikam.example "Inbox/A" (id A1) → account:northwind`, r.Mappings(anna)[0].String())
}

func TestErrorMessage(t *testing.T) {
	e := &folder.Error{Op: "add", Mailbox: anna, FolderID: "AAMk1", Path: "Sent/Clients", Err: folder.ErrOutsideInbox}
	assert.Equal(t, `folder: add mailbox "anna@fabrikam.example" folder "Sent/Clients" (id "AAMk1"): not under Inbox`, e.Error())
	e = &folder.Error{Op: "remove", Mailbox: anna, FolderID: "AAMk1", Err: folder.ErrNotMapped}
	assert.Equal(t, `folder: remove mailbox "anna@fabrikam.example" folder id "AAMk1": folder not mapped: correlate: not found`, e.Error())
	e = &folder.Error{Op: "add", Mailbox: anna, FolderID: "x", Path: "Inbox/" + strings.Repeat("\n", 500), Err: folder.ErrBadPath}
	assert.NotContains(t, e.Error(), "\n", "hostile paths are quoted")
	assert.Less(t, len(e.Error()), 1500, "and truncated")
}

// TestRulesConcurrent changes rules while correlators read them; run with
// -race.
func TestRulesConcurrent(t *testing.T) {
	var r folder.Rules
	c := folder.New(nil, &folder.Options{Rules: &r})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			mb := fmt.Sprintf("user%d@x.example", w)
			for i := range 200 {
				id := fmt.Sprintf("F%d", i%30)
				_ = r.Add(mapping(mb, id, "Inbox/"+id, contoso))
				_, _ = r.SetRecord(t.Context(), nil, mb, id, northwind)
				_ = r.SetPath(mb, id, "Inbox/renamed/"+id)
				if i%3 == 0 {
					_ = r.Remove(mb, id)
				}
			}
		})
		wg.Go(func() {
			m := &correlate.Message{Mailbox: fmt.Sprintf("user%d@x.example", w)}
			for i := range 2000 {
				m.FolderID = fmt.Sprintf("F%d", i%30)
				_, err := c.Correlate(t.Context(), m)
				assert.NoError(t, err)
				_ = c.Index(m, &correlate.Tracked{}, nil)
				_ = r.Mappings("")
			}
		})
	}
	wg.Wait()
	for _, mp := range r.Mappings("") {
		assert.LessOrEqual(t, len(r.Mappings(mp.Mailbox)), folder.MaxPerMailbox)
	}
}
