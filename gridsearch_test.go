package main

// Tests of the grid search: parallel and serial fits agree, group fits
// match single fits; the model-fit benchmark.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParallelFitMatchesSerial: the same request gives the same answer,
// and fitting axes and grid candidates on lent workers gives exactly the
// serial result, for every model, seeded ones included (under -race this
// also shows that no fitter writes to the shared fold matrices).
func TestParallelFitMatchesSerial(t *testing.T) {
	sessions := loadGolden(t)
	unlimited := func() (func(), bool) { return func() {}, true }
	for name, spec := range modelSpecs() {
		for _, s := range sessions[:2] {
			serial, err := evaluateCalibration(spec, s.rows, s.g.K, 0)
			if err != nil {
				t.Fatal(err)
			}
			parallel, err := evaluateCalibrationWith(context.Background(), spec, s.rows, s.g.K, 0, unlimited)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(serial.Test, parallel.Test) || !reflect.DeepEqual(serial.Targets, parallel.Targets) ||
				!reflect.DeepEqual(serial.Centroids, parallel.Centroids) {
				t.Fatalf("%s on %s: serial and parallel fits answered differently", name, s.g.Session)
			}
			for _, pair := range [][2]axisFit{{serial.X, parallel.X}, {serial.Y, parallel.Y}} {
				a, b := pair[0].result, pair[1].result
				if paramsText(a.best.params) != paramsText(b.best.params) || a.bestCV != b.bestCV && !(math.IsNaN(a.bestCV) && math.IsNaN(b.bestCV)) {
					t.Fatalf("%s on %s: different search results", name, s.g.Session)
				}
			}
		}
	}
}

// scikitLearnFitTime is scikit-learn 1.2.1's time for the same fit (both
// axes, grid search included) on the 180-row 9_full recording, from the
// golden files' README, for the speed-up the benchmark reports.
var scikitLearnFitTime = map[string]time.Duration{
	"Linear Regression": 5400 * time.Microsecond, "Ridge Regression": 174 * time.Millisecond,
	"Lasso Regression": 179 * time.Millisecond, "Elastic Net": 440 * time.Millisecond,
	"Bayesian Ridge": 985 * time.Millisecond, "SGD Regressor": 1150 * time.Millisecond,
	"Support Vector Regressor": 1220 * time.Millisecond, "Random Forest Regressor": 2410 * time.Millisecond,
}

// BenchmarkModelFit times each model's fit of both axes (scaler,
// polynomial step, grid search and refit: fitAxes, as a calibration runs
// it) on the 180-row 9_full recording, on one core and on two, and reports
// the speed-up over scikit-learn.
func BenchmarkModelFit(b *testing.B) {
	var rows []labelledSample
	for _, s := range loadGolden(b) {
		if s.g.Session == "9_full" {
			rows = s.rows
		}
	}
	train, test := trainTestSplit(len(rows))
	for _, name := range servedModels(modelSpecs()) {
		spec := modelSpecs()[name]
		for _, cores := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/cores=%d", strings.ReplaceAll(name, " ", "_"), cores), func(b *testing.B) {
				w := newWorkShedder(cores, 0, 0)
				release, _ := w.borrow() // this goroutine's own slot
				defer release()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, _, errs := fitAxes(context.Background(), spec, rows, train, test, w.borrow); errs != [2]error{} {
						b.Error(errs)
					}
				}
				perFit := b.Elapsed() / time.Duration(b.N)
				b.ReportMetric(float64(scikitLearnFitTime[name])/float64(perFit), "x_faster_than_sklearn")
			})
		}
	}
}

// TestGroupFitsMatchSingleFits: fitting a spec's candidates in groups gives
// what fitting each alone gives — bit for bit for Ridge, Lasso, Elastic Net and SGD (the same arithmetic
// in lockstep), within the solver's tolerance for the SVR (warm-started
// duals), with the same parameters chosen.
func TestGroupFitsMatchSingleFits(t *testing.T) {
	sessions := loadGolden(t)
	for name, tol := range map[string]float64{"Ridge Regression": 0, "Lasso Regression": 0, "Elastic Net": 0, "SGD Regressor": 0, "Support Vector Regressor": 0.05} {
		grouped := modelSpecs()[name]
		if grouped.fitGroup == nil {
			t.Fatalf("%s has no group fit", name)
		}
		single := grouped
		single.fitGroup = nil
		for _, s := range sessions[:4] {
			a, err := evaluateCalibration(grouped, s.rows, s.g.K, 0)
			if err != nil {
				t.Fatal(err)
			}
			b, err := evaluateCalibration(single, s.rows, s.g.K, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range a.Test {
				if d := math.Max(math.Abs(a.Test[i].PredX-b.Test[i].PredX), math.Abs(a.Test[i].PredY-b.Test[i].PredY)); d > tol {
					t.Fatalf("%s on %s: row %d differs by %g px", name, s.g.Session, i, d)
				}
			}
			if paramsText(a.X.result.best.params) != paramsText(b.X.result.best.params) || paramsText(a.Y.result.best.params) != paramsText(b.Y.result.best.params) {
				t.Fatalf("%s on %s: grouped and single fits chose differently", name, s.g.Session)
			}
		}
	}
}

// TestSearchedAxesTooFewRows: a searched model on too few training rows for
// the 5 folds reports errNotFittable for the x axis, whose search is set up
// first, with the reason; the unsearched Linear model fits them.
func TestSearchedAxesTooFewRows(t *testing.T) {
	rows := longRecording(t, 6) // 4 training rows
	for _, name := range servedModels(modelSpecs()) {
		spec := modelSpecs()[name]
		_, err := evaluateCalibration(spec, rows, 1, 0)
		if !spec.search {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, errNotFittable) || !strings.Contains(err.Error(), "x axis") || !strings.Contains(err.Error(), "needs at least 5") {
			t.Errorf("%s: %v, want the x axis's errNotFittable naming the 5 folds", name, err)
		}
	}
}
