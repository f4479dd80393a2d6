package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzCorrelate posts arbitrary bytes as a message: the answer is always a
// decision or a JSON error of the documented kinds, never a 5xx or a panic.
func FuzzCorrelate(f *testing.F) {
	for _, s := range []string{caseRaw, replyRaw, newRaw, "", "\r\n\r\n", "From: \r\n\r\n", "Subject: =?utf-8?B?////?=\r\n\r\nx",
		"Message-ID: <a@b>\r\nIn-Reply-To: <" + strings.Repeat("x", 5000) + "@y>\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b--"} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "folder=Inbox&direction=outgoing")
	}
	ts := newServer(f, options{maxMessage: 64 << 10})
	h := ts.Config.Handler
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		req := httptest.NewRequest("POST", "/v1/correlate", strings.NewReader(string(body)))
		req.URL.RawQuery = query // as sent, however malformed
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "message/rfc822")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("status %d, not JSON: %q", rec.Code, rec.Body.String())
		}
		switch rec.Code {
		case http.StatusOK:
			if _, ok := v["regarding"]; !ok {
				t.Fatalf("a decision without regarding: %s", rec.Body.String())
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			if _, ok := v["error"]; !ok {
				t.Fatalf("an error without error: %s", rec.Body.String())
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}

// FuzzMessagePath asks for an email by any path value: found, not found or
// a bad request, never a 5xx.
func FuzzMessagePath(f *testing.F) {
	for _, s := range []string{"case-1@crm.fabrikam.example", "r1%2Fx@contoso.example", "%00", "..", "a%2F..%2Fb", "<x@y>", strings.Repeat("a", 3000)} {
		f.Add(s)
	}
	ts := newServer(f, options{})
	h := ts.Config.Handler
	f.Fuzz(func(t *testing.T, id string) {
		for _, suffix := range []string{"", "/history", "/contacts"} {
			req, err := http.NewRequest("GET", "http://x/v1/emails/"+id+suffix, nil)
			if err != nil {
				return // not a URL a client could send
			}
			req.Header.Set("Authorization", "Bearer "+testToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("GET %q: %d %s", id+suffix, rec.Code, rec.Body.String())
			}
		}
	})
}
