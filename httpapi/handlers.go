package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/jsonrow"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// An emailBody is a tracked email as the API shows it (Email in the
// OpenAPI document).
type emailBody struct {
	ID             int64    `json:"id"`
	MessageID      string   `json:"message_id"`
	Regarding      string   `json:"regarding"`
	Method         string   `json:"method"`
	MethodCode     int      `json:"method_code"`
	Subject        string   `json:"subject"`
	Date           string   `json:"date"`
	Direction      string   `json:"direction"`
	Mailbox        string   `json:"mailbox"`
	Folder         string   `json:"folder"`
	Token          string   `json:"token"`
	Participants   []string `json:"participants"`
	CorrelatedWith int64    `json:"correlated_with"`
	Parent         int64    `json:"parent"`
}

func emailOf(t correlate.Tracked) emailBody {
	e := emailBody{ID: t.ID, MessageID: t.MessageID, Regarding: t.Record.String(), Method: t.Method.String(),
		MethodCode: int(t.Method), Subject: t.Subject, Direction: t.Direction.String(), Mailbox: t.Mailbox,
		Folder: t.FolderPath, Token: t.Token, Participants: t.Participants, CorrelatedWith: t.CorrelatedWith, Parent: t.Parent}
	if e.Participants == nil {
		e.Participants = []string{}
	}
	if !t.Time.IsZero() {
		e.Date = t.Time.UTC().Format(time.RFC3339)
	}
	return e
}

// A changeBody is one change of a tracked email's record (Change in the
// OpenAPI document).
type changeBody struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Actor string `json:"actor"`
	Cause string `json:"cause"`
	Time  string `json:"time"`
}

func changeOf(c store.Change) changeBody {
	return changeBody{From: c.From.String(), To: c.To.String(), Actor: c.Actor, Cause: string(c.Cause), Time: c.Time.UTC().Format(time.RFC3339Nano)}
}

func changePtr(c *store.Change) *changeBody {
	if c == nil {
		return nil
	}
	j := changeOf(*c)
	return &j
}

// A decisionBody is the answer of POST /v1/correlate: the replay command's
// jsonl row (internal/jsonrow), with the contact candidates when the
// service has a directory.
type decisionBody struct {
	jsonrow.Row
	Contacts []actions.Candidate `json:"contacts,omitempty"`
}

// A filingBody is the answer of POST /v1/emails.
type filingBody struct {
	// Email is the tracked email; null when it was not tracked.
	Email *emailBody `json:"email"`
	// New reports an email stored by this request.
	New bool `json:"new"`
	// Change is the change of record kept; null when none.
	Change *changeBody `json:"change"`
	// NotTracked says why the email was left untracked.
	NotTracked string `json:"not_tracked,omitempty"`
	// Decision is the engine's decision, when it was consulted.
	Decision *decisionBody `json:"decision,omitempty"`
}

// parseOpts are the options posted messages are read with: the raw body is
// kept, so a bounce is correlated through the message it returns;
// convertOpts also extract the text, for Convert's excerpt.
var (
	parseOpts   = &correlate.ParseOptions{KeepBody: true}
	convertOpts = &correlate.ParseOptions{KeepBody: true, Text: true}
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readMessage reads and parses the raw message of r's body, bounded by
// h.maxMsg. The returned problem is the parse error of a message that could
// still be read (a *correlate.ParseError), to report, not to fail on.
func (h *handler) readMessage(w http.ResponseWriter, r *http.Request, opts *correlate.ParseOptions) (*correlate.Message, error, error) {
	if err := mediaType(r, "message/rfc822", "application/octet-stream", "text/plain"); err != nil {
		return nil, nil, err
	}
	if r.ContentLength > h.maxMsg {
		return nil, nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large",
			msg: fmt.Sprintf("message of %d bytes: the limit is %d", r.ContentLength, h.maxMsg)}
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 {
			bufPool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxMsg)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large",
				msg: fmt.Sprintf("message larger than the limit of %d bytes", h.maxMsg), err: err}
		}
		return nil, nil, badRequest("reading the message: "+err.Error(), err)
	}
	if buf.Len() == 0 {
		return nil, nil, unprocessable("empty body: post the raw message (Content-Type: message/rfc822)", nil)
	}
	m, err := correlate.ParseMessage(bytes.NewReader(buf.Bytes()), opts)
	if m == nil {
		return nil, nil, unprocessable("unreadable message: "+err.Error(), err)
	}
	if err := h.place(m, r); err != nil {
		return nil, nil, err
	}
	return m, err, nil
}

