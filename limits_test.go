package main

// Tests of the operator-set input limits.

import (
	"net/http"
	"testing"
)

// TestOperatorLimits: the input limits an operator sets are enforced, with
// a 4xx naming the field.
func TestOperatorLimits(t *testing.T) {
	s := newTestServer(t, map[string]string{"MAX_SAMPLES": "2", "MAX_CALIB_ROWS": "50", "MAX_STRING_LENGTH": "8", "MAX_SCREEN_PX": "1000", "RATELIMIT_ENABLED": "false"})
	sample := `{"left_iris_x": 600, "left_iris_y": 290, "right_iris_x": 510, "right_iris_y": 288}`
	long := exampleCalibFields(t)
	long["file_name"] = `"a-long-file-name"`
	wide := exampleCalibFields(t)
	wide["file_name"] = `"short"`
	for _, tc := range []struct {
		req   *http.Request
		field string
	}{
		{batchRequestOf(`{"calib_id": "x", "screen_width": 900, "screen_height": 700, "iris_tracking_data": [` + sample + "," + sample + "," + sample + `]}`), "iris_tracking_data"},
		{batchRequestOf(`{"calib_id": "x", "screen_width": 1495, "screen_height": 700, "iris_tracking_data": [` + sample + `]}`), "screen_width"},
		{calibRequestOf(t, long), "file_name"},
		{calibRequestOf(t, wide), "screen_width"},
	} {
		rec := s.do(tc.req, "")
		var body errorBody
		decodeJSON(t, rec, &body)
		if rec.Code != 400 || body.Field != tc.field {
			t.Errorf("%d %+v, want 400 naming %s", rec.Code, body, tc.field)
		}
	}
	rows := exampleCalibFields(t) // 180 rows against a limit of 50
	rows["file_name"], rows["screen_width"], rows["screen_height"] = `"rows"`, "900", "700"
	rec := s.do(calibRequestOf(t, rows), "")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != 400 || body.Field != "fixed_circle_iris_points" {
		t.Errorf("too many rows: %d %+v", rec.Code, body)
	}
}
