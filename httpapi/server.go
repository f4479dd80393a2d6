// Package httpapi serves the App-for-Outlook actions (package actions) over
// HTTP and JSON, so that a CRM written in any language — and the task pane
// this package embeds — can correlate, track, link, relink, convert and
// look emails up.
//
// [NewHandler] returns the http.Handler; [NewServer] wraps it in an
// http.Server with read, write and idle timeouts. The endpoints, described
// by the OpenAPI 3.1 document served at GET /v1/openapi.json:
//
//	POST   /v1/correlate                        raw message → decision (never writes)
//	POST   /v1/emails[?regarding=type:id]       raw message → tracked (correlated, or linked)
//	GET    /v1/emails/{message-id}              the tracked email, or 404
//	DELETE /v1/emails/{message-id}              untrack
//	PUT    /v1/emails/{message-id}/regarding    {"regarding": "type:id"}: relink
//	GET    /v1/emails/{message-id}/history      every change of record
//	POST   /v1/emails/{message-id}/convert      create a record from the email, file it there
//	GET    /v1/emails/{message-id}/contacts     addresses the directory does not know
//	POST   /v1/emails/{message-id}/contacts     create contacts for the chosen ones
//	GET    /v1/records/{type}/{id}/emails       a record's emails, newest first, paged
//	POST   /v1/tokens                           a tracking token and the stamped subject
//	GET    /v1/openapi.json                     the OpenAPI document
//	GET    /healthz                             liveness and store check (no authentication)
//	GET    /                                    the task pane (static, no authentication)
//
// A {message-id} is the Message-ID without angle brackets, path-escaped
// ("/" as %2F).
//
// # Security
//
// Every /v1 endpoint requires "Authorization: Bearer TOKEN", compared in
// constant time; a request without it gets 401. The task pane's static
// files hold no data and need no token: the pane asks for it and sends it
// with every call. Request bodies are bounded (a raw message to
// Config.MaxMessageBytes, 25 MiB by default: 413 beyond; JSON bodies to
// 1 MiB). No token, Authorization header or request body ever reaches the
// access log.
//
// # Errors
//
// Every error is a JSON object {"error": {"code": "...", "message": "..."}}
// with status 400 (bad_request), 401 (unauthorized), 404 (not_found), 405
// (method_not_allowed), 409 (tracked_elsewhere, with the record in
// "regarding"), 413 (too_large), 415 (unsupported_media_type), 422
// (unprocessable), 501 (not_configured), 503 (unavailable) or 500
// (internal).
//
// # Logging
//
// Every request gets an id (X-Request-Id: the client's when it is a short
// token of letters, digits, "-", "_" and ".", else a new one), echoed in the
// response and in one structured access-log line (log/slog): id, method,
// path, status, bytes, duration, remote address.
package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// DefaultMaxMessageBytes bounds a raw message in a request body when
// Config.MaxMessageBytes is 0: 25 MiB, the size limit of Exchange Online.
const DefaultMaxMessageBytes = 25 << 20

// maxJSONBytes bounds a JSON request body.
const maxJSONBytes = 1 << 20

// MinTokenLen is the shortest bearer token NewHandler accepts.
const MinTokenLen = 16

// Config configures the handler.
type Config struct {
	// Actions are the actions served; required.
	Actions *actions.Actions
	// Token is the bearer token every /v1 request must present; required,
	// at least MinTokenLen bytes.
	Token string
	// Creator creates records for POST /v1/emails/{id}/convert; nil
	// answers 501.
	Creator actions.RecordCreator
	// Tokens issues tracking tokens for POST /v1/tokens; nil means a
	// generator of Dynamics' default format drawing its counters from the
	// actions' store.
	Tokens *token.Generator
	// Mailbox is the mailbox (owner address) a posted message is set in
	// when the request names none (?mailbox=): folder rules and the
	// organization's own address depend on it.
	Mailbox string
	// MaxMessageBytes bounds a raw message; 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// Logger receives the access log and the detail of internal errors;
	// nil means slog.Default().
	Logger *slog.Logger
}

