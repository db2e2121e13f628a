package main

// The inner loops of the SVR solver: the gradient update of an SMO step
// (with the next I_up maximum), the I_low half of the working-set
// selection, the two-right-hand-side triangular solves of the Newton step,
// and the Cholesky factor's dot products. The Go
// functions here are the reference: on amd64 the same loops run in SSE2
// assembly (svrkernel_amd64.s), two values per instruction, performing the
// same IEEE operations in the same order, so both give the same bits
// (TestSVRKernelsMatchGo).

import "math"

// svrGradientGo adds ki·dbi + kj·dbj to g (ki, kj the kernel rows of the two
// updated variables, in single precision as libsvm keeps them) and returns
// the largest up − g, with the last position holding it (−Inf and −1 when
// every value is NaN or there is none). len(up), len(ki), len(kj) ≥ len(g).
func svrGradientGo(g, up []float64, ki, kj []float32, dbi, dbj float64) (gmax float64, pos int) {
	return svrGradientFrom(0, g, up, ki, kj, dbi, dbj, math.Inf(-1), -1)
}

// svrGradientFrom is svrGradientGo's loop from position q0 on, carrying on
// from the maximum gmax at pos of the positions before it.
func svrGradientFrom(q0 int, g, up []float64, ki, kj []float32, dbi, dbj, gmax float64, pos int) (float64, int) {
	up, ki, kj = up[:len(g)], ki[:len(g)], kj[:len(g)]
	for q := q0; q < len(g); q++ {
		v := g[q] + (float64(ki[q])*dbi + float64(kj[q])*dbj)
		g[q] = v
		if w := up[q] - v; w >= gmax {
			gmax, pos = w, q
		}
	}
	return gmax, pos
}

// svrSelectLowGo is the I_low half of WSS3 over positions q < len(g), with
// gmax the I_up maximum and ki the kernel row of its variable: the largest
// g + low (gmax2, for the stopping rule), and the first q with gmax + g[q] +
// low[q] > 0 maximising (gmax + g + low)² / (2 − 2·ki[q]), the divisor 1e-12
// where it is not positive (libsvm's TAU); −1 when none qualifies. The
// ratios are compared as libsvm compares them, after dividing.
func svrSelectLowGo(g, low []float64, ki []float32, gmax float64) (gmax2 float64, pos int) {
	gmax2, _, pos = svrSelectLowFrom(0, g, low, ki, gmax, math.Inf(-1), 0, -1)
	return gmax2, pos
}

// svrSelectLowFrom is svrSelectLowGo's loop from position q0 on, carrying on
// from the largest value gmax2 and the best ratio at pos of the positions
// before it.
func svrSelectLowFrom(q0 int, g, low []float64, ki []float32, gmax, gmax2, best float64, pos int) (float64, float64, int) {
	low, ki = low[:len(g)], ki[:len(g)]
	for q := q0; q < len(g); q++ {
		v := g[q] + low[q]
		if v > gmax2 {
			gmax2 = v
		}
		if diff := gmax + v; diff > 0 {
			quad := 2 - 2*float64(ki[q])
			if quad <= 0 {
				quad = 1e-12
			}
			if r := diff * diff / quad; r > best {
				pos, best = q, r
			}
		}
	}
	return gmax2, best, pos
}

// choleskySolve2Go solves L·Lᵀ·x = b for two right-hand sides at once (the
// lanes of b) in place, over the kept variables (the others get 0); L is
// m×m, row-major with the given stride. The back substitution goes by rows
// of L: x_a is final once the rows below it are done.
func choleskySolve2Go(L []float64, stride, m int, kept []bool, b [][2]float64) {
	b = b[:m]
	for a := 0; a < m; a++ {
		if !kept[a] {
			b[a] = [2]float64{}
			continue
		}
		s := dotPairsGo(L[a*stride:][:a], b)
		d := L[a*stride+a]
		b[a][0], b[a][1] = (b[a][0]-s[0])/d, (b[a][1]-s[1])/d
	}
	for a := m - 1; a >= 0; a-- {
		if !kept[a] {
			continue
		}
		d := L[a*stride+a]
		x := [2]float64{b[a][0] / d, b[a][1] / d}
		b[a] = x
		subScaledPairsGo(L[a*stride:][:a], b, x)
	}
}

// dotPairsGo returns Σ row[c]·b[c] for both lanes of b, summed in order.
func dotPairsGo(row []float64, b [][2]float64) (s [2]float64) {
	b = b[:len(row)]
	for c, v := range row {
		s[0] += v * b[c][0]
		s[1] += v * b[c][1]
	}
	return s
}

// subScaledPairsGo sets b[c] −= row[c]·x for both lanes.
func subScaledPairsGo(row []float64, b [][2]float64, x [2]float64) {
	b = b[:len(row)]
	for c, v := range row {
		b[c][0] -= v * x[0]
		b[c][1] -= v * x[1]
	}
}

// dot4Go is a dot product summed in four interleaved partial sums:
// ((s0 + s1) + (s2 + s3)), the elements past a multiple of four added to s0.
func dot4Go(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
