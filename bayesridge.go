package main

// Bayesian ridge regression (scikit-learn's BayesianRidge): the grid and
// the evidence maximisation.

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// bayesianRidgeSpec is GridSearchCV over BayesianRidge(alpha_init,
// lambda_init) after PolynomialFeatures(2). The candidates follow
// scikit-learn's ParameterGrid order: keys sorted, so alpha_init is the
// outer loop and lambda_init the inner one.
func bayesianRidgeSpec() modelSpec {
	alphaInits := []float64{1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.9}
	lambdaInits := []float64{1e-9, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1}
	grid := make([]candidate, 0, len(alphaInits)*len(lambdaInits))
	for _, a := range alphaInits {
		for _, l := range lambdaInits {
			cfg := defaultBayesianRidge()
			cfg.alphaInit, cfg.lambdaInit = a, l
			grid = append(grid, candidate{
				params: []param{{"bayesianridge__alpha_init", a}, {"bayesianridge__lambda_init", l}},
				fit:    cfg.fitter(),
			})
		}
	}
	return modelSpec{name: "Bayesian Ridge", poly: true, search: true, grid: grid}
}

// bayesianRidge holds the hyper-parameters of scikit-learn 1.2.1's
// BayesianRidge (fit_intercept=True, compute_score=False).
type bayesianRidge struct {
	alphaInit, lambdaInit float64 // starting noise and weight precisions
	maxIter               int     // n_iter
	tol                   float64 // stop when Σ|coef − coef_old| < tol
	alpha1, alpha2        float64 // Gamma prior over alpha (shape, rate)
	lambda1, lambda2      float64 // Gamma prior over lambda (shape, rate)
}

// defaultBayesianRidge is BayesianRidge() with scikit-learn 1.2.1's defaults
// and lambda_init = 1; alpha_init must be set by the caller (the default
// 1/Var(y) is never used by the calibration grid).
func defaultBayesianRidge() bayesianRidge {
	return bayesianRidge{
		lambdaInit: 1, maxIter: 300, tol: 1e-3,
		alpha1: 1e-6, alpha2: 1e-6, lambda1: 1e-6, lambda2: 1e-6,
	}
}

