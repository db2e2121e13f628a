package main

import (
	"math"
	"time"
)

// costPoint is one measured calibration: rows labelled rows fitted with a
// model took ms milliseconds on one core of the reference machine.
type costPoint struct {
	rows int
	ms   float64
}

// fitCostPoints returns BenchmarkFitCost's figures for a model: a whole
// calibration (split, both axes, grid search, k-means with k = 9) on one
// core, measured on the reference machine (2 cores, go1.26, 2026-11).
func fitCostPoints(model string) []costPoint {
	switch model {
	case "Linear Regression":
		return []costPoint{{250, 1}, {1000, 3}, {4000, 12}, {16000, 50}}
	case "Ridge Regression":
		return []costPoint{{250, 2}, {1000, 7}, {4000, 25}, {16000, 100}}
	case "Lasso Regression":
		return []costPoint{{250, 4}, {1000, 12}, {4000, 50}, {16000, 200}}
	case "Elastic Net":
		return []costPoint{{250, 8}, {1000, 31}, {4000, 130}, {16000, 520}}
	case "Bayesian Ridge":
		return []costPoint{{250, 16}, {1000, 53}, {4000, 220}, {16000, 900}}
	case "SGD Regressor":
		return []costPoint{{250, 80}, {1000, 303}, {4000, 1200}, {16000, 4800}}
	case "Support Vector Regressor":
		return []costPoint{{250, 100}, {500, 410}, {1000, 1835}, {2000, 9750}, {4000, 50000}}
	case "Random Forest Regressor":
		return []costPoint{{250, 40}, {1000, 168}, {4000, 700}, {16000, 2800}}
	}
	return nil
}

// estimateFitCost returns the estimated single-core time of a calibration
// of rows labelled rows with model and k clusters: the model's measured
// figures interpolated on log-log axes (extrapolated along the nearest
// segment beyond them), plus k-means's cost when k exceeds the 9 of the
// measurements. An unknown model costs nothing (it is refused elsewhere).
func estimateFitCost(model string, rows, k int) time.Duration {
	pts := fitCostPoints(model)
	if len(pts) == 0 || rows <= 0 {
		return 0
	}
	i := 1
	for i < len(pts)-1 && rows > pts[i].rows {
		i++
	}
	a, b := pts[i-1], pts[i]
	slope := math.Log(b.ms/a.ms) / math.Log(float64(b.rows)/float64(a.rows))
	ms := a.ms * math.Pow(float64(rows)/float64(a.rows), slope)
	if rows < pts[0].rows { // below the table: no cheaper than linear scaling down
		ms = pts[0].ms * float64(rows) / float64(pts[0].rows)
	}
	_, test := splitSizes(rows)
	if k > 9 {
		ms += (kmeansCost(test, k) - kmeansCost(test, 9)).Seconds() * 1000
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// kmeansCost is the estimated time of k-means (24 starts) on n points:
// BenchmarkKMeansCost's figures fitted as c·n·k^0.85 (uniformly spread
// points, the slow case).
func kmeansCost(n, k int) time.Duration {
	const c = 3.8e-3 // ms
	ms := c * float64(n) * math.Pow(float64(k), 0.85)
	return time.Duration(ms * float64(time.Millisecond))
}
