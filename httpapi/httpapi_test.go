package httpapi_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/httpapi"
)

const rfc822 = "message/rfc822"

var replyPath = "/v1/emails/" + url.PathEscape(replyID)

// TestAuth checks that every /v1 operation refuses a request without the
// token, or with a wrong one, and that /healthz and the pane need none.
func TestAuth(t *testing.T) {
	ts := newServer(t, options{})
	paths := []call{
		{method: "POST", path: "/v1/correlate", ctype: rfc822, body: replyRaw},
		{method: "POST", path: "/v1/emails", ctype: rfc822, body: replyRaw},
		{method: "GET", path: "/v1/emails/" + caseID},
		{method: "DELETE", path: "/v1/emails/" + caseID},
		{method: "PUT", path: "/v1/emails/" + caseID + "/regarding", ctype: "application/json", body: `{"regarding":"incident:X"}`},
		{method: "GET", path: "/v1/emails/" + caseID + "/history"},
		{method: "POST", path: "/v1/emails/" + caseID + "/convert", ctype: "application/json", body: `{}`},
		{method: "GET", path: "/v1/emails/" + caseID + "/contacts"},
		{method: "POST", path: "/v1/emails/" + caseID + "/contacts", ctype: "application/json", body: `{"contacts":[{"address":"a@b.c"}]}`},
		{method: "GET", path: "/v1/records/incident/CAS-1/emails"},
		{method: "POST", path: "/v1/tokens", ctype: "application/json", body: `{"user":1}`},
		{method: "GET", path: "/v1/openapi.json"},
	}
	for _, c := range paths {
		for _, auth := range []map[string]string{
			nil, // no Authorization header at all
			{"Authorization": "Bearer wrong-token-0123456789abcdef"},
			{"Authorization": "Bearer " + testToken + "x"}, // a longer token is another token
			{"Authorization": "Basic " + testToken},        // not the bearer scheme
		} {
			c.noAuth, c.header = true, auth
			r := ts.do(t, c)
			if r.status != http.StatusUnauthorized || r.errorCode() != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %v: %d %s, want 401 unauthorized with WWW-Authenticate", c.method, c.path, auth, r.status, r.raw)
			}
		}
	}
	// The case is still there: no refused request did anything.
	if r := ts.do(t, call{method: "GET", path: "/v1/emails/" + caseID}); r.status != 200 || r.str("regarding") != "incident:CAS-1" {
		t.Errorf("after refused requests: %d %s", r.status, r.raw)
	}
	// The scheme is case-insensitive (RFC 9110).
	if r := ts.do(t, call{method: "GET", path: "/v1/emails/" + caseID, noAuth: true, header: map[string]string{"Authorization": "bearer " + testToken}}); r.status != 200 {
		t.Errorf("lower-case bearer: %d", r.status)
	}
	if r := ts.do(t, call{method: "GET", path: "/healthz", noAuth: true}); r.status != 200 || r.str("status") != "ok" {
		t.Errorf("/healthz without a token: %d %s", r.status, r.raw)
	}
	for _, p := range []string{"/", "/pane/pane.js", "/pane/pane.css"} {
		res, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s without a token: %d, want the static pane", p, res.StatusCode)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q, want the pane confined to its own origin", p, csp)
		}
	}
}

