package main

// Tests of the eval command's plain ridge baseline.

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestPlainRidgeBaseline(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []labelledSample
	for i := 0; i < 400; i++ {
		s := irisSample{LeftX: rng.Float64() * 10, LeftY: rng.Float64() * 10, RightX: rng.Float64() * 10, RightY: rng.Float64() * 10}
		rows = append(rows, labelledSample{irisSample: s, PointX: 100 + 30*s.LeftX + 20*s.RightX, PointY: 50 - 10*s.LeftY + 40*s.RightY})
	}
	m, err := fitPlainRidge(rows, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	probe := []irisSample{{5, 5, 5, 5}, {1, 9, 2, 8}}
	xs, ys := m.predict(probe)
	for i, s := range probe {
		wantX, wantY := 100+30*s.LeftX+20*s.RightX, 50-10*s.LeftY+40*s.RightY
		// Ridge(alpha=1) on 400 standardised rows shrinks the slopes by
		// about 1/400: well under 1 px here.
		if math.Abs(xs[i]-wantX) > 1 || math.Abs(ys[i]-wantY) > 1 {
			t.Errorf("sample %d: (%.2f, %.2f), want (%.2f, %.2f)", i, xs[i], ys[i], wantX, wantY)
		}
	}
	if _, err := fitPlainRidge(rows[:1], 0, 0); !errors.Is(err, errNotFittable) {
		t.Fatalf("one row: %v, want errNotFittable", err)
	}
}
