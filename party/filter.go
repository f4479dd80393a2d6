package party

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// A Filter is a mailbox's incoming-email filter: which received email is
// tracked automatically (Dynamics' incomingemailfilteringmethod, a personal
// option of each user and a setting of each queue). Dynamics filters first
// and correlates after; here the filter reads the [correlate.Decision] and
// the [Resolution] of the participants, so a caller runs both and then asks
// [Filter.Accept] whether to track.
//
// The zero Filter is Dynamics' default, ResponsesToTrackedEmail. The
// Dynamics option values are given by [Filter.DynamicsCode]. Filter
// implements flag.Value and encoding.TextMarshaler.
type Filter int

// The five filter values of Dynamics 365.
const (
	// ResponsesToTrackedEmail tracks replies to email already tracked:
	// email the correlation chain linked to a record ("Email messages in
	// response to email", the default).
	ResponsesToTrackedEmail Filter = iota
	// All tracks every received email ("All email messages").
	All
	// FromCRMRecords tracks email whose sender resolves to a lead, a
	// contact or an account ("Email messages from Leads, Contacts, and
	// Accounts").
	FromCRMRecords
	// FromEmailEnabledRecords tracks email whose sender resolves to any
	// record ("Email messages from records that are email enabled"),
	// users, queues and custom types included.
	FromEmailEnabledRecords
	// None tracks no received email automatically ("No email messages");
	// email the user tracks by hand (a tracked folder) is still tracked.
	None
)

var filterNames = [...]string{
	ResponsesToTrackedEmail: "ResponsesToTrackedEmail",
	All:                     "All",
	FromCRMRecords:          "FromCRMRecords",
	FromEmailEnabledRecords: "FromEmailEnabledRecords",
	None:                    "None",
}

// dynamicsCodes are the values of Dynamics' incomingemailfilteringmethod
// option set, by Filter.
var dynamicsCodes = [...]int{
	ResponsesToTrackedEmail: 1,
	All:                     0,
	FromCRMRecords:          2,
	FromEmailEnabledRecords: 3,
	None:                    4,
}

func (f Filter) valid() bool { return f >= 0 && int(f) < len(filterNames) }

// String returns the filter's name ("ResponsesToTrackedEmail"), or
// "Filter(n)" for an unknown value.
func (f Filter) String() string {
	if f.valid() {
		return filterNames[f]
	}
	return "Filter(" + strconv.Itoa(int(f)) + ")"
}

// DynamicsCode returns the value of Dynamics' incomingemailfilteringmethod
// option set: 0 All, 1 ResponsesToTrackedEmail, 2 FromCRMRecords, 3
// FromEmailEnabledRecords, 4 None; -1 for an unknown value.
func (f Filter) DynamicsCode() int {
	if f.valid() {
		return dynamicsCodes[f]
	}
	return -1
}

// ParseFilter returns the Filter named s. Case, spaces, "-" and "_" are
// ignored, and these names are accepted:
//
//	All                      all
//	ResponsesToTrackedEmail  responses, responses-to-tracked-email
//	FromCRMRecords           crm, crm-records, from-crm-records
//	FromEmailEnabledRecords  email-enabled, email-enabled-records
//	None                     none
//
// A single digit is a Dynamics option value (see [Filter.DynamicsCode]).
func ParseFilter(s string) (Filter, error) {
	k := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ', '\t':
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
	switch k {
	case "all", "allemailmessages":
		return All, nil
	case "responsestotrackedemail", "responses", "responsestotracked", "responsestoemail":
		return ResponsesToTrackedEmail, nil
	case "fromcrmrecords", "crmrecords", "crm", "fromleadscontactsandaccounts", "fromleadscontactsaccounts":
		return FromCRMRecords, nil
	case "fromemailenabledrecords", "emailenabledrecords", "emailenabled":
		return FromEmailEnabledRecords, nil
	case "none", "noemailmessages":
		return None, nil
	}
	if d := strings.TrimSpace(s); len(d) == 1 && '0' <= d[0] && d[0] <= '9' {
		for f, c := range dynamicsCodes {
			if c == int(d[0]-'0') {
				return Filter(f), nil
			}
		}
	}
	return ResponsesToTrackedEmail, fmt.Errorf("party: unknown filter %q (want all, responses, crm-records, email-enabled or none)", clip(s, 40))
}

