package main

// The "precise" batch estimator: inverse regression. Each iris coordinate
// is modelled as a linear function of the screen point plus noise; a
// sample is mapped to the screen point the model finds most probable,
// pulled toward the centre of the calibration dots by an amount chosen by
// leave-one-target-out cross-validation, and kept within the dots' box.

import (
	"fmt"
	"math"
	"slices"
)

// preciseFeatures is the number of iris coordinates the estimator uses:
// left x, left y, right x, right y.
const preciseFeatures = 4

// preciseKappas are the candidate weights of the iris evidence against
// the prior (the spread of the calibration dots about their centre): small
// values pull every prediction toward the centre, large ones trust the
// iris coordinates. Cross-validation picks one per calibration.
func preciseKappas() []float64 {
	return []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 2, 3, 5, 10}
}

// preciseDefaultKappa is the weight used when a calibration has fewer than
// preciseMinCVTargets distinct dots. With fewer, each cross-validation fold
// would fit its three coefficients per coordinate exactly and could not
// measure how far the map is off between the dots.
const (
	preciseDefaultKappa = 0.1
	preciseMinCVTargets = 5
)

// preciseMaxFolds bounds the cross-validation's cost: with more distinct
// dots than this, dot i is held out in fold i mod preciseMaxFolds (real
// calibrations have 5 to 9 dots, one fold each).
const preciseMaxFolds = 20

// preciseOutlierD2 is the squared Mahalanobis distance (chi-squared with 4
// degrees of freedom, p = 0.001) beyond which a calibration sample is
// treated as an outlier frame (a blink, a tracking glitch) and left out.
const preciseOutlierD2 = 18.47

// preciseModel maps iris samples to the screen: point = centre +
// gain·(features − offset), clamped to the box of the calibration dots.
type preciseModel struct {
	centre                 [2]float64
	offset                 [preciseFeatures]float64
	gain                   [2][preciseFeatures]float64
	minX, maxX, minY, maxY float64
	kappa                  float64 // the chosen weight, for tests and the eval log
}

// irisVector is a sample's four coordinates.
func irisVector(s irisSample) [preciseFeatures]float64 {
	return [preciseFeatures]float64{s.LeftX, s.LeftY, s.RightX, s.RightY}
}

func (m *preciseModel) predict(samples []irisSample) (xs, ys []float64) {
	xs, ys = make([]float64, len(samples)), make([]float64, len(samples))
	for i, s := range samples {
		f := irisVector(s)
		x, y := m.centre[0], m.centre[1]
		for k := range f {
			d := f[k] - m.offset[k]
			x += m.gain[0][k] * d
			y += m.gain[1][k] * d
		}
		xs[i] = math.Min(math.Max(x, m.minX), m.maxX)
		ys[i] = math.Min(math.Max(y, m.minY), m.maxY)
	}
	return xs, ys
}

// preciseData is a calibration prepared for fitting: features, targets,
// sample weights (0 for outlier frames) and the rows of each distinct dot.
type preciseData struct {
	f       [][preciseFeatures]float64
	t       [][2]float64
	w       []float64
	targets [][]int
	centre  [2]float64 // mean of the distinct dots
	spread  [2]float64 // their standard deviation per axis (+1 px)
}

// fitPreciseModel fits the precise estimator on calibration rows for a
// screen of width × height CSS pixels (the screen bounds the predictions
// scored by cross-validation).
func fitPreciseModel(rows []labelledSample, width, height float64) (*preciseModel, error) {
	if len(rows) < 2 {
		return nil, fmt.Errorf("%w: the calibration has %d rows, at least 2 are needed", errNotFittable, len(rows))
	}
	d := newPreciseData(rows)
	all := make([]int, len(rows))
	for i := range all {
		all[i] = i
	}
	fwd := d.forward(all)
	d.dropOutliers(fwd)
	fwd = d.forward(all)
	kappa := preciseDefaultKappa
	if len(d.targets) >= preciseMinCVTargets {
		kappa = d.crossValidate(width, height)
	}
	m := fwd.model(d.centre, d.spread, kappa)
	m.minX, m.maxX, m.minY, m.maxY = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, t := range d.t {
		m.minX, m.maxX = math.Min(m.minX, t[0]), math.Max(m.maxX, t[0])
		m.minY, m.maxY = math.Min(m.minY, t[1]), math.Max(m.maxY, t[1])
	}
	return m, nil
}