// TestEmailLifecycle walks one email through every action, as the task
// pane does: correlate, track, look up, relink, history, untrack.
func TestEmailLifecycle(t *testing.T) {
	ts := newServer(t, options{})
	actor := map[string]string{"X-Actor": "alice@fabrikam.example"}

	// Correlate: the reply continues the case; nothing is written.
	r := ts.do(t, call{method: "POST", path: "/v1/correlate", ctype: rfc822, body: replyRaw})
	if r.status != 200 || r.str("regarding") != "incident:CAS-1" || r.str("method") != "InReplyTo" ||
		r.str("message_id") != replyID || r.str("tracked") != "false" || r.str("correlated_with") != caseID {
		t.Fatalf("correlate: %d %s", r.status, r.raw)
	}
	contacts, _ := r.json["contacts"].([]any)
	if len(contacts) != 1 || contacts[0].(map[string]any)["address"] != "ann@contoso.example" {
		t.Errorf("correlate contacts = %v, want the unknown Cc ann@ (jane is a contact, support@ our own)", r.json["contacts"])
	}
	if st, _ := ts.store.Stats(context.Background()); st.Emails != 1 {
		t.Errorf("correlate wrote: %d emails in the store", st.Emails)
	}
	if r := ts.do(t, call{method: "GET", path: replyPath}); r.status != 404 || r.errorCode() != "not_found" {
		t.Errorf("GET an untracked email: %d %s", r.status, r.raw)
	}

	// Track: filed under the case; tracking again changes nothing.
	r = ts.do(t, call{method: "POST", path: "/v1/emails", ctype: rfc822, body: replyRaw, header: actor})
	if r.status != 201 || r.str("new") != "true" || r.str("email.regarding") != "incident:CAS-1" ||
		r.str("email.method") != "InReplyTo" || r.str("decision.tracked") != "true" {
		t.Fatalf("track: %d %s", r.status, r.raw)
	}
	if r := ts.do(t, call{method: "POST", path: "/v1/emails", ctype: rfc822, body: replyRaw}); r.status != 200 || r.str("new") != "false" {
		t.Errorf("track again: %d %s", r.status, r.raw)
	}
	// Linking it by hand to another record is refused, naming the case.
	r = ts.do(t, call{method: "POST", path: "/v1/emails?regarding=incident:CAS-2", ctype: rfc822, body: replyRaw, header: actor})
	if r.status != 409 || r.errorCode() != "tracked_elsewhere" || r.str("error.regarding") != "incident:CAS-1" {
		t.Errorf("link elsewhere: %d %s", r.status, r.raw)
	}
	if r := ts.do(t, call{method: "GET", path: replyPath}); r.status != 200 || r.str("regarding") != "incident:CAS-1" || r.str("subject") != "RE: Printer offline" {
		t.Errorf("GET: %d %s", r.status, r.raw)
	}

	// Relink, explicitly; a second identical relink keeps nothing.
	r = ts.do(t, call{method: "PUT", path: replyPath + "/regarding", ctype: "application/json", body: `{"regarding":"incident:CAS-2"}`, header: actor})
	if r.status != 200 || r.str("email.regarding") != "incident:CAS-2" || r.str("change.from") != "incident:CAS-1" ||
		r.str("change.actor") != "alice@fabrikam.example" || r.str("change.cause") != "manual" {
		t.Errorf("relink: %d %s", r.status, r.raw)
	}
	if r := ts.do(t, call{method: "PUT", path: replyPath + "/regarding", ctype: "application/json", body: `{"regarding":"incident:CAS-2"}`}); r.status != 200 || r.json["change"] != nil {
		t.Errorf("relink to the same record: %d %s", r.status, r.raw)
	}
	r = ts.do(t, call{method: "PUT", path: replyPath + "/regarding", ctype: "application/json", body: `{"regarding":"account:contoso","cause":"merge"}`})
	if r.status != 200 || r.str("change.cause") != "merge" {
		t.Errorf("relink for a merge: %d %s", r.status, r.raw)
	}
	r = ts.do(t, call{method: "GET", path: replyPath + "/history"})
	changes, _ := r.json["changes"].([]any)
	if r.status != 200 || len(changes) != 2 {
		t.Fatalf("history: %d %s", r.status, r.raw)
	}
	if c := changes[0].(map[string]any); c["from"] != "incident:CAS-1" || c["to"] != "incident:CAS-2" || c["actor"] != "alice@fabrikam.example" {
		t.Errorf("first change = %v", c)
	}

	// The case's timeline no longer has the reply; the new record's has.
	r = ts.do(t, call{method: "GET", path: "/v1/records/account/contoso/emails"})
	if emails, _ := r.json["emails"].([]any); r.status != 200 || len(emails) != 1 || emails[0].(map[string]any)["message_id"] != replyID {
		t.Errorf("timeline of account:contoso: %d %s", r.status, r.raw)
	}

	// Untrack.
	if r := ts.do(t, call{method: "DELETE", path: replyPath}); r.status != 204 {
		t.Errorf("DELETE: %d %s", r.status, r.raw)
	}
	for _, c := range []call{{method: "GET", path: replyPath}, {method: "DELETE", path: replyPath}, {method: "GET", path: replyPath + "/history"}} {
		if r := ts.do(t, c); r.status != 404 {
			t.Errorf("%s after DELETE: %d", c.method, r.status)
		}
	}
}

