package main

// The cost model: a calibration's estimated single-core time from its model,
// number of rows and k, from measured figures.

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
		return []costPoint{{250, 0.78}, {1000, 3.0}, {4000, 12.7}, {16000, 59}}
	case "Ridge Regression":
		return []costPoint{{250, 0.63}, {1000, 3.1}, {4000, 11.3}, {16000, 55}}
	case "Lasso Regression":
		return []costPoint{{250, 0.88}, {1000, 3.4}, {4000, 13.3}, {16000, 60}}
	case "Elastic Net":
		return []costPoint{{250, 2.0}, {1000, 3.5}, {4000, 15.3}, {16000, 60}}
	case "Bayesian Ridge":
		return []costPoint{{250, 18.6}, {1000, 54}, {4000, 213}, {16000, 766}}
	case "SGD Regressor":
		return []costPoint{{250, 37.5}, {1000, 135}, {4000, 503}, {16000, 1882}}
	case "Support Vector Regressor":
		return []costPoint{{250, 93}, {500, 400}, {1000, 1811}, {2000, 10062}, {4000, 59519}}
	case "Random Forest Regressor":
		return []costPoint{{250, 40}, {1000, 185}, {4000, 751}, {16000, 3090}}
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
// BenchmarkKMeansCost's figures (1,000 and 4,000 uniformly spread points,
// the slow case; k = 9, 100, 1,000) fitted as c·n^1.14·k^0.84, within 16%
// of each.
func kmeansCost(n, k int) time.Duration {
	const c = 1.1e-3 // ms
	ms := c * math.Pow(float64(n), 1.14) * math.Pow(float64(k), 0.84)
	return time.Duration(ms * float64(time.Millisecond))
}
