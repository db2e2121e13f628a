package main

// Tests of the batch_predict route's estimator choice: the request field,
// the server default, the errors, and one cached model per estimator.

import (
	"fmt"
	"math"
	"strings"
	"sync"
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

// TestBatchAnswersWithPooledBuffers: batches of different lengths and
// timestamps, sent concurrently over and over, each get exactly the answer
// they get alone (bodies and answers reuse pooled buffers: none may be
// shared by two requests, nor reused before its answer is written); a
// refused batch in between leaves the next ones intact.
func TestBatchAnswersWithPooledBuffers(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	if rec := s.do(calibRequestOf(t, session9FullFields(t, "Linear Regression")), ""); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	samples, err := parseIrisCSV([]byte(readTestdata(t, "sessions/9_full_predict_train_data.csv")))
	if err != nil {
		t.Fatal(err)
	}
	bodyOf := func(n, stamp int) string {
		var b strings.Builder
		b.WriteString(`{"calib_id": "9_full", "screen_width": 1495, "screen_height": 746, "iris_tracking_data": [`)
		for i, smp := range samples[:n] {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"left_iris_x": %v, "left_iris_y": %v, "right_iris_x": %v, "right_iris_y": %v, "timestamp": %d}`,
				smp.LeftX, smp.LeftY, smp.RightX, smp.RightY, stamp+i)
		}
		b.WriteString("]}")
		return b.String()
	}
	type batch struct{ body, answer string }
	var batches []batch
	for i, n := range []int{len(samples), 1, 7, len(samples) / 2, 40} {
		body := bodyOf(n, 1000*i)
		rec := s.do(batchRequestOf(body), "")
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		batches = append(batches, batch{body, rec.Body.String()})
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 30; r++ {
				b := batches[(g+r)%len(batches)]
				if r%10 == 5 {
					s.do(batchRequestOf(`{"calib_id": "9_full", "iris_tracking_data": [{"left_iris_x": "x"}]}`), "")
				}
				rec := s.do(batchRequestOf(b.body), "")
				if rec.Code != 200 || rec.Body.String() != b.answer {
					t.Errorf("goroutine %d, round %d: %d, the answer differs from the batch's own (%d bytes, want %d)", g, r, rec.Code, rec.Body.Len(), len(b.answer))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestBufferPool: a buffer put back lends its storage again; one beyond
// maxPooledBuffer is not kept.
func TestBufferPool(t *testing.T) {
	var p bufferPool
	if b := p.get(); b != nil {
		t.Fatalf("an empty pool lent %d bytes", cap(b))
	}
	b := append(p.get(), make([]byte, 5000)...)
	p.put(b)
	got := p.get()
	if len(got) != 0 || (cap(got) != 0 && cap(got) != cap(b)) {
		t.Errorf("got len %d cap %d, want an empty buffer (cap %d or a fresh one)", len(got), cap(got), cap(b))
	}
	p.put(make([]byte, maxPooledBuffer+1))
	if big := p.get(); cap(big) > maxPooledBuffer {
		t.Errorf("a buffer of %d bytes was kept", cap(big))
	}
}
