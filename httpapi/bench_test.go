package httpapi_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// BenchmarkHandlerCorrelate is the handler's own cost for POST
// /v1/correlate, without a network: reading the body, parsing, correlating,
// the tracked lookup, the JSON answer and the access log. "inproc" is
// ParseMessage+Correlate of the same message, the floor.
func BenchmarkHandlerCorrelate(b *testing.B) {
	ts := newServer(b, options{noDirectory: true, discardLog: true})
	h := ts.Config.Handler
	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("POST", "/v1/correlate", strings.NewReader(replyRaw))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "message/rfc822")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatal(rec.Code, rec.Body.String())
			}
		}
	})
	b.Run("inproc", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			m, _ := correlate.ParseMessage(strings.NewReader(replyRaw), &correlate.ParseOptions{KeepBody: true})
			if _, err := ts.act.Engine().Correlate(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
