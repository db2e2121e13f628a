package main

// The coordinate-descent step against gonum's calls.

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCDResidualDotMatchesGonum: cdResidualDot (one SSE2 pass on amd64)
// leaves the residual and returns the dot product bit for bit as gonum's
// AddScaled, AddScaled and Dot do, for lengths 0 to 40, with and without
// each update, on values of every sign and size, ±0 among them.
func TestCDResidualDotMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	value := func() float64 {
		switch rng.IntN(10) {
		case 0:
			return 0
		case 1:
			return math.Copysign(0, -1)
		}
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3))
	}
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
	for trial := 0; trial < 20000; trial++ {
		n := rng.IntN(41)
		r, prev, next := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range r {
			r[i], prev[i], next[i] = value(), value(), value()
		}
		if rng.IntN(3) == 0 {
			prev = nil
		}
		aPrev, aNext := value(), value()
		r1, r2 := slices.Clone(r), slices.Clone(r)
		got, want := cdResidualDot(r1, prev, aPrev, next, aNext), cdResidualDotGo(r2, prev, aPrev, next, aNext)
		if !same(got, want) {
			t.Fatalf("n=%d, prev %v, aNext %v: dot %v, gonum %v", n, prev != nil, aNext, got, want)
		}
		for i := range r1 {
			if !same(r1[i], r2[i]) {
				t.Fatalf("n=%d: r[%d] %v, gonum %v", n, i, r1[i], r2[i])
			}
		}
	}
}
