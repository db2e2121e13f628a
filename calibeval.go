package main

// The calib_validation maths: the 80/20 split, a scaled model per screen
// axis, predictions for the held-out rows, per-target precision and
// accuracy, and k-means over the predictions.

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// axisFit is the fitted model of one screen axis.
type axisFit struct {
	scaler standardScaler
	result searchResult
}

// testPoint is one held-out row with its prediction.
type testPoint struct {
	Row          int
	TrueX, TrueY float64
	PredX, PredY float64
}

// targetStats is the quality of one calibration dot over its kept test rows.
type targetStats struct {
	TrueX, TrueY float64
	PredX, PredY []float64
	PrecisionSD  float64
	Accuracy     float64
}

// calibReport is the outcome of calib_validation before encoding.
type calibReport struct {
	Test      []testPoint
	Targets   []targetStats // in order of first appearance among the kept test rows
	Centroids [][2]float64
	X, Y      axisFit
}

// axisDesign returns the feature matrix and target of one axis:
// [left, right] iris x against point_x, or the same for y.
func axisDesign(rows []labelledSample, idx []int, yAxis bool) (*mat.Dense, []float64) {
	x := mat.NewDense(len(idx), 2, nil)
	t := make([]float64, len(idx))
	for i, r := range idx {
		s := rows[r]
		if yAxis {
			x.Set(i, 0, s.LeftY)
			x.Set(i, 1, s.RightY)
			t[i] = s.PointY
		} else {
			x.Set(i, 0, s.LeftX)
			x.Set(i, 1, s.RightX)
			t[i] = s.PointX
		}
	}
	return x, t
}

// fitAxes fits both axes on the training rows, each with its own scaler
// (StandardScaler fit on them), and predicts the test rows: the axes in
// parallel for a single fit, their grid searches' fits from one pool
// (searchAxes) for a spec with a search.
func fitAxes(ctx context.Context, spec modelSpec, rows []labelledSample, train, test []int, borrow borrower) (fits [2]axisFit, preds [2][]float64, errs [2]error) {
	if spec.search {
		return searchAxes(ctx, spec, rows, train, test, borrow)
	}
	parallelFor(ctx, 2, borrow, func(axis int, _ borrower) {
		fits[axis], preds[axis], errs[axis] = fitAxis(ctx, spec, rows, train, test, axis == 1)
	})
	return fits, preds, errs
}

// fitAxis fits one axis of a spec without search; it returns the fit and
// the predictions for the test rows.
func fitAxis(ctx context.Context, spec modelSpec, rows []labelledSample, train, test []int, yAxis bool) (axisFit, []float64, error) {
	xTrain, yTrain := axisDesign(rows, train, yAxis)
	xTest, _ := axisDesign(rows, test, yAxis)
	scaler := fitStandardScaler(xTrain)
	res, err := fitSingle(ctx, spec, scaler.transform(xTrain), yTrain)
	if err != nil {
		return axisFit{}, nil, err
	}
	return axisFit{scaler: scaler, result: res}, predictModel(spec, res.model, scaler.transform(xTest)), nil
}

// searchAxes is fitAxes for both axes of a spec with a grid search, the
// two searches' fits taken from one pool of tasks, so that a core whose
// axis has no fit left takes the other axis's (the axes' searches can
// differ in cost by a third), each axis refitted and predicted as soon as
// its last fit is done.
func searchAxes(ctx context.Context, spec modelSpec, rows []labelledSample, train, test []int, borrow borrower) (fits [2]axisFit, preds [2][]float64, errs [2]error) {
	var searches [2]*search
	for axis := range searches {
		xTrain, yTrain := axisDesign(rows, train, axis == 1)
		fits[axis].scaler = fitStandardScaler(xTrain)
		x := fits[axis].scaler.transform(xTrain)
		if spec.poly {
			x = polyFeatures2(x)
		}
		if searches[axis], errs[axis] = newSearch(spec, x, yTrain); errs[axis] != nil {
			return fits, preds, errs
		}
	}
	// The axes' tasks alternate, so that two cores seldom wait on the same
	// search's shared values; whichever goroutine runs an axis's last task
	// then refits it, while the other axis's tasks go on.
	var left [2]atomic.Int64
	var order [][2]int // axis, task
	for task := 0; task < max(searches[0].tasks(), searches[1].tasks()); task++ {
		for axis, s := range searches {
			if task < s.tasks() {
				if spec.costRisesInGrid {
					order = append(order, [2]int{axis, s.tasks() - 1 - task})
				} else {
					order = append(order, [2]int{axis, task})
				}
				left[axis].Add(1)
			}
		}
	}
	parallelFor(ctx, len(order), borrow, func(i int, _ borrower) {
		axis, task := order[i][0], order[i][1]
		searches[axis].run(ctx, task)
		if left[axis].Add(-1) > 0 {
			return
		}
		if fits[axis].result, errs[axis] = searches[axis].finish(ctx); errs[axis] != nil {
			return
		}
		xTest, _ := axisDesign(rows, test, axis == 1)
		preds[axis] = predictModel(spec, fits[axis].result.model, fits[axis].scaler.transform(xTest))
	})
	for axis := range errs {
		if errs[axis] == nil && left[axis].Load() > 0 { // stopped before its last task
			errs[axis] = stopCause(ctx)
		}
	}
	return fits, preds, errs
}

