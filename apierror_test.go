package main

// Tests of the errors clients see: store failures as 503/507 with fixed
// sentences, their causes in the log.

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestStoreFailures: a full disk answers 507, another store failure 503,
// both JSON, and nothing panics.
func TestStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{&os.PathError{Op: "write", Path: "x", Err: errNoSpace()}, 507},
		{&os.PathError{Op: "open", Path: "x", Err: os.ErrPermission}, 503},
	} {
		s := newTestServer(t, nil)
		log := slog.New(slog.DiscardHandler)
		d := serverDeps{store: failingStore{s.store, tc.err}, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
		h := newServer(s.cfg, d)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, calibRequestOf(t, exampleCalibFields(t)))
		var body errorBody
		decodeJSON(t, rec, &body)
		if rec.Code != tc.status || body.Error == "" {
			t.Errorf("%v: %d %+v, want %d", tc.err, rec.Code, body, tc.status)
		}
	}
}

// TestServerErrorsAreFixedSentences: a store failure is a 5xx whose body
// names no path or inner error; the cause is logged.
func TestServerErrorsAreFixedSentences(t *testing.T) {
	secret := "/srv/private/data/x_fixed_train_data.csv"
	for _, err := range []error{
		&os.PathError{Op: "open", Path: secret, Err: os.ErrPermission},
		&os.PathError{Op: "write", Path: secret, Err: errNoSpace()},
	} {
		s := newTestServer(t, nil)
		var logged bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logged, nil))
		d := serverDeps{store: failingStore{s.store, err}, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
		rec := httptest.NewRecorder()
		newServer(s.cfg, d).ServeHTTP(rec, calibRequestOf(t, exampleCalibFields(t)))
		if rec.Code < 500 || strings.Contains(rec.Body.String(), "/srv") || strings.Contains(rec.Body.String(), "permission") {
			t.Errorf("%v: %d %s", err, rec.Code, rec.Body)
		}
		if !strings.Contains(logged.String(), secret) {
			t.Errorf("%v: the cause was not logged: %s", err, logged.String())
		}
	}
}