// fitter returns the fit of this configuration as a grid-search fitter.
func (b bayesianRidge) fitter() fitter {
	return func(ctx context.Context, x *mat.Dense, y []float64) (predictor, error) {
		if err := stopCause(ctx); err != nil { // one fit takes milliseconds: the search checks between fits
			return nil, err
		}
		m, err := b.fit(x, y)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
}

// bayesianRidgeDesign is the centred training data with its SVD, the part of
// BayesianRidge.fit that does not change between evidence iterations.
type bayesianRidgeDesign struct {
	x       *mat.Dense // centred X, n × p
	y       []float64  // centred y
	xty     []float64  // Xᵀy
	eigen   []float64  // S², k = min(n, p) values
	vh      *mat.Dense // Vᵀ, k × p (used when n > p)
	u       *mat.Dense // U, n × k (used when n ≤ p)
	samples int
}

// fit is BayesianRidge.fit: centre X and y (_preprocess_data), take the thin
// SVD X = U·diag(S)·Vᵀ, then iterate MacKay's evidence updates
//
//	coef   = V·diag(1/(S² + λ/α))·Vᵀ·Xᵀy   (n > p; else Xᵀ·U·diag(1/(S² + λ/α))·Uᵀ·y)
//	γ      = Σ αS² / (λ + αS²)
//	λ      = (γ + 2λ₁) / (Σcoef² + 2λ₂)
//	α      = (n − γ + 2α₁) / (‖y − X·coef‖² + 2α₂)
//
// stopping after an iteration (other than the first) whose coefficients moved
// by less than tol in L1 norm, or after n_iter iterations; the coefficients
// are then recomputed with the last α and λ, and the intercept is
// y_mean − x_mean·coef.
func (b bayesianRidge) fit(x *mat.Dense, y []float64) (linearModel, error) {
	d, xMean, yMean, err := newBayesianRidgeDesign(x, y)
	if err != nil {
		return linearModel{}, err
	}
	_, features := d.x.Dims()
	alpha, lambda := b.alphaInit, b.lambdaInit
	coef := make([]float64, features)
	coefOld := make([]float64, features)
	work := make([]float64, max(d.samples, features))
	for iter := 0; iter < b.maxIter; iter++ {
		rmse := d.updateCoef(coef, work, alpha, lambda)
		var gamma float64
		for _, e := range d.eigen {
			gamma += (alpha * e) / (lambda + alpha*e)
		}
		var coefSq float64
		for _, c := range coef {
			coefSq += c * c
		}
		lambda = (gamma + 2*b.lambda1) / (coefSq + 2*b.lambda2)
		alpha = (float64(d.samples) - gamma + 2*b.alpha1) / (rmse + 2*b.alpha2)
		if iter != 0 {
			var moved float64
			for j, c := range coef {
				moved += math.Abs(coefOld[j] - c)
			}
			if moved < b.tol {
				break
			}
		}
		copy(coefOld, coef)
	}
	d.updateCoef(coef, work, alpha, lambda)
	for _, c := range coef {
		if !isFinite(c) {
			return linearModel{}, fmt.Errorf("%w: Bayesian ridge coefficients are not finite", errNotFittable)
		}
	}
	return linearModel{coef: coef, intercept: interceptFor(coef, xMean, yMean)}, nil
}

// newBayesianRidgeDesign centres x and y as scikit-learn's _preprocess_data
// does (column means summed row by row, as numpy reduces axis 0; the y mean
// with numpy's pairwise summation) and factorises the centred X with a thin
// SVD, keeping only the factor the coefficient update needs.
func newBayesianRidgeDesign(x *mat.Dense, y []float64) (bayesianRidgeDesign, []float64, float64, error) {
	rows, cols := x.Dims()
	if rows < 1 || cols < 1 {
		return bayesianRidgeDesign{}, nil, 0, fmt.Errorf("%w: %d rows, %d columns", errNotFittable, rows, cols)
	}
	if len(y) != rows {
		return bayesianRidgeDesign{}, nil, 0, fmt.Errorf("%w: %d targets for %d rows", errNotFittable, len(y), rows)
	}
	xMean := make([]float64, cols)
	for i := 0; i < rows; i++ {
		for j, v := range x.RawRowView(i) {
			if !isFinite(v) {
				return bayesianRidgeDesign{}, nil, 0, fmt.Errorf("%w: feature (%d, %d) is not finite", errNotFittable, i, j)
			}
			xMean[j] += v
		}
	}
	for j := range xMean {
		xMean[j] /= float64(rows)
	}
	for i, v := range y {
		if !isFinite(v) {
			return bayesianRidgeDesign{}, nil, 0, fmt.Errorf("%w: target %d is not finite", errNotFittable, i)
		}
	}
	yMean := pairwiseSum(y) / float64(rows)

	d := bayesianRidgeDesign{x: mat.NewDense(rows, cols, nil), y: make([]float64, rows), xty: make([]float64, cols), samples: rows}
	for i := 0; i < rows; i++ {
		src, dst := x.RawRowView(i), d.x.RawRowView(i)
		yc := y[i] - yMean
		d.y[i] = yc
		for j := range src {
			dst[j] = src[j] - xMean[j]
			d.xty[j] += dst[j] * yc
		}
	}

	kind := mat.SVDThinV
	if rows <= cols {
		kind = mat.SVDThinU
	}
	var svd mat.SVD
	if !svd.Factorize(d.x, kind) {
		return bayesianRidgeDesign{}, nil, 0, fmt.Errorf("%w: SVD did not converge", errNotFittable)
	}
	values := svd.Values(nil)
	d.eigen = make([]float64, len(values))
	for k, s := range values {
		d.eigen[k] = s * s
	}
	if rows > cols {
		var v mat.Dense
		svd.VTo(&v)
		d.vh = mat.DenseCopyOf(v.T())
	} else {
		d.u = new(mat.Dense)
		svd.UTo(d.u)
	}
	return d, xMean, yMean, nil
}

// updateCoef is BayesianRidge._update_coef_: it writes the posterior mean
// for (alpha, lambda) into coef and returns the residual sum of squares
// ‖y − X·coef‖². work holds at least max(n, p) values.
func (d bayesianRidgeDesign) updateCoef(coef, work []float64, alpha, lambda float64) float64 {
	ratio := lambda / alpha
	for j := range coef {
		coef[j] = 0
	}
	if d.vh != nil {
		// Vᵀ.T · ((Vᵀ / (S² + λ/α)[:, None]) · Xᵀy), multi_dot's cheaper order.
		for k, e := range d.eigen {
			den := e + ratio
			row := d.vh.RawRowView(k)
			var t float64
			for j, v := range row {
				t += (v / den) * d.xty[j]
			}
			for j, v := range row {
				coef[j] += v * t
			}
		}
	} else {
		// Xᵀ · (U / (S² + λ/α)[None, :]) · (Uᵀ · y), evaluated right to left.
		rows, _ := d.x.Dims()
		uty := make([]float64, len(d.eigen))
		for i := 0; i < rows; i++ {
			for k, u := range d.u.RawRowView(i)[:len(d.eigen)] {
				uty[k] += u * d.y[i]
			}
		}
		for i := 0; i < rows; i++ {
			var t float64
			for k, u := range d.u.RawRowView(i)[:len(d.eigen)] {
				t += (u / (d.eigen[k] + ratio)) * uty[k]
			}
			for j, v := range d.x.RawRowView(i) {
				coef[j] += v * t
			}
		}
	}
	resid := work[:d.samples]
	for i := range resid {
		p := 0.0
		for j, v := range d.x.RawRowView(i) {
			p += v * coef[j]
		}
		r := d.y[i] - p
		resid[i] = r * r
	}
	return pairwiseSum(resid)
}
