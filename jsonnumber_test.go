package main

// Tests of exact decimal parsing against strconv.ParseFloat.

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParseDecimalExactMatchesParseFloat: wherever the exact fast path
// answers, it answers what strconv.ParseFloat does, bit for bit.
func TestParseDecimalExactMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs []string
	for i := 0; i < 200000; i++ {
		f32 := float32(rng.Float64() * 2000)
		inputs = append(inputs,
			strconv.FormatFloat(float64(f32), 'f', -1, 64), // a face-mesh coordinate as the browser prints it
			strconv.FormatFloat(float64(rng.IntN(4000))/4, 'f', -1, 64),
			strconv.FormatFloat(rng.NormFloat64()*1e3, 'f', -1, 64),
			strconv.FormatFloat(float64(rng.Uint64()>>rng.IntN(64)), 'f', 1, 64),
			"-"+strconv.FormatFloat(float64(f32), 'f', -1, 64))
	}
	inputs = append(inputs, "0", "-0", "0.0", "-0.0", "50.0", "373.75", "0.1", "1e5", "123456789012345.5", "9007199254740991", "9007199254740993", "0.0000000000000000001")
	fast := 0
	for _, in := range inputs {
		got, ok := parseDecimalExact([]byte(in))
		if !ok {
			continue
		}
		fast++
		want, err := strconv.ParseFloat(in, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: fast %v (%x), ParseFloat %v (%x) %v", in, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
	if fast < len(inputs)/3 {
		t.Fatalf("the fast path answered only %d of %d inputs", fast, len(inputs))
	}
}
