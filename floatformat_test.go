package main

// Tests of appendShortestFixed against strconv, the reference it must
// match byte for byte.

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkShortestFixed fails when appendShortestFixed(v) appends anything
// but strconv's text, or changes b when it declines. It reports whether
// the fast path took v.
func checkShortestFixed(t testing.TB, v float64) bool {
	t.Helper()
	prefix := []byte("x:")
	got, ok := appendShortestFixed(prefix, v)
	if !ok {
		if string(got) != "x:" {
			t.Fatalf("%v (bits %#x): declined but appended %q", v, math.Float64bits(v), got)
		}
		return false
	}
	if want := "x:" + strconv.FormatFloat(v, 'f', -1, 64); string(got) != want {
		t.Fatalf("%v (bits %#x): %q, strconv gives %q", v, math.Float64bits(v), got, want)
	}
	return true
}

// TestShortestFixedMatchesStrconv: random bit patterns across the whole
// range, predictions as the batch model makes them, short decimals and
// their neighbours (where the shortest candidates and the bounds meet),
// and the range's edges. The fast path must take nearly every value in
// its range, and decline every value outside it.
func TestShortestFixedMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	taken, tried := 0, 0
	try := func(v float64) {
		tried++
		if checkShortestFixed(t, v) {
			taken++
		}
	}
	lo, hi := math.Float64bits(0x1p-6), math.Float64bits(0x1p20)
	for i := 0; i < 300000; i++ {
		v := math.Float64frombits(lo + rng.Uint64N(hi-lo))
		try(v)
		try(-v)
	}
	for i := 0; i < 100000; i++ { // 1495×746 screen predictions: w/2 + tanh(z)·scale
		try(1495/2 + math.Tanh(rng.NormFloat64())*700)
		try(746/2 + math.Tanh(rng.NormFloat64()*1.2)*350)
	}
	if taken < tried*999/1000 {
		t.Errorf("the fast path took %d of %d values in its range", taken, tried)
	}
	for i := 0; i < 100000; i++ { // short decimals, exactly and one ulp to each side
		digits := rng.IntN(15) + 1
		v, _ := strconv.ParseFloat(strconv.FormatFloat(rng.Float64()*math.Pow(10, float64(rng.IntN(7))), 'g', digits, 64), 64)
		for _, w := range []float64{v, math.Nextafter(v, 0), math.Nextafter(v, math.Inf(1))} {
			checkShortestFixed(t, w)
		}
	}
	// Values midway between two shortest candidates: x + odd/2^(j+1), whose
	// j+1 fractional digits end in 5, where the half gap 2^(e2−1) exceeds
	// half of 10^−j (j ≥ (52−e)·log10 2).
	ties := 0
	for e := 14; e < 20; e++ {
		j := int(math.Ceil(float64(52-e) * math.Log10(2)))
		for i := 0; i < 2000; i++ {
			v := math.Ldexp(1, e) + float64(rng.IntN(1<<e)) + float64(2*rng.IntN(1<<j)+1)/math.Ldexp(1, j+1)
			want := strconv.FormatFloat(v, 'f', -1, 64)
			if _, ok := appendShortestFixed(nil, v); !ok && len(want) > 0 {
				ties++
			}
			checkShortestFixed(t, v)
		}
	}
	if ties == 0 {
		t.Error("no value of the tie construction was a tie: the construction misses the case")
	}
	for _, v := range []float64{
		0x1p-6, math.Nextafter(0x1p-6, 1), math.Nextafter(0x1p-6, 0), 0x1p20, math.Nextafter(0x1p20, 0),
		0.1, 0.2, 0.3, 0.7, 1.5, 2.675, 9.995, 99.99999999999999, 999999.9999999999, 0.9999999999999999,
		373.5, 747.5, 1e-3, 5e-324, 1e21, 1e300, 0, math.Copysign(0, -1), 1, 2, 1024, 746,
	} {
		checkShortestFixed(t, v)
		checkShortestFixed(t, -v)
	}
	for _, v := range []float64{0, 1, 1024, 0x1p-7, 0x1p20, 1e300, 5e-324, math.NaN(), math.Inf(1)} {
		if out, ok := appendShortestFixed(nil, v); ok {
			t.Errorf("%v: taken (%q), outside the fast path's range", v, out)
		}
	}
}

// FuzzShortestFixed: any float64 is either declined or formatted exactly
// as strconv formats it.
func FuzzShortestFixed(f *testing.F) {
	for _, v := range []float64{0.1, 373.5, 745.1234567890123, 0x1p-6, 999999.9999999999, -12.25} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		checkShortestFixed(t, math.Float64frombits(bits))
	})
}

// BenchmarkAppendJSONFloat: a batch answer's 360 predictions, through the
// fast path and through strconv.
func BenchmarkAppendJSONFloat(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, 360)
	for i := range vals {
		vals[i] = 1495/2 + math.Tanh(rng.NormFloat64())*700
	}
	buf := make([]byte, 0, 64*len(vals))
	b.Run("appendJSONFloat", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = buf[:0]
			for _, v := range vals {
				buf = appendJSONFloat(buf, v)
			}
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = buf[:0]
			for _, v := range vals {
				buf = strconv.AppendFloat(buf, v, 'f', -1, 64)
			}
		}
	})
}
