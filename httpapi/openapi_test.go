package httpapi

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadDoc loads and validates the embedded OpenAPI document.
func loadDoc(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDoc)
	if err != nil {
		t.Fatalf("loading openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPIValid checks that the document is OpenAPI 3.1 and valid.
func TestOpenAPIValid(t *testing.T) {
	doc := loadDoc(t)
	if !doc.IsOpenAPI31OrLater() || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
}

// TestOpenAPIMatchesRoutes checks that the document and the routes name the
// same operations, with the same methods, paths and operationIds, and that
// only /healthz is without authentication in both.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadDoc(t)
	var fromDoc, fromRoutes []string
	publicDoc := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path + " " + op.OperationID
			fromDoc = append(fromDoc, key)
			if op.Security != nil && len(*op.Security) == 0 {
				publicDoc[op.OperationID] = true
			}
		}
	}
	for _, op := range operations {
		fromRoutes = append(fromRoutes, op.method+" "+op.path+" "+op.id)
		if op.public != publicDoc[op.id] {
			t.Errorf("%s: public in the routes %v, in the document %v", op.id, op.public, publicDoc[op.id])
		}
	}
	slices.Sort(fromDoc)
	slices.Sort(fromRoutes)
	for _, k := range fromRoutes {
		if !slices.Contains(fromDoc, k) {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for _, k := range fromDoc {
		if !slices.Contains(fromRoutes, k) {
			t.Errorf("openapi.json operation %s has no route", k)
		}
	}
	if len(doc.Security) != 1 {
		t.Errorf("document security = %v, want the bearer scheme for everything", doc.Security)
	}
}
