package main

// Tests of the OpenAPI description: valid JSON, version 3.1, every
// registered route described, the example requests carry every required
// field with the right JSON type.

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// routeRecorder collects the patterns addRoutes registers.
type routeRecorder struct{ patterns []string }

func (r *routeRecorder) Handle(pattern string, _ http.Handler) {
	r.patterns = append(r.patterns, pattern)
}

// registeredRoutes returns every "METHOD /path" the server registers (the
// method-less fallbacks, answering 404 or 405, left out).
func registeredRoutes(t *testing.T, cfg config) []string {
	t.Helper()
	s := newTestServer(t, nil)
	log := slog.New(slog.DiscardHandler)
	var rr routeRecorder
	addRoutes(&rr, cfg, serverDeps{store: s.store, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log, metrics: newMetricsRegistry()})
	var out []string
	for _, p := range rr.patterns {
		if strings.Contains(p, " ") {
			out = append(out, p)
		}
	}
	return out
}

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]openAPISchema `json:"schemas"`
	} `json:"components"`
}

type openAPISchema struct {
	Type       any                      `json:"type"`
	Required   []string                 `json:"required"`
	Properties map[string]openAPISchema `json:"properties"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	cfg, err := loadConfig(nil, func(k string) string { return map[string]string{"ADMIN_TOKEN": "t"}[k] }) // every route on
	if err != nil {
		t.Fatal(err)
	}
	routes := registeredRoutes(t, cfg)
	if len(routes) < 8 {
		t.Fatalf("only %d routes registered: %v", len(routes), routes)
	}
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is registered but not described", r)
		}
	}
	s := newTestServer(t, nil)
	rec := s.do(httptest.NewRequest("GET", "/api/openapi.json", nil), "")
	if rec.Code != 200 || rec.Body.String() != string(openAPIDocument) {
		t.Errorf("/api/openapi.json: %d", rec.Code)
	}
}

// jsonTypeOf is the JSON Schema type name of a decoded value.
func jsonTypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

// checkAgainst checks v's required properties and their types.
func checkAgainst(t *testing.T, what string, schema openAPISchema, v map[string]any) {
	t.Helper()
	for _, name := range schema.Required {
		got, ok := v[name]
		if !ok {
			t.Errorf("%s lacks required %s", what, name)
			continue
		}
		var allowed []string
		switch ty := schema.Properties[name].Type.(type) {
		case string:
			allowed = []string{ty}
		case []any:
			for _, x := range ty {
				allowed = append(allowed, x.(string))
			}
		}
		if len(allowed) > 0 && !containsString(allowed, jsonTypeOf(got)) && !(jsonTypeOf(got) == "number" && containsString(allowed, "integer")) {
			t.Errorf("%s.%s is a %s, the schema allows %v", what, name, jsonTypeOf(got), allowed)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestOpenAPIExamplesValidate(t *testing.T) {
	doc := loadOpenAPI(t)
	var batch map[string]any
	if err := json.Unmarshal([]byte(readTestdata(t, "api/batch_request.json")), &batch); err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, "batch_request.json", doc.Components.Schemas["BatchRequest"], batch)
	form := map[string]any{}
	for k, v := range exampleCalibFields(t) {
		form[k] = v // every form value is text (JSON inside)
	}
	checkAgainst(t, "the example calibration form", doc.Components.Schemas["CalibForm"], form)
	if len(doc.Components.Schemas["BatchRequest"].Required) == 0 || len(doc.Components.Schemas["CalibForm"].Required) == 0 {
		t.Error("the request schemas require nothing")
	}
}
