package main

// Tests of the realtime validation route: one window per client, the
// no_prediction answers, bad predictions, the good/poor status, methods,
// preflight and the default rate limit.

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func realtimeRequestOf(body string) *http.Request {
	req := httptest.NewRequest("POST", "/api/realtime-validation", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// faceMeshBody is a front-end request whose right iris centre is (x, y),
// with the other annotations a face mesh carries.
func faceMeshBody(x, y float64) string {
	return fmt.Sprintf(`{"prediction": [{"faceInViewConfidence": 1, "annotations": {"leftEyeIris": [[1, 2, 3]], "rightEyeIris": [[%g, %g, -3.5], [1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]}, "scaledMesh": [[1, 2, 3]]}]}`, x, y)
}

func TestRealtimeValidationPerClient(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	send := func(remote string, x, y float64) realtimeAnswer {
		t.Helper()
		rec := s.do(realtimeRequestOf(faceMeshBody(x, y)), remote)
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		var a realtimeAnswer
		decodeJSON(t, rec, &a)
		return a
	}
	// Client A's iris steps 3-4-5 then stays: RMS of steps 5 and 0 is
	// √12.5 ≈ 3.54 px, at 96 ppi and 60 cm 2·atan(3.54·2.54/96/120) ≈ 0.089°.
	send("192.0.2.1:1000", 100, 100)
	send("192.0.2.1:1000", 103, 104)
	// Client B, meanwhile, jumps 40 px: its own window.
	send("192.0.2.2:1000", 500, 500)
	b := send("192.0.2.2:1000", 540, 500)
	a := send("192.0.2.1:2000", 103, 104) // same client, another port
	wantPx := math.Sqrt(12.5)
	wantDeg := 2 * math.Atan(wantPx*2.54/96/120) * 180 / math.Pi
	if a.Status != "good" || a.PointsCollected != 3 || math.Abs(a.PrecisionPixels-wantPx) > 1e-12 || math.Abs(a.PrecisionDegrees-wantDeg) > 1e-12 {
		t.Errorf("client A: %+v, want good, 3 points, %g px, %g°", a, wantPx, wantDeg)
	}
	// 40 px at 96 ppi from 60 cm is about 1.0°: poor.
	if b.Status != "poor" || b.PointsCollected != 2 || b.PrecisionPixels != 40 {
		t.Errorf("client B: %+v, want poor, 2 points, 40 px", b)
	}
	// A client idle past the expiry starts a new window.
	s.clock.Advance(realtimeIdleExpiry)
	if a := send("192.0.2.1:1000", 1, 1); a.PointsCollected != 1 || a.PrecisionPixels != 0 {
		t.Errorf("after %v idle: %+v, want a fresh window", realtimeIdleExpiry, a)
	}
}

func TestRealtimeValidationInputs(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	for _, body := range []string{
		`{}`, `{"prediction": null}`, `{"prediction": []}`, `{"prediction": [null]}`,
		`{"prediction": [{}]}`, `{"prediction": [{"annotations": {}}]}`, `{"prediction": [{"annotations": {"rightEyeIris": []}}]}`,
		`{"prediction": [{"annotations": {"rightEyeIris": [null]}}]}`,
	} {
		rec := s.do(realtimeRequestOf(body), "")
		if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"status":"no_prediction"}` {
			t.Errorf("%s: %d %s, want no_prediction", body, rec.Code, rec.Body)
		}
	}
	for _, tc := range []struct{ body, field string }{
		{`{"prediction": "face"}`, "prediction"},
		{`{"prediction": [7]}`, "prediction[0]"},
		{`{"prediction": [{"annotations": {"rightEyeIris": [[1]]}}]}`, "prediction[0].annotations.rightEyeIris[0]"},
		{`{"prediction": [{"annotations": {"rightEyeIris": [["1", 2]]}}]}`, "prediction[0].annotations.rightEyeIris[0]"},
		{`{"prediction": [{"annotations": {"rightEyeIris": [{"x": 1, "y": 2}]}}]}`, "prediction[0].annotations.rightEyeIris[0]"},
		{`[1]`, ""},
	} {
		rec := s.do(realtimeRequestOf(tc.body), "")
		var e errorBody
		decodeJSON(t, rec, &e)
		if rec.Code != 400 || e.Field != tc.field {
			t.Errorf("%s: %d %+v, want 400 naming %q", tc.body, rec.Code, e, tc.field)
		}
	}
	// A no_prediction does not touch the window.
	s.do(realtimeRequestOf(faceMeshBody(1, 1)), "198.51.100.1:1")
	s.do(realtimeRequestOf(`{"prediction": []}`), "198.51.100.1:1")
	rec := s.do(realtimeRequestOf(faceMeshBody(1, 1)), "198.51.100.1:1")
	var a realtimeAnswer
	decodeJSON(t, rec, &a)
	if a.PointsCollected != 2 {
		t.Errorf("%d points after two faces and an empty prediction, want 2", a.PointsCollected)
	}
}

func TestRealtimeValidationRateLimitedByDefaults(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_DEFAULT": "3 per minute"})
	for i, want := range []int{200, 200, 200, 429} {
		if rec := s.do(realtimeRequestOf(faceMeshBody(1, 1)), "192.0.2.9:1"); rec.Code != want {
			t.Fatalf("request %d: %d, want %d", i+1, rec.Code, want)
		}
	}
	s.clock.Advance(time.Minute)
	if rec := s.do(realtimeRequestOf(faceMeshBody(1, 1)), "192.0.2.9:1"); rec.Code != 200 {
		t.Fatalf("after the window: %d, want 200", rec.Code)
	}
}
