package main

// Tests of the eval protocols: the random protocol of the webgazer
// estimator reproduces the golden holdout figures, and the temporal and
// interior splits are the ones specified.

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"
)

func TestEvalRandomMatchesGolden(t *testing.T) {
	for _, s := range loadGolden(t) {
		t.Run(s.g.Session, func(t *testing.T) {
			want := s.g.Accuracy
			rec, err := loadRecording(filepath.Join("testdata", s.g.SourceCSV))
			if err != nil {
				t.Fatal(err)
			}
			if rec.width != s.g.ScreenWidth || rec.height != s.g.ScreenHeight {
				t.Fatalf("screen %g×%g, golden %g×%g", rec.width, rec.height, s.g.ScreenWidth, s.g.ScreenHeight)
			}
			trials, err := protocolTrials(protocolRandom, rec)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(trials[0].calib, s.g.Split.TrainRows) || !slices.Equal(trials[0].test, s.g.Split.TestRows) {
				t.Fatal("the random protocol's split is not the golden one")
			}
			fit, _ := evalFitter(estimatorWebGazer)
			st, _, err := runProtocol(rec, trials, fit, evalGeometry{})
			if err != nil {
				t.Fatal(err)
			}
			if st.samples != want.NTest {
				t.Fatalf("%d predicted samples, golden %d", st.samples, want.NTest)
			}
			if d := math.Abs(st.mean - want.ABatchPredict.MeanPx); d > 1e-6 {
				t.Errorf("mean error %.9f px, golden %.9f px (difference %.3g)", st.mean, want.ABatchPredict.MeanPx, d)
			}
			if d := math.Abs(st.median - want.ABatchPredict.MedianPx); d > 1e-6 {
				t.Errorf("median error %.9f px, golden %.9f px (difference %.3g)", st.median, want.ABatchPredict.MedianPx, d)
			}
		})
	}
}

func TestProtocolSplits(t *testing.T) {
	rec := gridRecording(t, []float64{50, 500, 950}, []float64{40, 300, 560}, 10)
	if rec.width != 1000 || rec.height != 600 || rec.screenStored {
		t.Fatalf("screen %g×%g (stored %v), want the targets' window 1000×600", rec.width, rec.height, rec.screenStored)
	}
	trials, err := protocolTrials(protocolTemporal, rec)
	if err != nil || len(trials) != 1 {
		t.Fatalf("temporal: %d trials, %v", len(trials), err)
	}
	for ti, tg := range rec.targets {
		calib, test := tg.rows[:7], tg.rows[7:]
		for _, r := range calib {
			if !slices.Contains(trials[0].calib, r) || slices.Contains(trials[0].test, r) {
				t.Fatalf("temporal: target %d row %d should calibrate", ti, r)
			}
		}
		for _, r := range test {
			if !slices.Contains(trials[0].test, r) || slices.Contains(trials[0].calib, r) {
				t.Fatalf("temporal: target %d row %d should be predicted", ti, r)
			}
		}
	}
	trials, err = protocolTrials(protocolInterior, rec)
	if err != nil || len(trials) != 5 {
		t.Fatalf("interior on a 3×3 layout: %d trials, want the 5 non-corner targets (%v)", len(trials), err)
	}
	for _, tr := range trials {
		p := rec.rows[tr.test[0]]
		if (p.PointX == 50 || p.PointX == 950) && (p.PointY == 40 || p.PointY == 560) {
			t.Fatalf("interior predicts the corner (%g, %g)", p.PointX, p.PointY)
		}
		if len(tr.test) != 10 || len(tr.calib) != 80 {
			t.Fatalf("interior trial: %d predicted, %d calibration rows; want 10 and 80", len(tr.test), len(tr.calib))
		}
		for _, r := range tr.calib {
			if q := rec.rows[r]; q.PointX == p.PointX && q.PointY == p.PointY {
				t.Fatal("interior calibrates on the target it predicts")
			}
		}
	}
	corners := gridRecording(t, []float64{50, 950}, []float64{40, 560}, 3)
	if _, err := protocolTrials(protocolInterior, corners); !errors.Is(err, errNoTrial) {
		t.Fatalf("interior on corners only: %v, want errNoTrial", err)
	}
	one := gridRecording(t, []float64{50, 950}, []float64{40, 560}, 1)
	if _, err := protocolTrials(protocolTemporal, one); !errors.Is(err, errNoTrial) {
		t.Fatalf("temporal with one sample per target: %v, want errNoTrial", err)
	}
	if _, err := newRecording("dot", one.rows[:1], 0, 0); err == nil {
		t.Fatal("a recording of one target was accepted")
	}
}

