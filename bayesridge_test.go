package main

// Tests of Bayesian ridge: golden parity, the grid, the evidence fixed
// point, both SVD branches, bad data.

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestGoldenBayesianRidge(t *testing.T) {
	checkGoldenModel(t, "Bayesian Ridge", goldenTolerance{pred: 1e-3, checkParams: true})
}

// TestBayesianRidgeGridOrder checks the 49 candidates follow ParameterGrid
// order (alpha_init outer, lambda_init inner) with scikit-learn's names.
func TestBayesianRidgeGridOrder(t *testing.T) {
	spec := bayesianRidgeSpec()
	if spec.name != "Bayesian Ridge" || !spec.poly || !spec.search {
		t.Fatalf("spec %q poly=%v search=%v", spec.name, spec.poly, spec.search)
	}
	if len(spec.grid) != 49 {
		t.Fatalf("%d candidates, want 49", len(spec.grid))
	}
	first, second, eighth, last := spec.grid[0].params, spec.grid[1].params, spec.grid[7].params, spec.grid[48].params
	if paramsText(first) != "[bayesianridge__alpha_init=1 bayesianridge__lambda_init=1e-09]" {
		t.Errorf("first candidate %s", paramsText(first))
	}
	if paramsText(second) != "[bayesianridge__alpha_init=1 bayesianridge__lambda_init=1e-06]" {
		t.Errorf("second candidate %s", paramsText(second))
	}
	if paramsText(eighth) != "[bayesianridge__alpha_init=1.1 bayesianridge__lambda_init=1e-09]" {
		t.Errorf("eighth candidate %s", paramsText(eighth))
	}
	if paramsText(last) != "[bayesianridge__alpha_init=1.9 bayesianridge__lambda_init=0.1]" {
		t.Errorf("last candidate %s", paramsText(last))
	}
}

// TestBayesianRidgeGoldenCoefficients refits scikit-learn's chosen
// candidate on each session's scaled polynomial training rows and compares
// coef and intercept with scikit-learn's refit.
func TestBayesianRidgeGoldenCoefficients(t *testing.T) {
	checked := 0
	for _, s := range loadGolden(t) {
		g, ok := s.g.Calib["Bayesian Ridge"]
		if !ok {
			continue
		}
		for _, axis := range []string{"x", "y"} {
			want := g.Axes[axis]
			cfg := defaultBayesianRidge()
			cfg.alphaInit = want.BestParams["bayesianridge__alpha_init"].(float64)
			cfg.lambdaInit = want.BestParams["bayesianridge__lambda_init"].(float64)
			x, y := axisDesign(s.rows, s.g.Split.TrainRows, axis == "y")
			scaler := fitStandardScaler(x)
			m, err := cfg.fit(polyFeatures2(scaler.transform(x)), y)
			if err != nil {
				t.Fatalf("%s %s: %v", s.g.Session, axis, err)
			}
			worst := math.Abs(m.intercept - want.Intercept)
			for j, c := range want.Coef {
				worst = math.Max(worst, math.Abs(m.coef[j]-c))
			}
			if worst > 1e-6 {
				t.Errorf("%s axis %s: coefficients differ by %.3g (got %v + %v, want %v + %v)",
					s.g.Session, axis, worst, m.coef, m.intercept, want.Coef, want.Intercept)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no Bayesian Ridge golden axes")
	}
}

// TestBayesianRidgeFixedPoint checks a fit on a nearly noiseless quadratic:
// the centred constant column gets coefficient 0, the intercept makes the
// predictions average to the target mean, and the weak prior recovers the
// generating coefficients.
func TestBayesianRidgeFixedPoint(t *testing.T) {
	rows := 40
	x := mat.NewDense(rows, 2, nil)
	y := make([]float64, rows)
	for i := 0; i < rows; i++ {
		a, b := math.Sin(float64(i)), math.Cos(1.7*float64(i))
		x.Set(i, 0, a)
		x.Set(i, 1, b)
		y[i] = 3*a - 2*b + 0.5*a*b + 7 + 0.1*math.Sin(13*float64(i))
	}
	px := polyFeatures2(x)
	cfg := defaultBayesianRidge()
	cfg.alphaInit, cfg.lambdaInit = 1, 1e-3
	m, err := cfg.fit(px, y)
	if err != nil {
		t.Fatal(err)
	}
	if m.coef[0] != 0 {
		t.Errorf("constant column got coefficient %v, want 0", m.coef[0])
	}
	pred := make([]float64, rows)
	m.predict(px, pred)
	var sumPred, sumY float64
	for i := range y {
		sumPred += pred[i]
		sumY += y[i]
	}
	if math.Abs(sumPred-sumY) > 1e-9 {
		t.Errorf("predictions sum to %v, targets to %v", sumPred, sumY)
	}
	// A weak prior on a nearly noiseless quadratic recovers it closely.
	for j, w := range []float64{0, 3, -2, 0, 0.5, 0} {
		if math.Abs(m.coef[j]-w) > 0.1 {
			t.Errorf("coef[%d] = %v, want about %v", j, m.coef[j], w)
		}
	}
	// Few rows (n ≤ p) take the Xᵀ·U branch and must still fit.
	small := mat.DenseCopyOf(px.Slice(0, 4, 0, 6))
	if _, err := cfg.fit(small, y[:4]); err != nil {
		t.Errorf("4-row fit: %v", err)
	}
}

// TestBayesianRidgeSmallSampleBranch compares the n ≤ p coefficient update
// with the n > p one on the same data: both are the same ridge solution.
func TestBayesianRidgeSmallSampleBranch(t *testing.T) {
	x := mat.NewDense(3, 4, []float64{
		1, 2, 0.5, -1,
		0, 1, 3, 2,
		-2, 0.5, 1, 1,
	})
	y := []float64{1, -2, 0.5}
	d, _, _, err := newBayesianRidgeDesign(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if d.u == nil || d.vh != nil {
		t.Fatal("3×4 design should use the U branch")
	}
	coef := make([]float64, 4)
	d.updateCoef(coef, make([]float64, 4), 2, 0.5)
	// Reference: (XcᵀXc + λ/α I)⁻¹ Xcᵀ yc.
	a := mat.NewDense(4, 4, nil)
	a.Mul(d.x.T(), d.x)
	for j := 0; j < 4; j++ {
		a.Set(j, j, a.At(j, j)+0.25)
	}
	var b, w mat.VecDense
	b.MulVec(d.x.T(), mat.NewVecDense(3, d.y))
	if err := w.SolveVec(a, &b); err != nil {
		t.Fatal(err)
	}
	for j := range coef {
		if math.Abs(coef[j]-w.AtVec(j)) > 1e-10 {
			t.Errorf("coef[%d] = %v, ridge solution %v", j, coef[j], w.AtVec(j))
		}
	}
}

func TestBayesianRidgeRejectsBadData(t *testing.T) {
	cfg := defaultBayesianRidge()
	cfg.alphaInit = 1
	x := mat.NewDense(3, 2, []float64{1, 2, 3, math.NaN(), 5, 6})
	if _, err := cfg.fit(x, []float64{1, 2, 3}); !errors.Is(err, errNotFittable) {
		t.Errorf("NaN feature: got %v, want errNotFittable", err)
	}
	x = mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6})
	if _, err := cfg.fit(x, []float64{1, math.Inf(1), 3}); !errors.Is(err, errNotFittable) {
		t.Errorf("infinite target: got %v, want errNotFittable", err)
	}
	if _, err := cfg.fit(x, []float64{1, 2}); !errors.Is(err, errNotFittable) {
		t.Errorf("short target: got %v, want errNotFittable", err)
	}
}
