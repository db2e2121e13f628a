package main

// Tests of SGD: the grid, the learning-rate schedule, stopping rules,
// overflow, closeness to ridge on real data.

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestSGDSpecGrid(t *testing.T) {
	spec := sgdSpec()
	if spec.name != "SGD Regressor" || !spec.poly || !spec.search {
		t.Fatalf("spec %q poly=%v search=%v", spec.name, spec.poly, spec.search)
	}
	if len(spec.grid) != 16 {
		t.Fatalf("%d candidates, want 16", len(spec.grid))
	}
	// ParameterGrid order: alpha outermost, then eta0, then l1_ratio.
	want := map[int]string{
		0:  "[sgdregressor__alpha=0.0001 sgdregressor__eta0=0.0001 sgdregressor__l1_ratio=0.5 sgdregressor__max_iter=1000]",
		1:  "[sgdregressor__alpha=0.0001 sgdregressor__eta0=0.0001 sgdregressor__l1_ratio=0.7 sgdregressor__max_iter=1000]",
		4:  "[sgdregressor__alpha=0.0001 sgdregressor__eta0=0.001 sgdregressor__l1_ratio=0.5 sgdregressor__max_iter=1000]",
		8:  "[sgdregressor__alpha=0.001 sgdregressor__eta0=0.0001 sgdregressor__l1_ratio=0.5 sgdregressor__max_iter=1000]",
		15: "[sgdregressor__alpha=0.001 sgdregressor__eta0=0.001 sgdregressor__l1_ratio=1 sgdregressor__max_iter=1000]",
	}
	for i, w := range want {
		if got := paramsText(spec.grid[i].params); got != w {
			t.Errorf("candidate %d: %s, want %s", i, got, w)
		}
	}
}

// sgdProblem is y = 3 + 2·a − b + noise on standard-normal features, with
// the constant column the polynomial step would add.
func sgdProblem(n int) (*mat.Dense, []float64) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := mat.NewDense(n, 3, nil)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		a, b := rng.NormFloat64(), rng.NormFloat64()
		x.SetRow(i, []float64{1, a, b})
		y[i] = 3 + 2*a - b + 0.01*rng.NormFloat64()
	}
	return x, y
}

func TestSGDRecoversALinearFunction(t *testing.T) {
	x, y := sgdProblem(200)
	lm, _, err := fitSGD(context.Background(), sgdParams{alpha: 1e-4, eta0: 0.01, l1Ratio: 0.15, maxIter: 1000}, x, y)
	if err != nil {
		t.Fatal(err)
	}
	// The intercept and the constant column's weight share the offset 3.
	if got := lm.intercept + lm.coef[0]; math.Abs(got-3) > 0.02 {
		t.Errorf("offset %g, want 3", got)
	}
	if math.Abs(lm.coef[1]-2) > 0.02 || math.Abs(lm.coef[2]+1) > 0.02 {
		t.Errorf("slopes %v, want [2 −1]", lm.coef[1:])
	}
}

func TestSGDIgnoresL1RatioWithL2Penalty(t *testing.T) {
	x, y := sgdProblem(50)
	var first linearModel
	for i, l1 := range []float64{0.5, 0.7, 0.8, 1} {
		m, err := sgdParams{alpha: 1e-3, eta0: 1e-3, l1Ratio: l1, maxIter: 1000}.fitter()(context.Background(), x, y)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = m.(linearModel)
		} else if !reflect.DeepEqual(first, m.(linearModel)) {
			t.Errorf("l1_ratio %g changed the fit: %+v vs %+v", l1, m, first)
		}
	}
}

func TestSGDStrongPenaltyShrinksWeights(t *testing.T) {
	x, y := sgdProblem(100)
	weak, err := sgdParams{alpha: 1e-4, eta0: 0.01, maxIter: 1000}.fitter()(context.Background(), x, y)
	if err != nil {
		t.Fatal(err)
	}
	strong, err := sgdParams{alpha: 1, eta0: 0.01, maxIter: 1000}.fitter()(context.Background(), x, y)
	if err != nil {
		t.Fatal(err)
	}
	w, s := weak.(linearModel).coef, strong.(linearModel).coef
	if math.Abs(s[1]) >= math.Abs(w[1])*0.9 {
		t.Errorf("alpha 1 slope %g, alpha 1e-4 slope %g: want clear shrinkage", s[1], w[1])
	}
}