// evaluateCalibration reproduces the Python service's calib_validation maths:
// one 80/20 split (random_state 42) for both axes, per axis a scaler and the
// model, predictions for the test rows, k-means over those predictions, and
// per target PrecisionSD and Accuracy over the test rows whose predictions
// are both non-negative. It runs on the calling goroutine alone.
func evaluateCalibration(spec modelSpec, rows []labelledSample, k int, seed uint64) (calibReport, error) {
	return evaluateCalibrationWith(context.Background(), spec, rows, k, seed, nil)
}

// evaluateCalibrationWith is evaluateCalibration with the two axes and the
// grid candidates fitted in parallel on the workers borrow lends. The result
// does not depend on how many there were. Once ctx is done it stops within
// about 100 ms and returns stopCause(ctx).
func evaluateCalibrationWith(ctx context.Context, spec modelSpec, rows []labelledSample, k int, seed uint64, borrow borrower) (calibReport, error) {
	train, test := trainTestSplit(len(rows))
	if len(train) == 0 || len(test) == 0 {
		return calibReport{}, fmt.Errorf("%w: %d rows leave no training or test rows", errNotFittable, len(rows))
	}
	if k < 1 || k > len(test) {
		return calibReport{}, fmt.Errorf("k must be between 1 and the %d test rows, got %d", len(test), k)
	}
	fits, preds, errs := fitAxes(ctx, spec, rows, train, test, borrow)
	if err := stopCause(ctx); err != nil {
		return calibReport{}, err
	}
	if errs[0] != nil {
		return calibReport{}, fmt.Errorf("x axis: %w", errs[0])
	}
	if errs[1] != nil {
		return calibReport{}, fmt.Errorf("y axis: %w", errs[1])
	}
	fx, fy, px, py := fits[0], fits[1], preds[0], preds[1]
	rep := calibReport{X: fx, Y: fy, Test: make([]testPoint, len(test))}
	points := make([][2]float64, len(test))
	for i, r := range test {
		rep.Test[i] = testPoint{Row: r, TrueX: rows[r].PointX, TrueY: rows[r].PointY, PredX: px[i], PredY: py[i]}
		points[i] = [2]float64{px[i], py[i]}
	}
	rep.Targets = targetQuality(rep.Test)
	var err error
	if rep.Centroids, err = kmeansWith(ctx, points, k, seed, borrow); err != nil {
		return calibReport{}, err
	}
	return rep, nil
}

// targetQuality groups the test rows with non-negative predictions by their
// true target and computes, per group, PrecisionSD = (sd(px) + sd(py)) / 2
// with population deviations about the group mean, and Accuracy = the mean
// Euclidean distance between prediction and target.
func targetQuality(test []testPoint) []targetStats {
	type key struct{ x, y float64 }
	index := map[key]int{}
	var out []targetStats
	for _, p := range test {
		if p.PredX < 0 || p.PredY < 0 {
			continue
		}
		k := key{p.TrueX, p.TrueY}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, targetStats{TrueX: p.TrueX, TrueY: p.TrueY})
		}
		out[i].PredX = append(out[i].PredX, p.PredX)
		out[i].PredY = append(out[i].PredY, p.PredY)
	}
	for i := range out {
		t := &out[i]
		t.PrecisionSD = (populationSD(t.PredX) + populationSD(t.PredY)) / 2
		var sum float64
		for j := range t.PredX {
			sum += math.Hypot(t.TrueX-t.PredX[j], t.TrueY-t.PredY[j])
		}
		t.Accuracy = sum / float64(len(t.PredX))
	}
	return out
}
