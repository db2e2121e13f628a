package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// goldenFile is one scikit-learn reference file (testdata/golden/README.md
// in the shared data explains every field).
type goldenFile struct {
	Session      string  `json:"session"`
	SourceCSV    string  `json:"source_csv"`
	NRows        int     `json:"n_rows"`
	ScreenWidth  float64 `json:"screen_width"`
	ScreenHeight float64 `json:"screen_height"`
	K            int     `json:"k"`
	Split        struct {
		TrainRows []int `json:"train_rows"`
		TestRows  []int `json:"test_rows"`
	} `json:"split"`
	Calib map[string]goldenCalib `json:"calib"`
	Batch goldenBatch            `json:"batch"`
}

type goldenAxis struct {
	BestParams     map[string]any `json:"best_params"`
	BestCVR2       float64        `json:"best_cv_r2"`
	BestCVR2Margin *float64       `json:"best_cv_r2_margin"`
	// ConvergenceWarnings counts this axis's fits that stopped at max_iter.
	ConvergenceWarnings *int      `json:"convergence_warnings"`
	Coef                []float64 `json:"coef"`
	Intercept           float64   `json:"intercept"`
	ScalerMean          []float64 `json:"scaler_mean"`
	ScalerScale         []float64 `json:"scaler_scale"`
}

type goldenCalib struct {
	Axes map[string]goldenAxis `json:"axes"`
	Test []struct {
		Row   int     `json:"row"`
		TrueX float64 `json:"true_x"`
		TrueY float64 `json:"true_y"`
		PredX float64 `json:"pred_x"`
		PredY float64 `json:"pred_y"`
	} `json:"test"`
	Targets            map[string]map[string]goldenTarget `json:"targets"`
	MeanTargetAccuracy float64                            `json:"mean_target_accuracy"`
	KMeansRef          struct {
		K               int     `json:"k"`
		Inertia         float64 `json:"inertia"`
		InertiaNInit200 float64 `json:"inertia_n_init_200"`
	} `json:"kmeans_ref"`
}

type goldenTarget struct {
	PredictedX  []float64 `json:"predicted_x"`
	PredictedY  []float64 `json:"predicted_y"`
	PrecisionSD float64   `json:"PrecisionSD"`
	Accuracy    float64   `json:"Accuracy"`
}

type goldenBatch struct {
	ScreenWidth  float64 `json:"screen_width"`
	ScreenHeight float64 `json:"screen_height"`
	Input        []struct {
		LeftX     float64 `json:"left_iris_x"`
		LeftY     float64 `json:"left_iris_y"`
		RightX    float64 `json:"right_iris_x"`
		RightY    float64 `json:"right_iris_y"`
		Timestamp float64 `json:"timestamp"`
	} `json:"input"`
	Expected []struct {
		PredictedX float64 `json:"predicted_x"`
		PredictedY float64 `json:"predicted_y"`
	} `json:"expected"`
}

// loadGolden reads every golden file with its session's labelled rows.
func loadGolden(t testing.TB) []struct {
	g    goldenFile
	rows []labelledSample
} {
	t.Helper()
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in testdata/golden: %v", err)
	}
	var out []struct {
		g    goldenFile
		rows []labelledSample
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g goldenFile
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		csvRaw, err := os.ReadFile(filepath.Join("testdata", g.SourceCSV))
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseFixedCSV(csvRaw)
		if err != nil {
			t.Fatalf("%s: %v", g.SourceCSV, err)
		}
		if len(c.Fixed) != g.NRows {
			t.Fatalf("%s: %d rows, golden says %d", g.SourceCSV, len(c.Fixed), g.NRows)
		}
		out = append(out, struct {
			g    goldenFile
			rows []labelledSample
		}{g, c.Fixed})
	}
	return out
}

// goldenTolerance says how closely one model must match scikit-learn.
type goldenTolerance struct {
	pred        float64 // px, per test-row prediction and per-target statistic
	checkParams bool    // the chosen grid parameters must be the same (unless near-tied)
}

// checkGoldenModel runs the whole calibration for model on every golden
// session and compares test rows, predictions, chosen parameters and the
// response's per-target numbers with scikit-learn's.
func checkGoldenModel(t *testing.T, model string, tol goldenTolerance) {
	specs := modelSpecs()
	spec, ok := specs[model]
	if !ok {
		t.Fatalf("model %q is not served", model)
	}
	for _, s := range loadGolden(t) {
		g, ok := s.g.Calib[model]
		if !ok {
			continue
		}
		t.Run(s.g.Session, func(t *testing.T) {
			rep, err := evaluateCalibration(spec, s.rows, s.g.K, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Test) != len(g.Test) {
				t.Fatalf("%d test rows, want %d", len(rep.Test), len(g.Test))
			}
			worst := 0.0
			for i, want := range g.Test {
				got := rep.Test[i]
				if got.Row != want.Row {
					t.Fatalf("test row %d is data row %d, want %d", i, got.Row, want.Row)
				}
				worst = math.Max(worst, math.Max(math.Abs(got.PredX-want.PredX), math.Abs(got.PredY-want.PredY)))
			}
			if worst > tol.pred {
				t.Errorf("largest prediction difference %.3g px, tolerance %.3g", worst, tol.pred)
			}
			if tol.checkParams {
				for axis, fit := range map[string]axisFit{"x": rep.X, "y": rep.Y} {
					want := g.Axes[axis]
					if want.BestCVR2Margin != nil && *want.BestCVR2Margin < 1e-8 {
						continue // a near tie: scikit-learn's own choice is rounding noise
					}
					if got := paramsText(fit.result.best.params); got != paramsText(fromGoldenParams(want.BestParams)) {
						t.Errorf("axis %s: chose %s, scikit-learn chose %s", axis, got, paramsText(fromGoldenParams(want.BestParams)))
					}
				}
			}
			checkTargets(t, rep.Targets, g.Targets, tol.pred)
		})
	}
}

