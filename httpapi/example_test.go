package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/httpapi"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// A program in any language posts the raw message to /v1/correlate and
// reads which record it is regarding.
func ExampleNewHandler() {
	eng, _ := mailcorrelate.New(memstore.New(), nil)
	act, _ := actions.New(eng, nil)
	sent, _ := correlate.ParseMessage(strings.NewReader(caseRaw), nil)
	act.Link(context.Background(), sent, correlate.Record{Type: "incident", ID: "CAS-1"}, "crm")

	h, _ := httpapi.NewHandler(httpapi.Config{Actions: act, Token: "example-token-0123456789"})
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/v1/correlate", strings.NewReader(replyRaw))
	req.Header.Set("Authorization", "Bearer example-token-0123456789")
	req.Header.Set("Content-Type", "message/rfc822")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var d struct {
		Regarding string  `json:"regarding"`
		Method    string  `json:"method"`
		Conf      float64 `json:"confidence"`
		Reason    string  `json:"reason"`
	}
	json.NewDecoder(res.Body).Decode(&d)
	fmt.Println(res.StatusCode, d.Regarding, d.Method, d.Conf)
	fmt.Println(d.Reason)
	// Output:
	// 200 incident:CAS-1 InReplyTo 1
	// In-Reply-To names a tracked email
}