// TestLink files a new conversation by hand under a record, and tracks one
// without a record.
func TestLink(t *testing.T) {
	ts := newServer(t, options{})
	r := ts.do(t, call{method: "POST", path: "/v1/emails?regarding=lead:L-7", ctype: rfc822, body: newRaw, header: map[string]string{"X-Actor": "bob"}})
	if r.status != 201 || r.str("email.regarding") != "lead:L-7" || r.str("change.to") != "lead:L-7" || r.str("change.actor") != "bob" || r.json["decision"] != nil {
		t.Errorf("link: %d %s", r.status, r.raw)
	}
	// The same link again: nothing changes.
	if r := ts.do(t, call{method: "POST", path: "/v1/emails?regarding=lead:L-7", ctype: rfc822, body: newRaw}); r.status != 200 || r.json["change"] != nil {
		t.Errorf("link again: %d %s", r.status, r.raw)
	}
	// Tracking a conversation that correlates with nothing files it
	// without a record.
	other := strings.Replace(newRaw, "q-1@other.example", "q-2@other.example", 1)
	r = ts.do(t, call{method: "POST", path: "/v1/emails", ctype: rfc822, body: other})
	if r.status != 201 || r.str("email.regarding") != "" || r.str("email.message_id") != "q-2@other.example" {
		t.Errorf("track without a record: %d %s", r.status, r.raw)
	}
}

func TestConvert(t *testing.T) {
	ts := newServer(t, options{})
	// The raw message: an untracked email gets a new record, with its
	// body's excerpt.
	r := ts.do(t, call{method: "POST", path: "/v1/emails/q-1@other.example/convert?type=lead", ctype: rfc822, body: newRaw, header: map[string]string{"X-Actor": "carol"}})
	if r.status != 201 || r.str("record") != "lead:NEW-1" || r.str("email.regarding") != "lead:NEW-1" || r.str("change.cause") != "convert" || r.str("change.actor") != "carol" {
		t.Fatalf("convert raw: %d %s", r.status, r.raw)
	}
	if req := ts.created[0]; req.Title != "A question" || req.Excerpt != "Hello, how much is it?" || req.Sender.Name != "Bo Stranger" {
		t.Errorf("the creator got %+v", req)
	}
	// JSON: a tracked email as the store keeps it (no body: no excerpt).
	r = ts.do(t, call{method: "POST", path: "/v1/emails/" + caseID + "/convert", ctype: "application/json", body: `{"type":"incident"}`})
	if r.status != 201 || r.str("record") != "incident:NEW-2" || r.str("change.from") != "incident:CAS-1" {
		t.Errorf("convert JSON: %d %s", r.status, r.raw)
	}
	if req := ts.created[1]; req.Title != "Printer offline" || req.Excerpt != "" || req.Sender.Address != "support@fabrikam.example" || req.Previous.ID != "CAS-1" {
		t.Errorf("the creator got %+v", req)
	}
	for _, c := range []struct {
		call   call
		status int
		code   string
	}{
		// The posted message must be the one the path names.
		{call{method: "POST", path: "/v1/emails/" + caseID + "/convert", ctype: rfc822, body: newRaw}, 422, "unprocessable"},
		// JSON for an email the store does not have.
		{call{method: "POST", path: "/v1/emails/nobody@x/convert", ctype: "application/json", body: `{}`}, 404, "not_found"},
		// A record type is one word.
		{call{method: "POST", path: "/v1/emails/" + caseID + "/convert", ctype: "application/json", body: `{"type":"a:b"}`}, 400, "bad_request"},
	} {
		if r := ts.do(t, c.call); r.status != c.status || r.errorCode() != c.code {
			t.Errorf("%s %s: %d %s, want %d %s", c.call.method, c.call.path, r.status, r.raw, c.status, c.code)
		}
	}
	none := newServer(t, options{noCreator: true})
	if r := none.do(t, call{method: "POST", path: "/v1/emails/" + caseID + "/convert", ctype: "application/json", body: `{}`}); r.status != 501 || r.errorCode() != "not_configured" {
		t.Errorf("convert without a creator: %d %s", r.status, r.raw)
	}
}

