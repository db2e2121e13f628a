package main

// Tests of the batch_predict model: golden parity and the bounded cache.

import (
	"fmt"
	"math"
	"testing"
)

func TestGazeModelCacheIsBounded(t *testing.T) {
	c := newGazeModelCache(100)
	for i := 0; i < 2000; i++ {
		c.put(gazeCacheKey{id: fmt.Sprint(i), version: "v"}, &gazeModel{})
	}
	if n := len(c.entries); n > 100 {
		t.Fatalf("%d entries, max 100", n)
	}
	c.put(gazeCacheKey{id: "a", version: "1", width: 1}, &gazeModel{})
	c.put(gazeCacheKey{id: "a", version: "1", width: 2}, &gazeModel{})
	c.put(gazeCacheKey{id: "a", version: "2", width: 1}, &gazeModel{})
	if c.get(gazeCacheKey{id: "a", version: "1", width: 2}) != nil {
		t.Fatal("an entry of a replaced calibration survived")
	}
	if c.get(gazeCacheKey{id: "a", version: "2", width: 1}) == nil {
		t.Fatal("the new entry is missing")
	}
}

func TestGoldenBatchPredict(t *testing.T) {
	for _, s := range loadGolden(t) {
		b := s.g.Batch
		if len(b.Expected) == 0 {
			continue
		}
		t.Run(s.g.Session, func(t *testing.T) {
			m, err := fitGazeModel(s.rows, b.ScreenWidth, b.ScreenHeight)
			if err != nil {
				t.Fatal(err)
			}
			in := make([]irisSample, len(b.Input))
			for i, v := range b.Input {
				in[i] = irisSample{v.LeftX, v.LeftY, v.RightX, v.RightY}
			}
			xs, ys := m.predict(in)
			worst := 0.0
			for i, want := range b.Expected {
				worst = math.Max(worst, math.Max(math.Abs(xs[i]-want.PredictedX), math.Abs(ys[i]-want.PredictedY)))
			}
			if worst > 1e-6 {
				t.Errorf("largest difference %.3g px over %d samples, tolerance 1e-6", worst, len(xs))
			}
		})
	}
}
