package main

// Tests of the benchmark figures against hand computations.

import (
	"math"
	"testing"
)

func TestEvaluateBenchmark(t *testing.T) {
	// A 1000 px wide screen is 50 cm wide, seen from 60 cm: e px is
	// 2·atan(e·0.05/120) degrees.
	geo := benchmarkGeometry{screenWidthPx: 1000, screenWidthCm: 50, distanceCm: 60}
	deg := func(e float64) float64 { return 2 * math.Atan(e*0.05/120) * 180 / math.Pi }
	f := func(v float64) *float64 { return &v }
	lost := benchmarkSample{}
	at := func(tx, ty, px, py float64) benchmarkSample { return benchmarkSample{tx, ty, px, py, true} }
	tests := []struct {
		name      string
		samples   []benchmarkSample
		accuracy  benchmarkAccuracy
		precision benchmarkPrecision
		lossPct   float64
		perTarget []benchmarkTarget
	}{
		{
			// Target (500, 300): errors 0 and 20 (a 12-16-20 triangle), one
			// lost; target (100, 100): errors 5 and 5 (3-4-5 triangles).
			// Overall errors 0, 5, 5, 20: mean 7.5, median 5, p95 at
			// position 0.95·3 = 2.85 between 5 and 20: 5 + 0.85·15 = 17.75.
			// Spreads about the targets' mean predictions: (100, 100) ± (3, 4)
			// is 5; (506, 308) ± (6, 8) is 10; mean and median 7.5.
			name: "two targets, one sample lost",
			samples: []benchmarkSample{
				at(500, 300, 500, 300), at(100, 100, 103, 104), {trueX: 500, trueY: 300}, at(500, 300, 512, 316), at(100, 100, 97, 96),
			},
			accuracy:  benchmarkAccuracy{f(7.5), f(5), f(17.75), f((deg(0) + 2*deg(5) + deg(20)) / 4)},
			precision: benchmarkPrecision{f(7.5), f(7.5)},
			lossPct:   20,
			perTarget: []benchmarkTarget{
				{100, 100, benchmarkAccuracy{f(5), f(5), f(5), f(deg(5))}},
				// errors 0, 20: median 10, p95 at 0.95: 19.
				{500, 300, benchmarkAccuracy{f(10), f(10), f(19), f((deg(0) + deg(20)) / 2)}},
			},
		},
		{
			name:      "one sample",
			samples:   []benchmarkSample{at(10, 20, 13, 24)},
			accuracy:  benchmarkAccuracy{f(5), f(5), f(5), f(deg(5))},
			precision: benchmarkPrecision{f(0), f(0)},
			perTarget: []benchmarkTarget{{10, 20, benchmarkAccuracy{f(5), f(5), f(5), f(deg(5))}}},
		},
		{
			// Targets sort by x, then y.
			name:      "nothing tracked",
			samples:   []benchmarkSample{{trueX: 7, trueY: 1}, lost, {trueX: 7, trueY: 0}},
			lossPct:   100,
			perTarget: []benchmarkTarget{{0, 0, benchmarkAccuracy{}}, {7, 0, benchmarkAccuracy{}}, {7, 1, benchmarkAccuracy{}}},
		},
	}
	for _, tc := range tests {
		got := evaluateBenchmark(tc.samples, geo)
		checkAccuracy(t, tc.name+": overall", got.Overall.Accuracy, tc.accuracy)
		checkFigure(t, tc.name+": mean_rms_px", got.Overall.Precision.MeanRMSPx, tc.precision.MeanRMSPx)
		checkFigure(t, tc.name+": median_rms_px", got.Overall.Precision.MedianRMSPx, tc.precision.MedianRMSPx)
		if dq := got.Overall.DataQuality; dq.NumSamples != len(tc.samples) || dq.DataLossPercent != tc.lossPct {
			t.Errorf("%s: data quality %+v, want %d samples, %g%% lost", tc.name, dq, len(tc.samples), tc.lossPct)
		}
		if len(got.PerTarget) != len(tc.perTarget) {
			t.Fatalf("%s: %d targets, want %d", tc.name, len(got.PerTarget), len(tc.perTarget))
		}
		for i, want := range tc.perTarget {
			g := got.PerTarget[i]
			if g.TrueX != want.TrueX || g.TrueY != want.TrueY {
				t.Errorf("%s: target %d is (%g, %g), want (%g, %g)", tc.name, i, g.TrueX, g.TrueY, want.TrueX, want.TrueY)
			}
			checkAccuracy(t, tc.name+": target", g.benchmarkAccuracy, want.benchmarkAccuracy)
		}
	}
}

func checkAccuracy(t *testing.T, what string, got, want benchmarkAccuracy) {
	t.Helper()
	checkFigure(t, what+" mean_accuracy_error_px", got.MeanPx, want.MeanPx)
	checkFigure(t, what+" median_accuracy_error_px", got.MedianPx, want.MedianPx)
	checkFigure(t, what+" p95_accuracy_error_px", got.P95Px, want.P95Px)
	checkFigure(t, what+" mean_accuracy_error_deg", got.MeanDeg, want.MeanDeg)
}

func checkFigure(t *testing.T, what string, got, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s: got %v, want %v", what, got, want)
	case math.Abs(*got-*want) > 1e-12*math.Max(1, math.Abs(*want)):
		t.Errorf("%s: %.15g, want %.15g", what, *got, *want)
	}
}
