package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
)

// apiError is a client-visible failure: the HTTP status, a plain-English
// message and, when one field is at fault, its name (with the sample index
// for arrays, e.g. "iris_tracking_data[3].left_iris_x").
type apiError struct {
	Status     int
	Message    string
	Field      string
	RetryAfter int   // seconds; sets Retry-After when positive
	Cause      error // logged, never sent: what went wrong inside, paths included
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// badField returns a 400 apiError for field.
func badField(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

// writeJSON writes v as a JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal error: response could not be encoded"}`)
	}
	writeJSONBytes(w, status, body)
}

// writeJSONBytes writes an already encoded JSON body.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// writeError answers err: an apiError with its own status (and
// Retry-After), anything else with 500 and a log line. The client sees no
// internals: a 5xx message is a fixed sentence, its cause goes to the log.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		switch {
		case ae == errOverloaded: // expected under load; a log line each would flood the log
			log.Debug("request shed", "method", r.Method, "path", r.URL.Path)
		case errors.Is(ae.Cause, context.Canceled):
			log.Info("client left; its computation was stopped", "method", r.Method, "path", r.URL.Path)
		case ae.Status >= 500:
			log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "err", ae.Error(), "cause", ae.Cause)
		}
		if ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
		}
		writeJSON(w, ae.Status, errorBody{Error: ae.Message, Field: ae.Field})
		return
	}
	log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal server error"})
}

// appendJSONFloat appends v as a JSON number the way encoding/json writes
// float64, and null for NaN and ±Inf (as the Python service does).
func appendJSONFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, v, format, -1, 64)
}

// corsPolicy answers the CORS headers of every response.
type corsPolicy struct {
	origins []string // "*" alone allows every origin
}

func newCORSPolicy(list string) corsPolicy {
	var p corsPolicy
	for _, o := range strings.Split(list, ",") {
		if o = strings.TrimSpace(o); o != "" {
			p.origins = append(p.origins, o)
		}
	}
	if len(p.origins) == 0 {
		p.origins = []string{"*"}
	}
	return p
}

// allowOrigin returns the Access-Control-Allow-Origin value for a request's
// Origin header, or "" when that origin is not allowed.
func (p corsPolicy) allowOrigin(origin string) string {
	for _, o := range p.origins {
		if o == "*" {
			return "*"
		}
		if origin != "" && strings.EqualFold(o, origin) {
			return origin
		}
	}
	return ""
}

// variesByOrigin reports whether the answers' headers depend on the
// request's Origin: with any list of origins they do (allowed or not), with
// "*" alone they never do.
func (p corsPolicy) variesByOrigin() bool {
	return !(len(p.origins) == 1 && p.origins[0] == "*")
}

// withCORS sets the CORS headers on every response to an allowed origin,
// errors and 429s included, and Vary: Origin on every response whose
// headers depend on the Origin (allowed, refused or absent), so that a
// shared cache never serves one origin's answer to another.
func withCORS(p corsPolicy, next http.Handler) http.Handler {
	varies := p.variesByOrigin()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if varies {
			h.Add("Vary", "Origin")
		}
		if v := p.allowOrigin(r.Header.Get("Origin")); v != "" {
			h.Set("Access-Control-Allow-Origin", v)
			h.Set("Access-Control-Expose-Headers", "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit-Policy, RateLimit")
		}
		next.ServeHTTP(w, r)
	})
}

// handlePreflight answers a CORS preflight with 204, the allowed methods
// and the requested headers echoed.
func handlePreflight(methods string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", methods)
		h.Add("Vary", "Access-Control-Request-Headers") // echoed below
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

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

// limitBody caps the request body at max bytes; reading past it fails with
// *http.MaxBytesError, which bodyError turns into 413.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("request body is %d bytes; the limit is %d", r.ContentLength, max)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// bodyError maps an error from reading the body to 413 or 400.
func bodyError(err error, what string) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is over the %d-byte limit", mbe.Limit)}
	}
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("%s: %v", what, err)}
}
