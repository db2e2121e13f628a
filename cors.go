package main

// CORS: the allowed origins, the headers every answer carries, preflights.

import (
	"net/http"
	"strings"
)

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
