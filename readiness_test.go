package main

// Tests of readiness: 503 while the data folder cannot be written, 200
// again once it can.

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadiness(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := newTestServer(t, map[string]string{"CALIBRATION_STORE": dir})
	ready := func() (int, readyBody) {
		rec := s.do(httptest.NewRequest("GET", "/api/session/ready", nil), "")
		var b readyBody
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		return rec.Code, b
	}
	if code, b := ready(); code != 200 || b.Status != "ready" {
		t.Fatalf("fresh store: %d %+v", code, b)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	if code, b := ready(); code != 503 || b.Status != "unavailable" || b.Error == "" {
		t.Errorf("read-only folder: %d %+v", code, b)
	}
	os.Chmod(dir, 0o755)
	if code, _ := ready(); code != 200 {
		t.Errorf("folder writable again: %d", code)
	}
	moved := dir + ".moved"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if code, b := ready(); code != 503 || filepath.IsAbs(b.Error) || strings.Contains(b.Error, dir) {
		t.Errorf("folder gone: %d %+v", code, b)
	}
	os.Rename(moved, dir)
	if code, _ := ready(); code != 200 {
		t.Errorf("folder back: %d", code)
	}
	if rec := s.do(httptest.NewRequest("GET", "/api/session/health", nil), ""); rec.Body.String() != `{"status":"ok"}` {
		t.Errorf("health changed: %s", rec.Body)
	}
}
