package httpapi

import (
	"embed"
)

// openAPIDoc is the OpenAPI 3.1 document of the API (GET /v1/openapi.json).
//
//go:embed openapi.json
var openAPIDoc []byte

// paneFS holds the task pane: static HTML, CSS and plain JavaScript, no
// build step.
//
//go:embed pane
var paneFS embed.FS
