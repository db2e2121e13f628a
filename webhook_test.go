package main

// Tests of the webhook: delivery, retries, the warning when it is off.

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWebhook: from_ruxailab posts the notice in the background; a failing
// receiver is retried and never changes the response.
func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	calls := 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(503) // the first attempt fails
			return
		}
		if r.URL.Path != "/receiveCalibration" {
			t.Errorf("path %s", r.URL.Path)
		}
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		got = append(got, v)
	}))
	defer receiver.Close()
	s := newTestServer(t, map[string]string{"FUNCTIONS_ENDPOINT_URL": receiver.URL})
	fields := exampleCalibFields(t)
	fields["from_ruxailab"] = "true"
	fields["user_id"] = `"user-1"`
	fields["study_id"] = `"study-9"`
	if rec := s.do(calibRequestOf(t, fields), ""); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no webhook arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := map[string]any{"session_id": "sample9full", "user_id": "user-1", "study_id": "study-9", "model": "Linear Regression", "screen_height": 746.0, "screen_width": 1495.0, "k": 9.0}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("webhook %s = %v, want %v", k, got[0][k], v)
		}
	}
}

// TestWebhookOffIsWarnedOnce: calibrations asking for the RUXAILAB webhook
// without FUNCTIONS_ENDPOINT_URL log one warning, not one per request.
func TestWebhookOffIsWarnedOnce(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	d := serverDeps{store: s.store, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
	h := newServer(s.cfg, d)
	for i := 0; i < 3; i++ {
		fields := exampleCalibFields(t)
		fields["from_ruxailab"] = "true"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, calibRequestOf(t, fields))
		if rec.Code != 200 {
			t.Fatal(rec.Body)
		}
	}
	if n := strings.Count(logged.String(), "FUNCTIONS_ENDPOINT_URL"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "level=WARN") {
		t.Errorf("not a warning: %s", logged.String())
	}
}
