package main

// Lasso and Elastic Net (scikit-learn's enet_coordinate_descent): the grids
// and the cyclic coordinate-descent solver with its duality-gap rule.

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Coordinate-descent settings of scikit-learn's Lasso and ElasticNet
// defaults (max_iter=1000, tol=1e-4).
const (
	enetMaxIter = 1000
	enetTol     = 1e-4
)

// enetDesign is a centred design matrix stored column by column, with the
// squared norm of every column, as enet_coordinate_descent receives it
// (a Fortran-ordered X and norm_cols_X = np.square(X).sum(axis=0)).
type enetDesign struct {
	rows, cols int
	colMajor   []float64 // column j is colMajor[j*rows : (j+1)*rows]
	normSq     []float64
}

// column returns column j of the design.
func (d enetDesign) column(j int) []float64 {
	return d.colMajor[j*d.rows : (j+1)*d.rows]
}

// enetResult is what one coordinate-descent run reports besides the
// coefficients: the last duality gap, the scaled tolerance it was compared
// with, the number of sweeps and whether the gap fell below the tolerance
// (false means scikit-learn would have raised a ConvergenceWarning).
type enetResult struct {
	gap, tol   float64
	iterations int
	converged  bool
	stopped    error // stopCause of the run's ctx when it ended the run early
}

// enetCheckEvery is how many sweeps pass between checks of the fit's ctx (a
// sweep over 16,000 rows × 6 columns takes about 0.1 ms).
const enetCheckEvery = 16

// enetCoordinateDescent is scikit-learn 1.2.1's dense
// enet_coordinate_descent (cyclic, positive=False). It minimises
//
//	½‖y − Xw‖² + l1Reg‖w‖₁ + ½·l2Reg‖w‖²
//
// updating w in place from its current value, one coordinate at a time in
// column order with the soft-threshold update
//
//	w_j = sign(ρ)·max(|ρ| − l1Reg, 0) / (‖x_j‖² + l2Reg),  ρ = x_jᵀ(R + w_j x_j),
//
// skipping columns of zero norm. After a sweep whose largest change is
// below tol relative to the largest coefficient (or after the last sweep)
// it computes the duality gap and stops when the gap is below tol·‖y‖².
// residual (rows) and xta (cols) are scratch space. Once ctx is done it
// stops within enetCheckEvery sweeps and reports stopCause(ctx) in stopped.
//
// ddot and daxpy are gonum's floats.Dot and floats.AddScaled (SSE2 kernels
// whose partial-sum order differs from OpenBLAS's, as every BLAS's does);
// on the golden recordings that moves predictions by less than 1e-10 px
// and leaves every stopping decision as scikit-learn took it.
func enetCoordinateDescent(ctx context.Context, w []float64, l1Reg, l2Reg float64, d enetDesign, y []float64, maxIter int, tol float64, residual, xta []float64) enetResult {
	n := d.rows
	residual = residual[:n]
	y = y[:n]
	// R = y − Xw
	copy(residual, y)
	for j := 0; j < d.cols; j++ {
		if w[j] != 0 {
			floats.AddScaled(residual, -w[j], d.column(j))
		}
	}
	relTol := tol
	tol *= floats.Dot(y, y)
	gap := tol + 1
	for iter := 0; iter < maxIter; iter++ {
		if iter%enetCheckEvery == 0 {
			if err := stopCause(ctx); err != nil {
				return enetResult{gap: gap, tol: tol, iterations: iter, stopped: err}
			}
		}
		var wMax, dwMax float64
		// R += old·x_j, ρ = x_jᵀR, then R −= w_j·x_j, that last step deferred
		// to the next coordinate's pass over R (cdResidualDot) or the sweep's end.
		var pending []float64 // the column to subtract, times −pendingW
		var pendingW float64
		for j := 0; j < d.cols; j++ {
			if d.normSq[j] == 0 {
				continue
			}
			col := d.column(j)
			old := w[j]
			rho := cdResidualDot(residual, pending, -pendingW, col, old)
			pending = nil
			w[j] = softThreshold(rho, l1Reg) / (d.normSq[j] + l2Reg)
			if w[j] != 0 {
				pending, pendingW = col, w[j]
			}
			if change := math.Abs(w[j] - old); change > dwMax {
				dwMax = change
			}
			if size := math.Abs(w[j]); size > wMax {
				wMax = size
			}
		}
		if pending != nil {
			floats.AddScaled(residual, -pendingW, pending)
		}
		if wMax == 0 || dwMax/wMax < relTol || iter == maxIter-1 {
			gap = enetDualityGap(w, l1Reg, l2Reg, d, y, residual, xta)
			if gap < tol {
				return enetResult{gap: gap, tol: tol, iterations: iter + 1, converged: true}
			}
		}
	}
	return enetResult{gap: gap, tol: tol, iterations: maxIter}
}