// A handler serves the API.
type handler struct {
	cfg      Config
	act      *actions.Actions
	tokenSum [sha256.Size]byte
	tokens   *token.Generator
	log      *slog.Logger
	maxMsg   int64
	mux      *http.ServeMux
	idPrefix string // random, per handler: request ids are idPrefix and a counter
	idSeq    atomic.Uint64
}

// An operation is one route: its method and pattern, and the operationId
// of the OpenAPI document that describes it.
type operation struct {
	method, path, id string
	public           bool
}

// NewHandler returns the handler of the API, the OpenAPI document and the
// task pane.
func NewHandler(cfg Config) (http.Handler, error) {
	h, err := newHandler(cfg)
	if err != nil {
		return nil, err
	}
	return h, nil
}

func newHandler(cfg Config) (*handler, error) {
	if cfg.Actions == nil {
		return nil, errors.New("httpapi: Config.Actions is required")
	}
	if len(cfg.Token) < MinTokenLen {
		return nil, fmt.Errorf("httpapi: Config.Token must be at least %d bytes", MinTokenLen)
	}
	h := &handler{cfg: cfg, act: cfg.Actions, tokenSum: sha256.Sum256([]byte(cfg.Token)),
		tokens: cfg.Tokens, log: cfg.Logger, maxMsg: cfg.MaxMessageBytes, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.Default()
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	h.idPrefix = hex.EncodeToString(rnd[:]) + "-"
	if h.maxMsg <= 0 {
		h.maxMsg = DefaultMaxMessageBytes
	}
	if h.tokens == nil {
		g, err := token.NewGenerator(cfg.Actions.Store(), token.Format{})
		if err != nil {
			return nil, fmt.Errorf("httpapi: %w", err)
		}
		h.tokens = g
	}
	pane, err := fs.Sub(paneFS, "pane")
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	fns := map[string]func(w http.ResponseWriter, r *http.Request) error{
		"health": h.health, "getOpenAPI": h.openapi, "correlate": h.correlate, "trackEmail": h.track,
		"getEmail": h.getEmail, "untrackEmail": h.untrack, "setRegarding": h.setRegarding,
		"getHistory": h.history, "convertEmail": h.convert, "listContacts": h.contacts,
		"createContacts": h.createContacts, "recordEmails": h.recordEmails, "issueToken": h.issueToken,
	}
	for _, op := range operations {
		fn := fns[op.id]
		if fn == nil {
			return nil, fmt.Errorf("httpapi: no handler for operation %s", op.id)
		}
		h.route(op, fn)
	}
	files := http.FileServerFS(pane)
	// The pane loads nothing but its own files and talks to nothing but
	// this service: a script smuggled into the page (email is written by
	// strangers) could neither run inline nor send data elsewhere.
	static := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
	h.mux.Handle("GET /{$}", static)
	h.mux.Handle("GET /pane/", http.StripPrefix("/pane", static))
	return h, nil
}

// operations are the routes of the API, each named by the operationId of
// the OpenAPI document that describes it.
var operations = []operation{
	{"GET", "/healthz", "health", true},
	{"GET", "/v1/openapi.json", "getOpenAPI", false},
	{"POST", "/v1/correlate", "correlate", false},
	{"POST", "/v1/emails", "trackEmail", false},
	{"GET", "/v1/emails/{message_id}", "getEmail", false},
	{"DELETE", "/v1/emails/{message_id}", "untrackEmail", false},
	{"PUT", "/v1/emails/{message_id}/regarding", "setRegarding", false},
	{"GET", "/v1/emails/{message_id}/history", "getHistory", false},
	{"POST", "/v1/emails/{message_id}/convert", "convertEmail", false},
	{"GET", "/v1/emails/{message_id}/contacts", "listContacts", false},
	{"POST", "/v1/emails/{message_id}/contacts", "createContacts", false},
	{"GET", "/v1/records/{type}/{id}/emails", "recordEmails", false},
	{"POST", "/v1/tokens", "issueToken", false},
}

// route registers one operation; every one but the public ones needs the
// bearer token.
func (h *handler) route(op operation, fn func(w http.ResponseWriter, r *http.Request) error) {
	public := op.public
	serve := func(w http.ResponseWriter, r *http.Request) {
		if !public && !h.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mailcorrelate"`)
			writeError(w, &apiError{status: http.StatusUnauthorized, code: "unauthorized",
				msg: "missing or wrong bearer token (Authorization: Bearer TOKEN)"})
			return
		}
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	}
	h.mux.HandleFunc(op.method+" "+op.path, serve)
}

