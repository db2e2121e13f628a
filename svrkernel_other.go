//go:build !amd64 || purego

package main

// The SVR solver's loops where no assembly exists: the Go references.

func svrGradient(g, up []float64, ki, kj []float32, dbi, dbj float64) (float64, int) {
	return svrGradientGo(g, up, ki, kj, dbi, dbj)
}

func svrSelectLow(g, low []float64, ki []float32, gmax float64) (float64, int) {
	return svrSelectLowGo(g, low, ki, gmax)
}

func choleskySolve2(L []float64, stride, m int, kept []bool, b [][2]float64) {
	choleskySolve2Go(L, stride, m, kept, b)
}

func dot4(a, b []float64) float64 { return dot4Go(a, b) }
