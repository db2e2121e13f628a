package main

// Fuzzing of the CSV loader: what it reads writes back the same.

import (
	"math"
	"strconv"
	"testing"
)

func FuzzCSVLoader(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, fixedErr := parseFixedCSV(raw)
		iris, irisErr := parseIrisCSV(raw)
		if irisErr == nil {
			for i, s := range iris {
				requireCoordinates(t, "iris row "+strconv.Itoa(i), math.MaxFloat64, s.LeftX, s.LeftY, s.RightX, s.RightY)
			}
			back, err := parseIrisCSV(encodeIrisCSV(iris))
			if err != nil {
				t.Fatalf("encodeIrisCSV output does not parse: %v", err)
			}
			requireSameIris(t, back, iris)
		}
		if fixedErr != nil {
			return
		}
		if len(c.Fixed) == 0 {
			t.Fatal("parseFixedCSV succeeded without rows")
		}
		requireCoordinates(t, "screen size", math.MaxFloat64, c.ScreenWidth, c.ScreenHeight)
		for i, s := range c.Fixed {
			requireCoordinates(t, "fixed row "+strconv.Itoa(i), math.MaxFloat64, s.LeftX, s.LeftY, s.RightX, s.RightY, s.PointX, s.PointY)
		}
		// The fixed file's columns include the iris file's: the same text
		// must read as the same iris rows.
		if irisErr != nil {
			t.Fatalf("parseFixedCSV read %d rows but parseIrisCSV failed: %v", len(c.Fixed), irisErr)
		}
		fixedIris := make([]irisSample, len(c.Fixed))
		for i, s := range c.Fixed {
			fixedIris[i] = s.irisSample
		}
		requireSameIris(t, iris, fixedIris)

		back, err := parseFixedCSV(encodeFixedCSV(c))
		if err != nil {
			t.Fatalf("encodeFixedCSV output does not parse: %v", err)
		}
		if len(back.Fixed) != len(c.Fixed) {
			t.Fatalf("round trip: %d rows, want %d", len(back.Fixed), len(c.Fixed))
		}
		for i := range c.Fixed {
			a, b := back.Fixed[i], c.Fixed[i]
			got := []float64{a.LeftX, a.LeftY, a.RightX, a.RightY, a.PointX, a.PointY}
			want := []float64{b.LeftX, b.LeftY, b.RightX, b.RightY, b.PointX, b.PointY}
			requireSameBits(t, "round trip row "+strconv.Itoa(i), got, want)
		}
		requireSameBits(t, "round trip screen size", []float64{back.ScreenWidth, back.ScreenHeight}, []float64{c.ScreenWidth, c.ScreenHeight})
	})
}

func requireSameIris(t *testing.T, got, want []irisSample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d iris rows, want %d", len(got), len(want))
	}
	for i := range want {
		requireSameBits(t, "iris row "+strconv.Itoa(i),
			[]float64{got[i].LeftX, got[i].LeftY, got[i].RightX, got[i].RightY},
			[]float64{want[i].LeftX, want[i].LeftY, want[i].RightX, want[i].RightY})
	}
}

func requireSameBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for j := range want {
		if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
			t.Fatalf("%s: value %d is %v, want %v (bit for bit)", what, j, got[j], want[j])
		}
	}
}