// checkTargets compares the response's targets with the golden ones.
func checkTargets(t *testing.T, got []targetStats, want map[string]map[string]goldenTarget, tol float64) {
	t.Helper()
	n := 0
	for _, ys := range want {
		n += len(ys)
	}
	seen := map[[2]string]bool{}
	for _, ts := range got {
		seen[[2]string{targetKey(ts.TrueX), targetKey(ts.TrueY)}] = true
	}
	if len(seen) != n {
		t.Errorf("%d targets, want %d", len(seen), n)
	}
	for _, ts := range got {
		w, ok := want[targetKey(ts.TrueX)][targetKey(ts.TrueY)]
		if !ok {
			t.Errorf("target (%g, %g) not in the golden response", ts.TrueX, ts.TrueY)
			continue
		}
		if len(w.PredictedX) != len(ts.PredX) {
			t.Errorf("target (%g, %g): %d kept rows, want %d", ts.TrueX, ts.TrueY, len(ts.PredX), len(w.PredictedX))
			continue
		}
		for i := range w.PredictedX {
			if math.Abs(w.PredictedX[i]-ts.PredX[i]) > tol || math.Abs(w.PredictedY[i]-ts.PredY[i]) > tol {
				t.Errorf("target (%g, %g) row %d: got (%v, %v), want (%v, %v)", ts.TrueX, ts.TrueY, i, ts.PredX[i], ts.PredY[i], w.PredictedX[i], w.PredictedY[i])
			}
		}
		if math.Abs(w.PrecisionSD-ts.PrecisionSD) > tol || math.Abs(w.Accuracy-ts.Accuracy) > tol {
			t.Errorf("target (%g, %g): PrecisionSD %v Accuracy %v, want %v %v", ts.TrueX, ts.TrueY, ts.PrecisionSD, ts.Accuracy, w.PrecisionSD, w.Accuracy)
		}
	}
}

// fromGoldenParams turns the golden best_params object into params.
func fromGoldenParams(m map[string]any) []param {
	var out []param
	for k, v := range m {
		out = append(out, param{Name: k, Value: v})
	}
	return out
}

// paramsText is a canonical text of a parameter set for comparisons:
// names sorted, numbers in shortest form.
func paramsText(ps []param) string {
	var parts []string
	for _, p := range ps {
		v := p.Value
		switch x := v.(type) {
		case int:
			v = float64(x)
		}
		if f, ok := v.(float64); ok {
			parts = append(parts, fmt.Sprintf("%s=%g", p.Name, f))
		} else {
			parts = append(parts, fmt.Sprintf("%s=%v", p.Name, v))
		}
	}
	slices.Sort(parts)
	return fmt.Sprint(parts)
}

func TestGoldenLinearRegression(t *testing.T) {
	checkGoldenModel(t, "Linear Regression", goldenTolerance{pred: 1e-6})
}

func TestGoldenRidgeRegression(t *testing.T) {
	checkGoldenModel(t, "Ridge Regression", goldenTolerance{pred: 1e-6, checkParams: true})
}

func TestGoldenBatchPredict(t *testing.T) {
	for _, s := range loadGolden(t) {
		b := s.g.Batch
		if len(b.Expected) == 0 {
			continue
		}
		t.Run(s.g.Session, func(t *testing.T) {
			m, err := fitGazeModel(s.rows, b.ScreenWidth, b.ScreenHeight)
			if err != nil {
				t.Fatal(err)
			}
			in := make([]irisSample, len(b.Input))
			for i, v := range b.Input {
				in[i] = irisSample{v.LeftX, v.LeftY, v.RightX, v.RightY}
			}
			xs, ys := m.predict(in)
			worst := 0.0
			for i, want := range b.Expected {
				worst = math.Max(worst, math.Max(math.Abs(xs[i]-want.PredictedX), math.Abs(ys[i]-want.PredictedY)))
			}
			if worst > 1e-6 {
				t.Errorf("largest difference %.3g px over %d samples, tolerance 1e-6", worst, len(xs))
			}
		})
	}
}

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
// polynomial step, grid search and refit) on the 180-row 9_full recording,
// on one core and on two, and reports the speed-up over scikit-learn.
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
					parallelFor(context.Background(), 2, w.borrow, func(axis int) {
						if _, _, err := fitAxis(context.Background(), spec, rows, train, test, axis == 1, w.borrow); err != nil {
							b.Error(err)
						}
					})
				}
				perFit := b.Elapsed() / time.Duration(b.N)
				b.ReportMetric(float64(scikitLearnFitTime[name])/float64(perFit), "x_faster_than_sklearn")
			})
		}
	}
}

// TestGroupFitsMatchSingleFits: fitting a spec's candidates in groups gives
// what fitting each alone gives — bit for bit for SGD (the same arithmetic
// in lockstep), within the solver's tolerance for the SVR (warm-started
// duals), with the same parameters chosen.
func TestGroupFitsMatchSingleFits(t *testing.T) {
	sessions := loadGolden(t)
	for name, tol := range map[string]float64{"SGD Regressor": 0, "Support Vector Regressor": 0.05} {
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
