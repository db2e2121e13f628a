//go:build amd64 && !purego

package main

import (
	"math"
	"unsafe"
)

// svrGradient is svrGradientGo with the pairs of positions in SSE2: each
// lane keeps its own maximum and last position, merged here so that the
// result is the sequential scan's (the largest value, at the last position
// holding it, read back there); an odd last position is done here.
func svrGradient(g, up []float64, ki, kj []float32, dbi, dbj float64) (float64, int) {
	n := len(g)
	up, ki, kj = up[:n], ki[:n], kj[:n]
	gmax, pos := math.Inf(-1), -1
	if pairs := n / 2; pairs > 0 {
		m0, m1, at0, at1 := svrGradientSSE2(unsafe.Pointer(&g[0]), unsafe.Pointer(&up[0]), unsafe.Pointer(&ki[0]), unsafe.Pointer(&kj[0]), pairs, dbi, dbj)
		p0, p1 := int(at0)-1, int(at1)-1
		gmax, pos = m0, p0
		if m1 > gmax || (m1 == gmax && p1 > pos) {
			gmax, pos = m1, p1
		}
		if pos >= 0 {
			gmax = up[pos] - g[pos] // the lane's maximum may hold the other zero of a tie
		}
	}
	return svrGradientFrom(n-n%2, g, up, ki, kj, dbi, dbj, gmax, pos)
}

// svrSelectLow is svrSelectLowGo with the pairs of positions in SSE2: each
// lane keeps its largest value and its first best ratio, merged here as
// the sequential scan would have kept them (the larger ratio, the earlier
// position on a tie); an odd last position is done here. The largest value
// may differ from the Go loop's in the sign of a zero, which no use of it
// can tell.
func svrSelectLow(g, low []float64, ki []float32, gmax float64) (float64, int) {
	n := len(g)
	low, ki = low[:n], ki[:n]
	gmax2, pos, best := math.Inf(-1), -1, 0.0
	if pairs := n / 2; pairs > 0 {
		m0, m1, b0, b1, at0, at1 := svrSelectLowSSE2(unsafe.Pointer(&g[0]), unsafe.Pointer(&low[0]), unsafe.Pointer(&ki[0]), pairs, gmax)
		p0, p1 := int(at0)-1, int(at1)-1
		gmax2 = max(m0, m1)
		best, pos = b0, p0
		if b1 > best || (b1 == best && p1 >= 0 && (pos < 0 || p1 < pos)) {
			best, pos = b1, p1
		}
	}
	gmax2, _, pos = svrSelectLowFrom(n-n%2, g, low, ki, gmax, gmax2, best, pos)
	return gmax2, pos
}

// choleskySolve2 is choleskySolve2Go in SSE2, both right-hand sides in one
// register.
func choleskySolve2(L []float64, stride, m int, kept []bool, b [][2]float64) {
	if m <= 0 {
		return
	}
	_, _, _ = L[(m-1)*stride+m-1], kept[m-1], b[m-1] // the assembly does not check bounds
	choleskySolve2SSE2(unsafe.Pointer(&L[0]), stride, m, unsafe.Pointer(&kept[0]), unsafe.Pointer(&b[0]))
}

// dot4 is dot4Go in SSE2: the partial sums (s0, s1) and (s2, s3) in two
// registers.
func dot4(a, b []float64) float64 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	return dot4SSE2(unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), len(a))
}

// Implemented in svrkernel_amd64.s.

//go:noescape
func svrGradientSSE2(grad, up, ki, kj unsafe.Pointer, pairs int, dbi, dbj float64) (max0, max1, at0, at1 float64)

//go:noescape
func svrSelectLowSSE2(grad, low, ki unsafe.Pointer, pairs int, gmax float64) (max0, max1, best0, best1, at0, at1 float64)

//go:noescape
func choleskySolve2SSE2(l unsafe.Pointer, stride, m int, kept, b unsafe.Pointer)

//go:noescape
func dot4SSE2(a, b unsafe.Pointer, n int) float64
