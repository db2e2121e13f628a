package main

// The OpenAPI 3.1 description of the whole API (openapi.json), embedded in
// the binary and served at /api/openapi.json.

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves the description.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		writeJSONBytes(w, http.StatusOK, openAPIDocument)
	})
}
