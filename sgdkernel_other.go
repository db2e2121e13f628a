//go:build !amd64 || purego

package main

// sgdEpoch is sgdEpochGo where no assembly kernel exists.
func sgdEpoch(pairs []sgdPair, order []int32, x [][sgdWidth]float64, y []float64, t float64) float64 {
	return sgdEpochGo(pairs, order, x, y, t)
}
