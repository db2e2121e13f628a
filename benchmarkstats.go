package main

// The figures of the benchmark route: accuracy (Euclidean error in pixels
// and degrees), precision (RMS about each target's mean) and data loss,
// overall and per target.

import (
	"math"
	"slices"
)

// benchmarkSample is one gaze sample of a benchmark: the target and the
// prediction, which is missing (ok false) when the tracker gave none.
type benchmarkSample struct {
	trueX, trueY float64
	predX, predY float64
	ok           bool
}

// benchmarkGeometry converts pixels to degrees of visual angle.
type benchmarkGeometry struct {
	screenWidthPx, screenWidthCm, distanceCm float64
}

// benchmarkAccuracy is the error of the samples that have a prediction;
// every figure is null when none has.
type benchmarkAccuracy struct {
	MeanPx   *float64 `json:"mean_accuracy_error_px"`
	MedianPx *float64 `json:"median_accuracy_error_px"`
	P95Px    *float64 `json:"p95_accuracy_error_px"`
	MeanDeg  *float64 `json:"mean_accuracy_error_deg"`
}

// benchmarkPrecision summarises the targets' RMS spreads of the predictions
// about their mean (targets without predictions left out).
type benchmarkPrecision struct {
	MeanRMSPx   *float64 `json:"mean_rms_px"`
	MedianRMSPx *float64 `json:"median_rms_px"`
}

type benchmarkDataQuality struct {
	DataLossPercent float64 `json:"data_loss_percent"`
	NumSamples      int     `json:"num_samples"`
}

type benchmarkOverall struct {
	Accuracy    benchmarkAccuracy    `json:"accuracy"`
	Precision   benchmarkPrecision   `json:"precision"`
	DataQuality benchmarkDataQuality `json:"data_quality"`
}

// benchmarkTarget is one target's accuracy.
type benchmarkTarget struct {
	TrueX float64 `json:"true_x"`
	TrueY float64 `json:"true_y"`
	benchmarkAccuracy
}

// benchmarkResult is the benchmark route's answer.
type benchmarkResult struct {
	Overall   benchmarkOverall  `json:"overall"`
	PerTarget []benchmarkTarget `json:"per_target"`
}

// evaluateBenchmark computes every figure. Targets are the distinct
// (True X, True Y) pairs, listed in ascending x, then y.
func evaluateBenchmark(samples []benchmarkSample, geo benchmarkGeometry) benchmarkResult {
	var res benchmarkResult
	res.Overall.Accuracy = accuracyOf(samples, geo)
	lost := 0
	groups := map[[2]float64][]benchmarkSample{}
	for _, s := range samples {
		if !s.ok {
			lost++
		}
		k := [2]float64{s.trueX, s.trueY}
		groups[k] = append(groups[k], s)
	}
	res.Overall.DataQuality = benchmarkDataQuality{DataLossPercent: 100 * float64(lost) / float64(len(samples)), NumSamples: len(samples)}
	keys := make([][2]float64, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]float64) int {
		if a[0] != b[0] {
			return cmpFloat(a[0], b[0])
		}
		return cmpFloat(a[1], b[1])
	})
	var spreads []float64
	res.PerTarget = make([]benchmarkTarget, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		res.PerTarget = append(res.PerTarget, benchmarkTarget{TrueX: k[0], TrueY: k[1], benchmarkAccuracy: accuracyOf(g, geo)})
		if rms, ok := rmsAboutMean(g); ok {
			spreads = append(spreads, rms)
		}
	}
	if len(spreads) > 0 {
		m := mean(spreads)
		slices.Sort(spreads)
		med := percentile(spreads, 50)
		res.Overall.Precision = benchmarkPrecision{MeanRMSPx: &m, MedianRMSPx: &med}
	}
	return res
}

func cmpFloat(a, b float64) int {
	if a < b {
		return -1
	}
	return 1
}

// accuracyOf is the mean, median and 95th percentile (numpy's linear
// interpolation) of the Euclidean errors, and their mean in degrees.
func accuracyOf(samples []benchmarkSample, geo benchmarkGeometry) benchmarkAccuracy {
	var errs []float64
	var deg float64
	for _, s := range samples {
		if !s.ok {
			continue
		}
		e := math.Hypot(s.predX-s.trueX, s.predY-s.trueY)
		errs = append(errs, e)
		deg += visualAngleDeg(e, geo.screenWidthPx, geo.screenWidthCm, geo.distanceCm)
	}
	if len(errs) == 0 {
		return benchmarkAccuracy{}
	}
	m, d := mean(errs), deg/float64(len(errs))
	slices.Sort(errs)
	med, p95 := percentile(errs, 50), percentile(errs, 95)
	return benchmarkAccuracy{MeanPx: &m, MedianPx: &med, P95Px: &p95, MeanDeg: &d}
}

// rmsAboutMean is sqrt(mean(|p − mean(p)|²)) over the predictions.
func rmsAboutMean(samples []benchmarkSample) (float64, bool) {
	var mx, my float64
	n := 0
	for _, s := range samples {
		if s.ok {
			mx += s.predX
			my += s.predY
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	mx /= float64(n)
	my /= float64(n)
	var ss float64
	for _, s := range samples {
		if s.ok {
			ss += (s.predX-mx)*(s.predX-mx) + (s.predY-my)*(s.predY-my)
		}
	}
	return math.Sqrt(ss / float64(n)), true
}