// softThreshold is fsign(ρ)·fmax(|ρ| − λ, 0) as _cd_fast.pyx writes it.
func softThreshold(rho, lambda float64) float64 {
	shrunk := math.Abs(rho) - lambda
	if !(shrunk > 0) {
		shrunk = 0
	}
	switch {
	case rho > 0:
		return shrunk
	case rho < 0:
		return -shrunk
	default:
		return 0
	}
}

// enetDualityGap is the duality gap of enet_coordinate_descent for the
// current w and residual R:
//
//	XtA = XᵀR − l2Reg·w, c = min(1, l1Reg/‖XtA‖∞),
//	gap = ½(‖R‖² + c²‖R‖²) + l1Reg‖w‖₁ − c·Rᵀy + ½·l2Reg(1 + c²)‖w‖²
//
// (the first term is ‖R‖² when c = 1).
func enetDualityGap(w []float64, l1Reg, l2Reg float64, d enetDesign, y, residual, xta []float64) float64 {
	var dualNorm float64
	for j := 0; j < d.cols; j++ {
		// dgemv: XtA = −l2Reg·w first, then XtA += XᵀR.
		xta[j] = float64(w[j]*-l2Reg) + floats.Dot(d.column(j), residual)
		if j == 0 || math.Abs(xta[j]) > dualNorm {
			dualNorm = math.Abs(xta[j])
		}
	}
	rNorm2 := floats.Dot(residual, residual)
	wNorm2 := floats.Dot(w[:d.cols], w[:d.cols])
	var gap, c float64
	if dualNorm > l1Reg {
		c = l1Reg / dualNorm
		aNorm2 := rNorm2 * (c * c)
		gap = 0.5 * (rNorm2 + aNorm2)
	} else {
		c = 1
		gap = rNorm2
	}
	var l1Norm float64
	for _, v := range w[:d.cols] {
		l1Norm += math.Abs(v)
	}
	// The float64 conversions keep every product rounded on its own (no
	// fused multiply-add), as the compiled Cython does.
	l1Term := float64(l1Reg * l1Norm)
	dualTerm := float64(c * floats.Dot(residual, y))
	l2Term := float64(float64(float64(0.5*l2Reg)*(1+float64(c*c))) * wNorm2)
	return gap + ((l1Term - dualTerm) + l2Term)
}