// offsetModel predicts every sample at its row's dot (the row index is
// in the iris x coordinate) plus a fixed offset.
type offsetModel struct {
	rows   []labelledSample
	dx, dy float64
}

func (m offsetModel) predict(samples []irisSample) (xs, ys []float64) {
	for _, s := range samples {
		r := m.rows[int(s.LeftX)]
		xs = append(xs, r.PointX+m.dx)
		ys = append(ys, r.PointY+m.dy)
	}
	return xs, ys
}

func TestRunProtocolFigures(t *testing.T) {
	rec := gridRecording(t, []float64{0, 1000}, []float64{0, 500, 1000}, 4)
	fit := func(dx, dy float64) evalFit {
		return func([]labelledSample, float64, float64) (batchModel, error) {
			return offsetModel{rec.rows, dx, dy}, nil
		}
	}
	trials, err := protocolTrials(protocolInterior, rec)
	if err != nil || len(trials) != 2 {
		t.Fatalf("interior: %d trials, %v", len(trials), err)
	}
	// A 3-4-5 triangle: every error is 5 px, |dx| 3, |dy| 4; on a screen
	// 1000 px = 50 cm wide seen from 60 cm, 5 px is 2·atan(0.25/120) rad.
	geo := evalGeometry{screenWidthCm: 50, distanceCm: 60}
	st, points, err := runProtocol(rec, trials, fit(3, -4), geo)
	if err != nil {
		t.Fatal(err)
	}
	wantDeg := 2 * math.Atan(0.25/120) * 180 / math.Pi
	if st.trials != 2 || st.samples != 8 || len(points) != 8 || st.mean != 5 || st.median != 5 || st.dx != 3 || st.dy != 4 || math.Abs(st.deg-wantDeg) > 1e-12 {
		t.Fatalf("figures %+v, want 2 trials, 8 samples, 5 px, |dx| 3, |dy| 4, %.6f°", st, wantDeg)
	}
	if !math.IsNaN(evalGeometry{}.degrees(5, 1000)) {
		t.Fatal("degrees without a geometry should be NaN")
	}
	// Trials are averaged, not pooled: the interior figure is the mean of
	// the targets' figures.
	rec2 := gridRecording(t, []float64{0, 1000}, []float64{0, 500, 1000}, 4)
	rec2.rows = slices.Clone(rec2.rows)
	for _, r := range rec2.targets[1].rows[:2] { // two of the first interior target's samples are off by 10 px
		rec2.rows[r].PointY -= 10
	}
	st, _, err = runProtocol(rec2, trials, func([]labelledSample, float64, float64) (batchModel, error) {
		return offsetModel{rec.rows, 0, 0}, nil
	}, evalGeometry{})
	if err != nil {
		t.Fatal(err)
	}
	// target 1: errors 10, 10, 0, 0 (mean 5, median 5); target 2: all 0.
	if st.mean != 2.5 || st.median != 2.5 || st.dy != 2.5 || st.dx != 0 {
		t.Fatalf("averaged figures %+v, want mean 2.5, median 2.5, |dy| 2.5", st)
	}
}

func TestLoadRecordingScreen(t *testing.T) {
	stored, err := loadRecording(filepath.Join("testdata", "sessions", "a_fixed_train_data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !stored.screenStored || stored.width != 1536 || stored.height != 864 || stored.name != "a" {
		t.Fatalf("a: %s %g×%g stored %v, want a 1536×864 stored", stored.name, stored.width, stored.height, stored.screenStored)
	}
	if _, err := loadRecording(filepath.Join("testdata", "no-such-file.csv")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}
