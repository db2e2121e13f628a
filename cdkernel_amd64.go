//go:build amd64 && !purego

package main

import "unsafe"

// cdResidualDot is cdResidualDotGo in one SSE2 pass.
func cdResidualDot(r, prev []float64, aPrev float64, next []float64, aNext float64) float64 {
	n := len(r)
	if n == 0 || len(next) != n || (prev != nil && len(prev) != n) || (prev == nil && aNext == 0) {
		return cdResidualDotGo(r, prev, aPrev, next, aNext) // gonum's length checks, or its dot product alone
	}
	usePrev, p := 0, unsafe.Pointer(&next[0])
	if prev != nil {
		usePrev, p = 1, unsafe.Pointer(&prev[0])
	}
	useNext := 0
	if aNext != 0 {
		useNext = 1
	}
	return cdResidualDotSSE2(unsafe.Pointer(&r[0]), p, unsafe.Pointer(&next[0]), n, aPrev, aNext, usePrev, useNext)
}

// cdResidualDotSSE2 is implemented in cdkernel_amd64.s.
//
//go:noescape
func cdResidualDotSSE2(r, prev, next unsafe.Pointer, n int, aPrev, aNext float64, usePrev, useNext int) float64