// authorized compares the request's bearer token with the configured one in
// constant time (both hashed first, so their lengths leak nothing either).
func (h *handler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1
}

// ServeHTTP gives the request an id, serves it, and logs it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !goodRequestID(id) {
		id = h.newRequestID()
	}
	w.Header().Set("X-Request-Id", id)
	rw := &jsonFallback{recorder: recorder{ResponseWriter: w}, r: r}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.LogAttrs(r.Context(), slog.LevelError, "httpapi: panic", slog.String("request_id", id), slog.Any("panic", v))
				if !rw.wrote {
					writeError(rw, &apiError{status: http.StatusInternalServerError, code: "internal", msg: "internal error"})
				}
			}
		}()
		h.mux.ServeHTTP(rw, r)
	}()
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.EscapedPath()),
		slog.Int("status", rw.status),
		slog.Int64("bytes", rw.bytes),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", r.RemoteAddr),
	)
}

// goodRequestID accepts a client's request id of 1–64 letters, digits, "-",
// "_" and ".": nothing that could forge a log line.
func goodRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newRequestID returns the handler's random prefix and its next number:
// unique across restarts without a random read per request.
func (h *handler) newRequestID() string {
	return h.idPrefix + strconv.FormatUint(h.idSeq.Add(1), 36)
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (rw *recorder) WriteHeader(code int) {
	if !rw.wrote {
		rw.status, rw.wrote = code, true
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if !rw.wrote {
		rw.status, rw.wrote = http.StatusOK, true
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// jsonFallback turns the plain-text errors of the mux (no such route: 404,
// wrong method: 405) and of the pane's file server into JSON errors. The
// API's own errors are JSON already and pass through.
type jsonFallback struct {
	recorder
	r       *http.Request
	swallow bool
}

func (j *jsonFallback) WriteHeader(code int) {
	if code >= 400 && !j.wrote && !strings.HasPrefix(j.Header().Get("Content-Type"), "application/json") {
		j.swallow = true
		j.Header().Del("Content-Type")
		ae := &apiError{status: code, code: "not_found", msg: "no such endpoint: " + j.r.Method + " " + j.r.URL.EscapedPath()}
		if code == http.StatusMethodNotAllowed {
			ae.code, ae.msg = "method_not_allowed", "method "+j.r.Method+" not allowed here (Allow: "+j.Header().Get("Allow")+")"
		} else if code != http.StatusNotFound {
			ae.code, ae.msg = "bad_request", http.StatusText(code)
		}
		writeError(&j.recorder, ae)
		return
	}
	j.recorder.WriteHeader(code)
}

func (j *jsonFallback) Write(b []byte) (int, error) {
	if j.swallow {
		return len(b), nil
	}
	return j.recorder.Write(b)
}

// Timeouts are the limits of NewServer's http.Server.
type Timeouts struct {
	// ReadHeader bounds reading a request's header; Read the whole request
	// (a 25 MiB message needs time on a slow link); Write the response;
	// Idle a kept-alive connection between requests.
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultTimeouts returns the Timeouts NewServer uses for zero fields:
// 10 s for a header, 2 min to read a request, 2 min to write a response,
// 2 min idle.
func DefaultTimeouts() Timeouts {
	return Timeouts{ReadHeader: 10 * time.Second, Read: 2 * time.Minute, Write: 2 * time.Minute, Idle: 2 * time.Minute}
}

// NewServer returns an http.Server for h on addr with the given timeouts
// (zero fields: DefaultTimeouts), headers bounded to 64 KiB, and its own
// errors logged to logger (nil: slog.Default()).
func NewServer(addr string, h http.Handler, t Timeouts, logger *slog.Logger) *http.Server {
	d := DefaultTimeouts()
	if t.ReadHeader <= 0 {
		t.ReadHeader = d.ReadHeader
	}
	if t.Read <= 0 {
		t.Read = d.Read
	}
	if t.Write <= 0 {
		t.Write = d.Write
	}
	if t.Idle <= 0 {
		t.Idle = d.Idle
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
