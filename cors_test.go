package main

// Tests of CORS: preflights, an origin list, Vary: Origin.

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestVaryOrigin: with a list of origins, every answer (allowed origin,
// refused origin, no origin, preflight, error) carries Vary: Origin; with
// "*" none does.
func TestVaryOrigin(t *testing.T) {
	list := newTestServer(t, map[string]string{"CORS_ORIGINS": "https://eye-lab.example,https://ruxailab.example"})
	star := newTestServer(t, nil)
	for _, tc := range []struct{ method, path, origin string }{
		{"GET", "/api/session/health", "https://eye-lab.example"},
		{"GET", "/api/session/health", "https://evil.example"},
		{"GET", "/api/session/health", ""},
		{"OPTIONS", "/api/session/batch_predict", "https://evil.example"},
		{"OPTIONS", "/api/session/batch_predict", "https://ruxailab.example"},
		{"POST", "/api/session/batch_predict", "https://evil.example"},
		{"GET", "/no/such/route", "https://eye-lab.example"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if vary := list.do(req, "").Header().Values("Vary"); !containsToken(vary, "Origin") {
			t.Errorf("list, %s %s from %q: Vary %q", tc.method, tc.path, tc.origin, vary)
		}
		req = httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if vary := star.do(req, "").Header().Values("Vary"); containsToken(vary, "Origin") {
			t.Errorf("*, %s %s from %q: Vary %q", tc.method, tc.path, tc.origin, vary)
		}
	}
}

func TestPreflight(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "1 per minute"})
	for i := 0; i < 5; i++ { // preflights are never limited
		req := httptest.NewRequest("OPTIONS", "/api/session/calib_validation", nil)
		req.Header.Set("Origin", "http://localhost:8080")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, x-custom")
		rec := s.do(req, "192.0.2.1:1000")
		if rec.Code != 204 {
			t.Fatalf("preflight %d: status %d", i, rec.Code)
		}
		h := rec.Header()
		if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Allow-Headers") != "content-type, x-custom" {
			t.Fatalf("preflight headers %v", h)
		}
		if h.Get("X-Ratelimit-Limit") != "" {
			t.Fatal("a preflight carries rate-limit headers")
		}
	}
}

func TestCORSOriginList(t *testing.T) {
	s := newTestServer(t, map[string]string{"CORS_ORIGINS": "https://eye-lab.example, https://ruxailab.example"})
	for origin, want := range map[string]string{"https://ruxailab.example": "https://ruxailab.example", "https://evil.example": ""} {
		req := httptest.NewRequest("GET", "/api/session/health", nil)
		req.Header.Set("Origin", origin)
		if got := s.do(req, "").Header().Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("origin %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
		}
	}
}