// Set implements flag.Value with [ParseFilter].
func (f *Filter) Set(s string) error {
	v, err := ParseFilter(s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// MarshalText implements encoding.TextMarshaler with the filter's name.
func (f Filter) MarshalText() ([]byte, error) {
	if !f.valid() {
		return nil, fmt.Errorf("party: marshal unknown filter %d", int(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with [ParseFilter].
func (f *Filter) UnmarshalText(b []byte) error { return f.Set(string(b)) }

// A Verdict is the incoming-email filter's answer for one email: whether
// to track it, and why.
type Verdict struct {
	// Track reports that the email should be tracked.
	Track bool `json:"track"`
	// Filter is the filter that decided. For a verdict of [Mailboxes], it
	// is the filter of the recipient that accepted (or of the first that
	// declined), and None when no recipient has a mailbox.
	Filter Filter `json:"filter"`
	// Manual reports email tracked whatever the filter because the user
	// asked for it (a folder-level tracking rule).
	Manual bool `json:"manual,omitempty"`
	// AcceptedBy is the recipient whose filter accepted the email, when
	// [Mailboxes] decided (Dynamics' accepting entity).
	AcceptedBy correlate.Record `json:"accepted_by,omitzero"`
	// Reason is a one-line explanation for people.
	Reason string `json:"reason"`
	// Evidence lists the facts the verdict rests on, for programs.
	Evidence []correlate.Evidence `json:"evidence,omitempty"`
}

// String returns "track: reason" or "skip: reason".
func (v Verdict) String() string {
	if v.Track {
		return "track: " + v.Reason
	}
	return "skip: " + v.Reason
}

// crmTypes are the types FromCRMRecords accepts.
func crmType(t string) bool { return t == TypeLead || t == TypeContact || t == TypeAccount }

// Accept decides whether an incoming email is tracked under filter f, given
// the correlation Decision d for m and the Resolution res of m's
// participants. The rules, in order:
//
//  1. A Decision with NoTrack set (an auto-reply, a bounce, a loop, a
//     conflict awaiting review) is not tracked, whatever f is.
//  2. Manual tracking bypasses the filter, as in Dynamics: when the
//     Decision comes from a folder-level tracking rule (Method
//     FolderTracking, or a Match that asks to track without a record) the
//     email is tracked whatever f is.
//  3. The filter applies to received email only: an outgoing email
//     (m.Direction) is tracked when it correlated, and not otherwise.
//  4. Otherwise f decides: All tracks; ResponsesToTrackedEmail tracks when
//     d found a record (a reply to a tracked email, by any method of the
//     chain); FromCRMRecords when the sender resolved to a lead, contact
//     or account; FromEmailEnabledRecords when it resolved to any record;
//     None never. A sender left ambiguous by
//     Options.UnresolveAmbiguous counts for the types of the tied records.
//     Every From address counts ("From: a1, a2", Resolution.OtherFrom): the
//     first that passes decides, and when none does the verdict is the
//     sender's, with Evidence for each of the others.
//
// Accept is a pure function of its arguments; a nil m counts as incoming.
func (f Filter) Accept(m *correlate.Message, d correlate.Decision, res Resolution) Verdict {
	if v, ok := bypass(f, m, d); ok {
		return v
	}
	v := Verdict{Filter: f}
	switch f {
	case All:
		v.Track = true
		v.Reason = "All: every received email is tracked"
	case ResponsesToTrackedEmail:
		v.Track = d.Found()
		if v.Track {
			v.Reason = "ResponsesToTrackedEmail: a response to tracked email: " + d.Match.Record.String() + " by " + d.Match.Method.String()
			v.Evidence = []correlate.Evidence{decisionEvidence(d)}
		} else {
			v.Reason = "ResponsesToTrackedEmail: not a response to tracked email (no correlation)"
			v.Evidence = []correlate.Evidence{{Field: "decision", Note: "no record found"}}
		}
	case FromCRMRecords, FromEmailEnabledRecords:
		v.Track, v.Reason, v.Evidence = sendersVerdict(f, res)
	case None:
		v.Reason = "None: no received email is tracked automatically"
	default:
		v.Reason = "unknown filter " + f.String() + ": nothing is tracked"
	}
	return v
}

// bypass decides the email the filter does not apply to: manual tracking
// and outgoing email.
func bypass(f Filter, m *correlate.Message, d correlate.Decision) (Verdict, bool) {
	v := Verdict{Filter: f}
	if d.NoTrack != "" {
		// An auto-reply, bounce or loop, or a decision awaiting review:
		// the engine said not to track it, whatever the filter or folder.
		v.Reason = "not tracked: " + d.NoTrack
		v.Evidence = []correlate.Evidence{{Field: "decision", Note: d.NoTrack}}
		return v, true
	}
	if ev, ok := manualTracking(d); ok {
		v.Track, v.Manual = true, true
		v.Reason = "folder-level tracking: tracked whatever the filter"
		v.Evidence = []correlate.Evidence{ev}
		return v, true
	}
	if m != nil && m.Direction == correlate.Outgoing {
		v.Track = d.Found()
		if v.Track {
			v.Reason = "outgoing email correlated with " + d.Match.Record.String() + "; the incoming-email filter does not apply"
			v.Evidence = []correlate.Evidence{decisionEvidence(d)}
		} else {
			v.Reason = "outgoing email not correlated; the incoming-email filter does not apply"
		}
		return v, true
	}
	return v, false
}

// manualTracking reports a Decision that asks for tracking by user intent.
func manualTracking(d correlate.Decision) (correlate.Evidence, bool) {
	if d.Match.Found() && d.Match.Method == correlate.FolderTracking {
		return correlate.Evidence{Field: "decision", Value: d.Match.Record.String(), Note: "folder-level tracking rule (" + d.Match.Strategy + ")"}, true
	}
	if d.Match.Track {
		return correlate.Evidence{Field: "decision", Note: "track-only rule (" + d.Match.Strategy + ")"}, true
	}
	for _, s := range d.Steps {
		if s.Err == nil && s.Match.Track {
			return correlate.Evidence{Field: "decision", Note: "track-only rule (" + s.Strategy + ")"}, true
		}
	}
	return correlate.Evidence{}, false
}

func decisionEvidence(d correlate.Decision) correlate.Evidence {
	note := "correlated by " + d.Match.Method.String()
	if d.Match.CorrelatedWith != nil {
		note += " with tracked email " + strconv.FormatInt(d.Match.CorrelatedWith.ID, 10)
	}
	if d.Match.Strategy != "" {
		note += " (" + d.Match.Strategy + ")"
	}
	return correlate.Evidence{Field: "decision", Value: d.Match.Record.String(), Note: note}
}

// sendersVerdict applies FromCRMRecords or FromEmailEnabledRecords to every
// From address of res.
func sendersVerdict(f Filter, res Resolution) (bool, string, []correlate.Evidence) {
	ok, reason, ev := senderVerdict(f, res.From)
	if ok {
		return ok, reason, ev
	}
	for _, p := range res.OtherFrom {
		ok2, reason2, ev2 := senderVerdict(f, p)
		if ok2 {
			return ok2, reason2, ev2
		}
		ev = append(ev, ev2...)
	}
	return false, reason, ev
}

// senderVerdict applies FromCRMRecords or FromEmailEnabledRecords to one
// sender.
func senderVerdict(f Filter, from Party) (bool, string, []correlate.Evidence) {
	prefix := f.String() + ": "
	ev := correlate.Evidence{Field: "From", Value: from.Address}
	switch {
	case from.Address == "":
		ev.Note = "no sender"
		return false, prefix + "the email names no sender", []correlate.Evidence{ev}
	case from.Err != nil:
		ev.Note = from.Err.Error()
		return false, prefix + "the sender's address is bad", []correlate.Evidence{ev}
	}
	recs := from.Records
	if len(recs) == 0 && from.Ambiguous {
		recs = activeRecords(from.Matches)
	}
	if len(recs) == 0 {
		ev.Note = "resolves to no record"
		return false, prefix + "sender " + from.Address + " resolves to no record", []correlate.Evidence{ev}
	}
	names := recordList(recs)
	if f == FromEmailEnabledRecords {
		ev.Note = "resolves to " + names
		return true, prefix + "sender " + from.Address + " resolves to " + names, []correlate.Evidence{ev}
	}
	for _, r := range recs {
		if crmType(r.Type) {
			ev.Note = "resolves to " + r.String()
			return true, prefix + "sender " + from.Address + " resolves to " + r.String(), []correlate.Evidence{ev}
		}
	}
	ev.Note = "resolves to " + names + ", not a lead, contact or account"
	return false, prefix + "sender " + from.Address + " resolves to " + names + ", not a lead, contact or account", []correlate.Evidence{ev}
}

func recordList(rs []correlate.Record) string {
	var b strings.Builder
	writeRecords(&b, rs)
	return b.String()
}

// Mailboxes holds the incoming-email filters of the users and queues whose
// mailboxes the CRM synchronizes, by their records. Dynamics checks the
// filter of every such recipient of an email, not only of the mailbox being
// synchronized (unless the org setting
// UseFilteringMethodOfSyncingMailboxOnlyForCorrelation is on), and files
// the email when any of them accepts; the first that does is the email's
// accepting entity.
type Mailboxes map[correlate.Record]Filter

// Accept asks the filter of each resolved recipient with a mailbox, in To,
// Cc, Bcc order, and returns the first verdict that tracks, with
// AcceptedBy set to that recipient. Manual tracking and outgoing email are
// decided as by [Filter.Accept]. When no recipient accepts, the verdict
// says who declined.
func (mb Mailboxes) Accept(m *correlate.Message, d correlate.Decision, res Resolution) Verdict {
	if v, ok := bypass(ResponsesToTrackedEmail, m, d); ok {
		return v
	}
	var first Verdict
	var asked []correlate.Record
	for _, list := range [...][]Party{res.To, res.Cc, res.Bcc} {
		for _, p := range list {
			for _, r := range p.Records {
				f, ok := mb[r]
				if !ok || containsRecord(asked, r) {
					continue
				}
				asked = append(asked, r)
				v := f.Accept(m, d, res)
				if v.Track {
					v.AcceptedBy = r
					v.Reason = r.String() + " accepts: " + v.Reason
					return v
				}
				if len(asked) == 1 {
					first = v
				}
			}
		}
	}
	if len(asked) == 0 {
		return Verdict{Filter: None, Reason: "no recipient has a synchronized mailbox",
			Evidence: []correlate.Evidence{{Field: "recipients", Note: "none resolves to a record in Mailboxes"}}}
	}
	first.Reason = "no recipient's filter accepts (" + recordList(asked) + "): " + first.Reason
	return first
}

func containsRecord(rs []correlate.Record, r correlate.Record) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}
