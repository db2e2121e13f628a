package main

// The SGD epoch kernel against its Go reference.

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSGDKernelMatchesGo: sgdEpoch (the SSE2 assembly on amd64) gives the
// bits sgdEpochGo gives, epoch after epoch: on polynomial features of real
// calibration rows and on random rows, with 1 to 3 pairs, idle lanes,
// clipped gradients, overflow to ±Inf and NaN.
func TestSGDKernelMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var real [][sgdWidth]float64
	var realY []float64
	for _, s := range loadGolden(t)[:3] {
		train, _ := trainTestSplit(len(s.rows))
		x, y := axisDesign(s.rows, train, false)
		xp := polyFeatures2(fitStandardScaler(x).transform(x))
		for i := range y {
			var row [sgdWidth]float64
			copy(row[:], xp.RawRowView(i))
			real, realY = append(real, row), append(realY, y[i])
		}
	}
	cases := []struct {
		name   string
		rows   int
		scale  float64 // of random rows (0: the real rows)
		eta0   float64
		epochs int
	}{
		{"real rows", 0, 0, 1e-3, 30},
		{"random rows", 97, 3, 1e-2, 20},
		{"clipped gradients", 40, 1e7, 1e-4, 5},
		{"overflow", 40, 1e150, 1, 8},
	}
	for _, c := range cases {
		x, y := real, realY
		if c.scale != 0 {
			x, y = make([][sgdWidth]float64, c.rows), make([]float64, c.rows)
			for i := range x {
				for j := range x[i] {
					x[i][j] = rng.NormFloat64() * c.scale
				}
				y[i] = rng.NormFloat64() * c.scale * 10
			}
		}
		for npairs := 1; npairs <= 3; npairs++ {
			asm, ref := make([]sgdPair, npairs), make([]sgdPair, npairs)
			for p := range asm {
				for l := 0; l < 2; l++ {
					if p == npairs-1 && l == 1 && npairs != 2 {
						continue // an idle lane
					}
					asm[p].eta0[l] = c.eta0 * float64(1+rng.IntN(9))
					asm[p].alpha[l] = 1e-4 * float64(1+rng.IntN(9))
				}
			}
			copy(ref, asm)
			order := make([]int32, len(x))
			for i := range order {
				order[i] = int32(i)
			}
			pcg := rand.NewPCG(1, uint64(npairs))
			tAsm, tRef := 1.0, 1.0
			for e := 0; e < c.epochs; e++ {
				shuffleIndices(order, pcg)
				tAsm = sgdEpoch(asm, order, x, y, tAsm)
				tRef = sgdEpochGo(ref, order, x, y, tRef)
				if tAsm != tRef {
					t.Fatalf("%s, %d pairs, epoch %d: step count %v, Go %v", c.name, npairs, e, tAsm, tRef)
				}
				for p := range asm {
					if !sameBits(asm[p], ref[p]) {
						t.Fatalf("%s, %d pairs, epoch %d, pair %d:\n kernel %+v\n Go     %+v", c.name, npairs, e, p, asm[p], ref[p])
					}
				}
			}
			if c.name == "overflow" && allFiniteValues(ref[0].b[:]) {
				t.Fatalf("the overflow case did not overflow: %+v", ref[0])
			}
		}
	}
}

// sameBits reports whether two pairs hold the same bits, any NaN matching
// any NaN.
func sameBits(a, b sgdPair) bool {
	fa := append(append(append([]float64(nil), a.b[:]...), a.loss[:]...), a.eta0[0], a.eta0[1], a.alpha[0], a.alpha[1])
	fb := append(append(append([]float64(nil), b.b[:]...), b.loss[:]...), b.eta0[0], b.eta0[1], b.alpha[0], b.alpha[1])
	for j := range a.w {
		fa, fb = append(fa, a.w[j][:]...), append(fb, b.w[j][:]...)
	}
	for i := range fa {
		if math.Float64bits(fa[i]) != math.Float64bits(fb[i]) && !(math.IsNaN(fa[i]) && math.IsNaN(fb[i])) {
			return false
		}
	}
	return true
}
