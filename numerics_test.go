package main

// Tests of numpy-compatible reductions.

import "testing"

// numpy's add.reduce sums in eight interleaved partial sums: for
// [1e16, 1, 1, 1, 1, 1, 1, 1] it gives 1e16 + 6, where a running sum loses
// every 1 (1e16 + 1 rounds back to 1e16).
func TestPairwiseSumFollowsNumpy(t *testing.T) {
	v := []float64{1e16, 1, 1, 1, 1, 1, 1, 1}
	if got := pairwiseSum(v); got != 1e16+6 {
		t.Errorf("pairwise sum %v, want %v", got, 1e16+6)
	}
	if got := pairwiseSum(v[:7]); got != 1e16 { // below 8 values: a running sum
		t.Errorf("short sum %v, want %v", got, 1e16)
	}
	for _, n := range []int{0, 1, 7, 8, 9, 127, 128, 129, 300, 1000} {
		v := make([]float64, n)
		want := 0.0
		for i := range v {
			v[i] = float64(i%17) - 3.5
			want += v[i]
		}
		if got := pairwiseSum(v); got != want { // exact: small halves
			t.Errorf("n=%d: %v, want %v", n, got, want)
		}
	}
}