func TestContacts(t *testing.T) {
	ts := newServer(t, options{})
	if r := ts.do(t, call{method: "POST", path: "/v1/emails", ctype: rfc822, body: replyRaw}); r.status != 201 {
		t.Fatalf("track: %d %s", r.status, r.raw)
	}
	r := ts.do(t, call{method: "GET", path: replyPath + "/contacts"})
	cs, _ := r.json["contacts"].([]any)
	if r.status != 200 || len(cs) != 1 || cs[0].(map[string]any)["address"] != "ann@contoso.example" {
		t.Fatalf("contacts: %d %s", r.status, r.raw)
	}
	for _, c := range []struct {
		body, code string
		status     int
	}{
		{`{"contacts":[{"address":"jane@contoso.example"}]}`, "unprocessable", 422}, // known already
		{`{"contacts":[]}`, "bad_request", 400},
		{`{"contacts":[{"address":"ann@contoso.example"}],"extra":1}`, "bad_request", 400}, // unknown field
		{`{"contacts":`, "bad_request", 400},
	} {
		if r := ts.do(t, call{method: "POST", path: replyPath + "/contacts", ctype: "application/json", body: c.body, invalid: true}); r.status != c.status || r.errorCode() != c.code {
			t.Errorf("POST contacts %s: %d %s, want %d %s", c.body, r.status, r.raw, c.status, c.code)
		}
	}
	r = ts.do(t, call{method: "POST", path: replyPath + "/contacts", ctype: "application/json", body: `{"contacts":[{"address":"ann@contoso.example","name":"Ann New"}]}`})
	cs, _ = r.json["contacts"].([]any)
	if r.status != 200 || len(cs) != 1 || cs[0].(map[string]any)["record"] != "contact:new-ann" || cs[0].(map[string]any)["created"] != true {
		t.Errorf("create contacts: %d %s", r.status, r.raw)
	}
	if r := ts.do(t, call{method: "GET", path: replyPath + "/contacts"}); r.str("contacts") != "[]" {
		t.Errorf("contacts after creating: %s", r.raw)
	}
	none := newServer(t, options{noDirectory: true})
	if r := none.do(t, call{method: "GET", path: "/v1/emails/" + caseID + "/contacts"}); r.status != 501 || r.errorCode() != "not_configured" {
		t.Errorf("contacts without a directory: %d %s", r.status, r.raw)
	}
	r = none.do(t, call{method: "POST", path: "/v1/correlate", ctype: rfc822, body: replyRaw})
	if _, has := r.json["contacts"]; r.status != 200 || has {
		t.Errorf("correlate without a directory: %d %s (want no contacts)", r.status, r.raw)
	}
}

// TestRecordEmails pages through a record's timeline with next_cursor.
func TestRecordEmails(t *testing.T) {
	ts := newServer(t, options{})
	for i := range 4 {
		raw := strings.Replace(replyRaw, replyID, "p"+string(rune('0'+i))+"@contoso.example", 1)
		if r := ts.do(t, call{method: "POST", path: "/v1/emails", ctype: rfc822, body: raw}); r.status != 201 {
			t.Fatalf("track: %d %s", r.status, r.raw)
		}
	}
	var got []string
	path := "/v1/records/incident/CAS-1/emails?limit=2"
	for range 5 {
		r := ts.do(t, call{method: "GET", path: path})
		if r.status != 200 {
			t.Fatalf("page: %d %s", r.status, r.raw)
		}
		for _, e := range r.json["emails"].([]any) {
			got = append(got, e.(map[string]any)["message_id"].(string))
		}
		next := r.str("next_cursor")
		if next == "" {
			break
		}
		path = "/v1/records/incident/CAS-1/emails?limit=2&cursor=" + url.QueryEscape(next)
	}
	want := "p3@contoso.example p2@contoso.example p1@contoso.example p0@contoso.example " + caseID
	if strings.Join(got, " ") != want {
		t.Errorf("timeline = %s\nwant       %s", strings.Join(got, " "), want)
	}
	if r := ts.do(t, call{method: "GET", path: "/v1/records/incident/NONE/emails"}); r.status != 200 || r.str("emails") != "[]" || r.str("next_cursor") != "" {
		t.Errorf("an unknown record: %d %s, want an empty page", r.status, r.raw)
	}
}

