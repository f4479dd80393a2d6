package main

import (
	"fmt"
	"io"

	"github.com/mailcorrelate/mailcorrelate/imapsync"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
	"github.com/mailcorrelate/mailcorrelate/internal/jsonrow"
)

// jsonRow is one line of -format jsonl: the replay command's row
// (internal/jsonrow: same names, same meaning), then mailbox, uid,
// uidvalidity, folder_id, action and, for a POP3 mailbox, uidl. The names
// are a contract; add fields, never rename them.
type jsonRow struct {
	jsonrow.Row

	Mailbox     string `json:"mailbox"`
	UID         uint32 `json:"uid"`
	UIDValidity uint32 `json:"uidvalidity"`
	FolderID    string `json:"folder_id"`
	// Action is what the sync did: tracked, relinked, existing,
	// untracked, too old or failed.
	Action string `json:"action"`
	// UIDL is a POP3 message's unique id (its uid, uidvalidity and
	// folder_id are zero: POP3 has none).
	UIDL string `json:"uidl,omitempty"`
}

// toJSON makes the row of an event. An email tracked, re-linked or met
// already tracked is reported under the record it is tracked under now;
// one met already tracked or re-linked by the method it was tracked by.
func toJSON(ev imapsync.Event) jsonRow {
	in := jsonrow.Input{
		Message:   ev.Message,
		Problem:   ev.ParseErr,
		Source:    fmt.Sprintf("imap://%s/%s;UIDVALIDITY=%d/;UID=%d", ev.Mailbox, ev.Folder, ev.UIDValidity, ev.UID),
		Folder:    ev.Folder,
		Decision:  ev.Decision,
		Seeded:    ev.Known,
		Regarding: ev.Decision.Match.Record,
		Reason:    ev.Reason,
		Filter:    ev.Verdict,
	}
	if ev.UIDL != "" {
		in.Source = fmt.Sprintf("pop3://%s/%s;UIDL=%s", ev.Mailbox, ev.Folder, ev.UIDL)
	}
	switch ev.Action {
	case imapsync.Tracked, imapsync.Relinked, imapsync.Existing:
		in.Tracked, in.Regarding = true, ev.Email.Record
	}
	if ev.Action == imapsync.Relinked || ev.Action == imapsync.Existing {
		in.Stored = &ev.Email
	}
	j := jsonRow{Row: jsonrow.New(in), Mailbox: ev.Mailbox, UID: ev.UID, UIDValidity: ev.UIDValidity, FolderID: ev.FolderID,
		Action: ev.Action.String(), UIDL: ev.UIDL}
	if j.MessageID == "" {
		j.MessageID = ev.Email.MessageID // a fingerprint id
	}
	return j
}

// newOutput returns the rows of the sync: JSON lines written as they come,
// or a table with the mailbox's folder and UID (UIDL over POP3) and what
// the sync did.
func newOutput(format string, quiet bool, w io.Writer) *cli.Rows {
	return cli.NewRows(w, cli.RowsOptions{JSON: format == "jsonl", Quiet: quiet, Live: true,
		Header: "#\tFOLDER\tUID\tDATE\tSUBJECT\tREGARDING\tMETHOD\tACTION\tREASON"})
}

// write writes the row of an event. Its table is not the replay's: it
// shows where the email is on the server and what the sync did (FOLDER,
// UID, ACTION) instead of the confidence, and "-" as the record of an
// email tracked without one, as of one not tracked.
func write(o *cli.Rows, ev imapsync.Event) {
	if o.Quiet() {
		return
	}
	j := toJSON(ev)
	o.Write(j, func() []string {
		reg, method := j.Regarding, j.Method
		switch {
		case j.Seeded:
			method = "seeded"
		case j.Regarding == "" && j.Tracked:
			reg, method = "-", "track-only"
		case j.Regarding == "":
			reg, method = "-", "-"
		}
		uid := fmt.Sprint(j.UID)
		if j.UIDL != "" {
			uid = cli.Clip(j.UIDL, 24) // POP3: the message's unique id
		}
		return []string{cli.Clip(j.Folder, 24), uid, cli.TableDate(j.Date), cli.Clip(j.Subject, 40), reg, method, j.Action, cli.Clip(j.Reason, 80)}
	})
}
