package main

// Golden parity of Linear and Ridge regression.

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestGoldenLinearRegression(t *testing.T) {
	checkGoldenModel(t, "Linear Regression", goldenTolerance{pred: 1e-6})
}

func TestGoldenRidgeRegression(t *testing.T) {
	checkGoldenModel(t, "Ridge Regression", goldenTolerance{pred: 1e-6, checkParams: true})
}

// TestCholeskySolveSPD: on random symmetric positive definite systems the
// solve agrees with gonum's LU solve to rounding, and a matrix that is not
// positive definite is reported (false), not solved.
func TestCholeskySolveSPD(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(8)
		g := mat.NewDense(n+3, n, nil)
		for i := 0; i < n+3; i++ {
			for j := 0; j < n; j++ {
				g.Set(i, j, rng.NormFloat64()*float64(1+j))
			}
		}
		a := mat.NewSymDense(n, nil)
		a.SymOuterK(1, g.T())
		for j := 0; j < n; j++ {
			a.SetSym(j, j, a.At(j, j)+0.01)
		}
		b := make([]float64, n)
		for i := range b {
			b[i] = rng.NormFloat64() * 100
		}
		got := make([]float64, n)
		if !choleskySolveSPD(make([]float64, n*n), a, b, got) {
			t.Fatalf("n=%d: a positive definite matrix reported as not", n)
		}
		var want mat.VecDense
		if err := want.SolveVec(a, mat.NewVecDense(n, b)); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if d := math.Abs(got[i] - want.AtVec(i)); d > 1e-9*(1+math.Abs(want.AtVec(i))) {
				t.Fatalf("n=%d: w[%d] = %v, LU gives %v", n, i, got[i], want.AtVec(i))
			}
		}
	}
	indefinite := mat.NewSymDense(2, []float64{1, 2, 2, 1})
	if choleskySolveSPD(make([]float64, 4), indefinite, []float64{1, 1}, make([]float64, 2)) {
		t.Error("an indefinite matrix was solved as positive definite")
	}
	singular := mat.NewSymDense(2, []float64{1, 1, 1, 1})
	if choleskySolveSPD(make([]float64, 4), singular, []float64{1, 1}, make([]float64, 2)) {
		t.Error("a singular matrix was solved as positive definite")
	}
}
