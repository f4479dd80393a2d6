package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/imapsync"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// jsonRow is one line of -format jsonl: every field of the replay
// command's rows (same names, same meaning), then mailbox, uid,
// uidvalidity, folder_id and action. The names are a contract; add fields,
// never rename them.
type jsonRow struct {
	MessageID      string         `json:"message_id"`
	Source         string         `json:"source"`
	Folder         string         `json:"folder"`
	Date           string         `json:"date"`
	Subject        string         `json:"subject"`
	Regarding      string         `json:"regarding"`
	Method         string         `json:"method"`
	MethodCode     int            `json:"method_code"`
	Confidence     float64        `json:"confidence"`
	CorrelatedWith string         `json:"correlated_with"`
	Parent         string         `json:"parent"`
	SubjectChanged bool           `json:"subject_changed"`
	Seeded         bool           `json:"seeded"`
	Tracked        bool           `json:"tracked"`
	Conflicts      []jsonConflict `json:"conflicts"`
	Reason         string         `json:"reason"`
	Evidence       []string       `json:"evidence"`
	ParseErrors    []string       `json:"parse_errors"`
	// Filter is the incoming-email filter's verdict, when it was asked.
	Filter *party.Verdict `json:"filter,omitempty"`

	Mailbox     string `json:"mailbox"`
	UID         uint32 `json:"uid"`
	UIDValidity uint32 `json:"uidvalidity"`
	FolderID    string `json:"folder_id"`
	// Action is what the sync did: tracked, relinked, existing,
	// untracked, too old or failed.
	Action string `json:"action"`
}

type jsonConflict struct {
	Strategy  string  `json:"strategy"`
	Regarding string  `json:"regarding"`
	Method    string  `json:"method"`
	Conf      float64 `json:"confidence"`
	Reason    string  `json:"reason"`
}

// toJSON makes the row of an event.
func toJSON(ev imapsync.Event) jsonRow {
	j := jsonRow{
		Source:      fmt.Sprintf("imap://%s/%s;UIDVALIDITY=%d/;UID=%d", ev.Mailbox, ev.Folder, ev.UIDValidity, ev.UID),
		Folder:      ev.Folder,
		Reason:      ev.Reason,
		Seeded:      ev.Known,
		Conflicts:   []jsonConflict{},
		Evidence:    []string{},
		ParseErrors: []string{},
		Mailbox:     ev.Mailbox,
		UID:         ev.UID,
		UIDValidity: ev.UIDValidity,
		FolderID:    ev.FolderID,
		Action:      ev.Action.String(),
		Filter:      ev.Verdict,
	}
	if m := ev.Message; m != nil {
		j.MessageID = m.MessageID
		j.Subject = m.Subject
		if !m.Date.IsZero() {
			j.Date = m.Date.UTC().Format(time.RFC3339)
		}
	}
	if j.MessageID == "" {
		j.MessageID = ev.Email.MessageID // a fingerprint id
	}
	var pe *correlate.ParseError
	if errors.As(ev.ParseErr, &pe) {
		for _, p := range pe.Problems {
			j.ParseErrors = append(j.ParseErrors, p.Error())
		}
	} else if ev.ParseErr != nil {
		j.ParseErrors = append(j.ParseErrors, ev.ParseErr.Error())
	}
	mt := ev.Decision.Match
	switch ev.Action {
	case imapsync.Tracked, imapsync.Relinked, imapsync.Existing:
		j.Tracked = true
		j.Regarding = ev.Email.Record.String()
	default:
		j.Regarding = mt.Record.String()
	}
	method := mt.Method
	switch {
	case ev.Known:
		method = correlate.None
	case ev.Action == imapsync.Relinked || ev.Action == imapsync.Existing:
		method = ev.Email.Method
	default:
		j.Confidence = mt.Confidence
		j.SubjectChanged = mt.SubjectChanged
		if mt.CorrelatedWith != nil {
			j.CorrelatedWith = mt.CorrelatedWith.MessageID
		}
		if mt.Parent != nil {
			j.Parent = mt.Parent.MessageID
		}
		for _, e := range mt.Evidence {
			j.Evidence = append(j.Evidence, e.String())
		}
	}
	if ev.Known || mt.Found() || mt.Track || ev.Action == imapsync.Relinked || ev.Action == imapsync.Existing {
		j.Method, j.MethodCode = method.String(), int(method)
	} else {
		j.Method, j.MethodCode = correlate.None.String(), 0
	}
	for _, c := range ev.Decision.Conflicts {
		j.Conflicts = append(j.Conflicts, jsonConflict{Strategy: c.Strategy, Regarding: c.Record.String(),
			Method: c.Method.String(), Conf: c.Confidence, Reason: c.Reason})
	}
	return j
}

// output writes rows as a table or JSON Lines.
type output struct {
	w     *bufio.Writer
	tw    *tabwriter.Writer
	enc   *json.Encoder
	rows  int
	quiet bool
}

func newOutput(format string, w io.Writer) *output {
	o := &output{w: bufio.NewWriter(w)}
	if format == "jsonl" {
		o.enc = json.NewEncoder(o.w)
		o.enc.SetEscapeHTML(false)
	} else {
		o.tw = tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(o.tw, "#\tFOLDER\tUID\tDATE\tSUBJECT\tREGARDING\tMETHOD\tACTION\tREASON")
	}
	return o
}

func (o *output) write(ev imapsync.Event) {
	if o.quiet {
		return
	}
	o.rows++
	j := toJSON(ev)
	if o.enc != nil {
		o.enc.Encode(j)
		o.w.Flush()
		return
	}
	date := ""
	if j.Date != "" {
		date = j.Date[:16]
	}
	reg, method := j.Regarding, j.Method
	switch {
	case j.Seeded:
		method = "seeded"
	case j.Regarding == "" && j.Tracked:
		reg, method = "-", "track-only"
	case j.Regarding == "":
		reg, method = "-", "-"
	}
	fmt.Fprintf(o.tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", o.rows, clip(j.Folder, 24), j.UID, date, clip(j.Subject, 40),
		reg, method, j.Action, clip(j.Reason, 80))
}

// note writes a line for people between the rows (the demo's narration).
func (o *output) note(s string) {
	if o.tw != nil {
		o.tw.Flush()
	}
	fmt.Fprintln(o.w, s)
	o.w.Flush()
}

func (o *output) flush() error {
	if o.tw != nil {
		if err := o.tw.Flush(); err != nil {
			return err
		}
	}
	return o.w.Flush()
}

// clip shortens s to n runes, on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
