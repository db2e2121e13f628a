package main

// The eval command's data and protocols: a labelled recording and its
// targets, the temporal, interior and random splits into calibration rows
// and predicted batches, and the error figures of one estimator on them.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// recording is one labelled calibration recording (a
// *_fixed_train_data.csv) as the eval command uses it.
type recording struct {
	name          string // the file name without _fixed_train_data.csv
	rows          []labelledSample
	width, height float64 // the stored screen size, or the targets' window
	screenStored  bool    // whether the file held the screen size
	targets       []evalTarget
}

// evalTarget is one distinct dot of a recording and its rows in file order.
type evalTarget struct {
	x, y float64
	rows []int
}

// loadRecording reads a *_fixed_train_data.csv. Without screen columns the
// screen is the targets' window, min + max of the target coordinates (the
// front end lays the dots out symmetrically).
func loadRecording(path string) (recording, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return recording{}, fmt.Errorf("eval: %w", err)
	}
	c, err := parseFixedCSV(raw)
	if err != nil {
		return recording{}, fmt.Errorf("eval: %s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), ".csv")
	name = strings.TrimSuffix(name, "_fixed_train_data")
	return newRecording(name, c.Fixed, c.ScreenWidth, c.ScreenHeight)
}

// newRecording groups rows by target. A zero width or height is inferred
// from the targets.
func newRecording(name string, rows []labelledSample, width, height float64) (recording, error) {
	rec := recording{name: name, rows: rows, width: width, height: height, screenStored: width > 0 && height > 0}
	index := map[[2]float64]int{}
	for i, r := range rows {
		k := [2]float64{r.PointX, r.PointY}
		j, ok := index[k]
		if !ok {
			j = len(rec.targets)
			index[k] = j
			rec.targets = append(rec.targets, evalTarget{x: r.PointX, y: r.PointY})
		}
		rec.targets[j].rows = append(rec.targets[j].rows, i)
	}
	if len(rec.targets) < 2 {
		return rec, fmt.Errorf("eval: %s: %d distinct targets, at least 2 are needed", name, len(rec.targets))
	}
	if !rec.screenStored {
		minX, maxX, minY, maxY := targetBounds(rec.targets)
		rec.width, rec.height = minX+maxX, minY+maxY
	}
	if !(rec.width > 0 && rec.height > 0) {
		return rec, fmt.Errorf("eval: %s: the screen size %g×%g is not positive", name, rec.width, rec.height)
	}
	return rec, nil
}

// targetBounds returns the smallest and largest target coordinates.
func targetBounds(ts []evalTarget) (minX, maxX, minY, maxY float64) {
	minX, maxX, minY, maxY = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, t := range ts {
		minX, maxX = math.Min(minX, t.x), math.Max(maxX, t.x)
		minY, maxY = math.Min(minY, t.y), math.Max(maxY, t.y)
	}
	return minX, maxX, minY, maxY
}

// The protocols of the eval command.
const (
	protocolTemporal = "temporal"
	protocolInterior = "interior"
	protocolRandom   = "random"
)

// evalProtocols lists the protocols in the order the tables show them.
func evalProtocols() []string {
	return []string{protocolTemporal, protocolInterior, protocolRandom}
}

// evalTrial is one calibration and the batch predicted with it: row
// indices into the recording.
type evalTrial struct {
	calib, test []int
}

// errNoTrial says a protocol cannot be run on a recording.
var errNoTrial = errors.New("the protocol has nothing to predict on this recording")

// protocolTrials splits a recording for a protocol:
//   - temporal: one trial; each target's first 70 % of samples (in file
//     order, at least one) calibrate, its last 30 % are predicted, all
//     targets in one batch;
//   - interior: one trial per target that is not a corner of the layout
//     (a corner's x is the smallest or largest target x and its y the
//     smallest or largest target y): calibrate on every other target,
//     predict its samples as one batch;
//   - random: scikit-learn's train_test_split(test_size=0.2,
//     random_state=42) over all rows, in its order.
func protocolTrials(protocol string, rec recording) ([]evalTrial, error) {
	switch protocol {
	case protocolTemporal:
		var tr evalTrial
		for _, t := range rec.targets {
			n := len(t.rows)
			k := max(n*7/10, 1)
			tr.calib = append(tr.calib, t.rows[:k]...)
			tr.test = append(tr.test, t.rows[k:]...)
		}
		slices.Sort(tr.calib)
		slices.Sort(tr.test)
		if len(tr.test) == 0 {
			return nil, errNoTrial
		}
		return []evalTrial{tr}, nil
	case protocolInterior:
		minX, maxX, minY, maxY := targetBounds(rec.targets)
		var trials []evalTrial
		for i, t := range rec.targets {
			if (t.x == minX || t.x == maxX) && (t.y == minY || t.y == maxY) {
				continue
			}
			tr := evalTrial{test: t.rows}
			for j, o := range rec.targets {
				if j != i {
					tr.calib = append(tr.calib, o.rows...)
				}
			}
			slices.Sort(tr.calib)
			trials = append(trials, tr)
		}
		if len(trials) == 0 {
			return nil, errNoTrial
		}
		return trials, nil
	case protocolRandom:
		train, test := trainTestSplit(len(rec.rows))
		return []evalTrial{{calib: train, test: test}}, nil
	}
	return nil, fmt.Errorf("unknown protocol %q (valid: %s)", protocol, strings.Join(evalProtocols(), ", "))
}

// evalPoint is one predicted sample and the dot the user looked at.
type evalPoint struct {
	trueX, trueY, predX, predY float64
}

// evalStats are the error figures of a protocol on one recording, each
// the average over the protocol's trials of the trial's figure.
type evalStats struct {
	trials, samples int
	mean, median    float64 // Euclidean error, px
	dx, dy          float64 // mean absolute horizontal and vertical error, px
	deg             float64 // mean Euclidean error in degrees (NaN without a geometry)
}

// evalGeometry converts pixels to degrees of visual angle; zero values mean
// no conversion.
type evalGeometry struct {
	screenWidthPx, screenWidthCm, distanceCm float64
}

// degrees converts an error on a recording of the given width to degrees,
// or NaN without a geometry.
func (g evalGeometry) degrees(errPx, recordingWidth float64) float64 {
	if g.screenWidthCm <= 0 || g.distanceCm <= 0 {
		return math.NaN()
	}
	px := g.screenWidthPx
	if px <= 0 {
		px = recordingWidth
	}
	return visualAngleDeg(errPx, px, g.screenWidthCm, g.distanceCm)
}

// evalFit is an estimator as the eval command runs it.
type evalFit func(rows []labelledSample, width, height float64) (batchModel, error)

// runProtocol fits the estimator on each trial's calibration rows, predicts
// its batch and returns the averaged figures and every predicted point.
func runProtocol(rec recording, trials []evalTrial, fit evalFit, geo evalGeometry) (evalStats, []evalPoint, error) {
	st := evalStats{trials: len(trials)}
	var points []evalPoint
	for _, tr := range trials {
		calib := make([]labelledSample, len(tr.calib))
		for i, r := range tr.calib {
			calib[i] = rec.rows[r]
		}
		batch := make([]irisSample, len(tr.test))
		for i, r := range tr.test {
			batch[i] = rec.rows[r].irisSample
		}
		m, err := fit(calib, rec.width, rec.height)
		if err != nil {
			return st, nil, err
		}
		xs, ys := m.predict(batch)
		errs := make([]float64, len(batch))
		var dx, dy, deg float64
		for i, r := range tr.test {
			p := evalPoint{rec.rows[r].PointX, rec.rows[r].PointY, xs[i], ys[i]}
			points = append(points, p)
			errs[i] = math.Hypot(p.predX-p.trueX, p.predY-p.trueY)
			dx += math.Abs(p.predX - p.trueX)
			dy += math.Abs(p.predY - p.trueY)
			deg += geo.degrees(errs[i], rec.width)
		}
		n := float64(len(errs))
		st.samples += len(errs)
		st.mean += mean(errs)
		st.dx += dx / n
		st.dy += dy / n
		st.deg += deg / n
		slices.Sort(errs)
		st.median += percentile(errs, 50)
	}
	k := float64(len(trials))
	st.mean, st.median, st.dx, st.dy, st.deg = st.mean/k, st.median/k, st.dx/k, st.dy/k, st.deg/k
	return st, points, nil
}
