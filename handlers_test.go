package main

// Tests through the whole HTTP handler: routing, the clients' real
// requests, determinism, bad input, degenerate data, handler benchmarks.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	s := newTestServer(t, nil)
	rec := s.do(httptest.NewRequest("GET", "/api/session/health", nil), "")
	var body map[string]string
	decodeJSON(t, rec, &body)
	if rec.Code != 200 || body["status"] != "ok" {
		t.Fatalf("got %d %v", rec.Code, body)
	}
	if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header")
	}
}

func TestRoutingErrorsAreJSON(t *testing.T) {
	s := newTestServer(t, nil)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nope", 404, ""},
		{"POST", "/api/session/unknown", 404, ""},
		{"GET", "/api/session/calib_validation", 405, "POST, OPTIONS"},
		{"DELETE", "/api/session/batch_predict", 405, "POST, OPTIONS"},
		{"POST", "/api/session/health", 405, "GET, HEAD, OPTIONS"},
		{"POST", "/api/session/ready", 405, "GET, HEAD"},
		{"GET", "/api/session/benchmark", 405, "POST, OPTIONS"},
		{"GET", "/api/realtime-validation", 405, "POST, OPTIONS"},
	}
	for _, tc := range tests {
		rec := s.do(httptest.NewRequest(tc.method, tc.path, nil), "")
		var body errorBody
		decodeJSON(t, rec, &body)
		if rec.Code != tc.status || body.Error == "" {
			t.Errorf("%s %s: %d %+v, want %d", tc.method, tc.path, rec.Code, body, tc.status)
		}
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s: no CORS header", tc.method, tc.path)
		}
	}
	for _, path := range []string{"/api/session/health", "/api/session/calib_validation", "/api/session/batch_predict",
		"/api/session/models", "/api/session/benchmark", "/api/realtime-validation"} {
		if rec := s.do(httptest.NewRequest("OPTIONS", path, nil), ""); rec.Code != 204 {
			t.Errorf("OPTIONS %s: %d, want 204", path, rec.Code)
		}
	}
}

// TestClientExamples sends the front end's real calibration and RUXAILAB's
// real batch and compares with the Python service's responses.
func TestClientExamples(t *testing.T) {
	s := newTestServer(t, nil)
	rec := s.do(calibRequestOf(t, exampleCalibFields(t)), "")
	if rec.Code != 200 {
		t.Fatalf("calib_validation: %d %s", rec.Code, rec.Body)
	}
	var got, want map[string]json.RawMessage
	decodeJSON(t, rec, &got)
	if err := json.Unmarshal([]byte(readTestdata(t, "api/calib_response_linear.json")), &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d top-level keys, want %d", len(got), len(want))
	}
	for xk, raw := range want {
		if xk == "centroids" {
			var gc, wc [][]float64
			json.Unmarshal(got[xk], &gc)
			json.Unmarshal(raw, &wc)
			if len(gc) != len(wc) || len(gc[0]) != 2 {
				t.Errorf("centroids: %d pairs, want %d", len(gc), len(wc))
			}
			continue
		}
		var gy, wy map[string]goldenTarget
		if err := json.Unmarshal(got[xk], &gy); err != nil {
			t.Fatalf("key %s: %v", xk, err)
		}
		json.Unmarshal(raw, &wy)
		if len(gy) != len(wy) {
			t.Errorf("key %s: %d inner keys, want %d", xk, len(gy), len(wy))
		}
		for yk, w := range wy {
			g := gy[yk]
			if len(g.PredictedX) != len(w.PredictedX) || len(g.PredictedY) != len(w.PredictedY) {
				t.Fatalf("%s/%s: %d predictions, want %d", xk, yk, len(g.PredictedX), len(w.PredictedX))
			}
			for i := range w.PredictedX {
				if math.Abs(g.PredictedX[i]-w.PredictedX[i]) > 1e-6 || math.Abs(g.PredictedY[i]-w.PredictedY[i]) > 1e-6 {
					t.Errorf("%s/%s row %d: (%v, %v), want (%v, %v)", xk, yk, i, g.PredictedX[i], g.PredictedY[i], w.PredictedX[i], w.PredictedY[i])
				}
			}
			if math.Abs(g.PrecisionSD-w.PrecisionSD) > 1e-6 || math.Abs(g.Accuracy-w.Accuracy) > 1e-6 {
				t.Errorf("%s/%s: PrecisionSD %v Accuracy %v, want %v %v", xk, yk, g.PrecisionSD, g.Accuracy, w.PrecisionSD, w.Accuracy)
			}
		}
	}

	rec = s.do(batchRequestOf(readTestdata(t, "api/batch_request.json")), "")
	if rec.Code != 200 {
		t.Fatalf("batch_predict: %d %s", rec.Code, rec.Body)
	}
	var gotB, wantB []map[string]any
	decodeJSON(t, rec, &gotB)
	json.Unmarshal([]byte(readTestdata(t, "api/batch_response.json")), &wantB)
	if len(gotB) != len(wantB) || len(gotB) == 0 {
		t.Fatalf("%d predictions, want %d", len(gotB), len(wantB))
	}
	for i := range wantB {
		if len(gotB[i]) != len(wantB[i]) {
			t.Fatalf("element %d keys %v, want %v", i, gotB[i], wantB[i])
		}
		for k, wv := range wantB[i] {
			gv, ok := gotB[i][k]
			if !ok {
				t.Fatalf("element %d has no %q", i, k)
			}
			wf, _ := wv.(float64)
			gf, _ := gv.(float64)
			tol := 0.0
			if strings.HasPrefix(k, "predicted") {
				tol = 1e-6
			}
			if math.Abs(wf-gf) > tol {
				t.Errorf("element %d %s: %v, want %v", i, k, gv, wv)
			}
		}
	}
}

