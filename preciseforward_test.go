package main

// Tests of the precise estimator's forward model: exact slopes on exact
// data, the posterior map's limits, and the 4×4 inverse.

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestPreciseForwardExactData(t *testing.T) {
	// Feature k = base[k] + slope[k]·t exactly, at five dots.
	base := [preciseFeatures]float64{400, 200, 330, 201}
	slope := [preciseFeatures][2]float64{{-0.01, 0}, {0.002, 0.01}, {-0.01, 0}, {0, 0.01}}
	var rows []labelledSample
	for _, p := range [][2]float64{{50, 50}, {950, 50}, {500, 300}, {50, 550}, {950, 550}} {
		var f [preciseFeatures]float64
		for k := range f {
			f[k] = base[k] + slope[k][0]*p[0] + slope[k][1]*p[1]
		}
		for i := 0; i < 3; i++ {
			rows = append(rows, labelledSample{irisSample: irisSample{f[0], f[1], f[2], f[3]}, PointX: p[0], PointY: p[1]})
		}
	}
	d := newPreciseData(rows)
	if d.centre != [2]float64{500, 300} || len(d.targets) != 5 {
		t.Fatalf("centre %v of %d dots, want (500, 300) of 5", d.centre, len(d.targets))
	}
	all := make([]int, len(rows))
	for i := range all {
		all[i] = i
	}
	fw := d.forward(all)
	for k := range slope {
		for a := range 2 {
			if math.Abs(fw.slope[k][a]-slope[k][a]) > 1e-9 {
				t.Errorf("slope[%d][%d] = %g, want %g", k, a, fw.slope[k][a], slope[k][a])
			}
		}
	}
	// With all the weight on the iris, the map inverts the forward model:
	// the features of any point map back to it. With none, to the centre.
	trust, prior := fw.model(d.centre, d.spread, 1e6), fw.model(d.centre, d.spread, 0)
	for _, p := range [][2]float64{{123, 456}, {900, 100}} {
		var f [preciseFeatures]float64
		for k := range f {
			f[k] = base[k] + slope[k][0]*p[0] + slope[k][1]*p[1]
		}
		if x, y := trust.point(f); math.Hypot(x-p[0], y-p[1]) > 1e-3 {
			t.Errorf("trusting the iris: %v maps to (%g, %g)", p, x, y)
		}
		if x, y := prior.point(f); x != 500 || y != 300 {
			t.Errorf("trusting the prior: %v maps to (%g, %g), want the centre", p, x, y)
		}
	}
	if q := fw.distance2(irisVector(rows[0].irisSample), [2]float64{rows[0].PointX, rows[0].PointY}); q > 1e-6 {
		t.Errorf("an exact sample's residual distance² is %g", q)
	}
}

func TestInvertSPD4(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	var g [4][4]float64
	for i := range g {
		for j := range g[i] {
			g[i][j] = rng.NormFloat64()
		}
	}
	var a [4][4]float64 // GGᵀ + I is symmetric positive definite
	for i := range a {
		for j := range a[i] {
			for k := range g {
				a[i][j] += g[i][k] * g[j][k]
			}
		}
		a[i][i]++
	}
	inv := invertSPD4(a)
	for i := range a {
		for j := range a {
			var s float64
			for k := range a {
				s += a[i][k] * inv[k][j]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-12 {
				t.Fatalf("(A·A⁻¹)[%d][%d] = %g", i, j, s)
			}
		}
	}
	if got := invertSPD4([4][4]float64{}); got != [4][4]float64{{1}, {0, 1}, {0, 0, 1}, {0, 0, 0, 1}} {
		t.Fatalf("a singular matrix gives %v, want the identity", got)
	}
}