// place sets where the message was found: the mailbox (?mailbox=, else
// Config.Mailbox), the folder (?folder=) and the direction (?direction=,
// else outgoing when the mailbox sent it).
func (h *handler) place(m *correlate.Message, r *http.Request) error {
	q := r.URL.Query()
	m.Mailbox = h.cfg.Mailbox
	if mb := q.Get("mailbox"); mb != "" {
		m.Mailbox = mb
	}
	if f := q.Get("folder"); f != "" {
		m.FolderPath, m.FolderID = f, f
	}
	switch d := q.Get("direction"); d {
	case "":
		if m.Mailbox != "" && m.SenderAddress() == correlate.NormalizeAddress(m.Mailbox) {
			m.Direction = correlate.Outgoing
		}
	case "incoming":
		m.Direction = correlate.Incoming
	case "outgoing":
		m.Direction = correlate.Outgoing
	default:
		return badRequest(fmt.Sprintf("direction %q: want incoming or outgoing", d), nil)
	}
	return nil
}

// mediaType checks the request's Content-Type against the accepted ones; a
// missing Content-Type is accepted.
func mediaType(r *http.Request, accept ...string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", msg: "bad Content-Type: " + err.Error(), err: err}
	}
	for _, a := range accept {
		if mt == a {
			return nil
		}
	}
	return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
		msg: fmt.Sprintf("Content-Type %s: want %s", mt, strings.Join(accept, " or "))}
}

// readJSON decodes a JSON body of at most maxJSONBytes into v; unknown
// fields are an error.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := mediaType(r, "application/json"); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: fmt.Sprintf("JSON body larger than %d bytes", maxJSONBytes), err: err}
		}
		return badRequest("bad JSON body: "+err.Error(), err)
	}
	if dec.More() {
		return badRequest("bad JSON body: more than one value", nil)
	}
	return nil
}

// messageID returns the {message_id} path value, normalized.
func messageID(r *http.Request) (string, error) {
	id := correlate.NormalizeMessageID(r.PathValue("message_id"))
	if id == "" {
		return "", badRequest("empty message id", nil)
	}
	return id, nil
}

// actor returns the X-Actor header: who acts, for the audit trail.
func actor(r *http.Request) (string, error) {
	a := strings.TrimSpace(r.Header.Get("X-Actor"))
	if len(a) > 256 || !utf8.ValidString(a) || strings.IndexFunc(a, unicode.IsControl) >= 0 {
		return "", badRequest("X-Actor: at most 256 bytes of UTF-8 without control characters", nil)
	}
	return a, nil
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := h.act.Store().Stats(ctx); err != nil {
		h.fail(w, r, &apiError{status: http.StatusServiceUnavailable, code: "unavailable", msg: "the store does not answer", err: err})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (h *handler) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(openAPIDoc)
	return nil
}

// decide correlates m and builds its decision row: regarding and reason
// as the engine decided, tracked as the store says now.
func (h *handler) decide(ctx context.Context, m *correlate.Message, problem error) (decisionBody, error) {
	d, err := h.act.Engine().Correlate(ctx, m)
	if err != nil {
		return decisionBody{}, err
	}
	in := jsonrow.Input{Message: m, Problem: problem, Folder: m.FolderPath, Decision: d,
		Regarding: d.Match.Record, Reason: reason(d)}
	if id := actions.Identity(m); id != "" {
		_, err := h.act.Lookup(ctx, id)
		switch {
		case err == nil:
			in.Tracked = true
		case !errors.Is(err, correlate.ErrNotFound):
			return decisionBody{}, err
		}
	}
	out := decisionBody{}
	if res := h.act.Resolver(); res != nil {
		pr, err := res.Resolve(ctx, m)
		if err != nil {
			return decisionBody{}, err
		}
		in.Participants = &pr
		if out.Contacts, err = h.act.Contacts(ctx, m); err != nil {
			return decisionBody{}, err
		}
	}
	out.Row = jsonrow.New(in)
	return out, nil
}

// reason explains a decision: the winner's reason, else the first
// strategy that said why it did not match, and why it is not tracked.
func reason(d correlate.Decision) string {
	why := d.Match.Reason
	if why == "" {
		for _, s := range d.Steps {
			if s.Match.Reason != "" {
				why = s.Strategy + ": " + s.Match.Reason
				break
			}
		}
	}
	if why == "" {
		why = "no strategy matched"
	}
	if d.NoTrack != "" {
		why += "; not tracked: " + d.NoTrack
	}
	return why
}

func (h *handler) correlate(w http.ResponseWriter, r *http.Request) error {
	m, problem, err := h.readMessage(w, r, parseOpts)
	if err != nil {
		return err
	}
	dec, err := h.decide(r.Context(), m, problem)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dec)
	return nil
}

