package main

// The benchmarks the cost model's figures come from.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// costBenchRows are the row counts BenchmarkFitCost measures per model:
// up to MAX_CALIB_ROWS's order for the cheap ones, up to where a fit takes
// about a minute for the SVR.
func costBenchRows(model string) []int {
	if model == "Support Vector Regressor" {
		return []int{250, 500, 1000, 2000, 4000}
	}
	return []int{250, 1000, 4000, 16000}
}

// BenchmarkFitCost measures a whole calibration (split, both axes, grid
// search, k-means with k = 9) on one core against its number of rows: the
// figures behind fitCostPoints. est_ratio is the measured time over the
// estimate; far from 1 on a machine means the table should be measured
// again there. Run it with -benchtime 1x: the largest SVR case takes about
// a minute.
func BenchmarkFitCost(b *testing.B) {
	specs := modelSpecs()
	for _, name := range servedModels(specs) {
		for _, n := range costBenchRows(name) {
			b.Run(fmt.Sprintf("%s/rows=%d", strings.ReplaceAll(name, " ", "_"), n), func(b *testing.B) {
				rows := longRecording(b, n)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := evaluateCalibrationWith(context.Background(), specs[name], rows, 9, 0, nil); err != nil {
						b.Fatal(err)
					}
				}
				per := b.Elapsed() / time.Duration(b.N)
				b.ReportMetric(float64(per.Microseconds())/1000, "ms/fit")
				b.ReportMetric(float64(per)/float64(estimateFitCost(name, n, 9)), "est_ratio")
			})
		}
	}
}

// BenchmarkKMeansCost measures k-means (24 starts) on points spread
// uniformly over a 1500 × 750 window, the slow case (a calibration's
// predictions gather around its targets and converge sooner): the figures
// behind kmeansCost.
func BenchmarkKMeansCost(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		for _, k := range []int{9, 100, 1000} {
			b.Run(fmt.Sprintf("points=%d/k=%d", n, k), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(3, 4))
				pts := make([][2]float64, n)
				for i := range pts {
					pts[i] = [2]float64{rng.Float64() * 1500, rng.Float64() * 750}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := kmeans(context.Background(), pts, k, 0); err != nil {
						b.Fatal(err)
					}
				}
				per := b.Elapsed() / time.Duration(b.N)
				b.ReportMetric(float64(per.Microseconds())/1000, "ms/fit")
				b.ReportMetric(float64(per)/float64(kmeansCost(n, k)), "est_ratio")
			})
		}
	}
}
