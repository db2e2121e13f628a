package main

// Tests of the benchmark route: the answer's shape, every bad input a 400
// naming its field, methods, preflight and the default rate limit.

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func benchmarkRequestOf(body string) *http.Request {
	req := httptest.NewRequest("POST", "/api/session/benchmark", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestBenchmarkRoute(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	body := `{"screen_width_px": 1000, "screen_width_cm": 50, "viewing_distance_cm": 60, "samples": [
		{"True X": 100, "True Y": 100, "Predicted X": 103, "Predicted Y": 104},
		{"True X": 100, "True Y": 100, "Predicted X": 97, "Predicted Y": 96},
		{"True X": 500, "True Y": 300, "Predicted X": null, "Predicted Y": null},
		{"True X": 500, "True Y": 300}
	]}`
	rec := s.do(benchmarkRequestOf(body), "")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got struct {
		Overall struct {
			Accuracy    map[string]*float64 `json:"accuracy"`
			Precision   map[string]*float64 `json:"precision"`
			DataQuality map[string]float64  `json:"data_quality"`
		} `json:"overall"`
		PerTarget []map[string]*float64 `json:"per_target"`
	}
	decodeJSON(t, rec, &got)
	a := got.Overall.Accuracy
	for _, k := range []string{"mean_accuracy_error_px", "median_accuracy_error_px", "p95_accuracy_error_px"} {
		if a[k] == nil || *a[k] != 5 {
			t.Errorf("%s = %v, want 5", k, a[k])
		}
	}
	if a["mean_accuracy_error_deg"] == nil || got.Overall.Precision["mean_rms_px"] == nil || *got.Overall.Precision["median_rms_px"] != 5 {
		t.Errorf("overall %+v", got.Overall)
	}
	if dq := got.Overall.DataQuality; dq["data_loss_percent"] != 50 || dq["num_samples"] != 4 {
		t.Errorf("data quality %v, want 50%% of 4 lost", dq)
	}
	if len(got.PerTarget) != 2 || *got.PerTarget[0]["true_x"] != 100 || got.PerTarget[1]["mean_accuracy_error_px"] != nil {
		t.Errorf("per target %v: want (100, 100) then (500, 300) with null figures", got.PerTarget)
	}
	if !strings.Contains(rec.Body.String(), `"mean_accuracy_error_px":null`) {
		t.Errorf("a target without predictions should have null figures: %s", rec.Body)
	}
}

func TestBenchmarkBadInputs(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "MAX_SAMPLES": "3"})
	sample := `{"True X": 1, "True Y": 2, "Predicted X": 3, "Predicted Y": 4}`
	with := func(members string) string {
		return `{"screen_width_px": 1000, "screen_width_cm": 50, "viewing_distance_cm": 60, ` + members + `}`
	}
	tests := []struct {
		name, body string
		status     int
		field      string
		message    string
	}{
		{"all missing", `{}`, 400, "screen_width_px", "missing fields: screen_width_px, screen_width_cm, viewing_distance_cm, samples"},
		{"two missing", `{"screen_width_px": 1000, "viewing_distance_cm": null, "samples": []}`, 400, "screen_width_cm", "missing fields: screen_width_cm, viewing_distance_cm"},
		{"not an object", `[1, 2]`, 400, "", "JSON object"},
		{"not JSON", `{"samples": `, 400, "", "JSON object"},
		{"screen px zero", `{"screen_width_px": 0, "screen_width_cm": 50, "viewing_distance_cm": 60, "samples": [` + sample + `]}`, 400, "screen_width_px", "positive"},
		{"screen cm text", `{"screen_width_px": 1000, "screen_width_cm": "wide", "viewing_distance_cm": 60, "samples": [` + sample + `]}`, 400, "screen_width_cm", "positive number"},
		{"distance negative", `{"screen_width_px": 1000, "screen_width_cm": 50, "viewing_distance_cm": -60, "samples": [` + sample + `]}`, 400, "viewing_distance_cm", "positive number"},
		{"samples an object", with(`"samples": {"a": 1}`), 400, "samples", "array"},
		{"samples empty", with(`"samples": []`), 400, "samples", "empty"},
		{"too many samples", with(`"samples": [` + strings.Repeat(sample+",", 3) + sample + `]`), 400, "samples", "MAX_SAMPLES"},
		{"sample not an object", with(`"samples": [` + sample + `, 7]`), 400, "samples[1]", "object"},
		{"no true y", with(`"samples": [{"True X": 1, "Predicted X": 3, "Predicted Y": 4}]`), 400, "samples[0].True Y", "missing"},
		{"prediction text", with(`"samples": [{"True X": 1, "True Y": 2, "Predicted X": "3", "Predicted Y": 4}]`), 400, "samples[0].Predicted X", "finite number"},
		{"prediction huge", with(`"samples": [{"True X": 1, "True Y": 2, "Predicted X": 1e300, "Predicted Y": 4}]`), 400, "samples[0].Predicted X", "finite number"},
	}
	for _, tc := range tests {
		rec := s.do(benchmarkRequestOf(tc.body), "")
		var e errorBody
		decodeJSON(t, rec, &e)
		if rec.Code != tc.status || e.Field != tc.field || !strings.Contains(e.Error, tc.message) {
			t.Errorf("%s: %d %+v, want %d naming %q and saying %q", tc.name, rec.Code, e, tc.status, tc.field, tc.message)
		}
	}
	req := benchmarkRequestOf(with(`"samples": [` + sample + `]`))
	req.Header.Set("Content-Type", "text/csv")
	if rec := s.do(req, ""); rec.Code != 415 {
		t.Errorf("text/csv: %d, want 415", rec.Code)
	}
}

func TestBenchmarkRateLimitedByDefaults(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_DEFAULT": "2 per minute"})
	body := `{"screen_width_px": 1000, "screen_width_cm": 50, "viewing_distance_cm": 60, "samples": [{"True X": 1, "True Y": 2, "Predicted X": 3, "Predicted Y": 4}]}`
	for i, want := range []int{200, 200, 429} {
		if rec := s.do(benchmarkRequestOf(body), "192.0.2.7:1234"); rec.Code != want {
			t.Fatalf("request %d: %d, want %d", i+1, rec.Code, want)
		}
	}
	if rec := s.do(benchmarkRequestOf(body), "192.0.2.8:1234"); rec.Code != 200 {
		t.Fatalf("another client: %d, want 200", rec.Code)
	}
	s.clock.Advance(61e9)
	if rec := s.do(benchmarkRequestOf(body), "192.0.2.7:1234"); rec.Code != 200 {
		t.Fatalf("after the window: %d, want 200", rec.Code)
	}
}