func TestSGDInterceptFollowsTheInvscalingSchedule(t *testing.T) {
	// All-zero features leave w at 0 and make every row's step the same:
	// b ← b + η_t·(c − b) with η_t = eta0 / t^0.25, t = 1, 2, …, so after
	// 3 epochs of n rows c − b = c·Π_{t=1}^{3n} (1 − η_t), whatever the order.
	const n, c, eta0 = 10, 100.0, 0.01
	x := mat.NewDense(n, 3, nil)
	y := make([]float64, n)
	for i := range y {
		y[i] = c
	}
	m, epochs, err := fitSGD(context.Background(), sgdParams{alpha: 0.1, eta0: eta0, maxIter: 3}, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if epochs != 3 {
		t.Errorf("%d epochs, want max_iter 3", epochs)
	}
	remaining := c
	for step := 1; step <= 3*n; step++ {
		remaining *= 1 - eta0/math.Pow(float64(step), 0.25)
	}
	if want := c - remaining; math.Abs(m.intercept-want) > 1e-9*c {
		t.Errorf("intercept %.12g, want %.12g", m.intercept, want)
	}
	for j, w := range m.coef {
		if w != 0 {
			t.Errorf("coef[%d] = %g, want 0", j, w)
		}
	}
}

func TestSGDStopsAfterFiveEpochsWithoutImprovement(t *testing.T) {
	// y = 0 is fitted from the start: every epoch's loss is 0, the first sets
	// best_loss and the next 5 do not improve on it by tol·n.
	x, _ := sgdProblem(20)
	_, epochs, err := fitSGD(context.Background(), sgdParams{alpha: 1e-4, eta0: 1e-3, maxIter: 1000}, x, make([]float64, 20))
	if err != nil {
		t.Fatal(err)
	}
	if epochs != 6 {
		t.Errorf("%d epochs, want 6", epochs)
	}
}

func TestSGDRunsToMaxIterOnCalibrationData(t *testing.T) {
	// With eta0 ≤ 1e-3 decaying as t^-0.25 the fit is still improving after
	// 1000 epochs on real calibrations (scikit-learn warns of non-convergence
	// for these fits too), which is why SGD stays short of Ridge.
	for _, s := range loadGolden(t) {
		if s.g.Session != "9_full" {
			continue
		}
		train, _ := trainTestSplit(len(s.rows))
		x, y := axisDesign(s.rows, train, false)
		xp := polyFeatures2(fitStandardScaler(x).transform(x))
		_, epochs, err := fitSGD(context.Background(), sgdParams{alpha: 1e-4, eta0: 1e-3, maxIter: 1000}, xp, y)
		if err != nil {
			t.Fatal(err)
		}
		if epochs != 1000 {
			t.Errorf("%d epochs, want max_iter 1000", epochs)
		}
		return
	}
	t.Fatal("no 9_full session")
}

func TestSGDRejectsOverflowAndBadData(t *testing.T) {
	x, y := sgdProblem(30)
	for i := 0; i < 30; i++ {
		x.Set(i, 1, x.At(i, 1)*1e300)
	}
	if _, _, err := fitSGD(context.Background(), sgdParams{alpha: 1e-4, eta0: 1, maxIter: 1000}, x, y); !errors.Is(err, errNotFittable) {
		t.Errorf("overflowing fit: error %v, want errNotFittable", err)
	}
	if _, _, err := fitSGD(context.Background(), sgdParams{alpha: 1e-4, eta0: 1e-3, maxIter: 10}, mat.NewDense(1, 1, []float64{math.NaN()}), []float64{1}); !errors.Is(err, errNotFittable) {
		t.Errorf("NaN feature: error %v, want errNotFittable", err)
	}
}

// TestSGDNearGoldenRidge compares SGD, which has no golden output (the
// Python service does not seed it), with scikit-learn's Ridge on the same
// sessions: a lightly L2-penalised least-squares fit of the same polynomial
// features. It does not converge in 1000 epochs (see
// TestSGDRunsToMaxIterOnCalibrationData), so it lands near Ridge but not on
// it: 13.7% apart on average when this test was written, SGD worse on most
// sessions. The bound guards against a real regression, not noise.
func TestSGDNearGoldenRidge(t *testing.T) {
	mean := goldenAccuracyGap(t, sgdSpec(), "Ridge Regression", 2)
	t.Logf("mean relative difference from scikit-learn's Ridge: %.2f%%", 100*mean)
	if mean > 0.20 {
		t.Errorf("mean relative difference %.1f%%, want ≤ 20%%", 100*mean)
	}
}
