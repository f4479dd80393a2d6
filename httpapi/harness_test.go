package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/internal/syncbuf"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/httpapi"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// testToken is the bearer token of the test servers.
const testToken = "test-token-0123456789abcdef"

// The messages of the tests: the CRM's first mail about case CAS-1
// (tracked by every test server), a customer's reply to it, and a new
// conversation from a stranger.
const (
	caseID  = "case-1@crm.fabrikam.example"
	caseRaw = "From: Support <support@fabrikam.example>\r\nTo: Jane Doe <jane@contoso.example>\r\n" +
		"Subject: Printer offline\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\nMessage-ID: <" + caseID + ">\r\n\r\nWe opened a case.\r\n"
	replyID  = "r1/x@contoso.example" // a slash: path-escaped as %2F
	replyRaw = "From: Jane Doe <jane@contoso.example>\r\nTo: support@fabrikam.example\r\nCc: Ann New <ann@contoso.example>\r\n" +
		"Subject: RE: Printer offline\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <" + replyID + ">\r\n" +
		"In-Reply-To: <" + caseID + ">\r\n\r\nStill offline.\r\n"
	newRaw = "From: Bo Stranger <bo@other.example>\r\nTo: support@fabrikam.example\r\nSubject: A question\r\n" +
		"Date: Mon, 2 Mar 2026 11:00:00 +0000\r\nMessage-ID: <q-1@other.example>\r\n\r\nHello, how much is it?\r\n"
)

// options tweak a test server.
type options struct {
	noCreator   bool
	noDirectory bool
	maxMessage  int64
	discardLog  bool // the access log is formatted, then dropped (benchmarks)
}

// testServer is a running handler over a memstore with the case tracked.
type testServer struct {
	*httptest.Server
	store   store.Store
	act     *actions.Actions
	dir     *party.MemDirectory
	logs    *syncBuffer
	router  routers.Router
	created []actions.RecordRequest
	mu      sync.Mutex
}

// syncBuffer is the log of the code under test, written concurrently.
type syncBuffer = syncbuf.Buffer

var (
	docOnce sync.Once
	doc     *openapi3.T
	docErr  error
)

// apiDoc loads the OpenAPI document once, from GET /v1/openapi.json of a
// server, with no servers (the router then matches any host).
func apiDoc(t testing.TB, ts *httptest.Server) *openapi3.T {
	docOnce.Do(func() {
		req, _ := http.NewRequest("GET", ts.URL+"/v1/openapi.json", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			docErr = err
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if doc, docErr = openapi3.NewLoader().LoadFromData(b); docErr != nil {
			return
		}
		docErr = doc.Validate(context.Background())
		doc.Servers = nil
	})
	if docErr != nil {
		t.Fatalf("the OpenAPI document: %v", docErr)
	}
	return doc
}

func init() {
	openapi3filter.RegisterBodyDecoder("message/rfc822", openapi3filter.FileBodyDecoder)
}

func newServer(t testing.TB, o options) *testServer {
	t.Helper()
	st := memstore.New()
	eng, err := mailcorrelate.New(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{store: st, logs: &syncBuffer{}, dir: party.NewMemDirectory(nil)}
	if err := ts.dir.Add(party.Entry{Address: "jane@contoso.example", Record: correlate.Record{Type: "contact", ID: "jane"}, Active: true}); err != nil {
		t.Fatal(err)
	}
	aopts := &actions.Options{OwnAddresses: []string{"@fabrikam.example"}}
	if !o.noDirectory {
		aopts.Resolver = party.NewResolver(ts.dir, nil)
		aopts.NewContact = func(ctx context.Context, m *correlate.Message, p party.Party) (correlate.Record, error) {
			r := correlate.Record{Type: "contact", ID: "new-" + strings.Split(p.Address, "@")[0]}
			return r, ts.dir.Add(party.Entry{Address: p.Address, Record: r, Active: true})
		}
	}
	if ts.act, err = actions.New(eng, aopts); err != nil {
		t.Fatal(err)
	}
	m, _ := correlate.ParseMessage(strings.NewReader(caseRaw), nil)
	if _, err := ts.act.Link(context.Background(), m, correlate.Record{Type: "incident", ID: "CAS-1"}, "crm"); err != nil {
		t.Fatal(err)
	}
	var logTo io.Writer = ts.logs
	if o.discardLog {
		logTo = io.Discard
	}
	cfg := httpapi.Config{Actions: ts.act, Token: testToken, Mailbox: "support@fabrikam.example",
		Logger: slog.New(slog.NewJSONHandler(logTo, nil)), MaxMessageBytes: o.maxMessage}
	if !o.noCreator {
		n := 0
		cfg.Creator = actions.RecordCreatorFunc(func(ctx context.Context, req actions.RecordRequest) (correlate.Record, error) {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			n++
			ts.created = append(ts.created, req)
			return correlate.Record{Type: req.Type, ID: fmt.Sprintf("NEW-%d", n)}, nil
		})
	}
	h, err := httpapi.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = httptest.NewServer(h)
	t.Cleanup(ts.Close)
	if ts.router, err = legacy.NewRouter(apiDoc(t, ts.Server)); err != nil {
		t.Fatal(err)
	}
	return ts
}

// A call is one request of a test.
type call struct {
	method, path string
	ctype        string // Content-Type of body
	body         string
	header       map[string]string
	noAuth       bool
	// invalid marks a request that breaks the document on purpose (its
	// request is not validated; its response still is).
	invalid bool
}

// A reply is a response: status, header and decoded JSON body.
type reply struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

// do sends c and checks the response against the OpenAPI document (its
// status must be documented for the operation, its body must match the
// schema) and, unless c.invalid, the request too.
func (ts *testServer) do(t testing.TB, c call) reply {
	t.Helper()
	var body io.Reader
	if c.body != "" || c.ctype != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, ts.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if !c.noAuth {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: res.StatusCode, header: res.Header, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.json); err != nil {
			t.Fatalf("%s %s: response is not JSON: %v\n%s", c.method, c.path, err, raw)
		}
	}
	ts.validate(t, c, req, r)
	return r
}

// validate checks a request and its response against the document.
func (ts *testServer) validate(t testing.TB, c call, req *http.Request, r reply) {
	t.Helper()
	// The request's body was consumed: give the validator a fresh one.
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(strings.NewReader(c.body))
	if strings.Contains(req.URL.EscapedPath(), "%2F") {
		// kin-openapi's router matches the unescaped path, where an
		// escaped slash in a Message-ID splits the segment; the route is
		// the same with the slash kept escaped.
		vreq.URL.RawPath = strings.ReplaceAll(req.URL.EscapedPath(), "%2F", "%252F")
		vreq.URL.Path, _ = url.PathUnescape(vreq.URL.RawPath)
	}
	route, params, err := ts.router.FindRoute(vreq)
	if err != nil {
		if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: not in the OpenAPI document (%v) but answered %d", c.method, c.path, err, r.status)
		}
		return
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	if !c.invalid && r.status < 500 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: the request breaks the OpenAPI document: %v", c.method, c.path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
		Body: io.NopCloser(bytes.NewReader(r.raw)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s → %d: the response breaks the OpenAPI document: %v\n%s", c.method, c.path, r.status, err, r.raw)
	}
}

// errorCode returns error.code of an error reply.
func (r reply) errorCode() string {
	e, _ := r.json["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// str returns the string at a dotted path of the JSON body.
func (r reply) str(path string) string {
	var v any = r.json
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}
