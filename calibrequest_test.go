package main

// Fuzzing of the calib_validation form decoder.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func FuzzCalibForm(f *testing.F) {
	specs := modelSpecs()
	lim := defaultInputLimits()
	f.Fuzz(func(t *testing.T, body []byte, urlencoded bool) {
		r := httptest.NewRequest(http.MethodPost, "/api/session/calib_validation", bytes.NewReader(body))
		if urlencoded {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		}
		req, err := decodeCalibRequest(r, specs, lim)
		if err != nil {
			requireAPIError(t, err)
			return
		}
		requireCalibrationID(t, req.id)
		if len(req.id) > lim.maxIDLength {
			t.Fatalf("id of %d bytes accepted, limit %d", len(req.id), lim.maxIDLength)
		}
		if _, ok := specs[req.spec.name]; !ok || len(req.spec.grid) == 0 {
			t.Fatalf("accepted model %q that the build does not serve", req.spec.name)
		}
		n := len(req.cal.Fixed)
		if n < 1 || n > lim.maxCalibRows || len(req.cal.Calib) > lim.maxCalibRows {
			t.Fatalf("accepted %d labelled and %d unlabelled rows (limit %d, labelled must be non-empty)", n, len(req.cal.Calib), lim.maxCalibRows)
		}
		// k counts k-means clusters over the test rows of the real split.
		_, test := trainTestSplit(n)
		if req.k < 1 || req.k > len(test) {
			t.Fatalf("accepted k=%d with %d test rows of %d", req.k, len(test), n)
		}
		requireScreenSize(t, "screen_width", req.cal.ScreenWidth, lim.maxScreenPx)
		requireScreenSize(t, "screen_height", req.cal.ScreenHeight, lim.maxScreenPx)
		for i, s := range req.cal.Fixed {
			requireCoordinates(t, "fixed row "+strconv.Itoa(i), lim.maxCoordinate, s.LeftX, s.LeftY, s.RightX, s.RightY, s.PointX, s.PointY)
		}
		for i, s := range req.cal.Calib {
			requireCoordinates(t, "calib row "+strconv.Itoa(i), lim.maxCoordinate, s.LeftX, s.LeftY, s.RightX, s.RightY)
		}
		for _, raw := range []json.RawMessage{req.userID, req.studyID} {
			if !json.Valid(raw) {
				t.Fatalf("user_id/study_id %q kept for echo is not JSON", raw)
			}
		}
	})
}

// BenchmarkDecodeCalibRequest times reading and checking the example
// calibration form of testdata/api (a multipart body of 57 kB with 180
// labelled and 160 unlabelled samples), the decode phase of every
// calibration.
func BenchmarkDecodeCalibRequest(b *testing.B) {
	body, ct := calibForm(b, exampleCalibFields(b))
	specs, lim := modelSpecs(), defaultInputLimits()
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/api/session/calib_validation", bytes.NewReader(body.Bytes()))
		r.Header.Set("Content-Type", ct)
		if _, err := decodeCalibRequest(r, specs, lim); err != nil {
			b.Fatal(err)
		}
	}
}
