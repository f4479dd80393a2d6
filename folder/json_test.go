package folder_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
)

func TestRulesJSONRoundTrip(t *testing.T) {
	r, err := folder.NewRules(&folder.Config{MaxPerMailbox: 10, InboxNames: []string{"Inbox", "Posteingang"}, Separators: "/."})
	require.NoError(t, err)
	require.NoError(t, r.SetQueue("support@fabrikam.example", true))
	require.NoError(t, r.Add(mapping(anna, "F1", "Inbox/Clients/Contoso", contoso)))
	require.NoError(t, r.Add(mapping(anna, "F2", "Inbox/Newsletters", correlate.Record{})))
	require.NoError(t, r.Add(mapping(ben, "INBOX.Kunden", "Posteingang.Kunden", correlate.Record{Type: "incident", ID: "CAS:1:2"})))
	require.ErrorIs(t, r.SetPath(anna, "F1", "Archive/Contoso"), folder.ErrDisabled)

	data, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{
	  "max_per_mailbox": 10,
	  "inbox_names": ["Inbox", "Posteingang"],
	  "separators": "/.",
	  "queues": ["support@fabrikam.example"],
	  "mappings": [
	    {"mailbox": "anna@fabrikam.example", "folder_id": "F1", "folder_path": "Archive/Contoso", "record": "account:contoso", "disabled": true},
	    {"mailbox": "anna@fabrikam.example", "folder_id": "F2", "folder_path": "Inbox/Newsletters"},
	    {"mailbox": "ben@fabrikam.example", "folder_id": "INBOX.Kunden", "folder_path": "Posteingang.Kunden", "record": "incident:CAS:1:2"}
	  ]
	}`, string(data), "the documented format; a track-only mapping has no record")

	var back folder.Rules
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, r.Mappings(""), back.Mappings(""), "mappings survive the round trip, the disabled one included")
	assert.Equal(t, r.Config(), back.Config())
	assert.True(t, back.IsQueue("support@fabrikam.example"))
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	assert.JSONEq(t, string(data), string(again))
}

func TestRulesJSONErrors(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		want   error // a sentinel; nil means only "fails"
		reason string
	}{
		{"unknown field", `{"mappings": [{"mailbox": "a@x", "folderid": "F1", "folder_path": "Inbox/A"}]}`, nil,
			"a typo must not silently drop a rule"},
		{"outside inbox", `{"mappings": [{"mailbox": "a@x", "folder_id": "F1", "folder_path": "Sent/A"}]}`, folder.ErrOutsideInbox,
			"§6: only folders under Inbox, also when loaded from a file"},
		{"too many", `{"max_per_mailbox": 1, "mappings": [
			{"mailbox": "a@x", "folder_id": "F1", "folder_path": "Inbox/A"},
			{"mailbox": "a@x", "folder_id": "F2", "folder_path": "Inbox/B"}]}`, folder.ErrTooMany,
			"the configured limit holds for loaded rules"},
		{"bad config", `{"max_per_mailbox": 30, "mappings": []}`, folder.ErrBadConfig,
			"25 is Dynamics' maximum"},
		{"queue", `{"queues": ["a@x"], "mappings": [{"mailbox": "A@X", "folder_id": "F1", "folder_path": "Inbox/A"}]}`, folder.ErrQueue,
			"§6: not supported for queue mailboxes"},
		{"bad record", `{"mappings": [{"mailbox": "a@x", "folder_id": "F1", "folder_path": "Inbox/A", "record": ":x"}]}`, correlate.ErrBadRecord,
			"records are type:id"},
		{"not json", `[`, nil, "garbage is an error"},
		{"duplicate", `{"mappings": [
			{"mailbox": "a@x", "folder_id": "F1", "folder_path": "Inbox/A"},
			{"mailbox": "a@x", "folder_id": "F1", "folder_path": "Inbox/B"}]}`, folder.ErrExists,
			"one rule per folder id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r folder.Rules
			require.NoError(t, r.Add(mapping(anna, "keep", "Inbox/Keep", contoso)))
			err := json.Unmarshal([]byte(tt.data), &r)
			require.Error(t, err, tt.reason)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want, tt.reason)
			}
			assert.Equal(t, 1, r.Len(), "a failed load leaves the rules unchanged")
		})
	}
}

func TestRulesJSONManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"mappings": [`)
	for i := range 50 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"mailbox": "a@x", "folder_id": "F%d", "folder_path": "Sent/%d"}`, i, i)
	}
	b.WriteString(`]}`)
	var r folder.Rules
	err := json.Unmarshal([]byte(b.String()), &r)
	require.Error(t, err)
	var fe *folder.Error
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, "load mappings[0]", fe.Op, "errors.As finds the first bad mapping")
	assert.Contains(t, err.Error(), "load mappings[19]")
	assert.NotContains(t, err.Error(), "load mappings[20]", "the list is bounded")
	assert.Contains(t, err.Error(), "30 more invalid entries")
}
