package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// An apiError is an error with its HTTP status and code.
type apiError struct {
	status    int
	code      string
	msg       string
	regarding string // for tracked_elsewhere: the record the email is under
	err       error  // the cause, for errors.Is and the log
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

func badRequest(msg string, err error) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "bad_request", msg: msg, err: err}
}

func unprocessable(msg string, err error) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: "unprocessable", msg: msg, err: err}
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Regarding string `json:"regarding,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// classify maps an error of the actions to its status and code.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var te *actions.TrackedElsewhereError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		return &apiError{status: http.StatusConflict, code: "tracked_elsewhere", msg: te.Error(), regarding: te.Record.String(), err: err}
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: err.Error(), err: err}
	case errors.Is(err, correlate.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "not_found", msg: err.Error(), err: err}
	case errors.Is(err, correlate.ErrBadRecord), errors.Is(err, store.ErrBadCursor):
		return badRequest(err.Error(), err)
	case errors.Is(err, actions.ErrNoDirectory):
		return &apiError{status: http.StatusNotImplemented, code: "not_configured", msg: err.Error(), err: err}
	case errors.Is(err, actions.ErrNoIdentity), errors.Is(err, actions.ErrNotCandidate), errors.Is(err, actions.ErrNoRecord),
		errors.Is(err, actions.ErrBadCause), errors.Is(err, token.ErrUserRange), errors.Is(err, token.ErrTooLong),
		errors.Is(err, token.ErrSyntax), errors.Is(err, token.ErrCounterRange):
		return unprocessable(err.Error(), err)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &apiError{status: http.StatusServiceUnavailable, code: "unavailable", msg: "the store is unavailable; retry later", err: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", msg: "internal error", err: err}
}

// fail writes err as a JSON error; a server-side error's detail goes to
// the log, not to the client.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	if ae.status >= 500 {
		h.log.LogAttrs(r.Context(), slog.LevelError, "httpapi: request failed",
			slog.String("request_id", w.Header().Get("X-Request-Id")), slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()), slog.String("error", err.Error()))
	}
	writeError(w, ae)
}

// writeError writes ae; the request id is the one ServeHTTP set on the
// response.
func writeError(w http.ResponseWriter, ae *apiError) {
	id := w.Header().Get("X-Request-Id")
	msg := ae.msg
	if ae.status == http.StatusInternalServerError {
		msg = "internal error (request " + id + ")"
	}
	writeJSON(w, ae.status, errorBody{Error: errorDetail{Code: ae.code, Message: msg, Regarding: ae.regarding, RequestID: id}})
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
