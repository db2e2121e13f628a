package main

// Tests of exact decimal parsing against strconv.ParseFloat.

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestScanNumberMatchesParseFloat: scanNumber ends where jsonNumberEnd
// ends, agrees on the grammar, and gives strconv.ParseFloat's value bit for
// bit, on browser-printed coordinates, long, tiny, huge and malformed
// numbers.
func TestScanNumberMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	inputs := []string{"0", "-0", "0.0", "-0.0", "50.0", "373.75", "0.1", "1e5", "1E+5", "1e-5", "-2.5e-3",
		"123456789012345.5", "-0.000000000000000000000000001", "0.0000000000000000000000000000001", "9007199254740991", "9007199254740993", "9007199254740992.5", "0.0000000000000000001",
		"12345678901234567890123", "1.00000000000000000000000001", "0.30000000000000004", "1e22", "1e23", "1e-22",
		"4.9e-324", "2e-324", "1e-400", "1.7976931348623157e308", "1.8e308", "1e400", "-1e400", "585.34674072265625",
		"", "-", "01", "1.", ".5", "1e", "1e+", "-.5", "1.5e3x", "2,", "3]", "00", "-01", "1ee5", "+1", "0x10"}
	for i := 0; i < 100000; i++ {
		f32 := float32(rng.Float64() * 2000)
		inputs = append(inputs,
			strconv.FormatFloat(float64(f32), 'f', -1, 64),
			strconv.FormatFloat(float64(f32), 'f', -1, 32),
			strconv.FormatFloat(rng.NormFloat64()*1e3, 'f', -1, 64),
			strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(80)-40)), 'g', -1, 64),
			strconv.FormatFloat(rng.NormFloat64(), 'e', rng.IntN(25), 64),
			strconv.FormatFloat(float64(rng.Uint64()>>rng.IntN(64)), 'f', rng.IntN(4), 64))
	}
	for _, in := range inputs {
		for _, suffix := range []string{"", ",", "}"} {
			data := []byte(in + suffix)
			wantEnd, wantOK := jsonNumberEnd(data, 0)
			v, end, ok := scanNumber(data, 0)
			if end != wantEnd || ok != wantOK {
				t.Fatalf("%q: scanNumber ends at %d (ok %v), jsonNumberEnd at %d (ok %v)", data, end, ok, wantEnd, wantOK)
			}
			if !ok {
				continue
			}
			want, _ := strconv.ParseFloat(string(data[:end]), 64)
			if math.Float64bits(v) != math.Float64bits(want) {
				t.Fatalf("%q: scanNumber %v (%x), ParseFloat %v (%x)", data[:end], v, math.Float64bits(v), want, math.Float64bits(want))
			}
		}
	}
}
