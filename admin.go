package main

// The admin routes, for a lab's operators: delete a calibration or all of
// a participant's, and list what is stored. They exist only with
// ADMIN_TOKEN set, answer only to "Authorization: Bearer <ADMIN_TOKEN>",
// and are not rate limited per client.

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// requireAdmin lets through requests bearing token, compared in constant
// time; others get 401 JSON.
func requireAdmin(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token)) // equal lengths for the comparison
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="eyetrack admin"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "this route needs Authorization: Bearer <ADMIN_TOKEN>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleDeleteCalibration serves DELETE /api/session/calibration/{id}: 204
// once the calibration is gone from the store (files and journal) and the
// model cache, 404 JSON when there is none.
func handleDeleteCalibration(store calibrationStore, cache *gazeModelCache, lim inputLimits, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := decodeID("id", r.PathValue("id"), lim)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		err = store.Delete(id)
		cache.forget(id)
		if err != nil {
			writeError(w, r, log, storeError("id", err))
			return
		}
		log.Info("calibration deleted", "id", id)
		w.WriteHeader(http.StatusNoContent)
	})
}

// deletedBody is the answer of a deletion by user_id.
type deletedBody struct {
	UserID  string   `json:"user_id"`
	Deleted []string `json:"deleted"`
}

// handleDeleteUser serves DELETE /api/session/calibrations?user_id=X: every
// calibration that user_id X made, deleted; 200 with their ids.
func handleDeleteUser(store calibrationStore, cache *gazeModelCache, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user_id")
		if user == "" {
			writeError(w, r, log, badField("user_id", "is required: the participant whose calibrations to delete"))
			return
		}
		ids, err := store.DeleteUser(user)
		for _, id := range ids {
			cache.forget(id)
		}
		if err != nil {
			writeError(w, r, log, storeError("", err))
			return
		}
		log.Info("participant's calibrations deleted", "user_id", user, "count", len(ids))
		if ids == nil {
			ids = []string{}
		}
		writeJSON(w, http.StatusOK, deletedBody{UserID: user, Deleted: ids})
	})
}

// listBody is a page of the listing.
type listBody struct {
	Calibrations []calibrationInfo `json:"calibrations"`
	Next         string            `json:"next,omitempty"` // pass as after= for the next page
}

// maxListPage bounds one page of the listing.
const maxListPage = 1000

// handleListCalibrations serves GET /api/session/calibrations?limit=N&after=ID:
// the stored calibrations in id order (id, created, rows, model, screen
// size, user and study ids; never a sample), N at a time (100 by default).
func handleListCalibrations(store calibrationStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := 100
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxListPage {
				writeError(w, r, log, badField("limit", "must be a whole number from 1 to %d", maxListPage))
				return
			}
			limit = n
		}
		page, next, err := store.List(q.Get("after"), limit)
		if err != nil {
			writeError(w, r, log, storeError("", err))
			return
		}
		if page == nil {
			page = []calibrationInfo{}
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, listBody{Calibrations: page, Next: next})
	})
}