func TestTokens(t *testing.T) {
	ts := newServer(t, options{})
	for i, want := range []string{"CRM:0001001", "CRM:0001002"} {
		r := ts.do(t, call{method: "POST", path: "/v1/tokens", ctype: "application/json", body: `{"subject":"Printer offline","user":1}`})
		if r.status != 200 || r.str("token") != want || r.str("subject") != "Printer offline "+want {
			t.Errorf("token %d: %d %s, want %s", i, r.status, r.raw, want)
		}
	}
	// The subject is shortened to fit, never the token.
	r := ts.do(t, call{method: "POST", path: "/v1/tokens", ctype: "application/json", body: `{"subject":"` + strings.Repeat("x", 300) + `","user":2}`})
	if s := r.str("subject"); r.status != 200 || len(s) != 255 || !strings.HasSuffix(s, " CRM:0002001") {
		t.Errorf("long subject: %d %q", r.status, s)
	}
	for _, body := range []string{`{"user":0}`, `{"user":1000}`} { // the ordinal must fit three user digits
		if r := ts.do(t, call{method: "POST", path: "/v1/tokens", ctype: "application/json", body: body, invalid: true}); r.status != 422 {
			t.Errorf("%s: %d %s, want 422", body, r.status, r.raw)
		}
	}
}

// TestBadRequests checks the status and code of every kind of bad input.
func TestBadRequests(t *testing.T) {
	ts := newServer(t, options{maxMessage: 1024})
	big := caseRaw + strings.Repeat("x", 2000)
	tests := []struct {
		name   string
		call   call
		status int
		code   string
	}{
		{"a message over the limit", call{method: "POST", path: "/v1/correlate", ctype: rfc822, body: big}, 413, "too_large"},
		{"a message of another media type", call{method: "POST", path: "/v1/correlate", ctype: "application/json", body: `{}`}, 415, "unsupported_media_type"},
		{"an empty message", call{method: "POST", path: "/v1/correlate", ctype: rfc822}, 422, "unprocessable"},
		{"a message without a header", call{method: "POST", path: "/v1/correlate", ctype: rfc822, body: "\r\njust a body\r\n"}, 422, "unprocessable"},
		{"a malformed record", call{method: "POST", path: "/v1/emails?regarding=nocolon", ctype: rfc822, body: newRaw}, 400, "bad_request"},
		{"an unknown direction", call{method: "POST", path: "/v1/correlate?direction=sideways", ctype: rfc822, body: newRaw}, 400, "bad_request"},
		{"a control character in X-Actor", call{method: "POST", path: "/v1/emails", ctype: rfc822, body: newRaw, header: map[string]string{"X-Actor": "eve\tmallory"}}, 400, "bad_request"},
		{"an X-Actor over 256 bytes", call{method: "POST", path: "/v1/emails", ctype: rfc822, body: newRaw, header: map[string]string{"X-Actor": strings.Repeat("e", 257)}}, 400, "bad_request"},
		{"regarding missing", call{method: "PUT", path: "/v1/emails/" + caseID + "/regarding", ctype: "application/json", body: `{}`}, 400, "bad_request"},
		{"an unknown cause", call{method: "PUT", path: "/v1/emails/" + caseID + "/regarding", ctype: "application/json", body: `{"regarding":"a:b","cause":"whim"}`}, 422, "unprocessable"},
		{"two JSON values", call{method: "PUT", path: "/v1/emails/" + caseID + "/regarding", ctype: "application/json", body: `{"regarding":"a:b"}{}`}, 400, "bad_request"},
		{"a JSON body over 1 MiB", call{method: "PUT", path: "/v1/emails/" + caseID + "/regarding", ctype: "application/json", body: `{"regarding":"` + strings.Repeat("x", 1<<20) + `"}`}, 413, "too_large"},
		{"a limit out of range", call{method: "GET", path: "/v1/records/incident/CAS-1/emails?limit=0"}, 400, "bad_request"},
		{"a limit that is no number", call{method: "GET", path: "/v1/records/incident/CAS-1/emails?limit=ten"}, 400, "bad_request"},
		{"a cursor the store never gave", call{method: "GET", path: "/v1/records/incident/CAS-1/emails?cursor=%00garbage"}, 400, "bad_request"},
		{"an untracked email", call{method: "GET", path: "/v1/emails/nobody@nowhere"}, 404, "not_found"},
		{"no such endpoint", call{method: "GET", path: "/v2/nothing"}, 404, "not_found"},
		{"a method the endpoint lacks", call{method: "PATCH", path: "/v1/emails/" + caseID}, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.invalid = true
			r := ts.do(t, tt.call)
			if r.status != tt.status || r.errorCode() != tt.code {
				t.Errorf("%d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
			if r.str("error.message") == "" || r.str("error.request_id") != r.header.Get("X-Request-Id") {
				t.Errorf("error without a message or with another request id: %s", r.raw)
			}
		})
	}
	// A chunked body (no Content-Length) over the limit is cut off too.
	req, _ := http.NewRequest("POST", ts.URL+"/v1/correlate", struct{ *strings.Reader }{strings.NewReader(big)})
	req.ContentLength = -1 // unknown: sent chunked
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", rfc822)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Errorf("chunked message over the limit: %d, want 413", res.StatusCode)
	}
}

