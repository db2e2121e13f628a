package main

// Readiness: whether this instance can serve calibrations right now, for a
// load balancer or an orchestrator (health stays the front end's constant
// {"status":"ok"}).

import (
	"log/slog"
	"net/http"
)

// readyChecker is a store that can tell whether it works right now.
type readyChecker interface {
	Ready() error
}

// readyBody is the JSON of a readiness answer.
type readyBody struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// handleReady serves GET /api/session/ready: 200 {"status":"ready"} when the
// store can be written and read, else 503 with what is wrong (logged at
// WARN too). A store without a check is always ready.
func handleReady(store calibrationStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if rc, ok := store.(readyChecker); ok {
			if err := rc.Ready(); err != nil {
				log.Warn("not ready", "err", err)
				w.Header().Set("Retry-After", "5")
				writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "unavailable", Error: err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, readyBody{Status: "ready"})
	})
}