// newEnetDesign centres the columns of x and y as scikit-learn's
// _preprocess_data does for fit_intercept=True (np.average over a
// Fortran-ordered X, so each column mean is a pairwise sum divided by the
// row count) and returns the column-major design, the centred target and
// the offsets.
func newEnetDesign(x *mat.Dense, y []float64) (d enetDesign, yc, xMean []float64, yMean float64) {
	rows, cols := x.Dims()
	d = enetDesign{rows: rows, cols: cols, colMajor: make([]float64, rows*cols), normSq: make([]float64, cols)}
	for i := 0; i < rows; i++ {
		for j, v := range x.RawRowView(i) {
			d.colMajor[j*rows+i] = v
		}
	}
	xMean = make([]float64, cols)
	squares := make([]float64, rows)
	for j := 0; j < cols; j++ {
		col := d.column(j)
		m := pairwiseSum(col) / float64(rows)
		for i := range col {
			col[i] -= m
			squares[i] = col[i] * col[i]
		}
		xMean[j] = m
		d.normSq[j] = pairwiseSum(squares)
	}
	yMean = pairwiseSum(y) / float64(rows)
	yc = make([]float64, rows)
	for i, v := range y {
		yc[i] = v - yMean
	}
	return d, yc, xMean, yMean
}

// fitElasticNet is scikit-learn's ElasticNet(alpha, l1_ratio) with its
// defaults (fit_intercept=True, precompute=False, max_iter=1000, tol=1e-4,
// cyclic selection, coefficients starting at zero): centre the data, run
// enet_coordinate_descent with l1_reg = alpha·l1_ratio·n and
// l2_reg = alpha·(1 − l1_ratio)·n, then intercept = ȳ − x̄·w. Lasso(alpha)
// is the l1_ratio = 1 case. A run stopping at max_iter is kept, as
// scikit-learn keeps it after its ConvergenceWarning.
func fitElasticNet(alpha, l1Ratio float64) fitter {
	return func(ctx context.Context, x *mat.Dense, y []float64) (predictor, error) {
		rows, cols := x.Dims()
		if rows < 1 || cols < 1 {
			return nil, fmt.Errorf("%w: %d rows, %d columns", errNotFittable, rows, cols)
		}
		if len(y) != rows {
			return nil, fmt.Errorf("%w: %d targets for %d rows", errNotFittable, len(y), rows)
		}
		d, yc, xMean, yMean := newEnetDesign(x, y)
		n := float64(rows)
		l1Reg := alpha * l1Ratio * n
		l2Reg := alpha * (1 - l1Ratio) * n
		coef := make([]float64, cols)
		res := enetCoordinateDescent(ctx, coef, l1Reg, l2Reg, d, yc, enetMaxIter, enetTol, make([]float64, rows), make([]float64, cols))
		if res.stopped != nil {
			return nil, res.stopped
		}
		return linearModel{coef: coef, intercept: interceptFor(coef, xMean, yMean)}, nil
	}
}

// lassoSpec is GridSearchCV over Lasso alphas after PolynomialFeatures(2);
// Lasso(alpha) is ElasticNet(alpha, l1_ratio=1) with the same solver.
func lassoSpec() modelSpec {
	alphas := []float64{10, 20, 30, 40, 45, 50, 55, 100, 200, 500}
	grid := make([]candidate, len(alphas))
	for i, a := range alphas {
		grid[i] = candidate{params: []param{{"lasso__alpha", a}}, fit: fitElasticNet(a, 1)}
	}
	return modelSpec{name: "Lasso Regression", poly: true, search: true, grid: grid}
}

// elasticNetSpec is GridSearchCV over ElasticNet alpha × l1_ratio after
// PolynomialFeatures(2), in scikit-learn's ParameterGrid order (keys sorted:
// alpha varies slowest, l1_ratio fastest).
func elasticNetSpec() modelSpec {
	alphas := []float64{0.1, 0.5, 1, 2, 5}
	l1Ratios := []float64{0.5, 0.7, 0.8, 0.9, 1.0}
	grid := make([]candidate, 0, len(alphas)*len(l1Ratios))
	for _, a := range alphas {
		for _, r := range l1Ratios {
			grid = append(grid, candidate{
				params: []param{{"elasticnet__alpha", a}, {"elasticnet__l1_ratio", r}},
				fit:    fitElasticNet(a, r),
			})
		}
	}
	return modelSpec{name: "Elastic Net", poly: true, search: true, grid: grid}
}