func (h *handler) track(w http.ResponseWriter, r *http.Request) error {
	var rec correlate.Record
	if s := r.URL.Query().Get("regarding"); s != "" {
		var err error
		if rec, err = correlate.ParseRecord(s); err != nil {
			return badRequest("regarding: "+err.Error(), err)
		}
	}
	who, err := actor(r)
	if err != nil {
		return err
	}
	m, problem, err := h.readMessage(w, r, parseOpts)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var f actions.Filing
	var out filingBody
	if rec.IsZero() {
		if f, err = h.act.Track(ctx, m); err != nil {
			return err
		}
		dec, err := h.decide(ctx, m, problem)
		if err != nil {
			return err
		}
		out.Decision = &dec
	} else if f, err = h.act.Link(ctx, m, rec, who); err != nil {
		return err
	}
	out.New, out.Change, out.NotTracked = f.New, changePtr(f.Change), f.NotTracked
	if f.Tracked.ID != 0 {
		e := emailOf(f.Tracked)
		out.Email = &e
	}
	status := http.StatusOK
	if f.New {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
	return nil
}

func (h *handler) getEmail(w http.ResponseWriter, r *http.Request) error {
	id, err := messageID(r)
	if err != nil {
		return err
	}
	t, err := h.act.Lookup(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, emailOf(t))
	return nil
}

func (h *handler) untrack(w http.ResponseWriter, r *http.Request) error {
	id, err := messageID(r)
	if err != nil {
		return err
	}
	if err := h.act.Untrack(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// regardingBody is the body of PUT /v1/emails/{id}/regarding.
type regardingBody struct {
	Regarding *string `json:"regarding"`
	Cause     string  `json:"cause"`
}

// relinked is the answer of PUT /v1/emails/{id}/regarding and of
// POST /v1/emails/{id}/convert.
type relinked struct {
	Record string      `json:"record,omitempty"`
	Email  emailBody   `json:"email"`
	Change *changeBody `json:"change"`
}

func (h *handler) setRegarding(w http.ResponseWriter, r *http.Request) error {
	id, err := messageID(r)
	if err != nil {
		return err
	}
	who, err := actor(r)
	if err != nil {
		return err
	}
	var body regardingBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Regarding == nil {
		return badRequest(`missing "regarding" ("type:id", or "" for no record)`, nil)
	}
	rec, err := correlate.ParseRecord(*body.Regarding)
	if err != nil {
		return badRequest("regarding: "+err.Error(), err)
	}
	f, err := h.act.Relink(r.Context(), id, rec, who, store.Cause(body.Cause))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, relinked{Email: emailOf(f.Tracked), Change: changePtr(f.Change)})
	return nil
}

// historyBody is the answer of GET /v1/emails/{id}/history.
type historyBody struct {
	Email   emailBody    `json:"email"`
	Changes []changeBody `json:"changes"`
}

func (h *handler) history(w http.ResponseWriter, r *http.Request) error {
	id, err := messageID(r)
	if err != nil {
		return err
	}
	t, cs, err := h.act.History(r.Context(), id)
	if err != nil {
		return err
	}
	out := historyBody{Email: emailOf(t), Changes: make([]changeBody, len(cs))}
	for i, c := range cs {
		out.Changes[i] = changeOf(c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// convertBody is the JSON body of POST /v1/emails/{id}/convert.
type convertBody struct {
	Type string `json:"type"`
}

func (h *handler) convert(w http.ResponseWriter, r *http.Request) error {
	id, err := messageID(r)
	if err != nil {
		return err
	}
	who, err := actor(r)
	if err != nil {
		return err
	}
	if h.cfg.Creator == nil {
		return &apiError{status: http.StatusNotImplemented, code: "not_configured", msg: "this service creates no records (no RecordCreator)"}
	}
	var m *correlate.Message
	typ := r.URL.Query().Get("type")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		// The tracked email, as the store keeps it.
		var body convertBody
		if err := readJSON(w, r, &body); err != nil {
			return err
		}
		if body.Type != "" {
			typ = body.Type
		}
		t, err := h.act.Lookup(r.Context(), id)
		if err != nil {
			return err
		}
		m = actions.MessageOf(t)
	} else {
		// The email itself, tracked or not: its body gives the excerpt.
		if m, _, err = h.readMessage(w, r, convertOpts); err != nil {
			return err
		}
		if got := actions.Identity(m); got != id {
			return unprocessable(fmt.Sprintf("the message posted is %q, not %q", got, id), nil)
		}
	}
	if len(typ) > 100 || strings.ContainsAny(typ, ": \t\r\n") {
		return badRequest(fmt.Sprintf("type %q: a record type name", typ), nil)
	}
	f, err := h.act.Convert(r.Context(), m, h.cfg.Creator, typ, who)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, relinked{Record: f.Tracked.Record.String(), Email: emailOf(f.Tracked), Change: changePtr(f.Change)})
	return nil
}

// contactsBody is the body of POST /v1/emails/{id}/contacts and the answer
// of both contact endpoints.
type contactsBody struct {
	Contacts []actions.Candidate `json:"contacts"`
}

func (h *handler) contacts(w http.ResponseWriter, r *http.Request) error {
	id, err := messageID(r)
	if err != nil {
		return err
	}
	_, cs, err := h.act.TrackedContacts(r.Context(), id)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []actions.Candidate{}
	}
	writeJSON(w, http.StatusOK, contactsBody{Contacts: cs})
	return nil
}

func (h *handler) createContacts(w http.ResponseWriter, r *http.Request) error {
	id, err := messageID(r)
	if err != nil {
		return err
	}
	var body contactsBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if len(body.Contacts) == 0 {
		return badRequest(`"contacts" is empty: choose at least one address`, nil)
	}
	if len(body.Contacts) > 500 {
		return badRequest(`"contacts": at most 500 addresses`, nil)
	}
	cs, err := h.act.CreateTrackedContacts(r.Context(), id, body.Contacts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contactsBody{Contacts: cs})
	return nil
}

// The limits of GET /v1/records/{type}/{id}/emails.
const (
	defaultPage = 50
	maxPage     = 500
)

// emailsPage is the answer of GET /v1/records/{type}/{id}/emails.
type emailsPage struct {
	Emails     []emailBody `json:"emails"`
	NextCursor string      `json:"next_cursor"`
}

func (h *handler) recordEmails(w http.ResponseWriter, r *http.Request) error {
	rec, err := correlate.ParseRecord(r.PathValue("type") + ":" + r.PathValue("id"))
	if err != nil {
		return badRequest("record: "+err.Error(), err)
	}
	q := r.URL.Query()
	limit := defaultPage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			return badRequest(fmt.Sprintf("limit %q: want 1 to %d", s, maxPage), err)
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(cursor) > 1024 {
		return badRequest("cursor: longer than 1024 bytes", nil)
	}
	ts, next, err := h.act.Emails(r.Context(), rec, limit, cursor)
	if err != nil {
		return err
	}
	out := emailsPage{Emails: make([]emailBody, len(ts)), NextCursor: next}
	for i, t := range ts {
		out.Emails[i] = emailOf(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tokenBody is the body of POST /v1/tokens.
type tokenBody struct {
	Subject   string `json:"subject"`
	User      int64  `json:"user"`
	MaxLength int    `json:"max_length"`
}

// tokenAnswer is the answer of POST /v1/tokens.
type tokenAnswer struct {
	Token   string `json:"token"`
	Subject string `json:"subject"`
}

func (h *handler) issueToken(w http.ResponseWriter, r *http.Request) error {
	var body tokenBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if body.User < 1 {
		return unprocessable(`"user" must be the CRM user's ordinal, 1 or more`, nil)
	}
	if body.MaxLength < 0 || body.MaxLength > 10000 {
		return badRequest(`"max_length": 0 (255) to 10000`, nil)
	}
	tok, err := h.tokens.Next(r.Context(), body.User)
	if err != nil {
		return err
	}
	subj, err := token.Stamp(body.Subject, tok.String(), body.MaxLength)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokenAnswer{Token: tok.String(), Subject: subj})
	return nil
}
