package jsonrow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/jsonrow"
)

func TestNew(t *testing.T) {
	m := &correlate.Message{MessageID: "r1@x", Subject: "RE: hi", Date: time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("", 3600))}
	parent := &correlate.Tracked{MessageID: "p@x"}
	cas := correlate.Record{Type: "incident", ID: "CAS-1"}
	found := correlate.Decision{
		Match: correlate.Match{Record: cas, Method: correlate.InReplyTo, Confidence: 1, CorrelatedWith: parent, Parent: parent,
			Evidence: []correlate.Evidence{{Field: "In-Reply-To", Value: "p@x", Note: "names a tracked email"}}},
		Conflicts: []correlate.Match{{Record: correlate.Record{Type: "incident", ID: "CAS-2"}, Strategy: "token", Method: correlate.TrackingToken, Confidence: 0.9, Reason: "token"}},
	}
	tests := []struct {
		name string
		in   jsonrow.Input
		want string // the fields checked, as "key=value" in order
	}{
		{"a correlated message reports the method, the tracked email it matched and the conflicts",
			jsonrow.Input{Message: m, Decision: found, Regarding: cas, Tracked: true},
			"message_id=r1@x date=2026-03-02T09:00:00Z regarding=incident:CAS-1 method=InReplyTo method_code=3 confidence=1 correlated_with=p@x parent=p@x conflicts=1 evidence=1 tracked=true"},
		{"a seeded message is filed by hand: method None, no confidence, no evidence, whatever the decision",
			jsonrow.Input{Message: m, Decision: found, Regarding: cas, Seeded: true},
			"message_id=r1@x date=2026-03-02T09:00:00Z regarding=incident:CAS-1 method=None method_code=0 confidence=0 correlated_with= parent= conflicts=1 evidence=0 tracked=false"},
		{"an email met already tracked reports how it was tracked then, not this decision's match or evidence",
			jsonrow.Input{Message: m, Decision: found, Regarding: cas, Tracked: true, Stored: &correlate.Tracked{Method: correlate.TrackingToken}},
			"message_id=r1@x date=2026-03-02T09:00:00Z regarding=incident:CAS-1 method=TrackingToken method_code=4 confidence=0 correlated_with= parent= conflicts=1 evidence=0 tracked=true"},
		{"an email re-linked by a folder rule without a decision (the sync never correlated it again) still reports its method",
			jsonrow.Input{Message: m, Regarding: cas, Tracked: true, Stored: &correlate.Tracked{Method: correlate.FolderTracking}},
			"message_id=r1@x date=2026-03-02T09:00:00Z regarding=incident:CAS-1 method=FolderTracking method_code=100 confidence=0 correlated_with= parent= conflicts=0 evidence=0 tracked=true"},
		{"seeded wins over stored: the seed filed it by hand",
			jsonrow.Input{Message: m, Decision: found, Regarding: cas, Seeded: true, Stored: &correlate.Tracked{Method: correlate.TrackingToken}},
			"message_id=r1@x date=2026-03-02T09:00:00Z regarding=incident:CAS-1 method=None method_code=0 confidence=0 correlated_with= parent= conflicts=1 evidence=0 tracked=false"},
		{"nothing found: method None even when a strategy abstained with a method",
			jsonrow.Input{Message: &correlate.Message{}, Decision: correlate.Decision{Match: correlate.Match{Method: correlate.SmartMatching}}},
			"message_id= date= regarding= method=None method_code=0 confidence=0 correlated_with= parent= conflicts=0 evidence=0 tracked=false"},
		{"an unreadable message: no message fields, lists empty, not null",
			jsonrow.Input{Problem: errors.New("no header")},
			"message_id= date= regarding= method=None method_code=0 confidence=0 correlated_with= parent= conflicts=0 evidence=0 tracked=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(jsonrow.New(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			json.Unmarshal(b, &v)
			var got []string
			for _, k := range []string{"message_id", "date", "regarding", "method", "method_code", "confidence", "correlated_with", "parent", "conflicts", "evidence", "tracked"} {
				switch x := v[k].(type) {
				case []any:
					got = append(got, fmt.Sprintf("%s=%d", k, len(x)))
				case nil:
					t.Errorf("%s is null or missing: %s", k, b)
				default:
					got = append(got, fmt.Sprintf("%s=%v", k, x))
				}
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("got  %s\nwant %s", g, tt.want)
			}
			if pe, _ := v["parse_errors"].([]any); (tt.in.Problem != nil) != (len(pe) == 1) {
				t.Errorf("parse_errors = %v for problem %v", v["parse_errors"], tt.in.Problem)
			}
		})
	}
}

// A parse error lists each problem.
func TestNewParseProblems(t *testing.T) {
	m, err := correlate.ParseMessage(strings.NewReader("Cc: ,,,<<\r\nDate: yesterday\r\nMessage-ID: <a@b>\r\n\r\n"), nil)
	r := jsonrow.New(jsonrow.Input{Message: m, Problem: err})
	var pe *correlate.ParseError
	if !errors.As(err, &pe) || len(r.ParseErrors) != len(pe.Problems) || len(r.ParseErrors) == 0 {
		t.Errorf("parse errors %q from %v", r.ParseErrors, err)
	}
}

func ExampleNew() {
	m := &correlate.Message{MessageID: "r1@contoso.example", Subject: "RE: Printer offline"}
	d := correlate.Decision{Match: correlate.Match{Record: correlate.Record{Type: "incident", ID: "CAS-1"},
		Method: correlate.TrackingToken, Confidence: 0.9, Reason: "token CRM:0001001 names tracked email 2"}}
	b, _ := json.Marshal(jsonrow.New(jsonrow.Input{Message: m, Decision: d, Regarding: d.Match.Record, Reason: d.Match.Reason}))
	fmt.Println(string(b))
	// Output:
	// {"message_id":"r1@contoso.example","source":"","folder":"","date":"","subject":"RE: Printer offline","regarding":"incident:CAS-1","method":"TrackingToken","method_code":4,"confidence":0.9,"correlated_with":"","parent":"","subject_changed":false,"seeded":false,"tracked":false,"conflicts":[],"reason":"token CRM:0001001 names tracked email 2","evidence":[],"parse_errors":[]}
}