// TestCalibrationDeterministic: the same request gives the same response,
// centroids included.
func TestCalibrationDeterministic(t *testing.T) {
	s := newTestServer(t, nil)
	first := s.do(calibRequestOf(t, exampleCalibFields(t)), "").Body.String()
	second := s.do(calibRequestOf(t, exampleCalibFields(t)), "").Body.String()
	if first != second {
		t.Fatal("two identical calibrations answered differently")
	}
}

// TestBatchUsesReplacedCalibration: replacing a calibration invalidates the
// cached batch model.
func TestBatchUsesReplacedCalibration(t *testing.T) {
	s := newTestServer(t, nil)
	batch := readTestdata(t, "api/batch_request.json")
	// RUXAILAB's example request names the calibration "sample9full".
	fields := exampleCalibFields(t)
	if rec := s.do(calibRequestOf(t, fields), ""); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	before := s.do(batchRequestOf(batch), "").Body.String()
	again := s.do(batchRequestOf(batch), "").Body.String()
	if before != again {
		t.Fatal("the cached model answered differently")
	}
	var rows []map[string]float64
	json.Unmarshal([]byte(fields["fixed_circle_iris_points"]), &rows)
	for _, r := range rows {
		r["point_x"] = 1495 - r["point_x"] // mirror the targets
	}
	mirrored, _ := json.Marshal(rows)
	fields["fixed_circle_iris_points"] = string(mirrored)
	if rec := s.do(calibRequestOf(t, fields), ""); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	after := s.do(batchRequestOf(batch), "").Body.String()
	if after == before {
		t.Fatal("batch_predict still uses the replaced calibration")
	}
}

