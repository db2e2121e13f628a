package main

// The SVR solver's loops against their Go references.

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSVRKernelsMatchGo: svrGradient, svrSelectLow, choleskySolve2 and dot4
// (SSE2 assembly on amd64) give the bits their Go references give, on
// lengths 0 to 40, with ties, ±0, ±Inf and NaN among the values and the
// kernel values at and around svrSelectLow's zero divisor.
func TestSVRKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 1, -1}
	value := func() float64 {
		if rng.IntN(8) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float64(rng.IntN(5)) - 2 + rng.NormFloat64()*float64(rng.IntN(2)) // many ties
	}
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
	}
	// A tie of +0 and −0 in one lane (positions 0 and 2): the scan keeps
	// the later, −0.
	{
		negZero := math.Copysign(0, -1)
		g, up := []float64{0, 5, 0, 5}, []float64{0, 4, negZero, 4}
		k := make([]float32, 4)
		m1, p1 := svrGradient(slices.Clone(g), up, k, k, 1, 1)
		m2, p2 := svrGradientGo(slices.Clone(g), up, k, k, 1, 1)
		if !same(m1, m2) || p1 != p2 || p2 != 2 || !math.Signbit(m2) {
			t.Fatalf("svrGradient on a ±0 tie: (%v, %d), Go (%v, %d), want (−0, 2)", m1, p1, m2, p2)
		}
	}
	for trial := 0; trial < 4000; trial++ {
		n := rng.IntN(41)
		g, up := make([]float64, n), make([]float64, n+rng.IntN(3))
		ki, kj := make([]float32, n+1), make([]float32, n+2)
		for q := range g {
			g[q] = value()
		}
		for q := range up {
			up[q] = value()
			if rng.IntN(4) == 0 {
				up[q] = math.Inf(-1) // not in I_up
			}
		}
		for q := range ki {
			ki[q] = float32(rng.Float64())
		}
		for q := range kj {
			kj[q] = float32(rng.Float64())
		}
		dbi, dbj := value(), value()
		gAsm, gGo := slices.Clone(g), slices.Clone(g)
		m1, p1 := svrGradient(gAsm, up, ki, kj, dbi, dbj)
		m2, p2 := svrGradientGo(gGo, up, ki, kj, dbi, dbj)
		if !same(m1, m2) || p1 != p2 {
			t.Fatalf("svrGradient n=%d: (%v, %d), Go (%v, %d)", n, m1, p1, m2, p2)
		}
		for q := range gAsm {
			if !same(gAsm[q], gGo[q]) {
				t.Fatalf("svrGradient n=%d: g[%d] %v, Go %v", n, q, gAsm[q], gGo[q])
			}
		}

		low := make([]float64, n+1)
		for q := range low {
			low[q] = value()
			if rng.IntN(4) == 0 {
				low[q] = math.Inf(-1) // not in I_low
			}
		}
		// A zero divisor (libsvm's TAU), negative ones, the smallest positive
		// one a float32 kernel value gives (2^-23), and NaN.
		specialK := []float32{1, 1, 1.5, math.Nextafter32(1, 0), 0, float32(math.NaN())}
		for q := range ki {
			if rng.IntN(10) == 0 {
				ki[q] = specialK[rng.IntN(len(specialK))]
			}
		}
		gmax := value()
		v1, q1 := svrSelectLow(g, low, ki, gmax)
		v2, q2 := svrSelectLowGo(g, low, ki, gmax)
		if v1 != v2 || q1 != q2 { // the largest value is compared as a number: ±0 are one
			t.Fatalf("svrSelectLow n=%d: (%v, %d), Go (%v, %d)", n, v1, q1, v2, q2)
		}

		a, b := make([]float64, n), make([]float64, n+1)
		for i := range a {
			a[i] = value()
		}
		for i := range b {
			b[i] = value()
		}
		if d1, d2 := dot4(a, b), dot4Go(a, b); !same(d1, d2) {
			t.Fatalf("dot4 n=%d: %v, Go %v", n, d1, d2)
		}

		// A factor with a few rows not kept, two right-hand sides.
		m, stride := rng.IntN(20), 20+rng.IntN(3)
		L := make([]float64, stride*m)
		kept := make([]bool, m)
		rhs := make([][2]float64, m)
		for r := 0; r < m; r++ {
			kept[r] = rng.IntN(6) != 0
			for c := 0; c < r; c++ {
				L[r*stride+c] = rng.NormFloat64()
			}
			L[r*stride+r] = 0.5 + rng.Float64()
			rhs[r] = [2]float64{value(), value()}
		}
		b1, b2 := slices.Clone(rhs), slices.Clone(rhs)
		choleskySolve2(L, stride, m, kept, b1)
		choleskySolve2Go(L, stride, m, kept, b2)
		for r := range b1 {
			if !same(b1[r][0], b2[r][0]) || !same(b1[r][1], b2[r][1]) {
				t.Fatalf("choleskySolve2 m=%d: row %d %v, Go %v", m, r, b1[r], b2[r])
			}
		}
	}
}
