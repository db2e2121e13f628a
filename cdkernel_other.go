//go:build !amd64 || purego

package main

// cdResidualDot is cdResidualDotGo where no assembly exists.
func cdResidualDot(r, prev []float64, aPrev float64, next []float64, aNext float64) float64 {
	return cdResidualDotGo(r, prev, aPrev, next, aNext)
}