// newPreciseData groups the rows by dot and computes the prior: the mean
// and spread of the distinct dots, each dot counting once.
func newPreciseData(rows []labelledSample) *preciseData {
	d := &preciseData{f: make([][preciseFeatures]float64, len(rows)), t: make([][2]float64, len(rows)), w: make([]float64, len(rows))}
	index := map[[2]float64]int{}
	for i, r := range rows {
		d.f[i], d.t[i], d.w[i] = irisVector(r.irisSample), [2]float64{r.PointX, r.PointY}, 1
		j, ok := index[d.t[i]]
		if !ok {
			j = len(d.targets)
			index[d.t[i]] = j
			d.targets = append(d.targets, nil)
		}
		d.targets[j] = append(d.targets[j], i)
	}
	k := float64(len(d.targets))
	for _, g := range d.targets {
		d.centre[0] += d.t[g[0]][0] / k
		d.centre[1] += d.t[g[0]][1] / k
	}
	for _, g := range d.targets {
		for a := range 2 {
			e := d.t[g[0]][a] - d.centre[a]
			d.spread[a] += e * e / k
		}
	}
	for a := range 2 {
		d.spread[a] = math.Sqrt(d.spread[a]) + 1
	}
	return d
}

// dropOutliers gives weight 0 to the samples whose residual under the
// first fit is beyond preciseOutlierD2, unless that would leave a dot
// without samples.
func (d *preciseData) dropOutliers(fwd preciseForward) {
	for _, g := range d.targets {
		kept := 0
		out := make([]bool, len(g))
		for j, i := range g {
			out[j] = fwd.distance2(d.f[i], d.t[i]) > preciseOutlierD2
			if !out[j] {
				kept++
			}
		}
		if kept == 0 {
			continue
		}
		for j, i := range g {
			if out[j] {
				d.w[i] = 0
			}
		}
	}
}

// crossValidate returns the candidate weight with the lowest mean squared
// error over held-out dots: each dot in turn (or each fold of dots, past
// preciseMaxFolds) is predicted by the model fitted on the others
// (predictions clamped to the screen, each dot counting once).
func (d *preciseData) crossValidate(width, height float64) float64 {
	kappas := preciseKappas()
	loss := make([]float64, len(kappas))
	folds := min(len(d.targets), preciseMaxFolds)
	for fold := 0; fold < folds; fold++ {
		var rest []int
		var held [][]int
		for gi, g := range d.targets {
			if gi%folds == fold {
				held = append(held, g)
			} else {
				rest = append(rest, g...)
			}
		}
		fwd := d.forward(rest)
		for ki, kappa := range kappas {
			m := fwd.model(d.centre, d.spread, kappa)
			for _, g := range held {
				loss[ki] += d.heldOutError(m, g, width, height)
			}
		}
	}
	return kappas[slices.Index(loss, slices.Min(loss))]
}

// heldOutError is the weighted mean squared error of a model on one dot's
// samples, predictions clamped to the screen (0 for a dot of outliers only).
func (d *preciseData) heldOutError(m *preciseModel, g []int, width, height float64) float64 {
	var se, sw float64
	for _, i := range g {
		x, y := m.point(d.f[i])
		dx := math.Min(math.Max(x, 0), width) - d.t[i][0]
		dy := math.Min(math.Max(y, 0), height) - d.t[i][1]
		se += d.w[i] * (dx*dx + dy*dy)
		sw += d.w[i]
	}
	if sw == 0 {
		return 0
	}
	return se / sw
}

// point is the unclamped prediction of one feature vector.
func (m *preciseModel) point(f [preciseFeatures]float64) (x, y float64) {
	x, y = m.centre[0], m.centre[1]
	for k := range f {
		d := f[k] - m.offset[k]
		x += m.gain[0][k] * d
		y += m.gain[1][k] * d
	}
	return x, y
}
