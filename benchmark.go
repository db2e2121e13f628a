package main

// The benchmark route: a table of targets and predictions in, the
// accuracy, precision and data-quality figures out (benchmarkstats.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// The benchmark request's members and each sample's keys.
const (
	benchScreenPx = "screen_width_px"
	benchScreenCm = "screen_width_cm"
	benchDistance = "viewing_distance_cm"
	benchSamples  = "samples"
)

// benchmarkMaxCm bounds the physical lengths (1 km): beyond it a value is
// a mistake, not a setup.
const benchmarkMaxCm = 1e5

// positiveLength reads a positive number up to max.
func positiveLength(field string, raw json.RawMessage, max float64) (float64, error) {
	v, ok := parseJSONNumber(bytes.TrimSpace(raw))
	if !ok || v <= 0 || v > max {
		return 0, badField(field, "must be a positive number up to %g, got %s", max, truncate(string(raw), 40))
	}
	return v, nil
}

// decodeBenchmark validates a benchmark request: every member present
// (400 naming the missing ones), lengths positive, the samples an array
// of objects whose "True X" and "True Y" are numbers and whose
// "Predicted X" and "Predicted Y" are numbers, or null or absent for a
// sample the tracker lost.
func decodeBenchmark(r *http.Request, lim inputLimits) ([]benchmarkSample, benchmarkGeometry, error) {
	var geo benchmarkGeometry
	obj, err := readJSONObject(r, "screen_width_px, screen_width_cm, viewing_distance_cm and samples")
	if err != nil {
		return nil, geo, err
	}
	var missing []string
	for _, k := range []string{benchScreenPx, benchScreenCm, benchDistance, benchSamples} {
		if v, ok := obj[k]; !ok || string(bytes.TrimSpace(v)) == "null" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, geo, badField(missing[0], "missing fields: %s", strings.Join(missing, ", "))
	}
	if geo.screenWidthPx, err = parseScreenSize(benchScreenPx, obj[benchScreenPx], lim.maxScreenPx); err != nil {
		return nil, geo, err
	}
	if geo.screenWidthCm, err = positiveLength(benchScreenCm, obj[benchScreenCm], benchmarkMaxCm); err != nil {
		return nil, geo, err
	}
	if geo.distanceCm, err = positiveLength(benchDistance, obj[benchDistance], benchmarkMaxCm); err != nil {
		return nil, geo, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(obj[benchSamples], &raw); err != nil {
		return nil, geo, badField(benchSamples, "must be an array of objects")
	}
	if len(raw) == 0 {
		return nil, geo, badField(benchSamples, "must not be empty")
	}
	if len(raw) > lim.maxSamples {
		return nil, geo, badField(benchSamples, "holds %d samples; the limit is %d (MAX_SAMPLES)", len(raw), lim.maxSamples)
	}
	samples := make([]benchmarkSample, len(raw))
	for i, e := range raw {
		if samples[i], err = decodeBenchmarkSample(i, e, lim.maxCoordinate); err != nil {
			return nil, geo, err
		}
	}
	return samples, geo, nil
}

// decodeBenchmarkSample reads samples[i].
func decodeBenchmarkSample(i int, raw json.RawMessage, maxAbs float64) (benchmarkSample, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return benchmarkSample{}, badField(fmt.Sprintf("samples[%d]", i), "must be an object")
	}
	num := func(key string, nullable bool) (float64, bool, error) {
		field := fmt.Sprintf("samples[%d].%s", i, key)
		v, present := m[key]
		if !present || string(bytes.TrimSpace(v)) == "null" {
			if nullable {
				return 0, false, nil
			}
			return 0, false, badField(field, "is missing")
		}
		f, ok := parseJSONNumber(bytes.TrimSpace(v))
		if !ok || f > maxAbs || f < -maxAbs {
			return 0, false, badField(field, "must be a finite number within ±%g, got %s", maxAbs, truncate(string(v), 40))
		}
		return f, true, nil
	}
	var s benchmarkSample
	var err error
	var okX, okY bool
	if s.trueX, _, err = num("True X", false); err != nil {
		return s, err
	}
	if s.trueY, _, err = num("True Y", false); err != nil {
		return s, err
	}
	if s.predX, okX, err = num("Predicted X", true); err != nil {
		return s, err
	}
	if s.predY, okY, err = num("Predicted Y", true); err != nil {
		return s, err
	}
	s.ok = okX && okY
	return s, nil
}

// handleBenchmark serves POST /api/session/benchmark.
func handleBenchmark(work *admission, lim inputLimits, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		samples, geo, err := decodeBenchmark(r, lim)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		j, err := work.admit(r, 0) // light: a sort of the errors
		if err != nil {
			writeError(w, r, log, work.stopError(err, "the benchmark"))
			return
		}
		res := evaluateBenchmark(samples, geo)
		j.done()
		writeJSON(w, http.StatusOK, res)
	})
}