// TestRequestLog checks the access log: one JSON line per request with its
// id and status, the client's id kept when it is safe, and never the
// token, whatever a client sends.
func TestRequestLog(t *testing.T) {
	ts := newServer(t, options{})
	r := ts.do(t, call{method: "GET", path: "/v1/emails/" + caseID, header: map[string]string{"X-Request-Id": "pane-42"}})
	if r.header.Get("X-Request-Id") != "pane-42" {
		t.Errorf("request id %q, want the client's pane-42", r.header.Get("X-Request-Id"))
	}
	r = ts.do(t, call{method: "GET", path: "/v1/emails/" + caseID, header: map[string]string{"X-Request-Id": "bad id\" injected=1"}})
	if id := r.header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Errorf("an unsafe client id was kept: %q", id)
	}
	// A client that puts the token where it does not belong.
	ts.do(t, call{method: "GET", path: "/v1/emails/" + caseID + "?token=" + testToken, invalid: true})
	ts.do(t, call{method: "GET", path: "/v1/emails/" + caseID, noAuth: true, header: map[string]string{"Authorization": "Bearer " + testToken + "-typo"}})
	ts.do(t, call{method: "POST", path: "/v1/tokens", ctype: "application/json", body: `{"user":1,"subject":"` + testToken + `"}`})

	logs := ts.logs.String()
	if strings.Contains(logs, testToken) {
		t.Errorf("the token reached the log:\n%s", logs)
	}
	if strings.Contains(strings.ToLower(logs), "authorization") || strings.Contains(logs, "Bearer") {
		t.Errorf("the Authorization header reached the log:\n%s", logs)
	}
	var seen int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			Status    int    `json:"status"`
			Method    string `json:"method"`
			Path      string `json:"path"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if l.Msg == "http request" && l.RequestID == "pane-42" && l.Status == 200 && l.Method == "GET" && l.Path == "/v1/emails/"+caseID {
			seen++
		}
	}
	if seen != 1 {
		t.Errorf("the pane-42 request was logged %d times, want once:\n%s", seen, logs)
	}
}

// TestServerTimeouts checks that NewServer drops a client that sends its
// header too slowly (a slowloris), and keeps its other limits.
func TestServerTimeouts(t *testing.T) {
	ts := newServer(t, options{})
	srv := httpapi.NewServer("127.0.0.1:0", ts.Config.Handler, httpapi.Timeouts{ReadHeader: 200 * time.Millisecond}, nil)
	if srv.ReadTimeout != httpapi.DefaultTimeouts().Read || srv.WriteTimeout != httpapi.DefaultTimeouts().Write || srv.IdleTimeout != httpapi.DefaultTimeouts().Idle || srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("server limits = %v %v %v %d", srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")) // and never the end of the header
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1024)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept a connection whose header never ended")
			}
			break // closed by the server
		}
	}
}

func TestNewHandlerConfig(t *testing.T) {
	ts := newServer(t, options{})
	if _, err := httpapi.NewHandler(httpapi.Config{Actions: ts.act, Token: "short"}); err == nil {
		t.Error("a short token was accepted")
	}
	if _, err := httpapi.NewHandler(httpapi.Config{Token: testToken}); err == nil {
		t.Error("a config without actions was accepted")
	}
}
