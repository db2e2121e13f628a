package main

// Middleware and fallback handlers every route shares: panic recovery, the
// body limit, JSON 404 and 405.

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// handleMethodNotAllowed answers 405 JSON with an Allow header.
func handleMethodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: fmt.Sprintf("method %s is not allowed here; use %s", r.Method, allow)})
	})
}

// handleNotFound answers 404 JSON.
func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("no such endpoint: %s", r.URL.Path)})
	})
}

// withRecover turns a panic in a handler into a 500 JSON answer and a log
// line with the stack; the server goes on. http.ErrAbortHandler is passed on.
func withRecover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal server error"})
		}()
		next.ServeHTTP(w, r)
	})
}
