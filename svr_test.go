package main

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestGoldenSupportVectorRegressor(t *testing.T) {
	checkGoldenModel(t, "Support Vector Regressor", goldenTolerance{pred: 0.5, checkParams: true})
}

// TestSVRGridOrder checks the ParameterGrid order and parameter names.
func TestSVRGridOrder(t *testing.T) {
	spec := svrSpec()
	if len(spec.grid) != 30 || !spec.poly || !spec.search {
		t.Fatalf("spec %+v: want 30 searched candidates after the polynomial step", spec)
	}
	first, second, last := spec.grid[0].params, spec.grid[1].params, spec.grid[29].params
	if paramsText(first) != "[svr__C=50 svr__gamma=0.1 svr__kernel=rbf]" ||
		paramsText(second) != "[svr__C=50 svr__gamma=0.5 svr__kernel=rbf]" ||
		paramsText(last) != "[svr__C=2000 svr__gamma=5 svr__kernel=rbf]" {
		t.Errorf("grid order: %s, %s … %s", paramsText(first), paramsText(second), paramsText(last))
	}
}

// svrToyProblem is a small 1-D regression problem, the feature laid out as
// the polynomial step would (1, a, a²) so it looks like the real input.
func svrToyProblem(n int, f func(float64) float64) (*mat.Dense, []float64) {
	x := mat.NewDense(n, 3, nil)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		a := -1 + 2*float64(i)/float64(n-1)
		x.SetRow(i, []float64{1, a, a * a})
		y[i] = f(a)
	}
	return x, y
}

// TestSVRKKT checks the solution against the epsilon-SVR optimality
// conditions: with f(x) = Σ coef·K − rho, a row strictly inside the tube has
// coef 0, a row with |coef| = C lies on or outside it, and a free support
// vector sits on its edge — all to within the solver tolerance (the
// violation bound Gmax + Gmax2 < tol) plus float32 kernel rounding.
func TestSVRKKT(t *testing.T) {
	x, y := svrToyProblem(40, func(a float64) float64 { return 3*math.Sin(3*a) + a })
	cfg := svrConfig{c: 10, gamma: 2, epsilon: 0.1, tol: 1e-3}
	s := newSVRSolver(newRBFKernel(x, cfg.gamma), y, cfg)
	s.solve()
	// libsvm's stopping rule over every variable: the maximal violation
	// max_{I_up} −y·G + max_{I_low} y·G is below tol.
	if s.activeSize != s.l {
		t.Fatalf("solver ended with %d of %d variables active", s.activeSize, s.l)
	}
	upMax, lowMax := math.Inf(-1), math.Inf(-1)
	for k, v := range s.f {
		if s.up[k] {
			upMax = math.Max(upMax, -v)
		}
		if s.low[k] {
			lowMax = math.Max(lowMax, v)
		}
	}
	if upMax+lowMax >= cfg.tol {
		t.Errorf("maximal violation %g, tolerance %g", upMax+lowMax, cfg.tol)
	}
	m, err := cfg.fit(x, y)
	if err != nil {
		t.Fatal(err)
	}
	pred := make([]float64, 40)
	m.predict(x, pred)
	const slack = 2e-3
	var sumCoef float64
	for i, c := range s.coef {
		sumCoef += c
		r := y[i] - pred[i] // positive: the row lies above the fit
		switch {
		case math.Abs(c) == 0:
			if math.Abs(r) > cfg.epsilon+slack {
				t.Errorf("row %d: coef 0 but residual %.5f outside the tube", i, r)
			}
		case math.Abs(c) >= cfg.c:
			if math.Abs(r) < cfg.epsilon-slack || r*c < 0 {
				t.Errorf("row %d: coef %.4f at the bound but residual %.5f", i, c, r)
			}
		default:
			if math.Abs(math.Abs(r)-cfg.epsilon) > slack || r*c < 0 {
				t.Errorf("row %d: free coef %.4f but residual %.5f not on the tube edge", i, c, r)
			}
		}
		if math.Abs(c) > cfg.c {
			t.Errorf("row %d: |coef| %.4f above C", i, c)
		}
	}
	if math.Abs(sumCoef) > 1e-9 {
		t.Errorf("Σ coef = %g, the equality constraint wants 0", sumCoef)
	}
}

// TestSVRLearnsLinear checks that a linear target is learnt within the
// tube: with a large C every training residual ends near epsilon, and a
// point between training points is predicted as well.
func TestSVRLearnsLinear(t *testing.T) {
	x, y := svrToyProblem(30, func(a float64) float64 { return 5*a - 2 })
	m, err := svrConfig{c: 1000, gamma: 0.5, epsilon: 0.1, tol: 1e-3}.fit(x, y)
	if err != nil {
		t.Fatal(err)
	}
	pred := make([]float64, 30)
	m.predict(x, pred)
	for i := range y {
		if math.Abs(pred[i]-y[i]) > 0.1+2e-3 {
			t.Errorf("row %d: predicted %.4f for %.4f", i, pred[i], y[i])
		}
	}
	probe := mat.NewDense(1, 3, []float64{1, 0.123, 0.123 * 0.123})
	var got [1]float64
	m.predict(probe, got[:])
	if want := 5*0.123 - 2; math.Abs(got[0]-want) > 0.15 {
		t.Errorf("between rows: predicted %.4f for %.4f", got[0], want)
	}
}

// TestSVRBadData checks that unusable inputs are refused, not panicked on.
func TestSVRBadData(t *testing.T) {
	cfg := svrConfig{c: 1, gamma: 1, epsilon: 0.1, tol: 1e-3}
	if _, err := cfg.fit(mat.NewDense(1, 1, []float64{math.NaN()}), []float64{1}); err == nil {
		t.Error("NaN feature accepted")
	}
	if _, err := cfg.fit(mat.NewDense(2, 1, []float64{1, 2}), []float64{1, math.Inf(1)}); err == nil {
		t.Error("infinite target accepted")
	}
	m, err := cfg.fit(mat.NewDense(1, 1, []float64{1}), []float64{7})
	if err != nil {
		t.Fatalf("single row: %v", err)
	}
	var got [1]float64
	m.predict(mat.NewDense(1, 1, []float64{1}), got[:])
	if math.Abs(got[0]-7) > 0.1+1e-9 {
		t.Errorf("single row predicted %v, want 7 within epsilon", got[0])
	}
}

