package main

// Tests of the batch_predict route's estimator choice: the request field,
// the server default, the errors, and one cached model per estimator.

import (
	"math"
	"strings"
	"testing"
)

func TestBatchPredictEstimator(t *testing.T) {
	c, err := parseFixedCSV([]byte(readTestdata(t, "sessions/9_full_fixed_train_data.csv")))
	if err != nil {
		t.Fatal(err)
	}
	body := batch9FullBody(t)
	samples, err := parseIrisCSV([]byte(readTestdata(t, "sessions/9_full_predict_train_data.csv")))
	if err != nil {
		t.Fatal(err)
	}
	direct := map[string][2][]float64{}
	for _, name := range batchEstimatorNames() {
		m, err := fitBatchModel(name, c.Fixed, 1495, 746)
		if err != nil {
			t.Fatal(err)
		}
		xs, ys := m.predict(samples)
		direct[name] = [2][]float64{xs, ys}
	}
	with := func(estimator string) string {
		return strings.Replace(body, `{"calib_id"`, `{"estimator": `+estimator+`, "calib_id"`, 1)
	}
	for _, def := range []string{"", estimatorPrecise} {
		s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "BATCH_ESTIMATOR": def})
		if rec := s.do(calibRequestOf(t, session9FullFields(t, "Linear Regression")), ""); rec.Code != 200 {
			t.Fatal(rec.Body)
		}
		answer := func(b string) []map[string]float64 {
			t.Helper()
			rec := s.do(batchRequestOf(b), "")
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			var out []map[string]float64
			decodeJSON(t, rec, &out)
			return out
		}
		same := func(got []map[string]float64, name string) bool {
			want := direct[name]
			for i, g := range got {
				if math.Abs(g["predicted_x"]-want[0][i]) > 1e-9 || math.Abs(g["predicted_y"]-want[1][i]) > 1e-9 {
					return false
				}
			}
			return len(got) == len(want[0])
		}
		// Alternating requests: each estimator keeps its own cached model.
		for _, name := range []string{estimatorWebGazer, estimatorPrecise, estimatorWebGazer, estimatorPrecise} {
			if !same(answer(with(`"`+name+`"`)), name) {
				t.Errorf("default %q: \"estimator\": %q does not answer that estimator's predictions", def, name)
			}
		}
		want := estimatorWebGazer
		if def != "" {
			want = def
		}
		if !same(answer(body), want) || !same(answer(with("null")), want) {
			t.Errorf("BATCH_ESTIMATOR %q: a request naming no estimator is not answered by %s", def, want)
		}
		for _, bad := range []string{`"ridge"`, `"Precise"`, `3`, `["precise"]`} {
			rec := s.do(batchRequestOf(with(bad)), "")
			var e errorBody
			decodeJSON(t, rec, &e)
			if rec.Code != 400 || e.Field != "estimator" || !strings.Contains(e.Error, `"webgazer", "precise"`) {
				t.Errorf("estimator %s: %d %+v, want 400 naming the field and the valid names", bad, rec.Code, e)
			}
		}
	}
	if same := direct[estimatorWebGazer][0][0] == direct[estimatorPrecise][0][0]; same {
		t.Error("the two estimators gave the same first prediction")
	}
}

func TestGazeModelCacheKeepsEstimatorsApart(t *testing.T) {
	c := newGazeModelCache(10)
	wg, pr := &gazeModel{}, &preciseModel{}
	c.put(gazeCacheKey{id: "a", version: "1", estimator: estimatorWebGazer}, wg)
	c.put(gazeCacheKey{id: "a", version: "1", estimator: estimatorPrecise}, pr)
	if c.get(gazeCacheKey{id: "a", version: "1", estimator: estimatorWebGazer}) != wg || c.get(gazeCacheKey{id: "a", version: "1", estimator: estimatorPrecise}) != pr {
		t.Fatal("the cache mixed up the estimators' models")
	}
}
