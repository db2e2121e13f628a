package main

// Errors as clients see them: apiError (status, message, field), the JSON
// error body, and the mapping of store and body-reading failures to them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"syscall"
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

// storeError maps a store failure to an API error: an unknown id is 404, a
// stored calibration that cannot be used 422 (naming the id and what is
// wrong), an id too long for the store 400, a full disk (or Redis) 507,
// anything else 503. A 5xx answer is a fixed sentence; its cause, which may
// hold server paths, goes to the log only. field names the request's id
// field.
func storeError(field string, err error) error {
	var unusable *unusableError
	switch {
	case errors.Is(err, errCalibrationNotFound):
		return &apiError{Status: http.StatusNotFound, Field: field, Message: "no calibration is stored under this id"}
	case errors.As(err, &unusable):
		return &apiError{Status: http.StatusUnprocessableEntity, Field: field, Message: unusable.Error(), Cause: err}
	case errors.Is(err, errIDTooLong):
		return &apiError{Status: http.StatusBadRequest, Field: "file_name", Message: "is too long for the calibration store's file names"}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, errStoreFull):
		return &apiError{Status: http.StatusInsufficientStorage, RetryAfter: 60, Message: "the calibration store is full; the calibration was not stored", Cause: err}
	default:
		return &apiError{Status: http.StatusServiceUnavailable, RetryAfter: 5, Message: "the calibration store is not available right now; retry shortly", Cause: err}
	}
}
