// Package jsonrow is the JSON form of one correlation decision: a line of
// the replay command's -format jsonl output (and, with more fields, of the
// sync command's) and the answer of the HTTP service's POST /v1/correlate. The field names are a contract (see the
// README): add fields, never rename them.
package jsonrow

import (
	"errors"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// A Row is one decision about one message.
type Row struct {
	MessageID      string     `json:"message_id"`
	Source         string     `json:"source"`
	Folder         string     `json:"folder"`
	Date           string     `json:"date"`
	Subject        string     `json:"subject"`
	Regarding      string     `json:"regarding"`
	Method         string     `json:"method"`
	MethodCode     int        `json:"method_code"`
	Confidence     float64    `json:"confidence"`
	CorrelatedWith string     `json:"correlated_with"`
	Parent         string     `json:"parent"`
	SubjectChanged bool       `json:"subject_changed"`
	Seeded         bool       `json:"seeded"`
	Tracked        bool       `json:"tracked"`
	Conflicts      []Conflict `json:"conflicts"`
	Reason         string     `json:"reason"`
	Evidence       []string   `json:"evidence"`
	ParseErrors    []string   `json:"parse_errors"`
	// Participants is the resolution of From/To/Cc/Bcc against a
	// directory; absent without one.
	Participants *party.Resolution `json:"participants,omitempty"`
	// Filter is the incoming-email filter's verdict; absent when no filter
	// was consulted (seeded email bypasses it).
	Filter *party.Verdict `json:"filter,omitempty"`
}

// A Conflict is a lower-precedence strategy that named another record.
type Conflict struct {
	Strategy  string  `json:"strategy"`
	Regarding string  `json:"regarding"`
	Method    string  `json:"method"`
	Conf      float64 `json:"confidence"`
	Reason    string  `json:"reason"`
}

// An Input is what a Row is made of.
type Input struct {
	// Message is the parsed message; nil when it could not be read.
	Message *correlate.Message
	// Problem is the parse error (a *correlate.ParseError lists each
	// problem) or the reason the message was unusable; nil when none.
	Problem error
	// Source says where the message came from ("mail/0001.eml"); Folder
	// is its mail folder.
	Source, Folder string
	// Decision is what the engine decided.
	Decision correlate.Decision
	// Seeded reports a message filed under a record given by hand (the
	// replay's seed): Regarding is that record, and the row's method is
	// None with no confidence or evidence.
	Seeded bool
	// Stored, when not nil and the message is not Seeded, is the email as
	// it was tracked before this row (the sync met it already tracked, or
	// re-linked it): the row's method is the one it was tracked by, with
	// no confidence or evidence of Decision.
	Stored *correlate.Tracked
	// Tracked reports whether the message is (now) tracked.
	Tracked bool
	// Regarding is the record reported; Reason says why.
	Regarding correlate.Record
	Reason    string
	// Participants and Filter are copied to the Row as they are.
	Participants *party.Resolution
	Filter       *party.Verdict
}

// New returns the Row of in. Lists are never nil, so they encode as [].
func New(in Input) Row {
	j := Row{
		Source:       in.Source,
		Folder:       in.Folder,
		Regarding:    in.Regarding.String(),
		Reason:       in.Reason,
		Seeded:       in.Seeded,
		Tracked:      in.Tracked,
		Conflicts:    []Conflict{},
		Evidence:     []string{},
		ParseErrors:  []string{},
		Participants: in.Participants,
		Filter:       in.Filter,
	}
	if m := in.Message; m != nil {
		j.MessageID = m.MessageID
		j.Subject = m.Subject
		if !m.Date.IsZero() {
			j.Date = m.Date.UTC().Format(time.RFC3339)
		}
	}
	var pe *correlate.ParseError
	if errors.As(in.Problem, &pe) {
		for _, p := range pe.Problems {
			j.ParseErrors = append(j.ParseErrors, p.Error())
		}
	} else if in.Problem != nil {
		j.ParseErrors = append(j.ParseErrors, in.Problem.Error())
	}
	mt := in.Decision.Match
	method := mt.Method
	switch {
	case in.Seeded:
		method = correlate.None
	case in.Stored != nil:
		method = in.Stored.Method
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
	if in.Seeded || in.Stored != nil || mt.Found() || mt.Track {
		j.Method, j.MethodCode = method.String(), int(method)
	} else {
		j.Method, j.MethodCode = correlate.None.String(), 0
	}
	for _, c := range in.Decision.Conflicts {
		j.Conflicts = append(j.Conflicts, Conflict{Strategy: c.Strategy, Regarding: c.Record.String(),
			Method: c.Method.String(), Conf: c.Confidence, Reason: c.Reason})
	}
	return j
}
