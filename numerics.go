package main

// Reductions computed the way numpy computes them, so that results match
// the Python service's to the last bit where it matters.

import "math"

// pairwiseSum is numpy's pairwise summation of a contiguous float64
// array (np.sum, np.mean): plain accumulation below 8 values, eight
// interleaved partial sums up to 128 values, and recursive halving (at a
// multiple of 8) above that.
func pairwiseSum(v []float64) float64 {
	n := len(v)
	switch {
	case n < 8:
		var s float64
		for _, x := range v {
			s += x
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], v[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := 0; j < 8; j++ {
				r[j] += v[i+j]
			}
		}
		s := (r[0] + r[1]) + (r[2] + r[3]) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += v[i]
		}
		return s
	default:
		half := n / 2
		half -= half % 8
		return pairwiseSum(v[:half]) + pairwiseSum(v[half:])
	}
}

// populationSD is numpy's std with ddof=0.
func populationSD(v []float64) float64 {
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	var ss float64
	for _, x := range v {
		d := x - m
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(v)))
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// percentile is numpy.percentile with linear interpolation (numpy's _lerp,
// which computes from the upper end when the fraction is ≥ 0.5).
func percentile(sorted []float64, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	t := pos - float64(lo)
	a, b := sorted[lo], sorted[hi]
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// isFinite reports whether v is neither NaN nor ±Inf.
func isFinite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}

// allFiniteValues reports whether no value is NaN or ±Inf.
func allFiniteValues(v []float64) bool {
	for _, x := range v {
		if !isFinite(x) {
			return false
		}
	}
	return true
}
