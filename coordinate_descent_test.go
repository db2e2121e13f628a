package main

// Tests of Lasso and Elastic Net: golden parity, soft thresholding,
// max_iter stops as scikit-learn's, grid order, bad data.

import (
	"context"
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestGoldenLassoRegression(t *testing.T) {
	checkGoldenModel(t, "Lasso Regression", goldenTolerance{pred: 1e-3, checkParams: true})
}

func TestGoldenElasticNet(t *testing.T) {
	checkGoldenModel(t, "Elastic Net", goldenTolerance{pred: 1e-3, checkParams: true})
}

// orthogonalDesign has two zero-mean, orthogonal columns of squared norm 4
// after a constant column (PolynomialFeatures' bias), and the target
// 10 + 3a + 0.5b, so x_aᵀ(y − ȳ) = 12 and x_bᵀ(y − ȳ) = 2.
func orthogonalDesign() (*mat.Dense, []float64) {
	x := mat.NewDense(4, 3, []float64{
		1, 1, 1,
		1, -1, 1,
		1, 1, -1,
		1, -1, -1,
	})
	y := make([]float64, 4)
	for i := range y {
		y[i] = 10 + 3*x.At(i, 1) + 0.5*x.At(i, 2)
	}
	return x, y
}

// With orthogonal columns coordinate descent is exact after one sweep:
// w_j = S(x_jᵀy, l1)/(‖x_j‖² + l2) with l1 = α·ρ·n and l2 = α·(1−ρ)·n, the
// intercept is ȳ, and the second sweep changes nothing, so the duality gap
// (zero at the optimum) stops it there.
func TestElasticNetOrthogonalDesignIsSoftThresholding(t *testing.T) {
	cases := []struct {
		alpha, l1Ratio float64
		want           [3]float64
	}{
		{alpha: 1, l1Ratio: 1, want: [3]float64{0, (12.0 - 4) / 4, 0}},                // l1 = 4: b is thresholded away
		{alpha: 0.25, l1Ratio: 1, want: [3]float64{0, (12.0 - 1) / 4, (2.0 - 1) / 4}}, // l1 = 1
		{alpha: 1, l1Ratio: 0.5, want: [3]float64{0, (12.0 - 2) / (4 + 2), 0}},        // l1 = l2 = 2
		{alpha: 0.5, l1Ratio: 0.5, want: [3]float64{0, (12.0 - 1) / (4 + 1), (2.0 - 1) / (4 + 1)}},
	}
	x, y := orthogonalDesign()
	for _, c := range cases {
		d, yc, _, yMean := newEnetDesign(x, y)
		if d.normSq[0] != 0 || d.normSq[1] != 4 || d.normSq[2] != 4 || yMean != 10 {
			t.Fatalf("centred design: norms %v, mean %v", d.normSq, yMean)
		}
		w := make([]float64, 3)
		n := 4.0
		res := enetCoordinateDescent(context.Background(), w, c.alpha*c.l1Ratio*n, c.alpha*(1-c.l1Ratio)*n, d, newEnetGram(d, yc), enetMaxIter, enetTol)
		for j := range w {
			if math.Abs(w[j]-c.want[j]) > 1e-12 {
				t.Errorf("alpha %v l1_ratio %v: w = %v, want %v", c.alpha, c.l1Ratio, w, c.want)
				break
			}
		}
		if !res.converged || res.iterations != 2 || math.Abs(res.gap) > 1e-12 {
			t.Errorf("alpha %v l1_ratio %v: converged %v after %d sweeps with gap %g, want convergence after 2 with gap 0",
				c.alpha, c.l1Ratio, res.converged, res.iterations, res.gap)
		}
		m, err := fitElasticNet(c.alpha, c.l1Ratio)(context.Background(), x, y)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.(linearModel).intercept; math.Abs(got-10) > 1e-12 {
			t.Errorf("alpha %v l1_ratio %v: intercept %v, want 10", c.alpha, c.l1Ratio, got)
		}
	}
}

// From α_max = ‖Xᵀ(y − ȳ)‖∞ / (n·l1_ratio) on, every coefficient is zero:
// the first sweep leaves w at zero, the gap is then exactly zero, and the
// model predicts ȳ everywhere.
func TestElasticNetLargeAlphaGivesZeroCoefficients(t *testing.T) {
	x, y := orthogonalDesign()
	for _, l1Ratio := range []float64{0.5, 1} {
		alphaMax := 12 / (4 * l1Ratio)
		for _, alpha := range []float64{alphaMax, 2 * alphaMax, 500} {
			d, yc, _, _ := newEnetDesign(x, y)
			w := make([]float64, 3)
			res := enetCoordinateDescent(context.Background(), w, alpha*l1Ratio*4, alpha*(1-l1Ratio)*4, d, newEnetGram(d, yc), enetMaxIter, enetTol)
			if w[0] != 0 || w[1] != 0 || w[2] != 0 {
				t.Errorf("alpha %v l1_ratio %v: w = %v, want zeros", alpha, l1Ratio, w)
			}
			if !res.converged || res.iterations != 1 || res.gap != 0 {
				t.Errorf("alpha %v l1_ratio %v: converged %v after %d sweeps, gap %v; want 1 sweep, gap 0", alpha, l1Ratio, res.converged, res.iterations, res.gap)
			}
			m, err := fitElasticNet(alpha, l1Ratio)(context.Background(), x, y)
			if err != nil {
				t.Fatal(err)
			}
			pred := make([]float64, 4)
			m.predict(x, pred)
			for _, p := range pred {
				if p != 10 {
					t.Errorf("alpha %v l1_ratio %v: predictions %v, want the mean 10", alpha, l1Ratio, pred)
					break
				}
			}
		}
	}
}

// A run cut short keeps its coefficients and reports the last gap, as
// scikit-learn does after its ConvergenceWarning; the gap is checked on the
// last sweep even though the coefficients still move.
func TestElasticNetStopsAtMaxIter(t *testing.T) {
	// Two strongly correlated columns: cyclic descent creeps along the valley.
	x := mat.NewDense(6, 2, []float64{
		0, 0.1,
		1, 1.05,
		2, 1.9,
		3, 3.1,
		4, 3.95,
		5, 5.0,
	})
	y := []float64{1, 2.5, 2.9, 4.4, 5.1, 6.6}
	d, yc, _, _ := newEnetDesign(x, y)
	w := make([]float64, 2)
	res := enetCoordinateDescent(context.Background(), w, 1e-3, 0, d, newEnetGram(d, yc), 3, 1e-12)
	if res.converged || res.iterations != 3 {
		t.Fatalf("converged %v after %d sweeps, want a stop at 3", res.converged, res.iterations)
	}
	if !(res.gap > res.tol) || res.gap > 1e6 {
		t.Errorf("gap %v, tolerance %v: want the final gap above the tolerance", res.gap, res.tol)
	}
	if w[0] == 0 && w[1] == 0 {
		t.Error("coefficients still zero after 3 sweeps")
	}
	// Given enough sweeps the same problem converges.
	w2 := make([]float64, 2)
	if res := enetCoordinateDescent(context.Background(), w2, 1e-3, 0, d, newEnetGram(d, yc), 100000, 1e-12); !res.converged {
		t.Errorf("no convergence in 100000 sweeps: gap %v tol %v", res.gap, res.tol)
	}
}

func TestElasticNetRejectsUnfittableData(t *testing.T) {
	if _, err := fitElasticNet(1, 0.5)(context.Background(), new(mat.Dense), nil); !errors.Is(err, errNotFittable) {
		t.Errorf("zero rows: error %v, want errNotFittable", err)
	}
	x, _ := orthogonalDesign()
	if _, err := fitElasticNet(1, 0.5)(context.Background(), x, []float64{1, 2}); !errors.Is(err, errNotFittable) {
		t.Errorf("4 rows, 2 targets: error %v, want errNotFittable", err)
	}
}

func TestGridsFollowParameterGridOrder(t *testing.T) {
	lasso := lassoSpec()
	if lasso.name != "Lasso Regression" || !lasso.poly || !lasso.search || len(lasso.grid) != 10 {
		t.Fatalf("lasso spec %+v", lasso)
	}
	if got := paramsText(lasso.grid[4].params); got != "[lasso__alpha=45]" {
		t.Errorf("lasso candidate 4 is %s", got)
	}
	enet := elasticNetSpec()
	if enet.name != "Elastic Net" || !enet.poly || !enet.search || len(enet.grid) != 25 {
		t.Fatalf("elastic net spec has %d candidates", len(enet.grid))
	}
	for i, want := range map[int]string{
		0:  "[elasticnet__alpha=0.1 elasticnet__l1_ratio=0.5]",
		1:  "[elasticnet__alpha=0.1 elasticnet__l1_ratio=0.7]",
		5:  "[elasticnet__alpha=0.5 elasticnet__l1_ratio=0.5]",
		24: "[elasticnet__alpha=5 elasticnet__l1_ratio=1]",
	} {
		if got := paramsText(enet.grid[i].params); got != want {
			t.Errorf("elastic net candidate %d is %s, want %s", i, got, want)
		}
	}
}

// Every fit of the grid search (5 folds × candidates, then the refit with
// the chosen candidate) stops at max_iter exactly when scikit-learn's did:
// the per-axis count equals the golden convergence_warnings.
func TestCoordinateDescentMaxIterStopsMatchScikitLearn(t *testing.T) {
	specs := modelSpecs()
	for _, s := range loadGolden(t) {
		rep := map[string]calibReport{}
		for _, model := range []string{"Lasso Regression", "Elastic Net"} {
			r, err := evaluateCalibration(specs[model], s.rows, s.g.K, 0)
			if err != nil {
				t.Fatal(err)
			}
			rep[model] = r
		}
		train, _ := trainTestSplit(len(s.rows))
		for _, model := range []string{"Lasso Regression", "Elastic Net"} {
			for _, axis := range []string{"x", "y"} {
				chosen := rep[model].X.result.best
				if axis == "y" {
					chosen = rep[model].Y.result.best
				}
				raw, target := axisDesign(s.rows, train, axis == "y")
				x := polyFeatures2(fitStandardScaler(raw).transform(raw))
				got := countMaxIterStops(specs[model].grid, chosen, x, target)
				want := s.g.Calib[model].Axes[axis].ConvergenceWarnings
				if want == nil {
					t.Fatalf("%s: no convergence_warnings for %s axis %s", s.g.Session, model, axis)
				}
				if got != *want {
					t.Errorf("%s %s axis %s: %d fits stopped at max_iter, scikit-learn %d", s.g.Session, model, axis, got, *want)
				}
			}
		}
	}
}

// countMaxIterStops runs the solver as the grid search does and counts the runs
// that end without convergence.
func countMaxIterStops(grid []candidate, chosen candidate, x *mat.Dense, y []float64) int {
	n, _ := x.Dims()
	count := 0
	run := func(c candidate, x *mat.Dense, y []float64) {
		alpha, l1Ratio := 0.0, 1.0
		for _, p := range c.params {
			switch p.Name {
			case "lasso__alpha", "elasticnet__alpha":
				alpha = p.Value.(float64)
			case "elasticnet__l1_ratio":
				l1Ratio = p.Value.(float64)
			}
		}
		rows, cols := x.Dims()
		d, yc, _, _ := newEnetDesign(x, y)
		res := enetCoordinateDescent(context.Background(), make([]float64, cols), alpha*l1Ratio*float64(rows), alpha*(1-l1Ratio)*float64(rows),
			d, newEnetGram(d, yc), enetMaxIter, enetTol)
		if !res.converged {
			count++
		}
	}
	for _, b := range kFoldBounds(n, 5) {
		var train []int
		for i := 0; i < n; i++ {
			if i < b[0] || i >= b[1] {
				train = append(train, i)
			}
		}
		xt, yt := selectRows(x, train), pick(y, train)
		for _, c := range grid {
			run(c, xt, yt)
		}
	}
	run(chosen, x, y)
	return count
}