// TestBadInputs: every client mistake is a 4xx JSON error naming the field,
// and the server goes on serving.
func TestBadInputs(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "MAX_BODY_BYTES": "200000"})
	if rec := s.do(calibRequestOf(t, exampleCalibFields(t)), ""); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	with := func(key, value string) map[string]string {
		f := exampleCalibFields(t)
		if value == "\x00delete" {
			delete(f, key)
		} else {
			f[key] = value
		}
		return f
	}
	calib := func(key, value string) func() *http.Request {
		return func() *http.Request { return calibRequestOf(t, with(key, value)) }
	}
	batch := func(body string) func() *http.Request { return func() *http.Request { return batchRequestOf(body) } }
	sample := `{"left_iris_x": 600, "left_iris_y": 290, "right_iris_x": 510, "right_iris_y": 288}`
	batchWith := func(fields string) func() *http.Request {
		return batch(`{"calib_id": "sample9full", "screen_width": 1495, "screen_height": 746, ` + fields + `}`)
	}
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		field  string
	}{
		{"calib: no file_name", calib("file_name", "\x00delete"), 400, "file_name"},
		{"calib: file_name not JSON", calib("file_name", "abc"), 400, "file_name"},
		{"calib: file_name a number", calib("file_name", "12"), 400, "file_name"},
		{"calib: file_name sanitises to nothing", calib("file_name", `"///???"`), 400, "file_name"},
		{"calib: file_name is ..", calib("file_name", `"../.."`), 400, "file_name"},
		{"calib: file_name too long", calib("file_name", `"`+strings.Repeat("a", 300)+`"`), 400, "file_name"},
		{"calib: no fixed points", calib("fixed_circle_iris_points", "\x00delete"), 400, "fixed_circle_iris_points"},
		{"calib: fixed points not JSON", calib("fixed_circle_iris_points", "[{"), 400, "fixed_circle_iris_points"},
		{"calib: fixed points an object", calib("fixed_circle_iris_points", `{"a": 1}`), 400, "fixed_circle_iris_points"},
		{"calib: fixed points empty", calib("fixed_circle_iris_points", `[]`), 400, "fixed_circle_iris_points"},
		{"calib: fixed point missing key", calib("fixed_circle_iris_points", `[{"left_iris_x": 1, "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4, "point_x": 5}]`), 400, "fixed_circle_iris_points[0].point_y"},
		{"calib: fixed point a string", calib("fixed_circle_iris_points", `[{"left_iris_x": "1", "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4, "point_x": 5, "point_y": 6}]`), 400, "fixed_circle_iris_points[0].left_iris_x"},
		{"calib: fixed point null", calib("fixed_circle_iris_points", `[{"left_iris_x": null, "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4, "point_x": 5, "point_y": 6}]`), 400, "fixed_circle_iris_points[0].left_iris_x"},
		{"calib: fixed point huge", calib("fixed_circle_iris_points", `[{"left_iris_x": 1e300, "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4, "point_x": 5, "point_y": 6}]`), 400, "fixed_circle_iris_points[0].left_iris_x"},
		{"calib: fixed point overflow", calib("fixed_circle_iris_points", `[{"left_iris_x": 1e999, "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4, "point_x": 5, "point_y": 6}]`), 400, "fixed_circle_iris_points[0].left_iris_x"},
		{"calib: fixed element not object", calib("fixed_circle_iris_points", `[1, 2]`), 400, "fixed_circle_iris_points[0]"},
		{"calib: no calib points", calib("calib_circle_iris_points", "\x00delete"), 400, "calib_circle_iris_points"},
		{"calib: calib point missing key", calib("calib_circle_iris_points", `[{"left_iris_x": 1}]`), 400, "calib_circle_iris_points[0].left_iris_y"},
		{"calib: no screen_width", calib("screen_width", "\x00delete"), 400, "screen_width"},
		{"calib: screen_width text", calib("screen_width", `"wide"`), 400, "screen_width"},
		{"calib: screen_width zero", calib("screen_width", "0"), 400, "screen_width"},
		{"calib: screen_height negative", calib("screen_height", "-746"), 400, "screen_height"},
		{"calib: screen_height absurd", calib("screen_height", "1e9"), 400, "screen_height"},
		{"calib: no k", calib("k", "\x00delete"), 400, "k"},
		{"calib: k zero", calib("k", "0"), 400, "k"},
		{"calib: k fractional", calib("k", "2.5"), 400, "k"},
		{"calib: k above test rows", calib("k", "37"), 400, "k"},
		{"calib: k text", calib("k", `"many"`), 400, "k"},
		{"calib: unknown model", calib("model", `"Deep Net"`), 400, "model"},
		{"calib: model not JSON", calib("model", `Linear Regression`), 400, "model"},
		{"calib: from_ruxailab text", calib("from_ruxailab", `"maybe"`), 400, "from_ruxailab"},
		{"calib: user_id object", calib("user_id", `{"a": 1}`), 400, "user_id"},
		{"calib: too few rows for the search", calib("fixed_circle_iris_points", `[{"left_iris_x": 1, "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4, "point_x": 5, "point_y": 6}, {"left_iris_x": 2, "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4, "point_x": 5, "point_y": 6}]`), 400, "k"},
		{"calib: too few rows for the 5-fold search", func() *http.Request {
			f := with("k", "1")
			f["model"] = `"Ridge Regression"`
			f["fixed_circle_iris_points"] = `[{"left_iris_x": 1, "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4, "point_x": 5, "point_y": 6}, {"left_iris_x": 2, "left_iris_y": 3, "right_iris_x": 3, "right_iris_y": 5, "point_x": 50, "point_y": 60}, {"left_iris_x": 3, "left_iris_y": 2, "right_iris_x": 4, "right_iris_y": 4, "point_x": 500, "point_y": 6}]`
			return calibRequestOf(t, f)
		}, 400, "fixed_circle_iris_points"},
		{"calib: JSON body", func() *http.Request {
			r := httptest.NewRequest("POST", "/api/session/calib_validation", strings.NewReader(`{"file_name": "x"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 415, ""},
		{"calib: no content type", func() *http.Request {
			return httptest.NewRequest("POST", "/api/session/calib_validation", strings.NewReader(`x`))
		}, 415, ""},
		{"calib: broken multipart", func() *http.Request {
			r := httptest.NewRequest("POST", "/api/session/calib_validation", strings.NewReader("--xyz\r\nbroken"))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
			return r
		}, 400, ""},
		{"calib: body too large", func() *http.Request {
			f := exampleCalibFields(t)
			f["calib_circle_iris_points"] = "[" + strings.Repeat(sample+",", 3000) + sample + "]"
			return calibRequestOf(t, f)
		}, 413, ""},
		{"calib: urlencoded bad k", func() *http.Request {
			v := url.Values{}
			for k, val := range with("k", "-3") {
				v.Set(k, val)
			}
			r := httptest.NewRequest("POST", "/api/session/calib_validation", strings.NewReader(v.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 400, "k"},
		{"batch: not JSON", batch(`{"calib_id": `), 400, ""},
		{"batch: an array", batch(`[1, 2]`), 400, ""},
		{"batch: wrong content type", func() *http.Request {
			r := batchRequestOf(`{}`)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, 415, ""},
		{"batch: no calib_id", batch(`{"screen_width": 1495, "screen_height": 746, "iris_tracking_data": [` + sample + `]}`), 400, "calib_id"},
		{"batch: empty calib_id", batch(`{"calib_id": "", "screen_width": 1495, "screen_height": 746, "iris_tracking_data": [` + sample + `]}`), 400, "calib_id"},
		{"batch: calib_id object", batch(`{"calib_id": {}, "screen_width": 1495, "screen_height": 746, "iris_tracking_data": [` + sample + `]}`), 400, "calib_id"},
		{"batch: calib_id sanitises to nothing", batch(`{"calib_id": "///", "screen_width": 1495, "screen_height": 746, "iris_tracking_data": [` + sample + `]}`), 400, "calib_id"},
		{"batch: unknown calibration", batch(`{"calib_id": "nobody", "screen_width": 1495, "screen_height": 746, "iris_tracking_data": [` + sample + `]}`), 404, "calib_id"},
		{"batch: no samples", batchWith(`"iris_tracking_data": []`), 400, "iris_tracking_data"},
		{"batch: samples missing", batchWith(`"k": 3`), 400, "iris_tracking_data"},
		{"batch: samples an object", batchWith(`"iris_tracking_data": {"a": 1}`), 400, "iris_tracking_data"},
		{"batch: sample missing key", batchWith(`"iris_tracking_data": [` + sample + `, {"left_iris_x": 1, "left_iris_y": 2, "right_iris_x": 3}]`), 400, "iris_tracking_data[1].right_iris_y"},
		{"batch: sample value text", batchWith(`"iris_tracking_data": [{"left_iris_x": "a", "left_iris_y": 2, "right_iris_x": 3, "right_iris_y": 4}]`), 400, "iris_tracking_data[0].left_iris_x"},
		{"batch: sample value null", batchWith(`"iris_tracking_data": [{"left_iris_x": 1, "left_iris_y": null, "right_iris_x": 3, "right_iris_y": 4}]`), 400, "iris_tracking_data[0].left_iris_y"},
		{"batch: sample not an object", batchWith(`"iris_tracking_data": [5]`), 400, "iris_tracking_data[0]"},
		{"batch: no screen_width", batch(`{"calib_id": "sample9full", "screen_height": 746, "iris_tracking_data": [` + sample + `]}`), 400, "screen_width"},
		{"batch: screen_height zero", batch(`{"calib_id": "sample9full", "screen_width": 1495, "screen_height": 0, "iris_tracking_data": [` + sample + `]}`), 400, "screen_height"},
		{"batch: screen_width text", batch(`{"calib_id": "sample9full", "screen_width": "wide", "screen_height": 746, "iris_tracking_data": [` + sample + `]}`), 400, "screen_width"},
		{"batch: body too large", batchWith(`"iris_tracking_data": [` + strings.Repeat(sample+",", 4000) + sample + `]`), 413, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := s.do(tc.req(), "")
			var body errorBody
			decodeJSON(t, rec, &body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if body.Error == "" {
				t.Fatalf("no error message: %s", rec.Body)
			}
			if tc.field != "" && body.Field != tc.field {
				t.Fatalf("field %q, want %q (%s)", body.Field, tc.field, body.Error)
			}
		})
	}
	if n := len(tests); n < 40 {
		t.Fatalf("only %d bad inputs", n)
	}
	if rec := s.do(httptest.NewRequest("GET", "/api/session/health", nil), ""); rec.Code != 200 {
		t.Fatal("the server stopped serving")
	}
}

// BenchmarkCalibValidation times a whole calib_validation request (form
// decoding, store, fit with grid search, k-means, JSON) on the 180-row
// 9_full recording, per model: with the real store (the save committed to
// the synced journal before the answer, the files written behind it), and
// with an in-memory store, which shows the handler's own work apart from
// the disk. store=disk repeats one id, as a participant recalibrating
// does, so the background writer writes only the last of the saves that
// gather in its 10 ms delay; store=disk-ids gives every request its own id
// (64 in turn), so every save is also written to its two files, competing
// with the requests' journal syncs for the disk; store=disk-idle waits,
// off the clock, for the writer to finish after each request: the latency
// of one calibration on an idle server.
func BenchmarkCalibValidation(b *testing.B) {
	for _, store := range []string{"disk", "disk-ids", "disk-idle", "memory"} {
		s := newTestServer(b, map[string]string{"RATELIMIT_ENABLED": "false"})
		h := s.handler
		if store == "memory" {
			log := slog.New(slog.DiscardHandler)
			h = newServer(s.cfg, serverDeps{store: &memStore{}, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log})
		}
		ids := 1
		if store == "disk-ids" {
			ids = 64
		}
		for _, model := range servedModels(modelSpecs()) {
			if (store == "disk-ids" || store == "disk-idle") && model != "Linear Regression" && model != "Ridge Regression" {
				continue
			}
			b.Run(strings.ReplaceAll(model, " ", "_")+"/store="+store, func(b *testing.B) {
				fields := session9FullFields(b, model)
				bodies, types := make([][]byte, ids), make([]string, ids)
				for i := range bodies {
					if ids > 1 {
						fields["file_name"] = fmt.Sprintf(`"bench-%d"`, i)
					}
					body, ct := calibForm(b, fields)
					bodies[i], types[i] = body.Bytes(), ct
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					req := httptest.NewRequest("POST", "/api/session/calib_validation", bytes.NewReader(bodies[i%ids]))
					req.Header.Set("Content-Type", types[i%ids])
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
					if store == "disk-idle" {
						b.StopTimer()
						s.store.waitWritten()
						b.StartTimer()
					}
				}
			})
		}
	}
}

// BenchmarkBatchPredict times a batch_predict of 180 samples through the
// whole handler, the calibration's model cached.
func BenchmarkBatchPredict(b *testing.B) {
	s := newTestServer(b, map[string]string{"RATELIMIT_ENABLED": "false"})
	if rec := s.do(calibRequestOf(b, session9FullFields(b, "Linear Regression")), ""); rec.Code != 200 {
		b.Fatal(rec.Body)
	}
	body := []byte(batch9FullBody(b))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/api/session/batch_predict", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if rec := s.do(req, ""); rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// TestEveryModelOnDegenerateData: tiny, constant or duplicated recordings
// give 200 or a 400 naming the samples, never a 500, for every model.
func TestEveryModelOnDegenerateData(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	row := func(lx, ly, rx, ry, px, py float64) labelledSample {
		return labelledSample{irisSample{lx, ly, rx, ry}, px, py}
	}
	datasets := map[string][]labelledSample{}
	for _, n := range []int{2, 5, 6, 7, 10} {
		var rows []labelledSample
		for i := 0; i < n; i++ {
			rows = append(rows, row(600+float64(i), 290+float64(i%3), 500+float64(i), 288, float64(100*(i%3)), float64(50*(i%2))))
		}
		datasets[fmt.Sprintf("%d rows", n)] = rows
	}
	var same, constTarget, collinear []labelledSample
	for i := 0; i < 20; i++ {
		same = append(same, row(600, 290, 500, 288, float64(100*(i%4)), 50))
		constTarget = append(constTarget, row(600+float64(i), 290+float64(i), 500, 288, 300, 300))
		collinear = append(collinear, row(600+float64(i), 290+float64(i), 600+float64(i), 290+float64(i), float64(10*i), float64(5*i)))
	}
	datasets["identical iris rows"] = same
	datasets["constant target"] = constTarget
	datasets["left and right eye equal"] = collinear
	for name, rows := range datasets {
		fixed, _ := json.Marshal(rows)
		for _, model := range servedModels(modelSpecs()) {
			f := exampleCalibFields(t)
			f["fixed_circle_iris_points"] = string(fixed)
			f["model"] = fmt.Sprintf("%q", model)
			f["k"] = "1"
			rec := s.do(calibRequestOf(t, f), "")
			var body map[string]any
			decodeJSON(t, rec, &body)
			switch rec.Code {
			case 200:
				if _, ok := body["centroids"]; !ok {
					t.Errorf("%s, %s: 200 without centroids", name, model)
				}
			case 400:
				if body["field"] != "fixed_circle_iris_points" {
					t.Errorf("%s, %s: 400 %v", name, model, body)
				}
			default:
				t.Errorf("%s, %s: %d %v", name, model, rec.Code, body)
			}
		}
	}
}

// BenchmarkLoopback times requests as a client sees them: over a real
// loopback TCP connection (keep-alive, one connection) to the whole server
// — access log (text, discarded), middleware, the disk store — with the
// example requests of testdata/api (the front end's calibration, per model,
// and RUXAILAB's batch of 180 samples). Rate limiting is off, so that every
// request does its work.
func BenchmarkLoopback(b *testing.B) {
	for _, store := range []string{"disk", "memory"} {
		b.Run("store="+store, func(b *testing.B) { benchmarkLoopback(b, store) })
	}
}

// benchmarkLoopback runs BenchmarkLoopback's cases against the disk store
// or, to show the server's own work apart from the disk, one in memory.
func benchmarkLoopback(b *testing.B, store string) {
	s := newTestServer(b, map[string]string{"RATELIMIT_ENABLED": "false"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var st calibrationStore = s.store
	if store == "memory" {
		st = &memStore{}
	}
	h := newServer(s.cfg, serverDeps{store: st, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log})
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	do := func(b *testing.B, method, ct string, body []byte, path string) {
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n == 0 {
			b.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	var first []byte
	for _, model := range servedModels(modelSpecs()) {
		fields := exampleCalibFields(b)
		fields["model"] = strconv.Quote(model)
		body, ct := calibForm(b, fields)
		if first == nil {
			first = body.Bytes()
		}
		b.Run("calib/"+strings.ReplaceAll(model, " ", "_"), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				do(b, "POST", ct, body.Bytes(), "/api/session/calib_validation")
			}
		})
	}
	batch := []byte(readTestdata(b, "api/batch_request.json")) // names the calibration stored above
	b.Run("batch_predict", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			do(b, "POST", "application/json", batch, "/api/session/batch_predict")
		}
	})
}
