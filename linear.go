package main

// Least squares and ridge regression (scikit-learn's LinearRegression and
// Ridge) and the linear model they fit.

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// linearModel predicts x·coef + intercept.
type linearModel struct {
	coef      []float64
	intercept float64
}

func (m linearModel) predict(x *mat.Dense, dst []float64) {
	rows, _ := x.Dims()
	for i := 0; i < rows; i++ {
		dst[i] = m.predictRow(x.RawRowView(i))
	}
}

// predictRow is predict for one row: intercept + Σ row_j·coef_j in order.
func (m linearModel) predictRow(row []float64) float64 {
	v := m.intercept
	for j, c := range row {
		v += c * m.coef[j]
	}
	return v
}

// fitOLS is scikit-learn's LinearRegression(fit_intercept=True): centre the
// data, then the minimum-norm least-squares solution (LAPACK gelsd, whose
// cut-off treats singular values below eps·σ_max as zero) — so the constant
// PolynomialFeatures column, all zeros once centred, gets coefficient 0.
func fitOLS(ctx context.Context, x *mat.Dense, y []float64) (predictor, error) {
	if err := stopCause(ctx); err != nil {
		return nil, err
	}
	rows, cols := x.Dims()
	if rows < 1 {
		return nil, fmt.Errorf("%w: no rows", errNotFittable)
	}
	xc, yc, xMean, yMean := centerData(x, y)
	var svd mat.SVD
	if !svd.Factorize(xc, mat.SVDThin) {
		return nil, fmt.Errorf("%w: least squares did not converge", errNotFittable)
	}
	values := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	cut := 0.0
	if len(values) > 0 {
		cut = epsilon * values[0]
	}
	coef := make([]float64, cols)
	ycv := mat.NewVecDense(rows, yc)
	for k, s := range values {
		if s <= cut {
			continue
		}
		w := mat.Dot(u.ColView(k), ycv) / s
		for j := 0; j < cols; j++ {
			coef[j] += w * v.At(j, k)
		}
	}
	return linearModel{coef: coef, intercept: interceptFor(coef, xMean, yMean)}, nil
}

// fitRidge is scikit-learn's Ridge(alpha, fit_intercept=True) with its
// Cholesky solver: centre the data, then solve (XᵀX + αI) w = Xᵀy.
func fitRidge(alpha float64) fitter {
	return func(ctx context.Context, x *mat.Dense, y []float64) (predictor, error) {
		models, err := fitRidges(ctx, []float64{alpha}, x, y)
		if err != nil {
			return nil, err
		}
		return models[0], nil
	}
}

// fitRidges fits Ridge for each alpha on the same rows, sharing the
// centring, XᵀX and Xᵀy (each model is exactly fitRidge(alpha)'s: the same
// operations on the same numbers).
func fitRidges(ctx context.Context, alphas []float64, x *mat.Dense, y []float64) ([]predictor, error) {
	if err := stopCause(ctx); err != nil {
		return nil, err
	}
	rows, cols := x.Dims()
	if rows < 1 {
		return nil, fmt.Errorf("%w: no rows", errNotFittable)
	}
	xc, yc, xMean, yMean := centerData(x, y)
	gram := mat.NewSymDense(cols, nil)
	gram.SymOuterK(1, xc.T())
	var b mat.VecDense
	b.MulVec(xc.T(), mat.NewVecDense(rows, yc))
	out := make([]predictor, len(alphas))
	a := mat.NewSymDense(cols, nil)
	u := make([]float64, cols*cols)
	for k, alpha := range alphas {
		a.CopySym(gram)
		for j := 0; j < cols; j++ {
			a.SetSym(j, j, a.At(j, j)+alpha)
		}
		coef := make([]float64, cols)
		if !choleskySolveSPD(u, a, b.RawVector().Data, coef) {
			var w mat.VecDense
			if err := w.SolveVec(a, &b); err != nil {
				return nil, fmt.Errorf("%w: %v", errNotFittable, err)
			}
			copy(coef, w.RawVector().Data)
		}
		out[k] = linearModel{coef: coef, intercept: interceptFor(coef, xMean, yMean)}
	}
	return out, nil
}

// choleskySolveSPD solves a·w = b for a symmetric positive definite a
// (n×n) through a = UᵀU (the LAPACK potrf/potrs path of scipy's
// solve(assume_a="pos"), which scikit-learn's Ridge calls): U in u (n×n,
// row-major, upper triangle), then Uᵀz = b and U·w = z. It reports false,
// leaving w unset, when a pivot is not positive (a not positive definite).
// Like scipy it solves however ill-conditioned a is (scikit-learn warns
// and keeps the solution; here a ridge's αI keeps a well-conditioned).
func choleskySolveSPD(u []float64, a *mat.SymDense, b, w []float64) bool {
	n := a.SymmetricDim()
	u = u[:n*n]
	for j := 0; j < n; j++ {
		s := a.At(j, j)
		for k := 0; k < j; k++ {
			s -= u[k*n+j] * u[k*n+j]
		}
		if !(s > 0) {
			return false
		}
		d := math.Sqrt(s)
		u[j*n+j] = d
		for i := j + 1; i < n; i++ {
			v := a.At(j, i)
			for k := 0; k < j; k++ {
				v -= u[k*n+j] * u[k*n+i]
			}
			u[j*n+i] = v / d
		}
	}
	for j := 0; j < n; j++ { // Uᵀz = b, z in w
		v := b[j]
		for k := 0; k < j; k++ {
			v -= u[k*n+j] * w[k]
		}
		w[j] = v / u[j*n+j]
	}
	for j := n - 1; j >= 0; j-- { // U·w = z
		v := w[j]
		for k := j + 1; k < n; k++ {
			v -= u[j*n+k] * w[k]
		}
		w[j] = v / u[j*n+j]
	}
	return true
}

// ridgeGroupFit fits the Ridge candidates of one group together (the
// spec's fitGroup).
func ridgeGroupFit(ctx context.Context, cands []candidate, x *mat.Dense, y []float64, _ *searchRows) ([]predictor, error) {
	alphas, err := candidateSettings[float64](cands)
	if err != nil {
		return nil, err
	}
	return fitRidges(ctx, alphas, x, y)
}

// linearRegressionSpec is LinearRegression after PolynomialFeatures(2),
// fitted once (no search).
func linearRegressionSpec() modelSpec {
	return modelSpec{name: "Linear Regression", poly: true, grid: []candidate{{fit: fitOLS}}}
}

// ridgeSpec is GridSearchCV over Ridge alphas after PolynomialFeatures(2).
func ridgeSpec() modelSpec {
	alphas := []float64{0.001, 0.005, 0.01, 0.1, 0.5, 1, 10, 20, 50, 100}
	grid := make([]candidate, len(alphas))
	for i, a := range alphas {
		grid[i] = candidate{params: []param{{"ridge__alpha", a}}, fit: fitRidge(a), group: "ridge", settings: a}
	}
	return modelSpec{name: "Ridge Regression", poly: true, search: true, grid: grid, fitGroup: ridgeGroupFit}
}
