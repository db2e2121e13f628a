//go:build amd64 && !purego

package main

import "unsafe"

// sgdEpoch is sgdEpochGo in SSE2 assembly (part of every amd64 processor),
// both lanes of a pair in one instruction.
func sgdEpoch(pairs []sgdPair, order []int32, x [][sgdWidth]float64, y []float64, t float64) float64 {
	if len(pairs) == 0 || len(order) == 0 {
		return t + float64(len(order))
	}
	for _, i := range order { // the assembly does not check bounds
		if int(i) >= len(x) || int(i) >= len(y) || i < 0 {
			panic("sgdEpoch: row index out of range")
		}
	}
	return sgdEpochSSE2(unsafe.Pointer(&pairs[0]), len(pairs), unsafe.Pointer(&order[0]), len(order),
		unsafe.Pointer(&x[0]), unsafe.Pointer(&y[0]), t, unsafe.Pointer(&sgdKernelConstants))
}

// sgdEpochSSE2 is implemented in sgdkernel_amd64.s.
//
//go:noescape
func sgdEpochSSE2(pairs unsafe.Pointer, npairs int, order unsafe.Pointer, rows int, x, y unsafe.Pointer, t float64, consts unsafe.Pointer) float64
