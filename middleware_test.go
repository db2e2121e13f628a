package main

// Tests of the shared middleware: a panic becomes a 500 JSON answer.

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestPanicIsRecovered: a panicking handler answers 500 JSON, its stack is
// logged, and the server goes on.
func TestPanicIsRecovered(t *testing.T) {
	var logBuf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logBuf.Write(p)
	}), nil))
	mux := http.NewServeMux()
	mux.Handle("/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") }))
	mux.Handle("/ok", handleHealth())
	h := withRecover(log, withCORS(newCORSPolicy("*"), mux))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != 500 || body.Error == "" {
		t.Fatalf("%d %+v", rec.Code, body)
	}
	mu.Lock()
	logged := logBuf.String()
	mu.Unlock()
	if !strings.Contains(logged, "kaboom") || !strings.Contains(logged, "middleware_test.go") {
		t.Errorf("panic not logged with its stack: %s", logged)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ok", nil))
	if rec.Code != 200 {
		t.Fatal("server stopped serving after a panic")
	}
}
