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
// sweep costs cols² operations whatever the rows: about 40 ns for 6
// columns).
const enetCheckEvery = 256

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
// Once ctx is done it stops within enetCheckEvery sweeps and reports
// stopCause(ctx) in stopped.
//
// The iterates are scikit-learn's, but the residual R = y − Xw is carried
// as its correlations g = XᵀR through the Gram matrix Q = XᵀX (as its
// enet_coordinate_descent_gram does): ρ = g_j + w_j‖x_j‖², and a change δ
// of w_j subtracts δ·Q_{·j} from g. A sweep then costs cols² operations
// instead of 2·rows·cols, which is what matters when a fit takes its 1,000
// sweeps (design matrices here have 6 columns and 30 to 16,000 rows). The
// rounding differs from the residual form by about as much as one BLAS's
// from another: on the golden recordings predictions move by less than
// 1e-9 px and every stopping decision is scikit-learn's
// (TestCoordinateDescentMaxIterStopsMatchScikitLearn).
func enetCoordinateDescent(ctx context.Context, w []float64, l1Reg, l2Reg float64, d enetDesign, g *enetGram, maxIter int, tol float64) enetResult {
	cols := d.cols
	g.sync(w)
	relTol := tol
	tol *= g.yy
	gap := tol + 1
	for iter := 0; iter < maxIter; iter++ {
		if iter%enetCheckEvery == 0 {
			if err := stopCause(ctx); err != nil {
				return enetResult{gap: gap, tol: tol, iterations: iter, stopped: err}
			}
		}
		var wMax, dwMax float64
		for j := 0; j < cols; j++ {
			if d.normSq[j] == 0 {
				continue
			}
			old := w[j]
			rho := g.corr[j] + float64(old*d.normSq[j])
			w[j] = softThreshold(rho, l1Reg) / (d.normSq[j] + l2Reg)
			if delta := w[j] - old; delta != 0 {
				q := g.q[j*cols : (j+1)*cols]
				for k := range g.corr[:cols] {
					g.corr[k] -= float64(delta * q[k])
				}
			}
			if change := math.Abs(w[j] - old); change > dwMax {
				dwMax = change
			}
			if size := math.Abs(w[j]); size > wMax {
				wMax = size
			}
		}
		if wMax == 0 || dwMax/wMax < relTol || iter == maxIter-1 {
			gap = g.dualityGap(w, l1Reg, l2Reg)
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

// enetGram is a design's Gram matrix Q = XᵀX (row-major, symmetric), Xᵀy,
// ‖y‖², and the correlations corr = XᵀR of the current residual
// R = y − Xw (with qw = Qw, scratch of one run at a time).
type enetGram struct {
	cols     int
	q        []float64
	xty      []float64
	yy       float64
	corr, qw []float64
}

// newEnetGram computes Q, Xᵀy and ‖y‖² with gonum's dot products.
func newEnetGram(d enetDesign, y []float64) *enetGram {
	c := d.cols
	buf := make([]float64, c*c+3*c)
	g := &enetGram{cols: c, q: buf[:c*c], xty: buf[c*c : c*c+c], corr: buf[c*c+c : c*c+2*c], qw: buf[c*c+2*c:]}
	for j := 0; j < c; j++ {
		for k := 0; k <= j; k++ {
			v := floats.Dot(d.column(j), d.column(k))
			g.q[j*c+k], g.q[k*c+j] = v, v
		}
		g.xty[j] = floats.Dot(d.column(j), y)
	}
	g.yy = floats.Dot(y, y)
	return g
}

// sync recomputes corr = Xᵀy − Qw (and qw = Qw) for w.
func (g *enetGram) sync(w []float64) {
	c := g.cols
	for j := 0; j < c; j++ {
		g.qw[j] = floats.Dot(g.q[j*c:(j+1)*c], w[:c])
		g.corr[j] = g.xty[j] - g.qw[j]
	}
}

// dualityGap is the duality gap of enet_coordinate_descent for w, from the
// Gram matrix (enet_coordinate_descent_gram's form), after bringing corr
// up to date (sync):
//
//	XtA = Xᵀy − Qw − l2Reg·w, c = min(1, l1Reg/‖XtA‖∞),
//	‖R‖² = ‖y‖² − 2wᵀXᵀy + wᵀQw, Rᵀy = ‖y‖² − wᵀXᵀy,
//	gap = ½(‖R‖² + c²‖R‖²) + l1Reg‖w‖₁ − c·Rᵀy + ½·l2Reg(1 + c²)‖w‖²
//
// (the first term is ‖R‖² when c = 1).
func (g *enetGram) dualityGap(w []float64, l1Reg, l2Reg float64) float64 {
	c := g.cols
	w = w[:c]
	g.sync(w)
	var dualNorm float64
	for j := 0; j < c; j++ {
		if xta := math.Abs(g.corr[j] - float64(l2Reg*w[j])); j == 0 || xta > dualNorm {
			dualNorm = xta
		}
	}
	wXty := floats.Dot(w, g.xty)
	rNorm2 := (g.yy - 2*wXty) + floats.Dot(w, g.qw)
	wNorm2 := floats.Dot(w, w)
	var gap, cc float64
	if dualNorm > l1Reg {
		cc = l1Reg / dualNorm
		aNorm2 := rNorm2 * (cc * cc)
		gap = 0.5 * (rNorm2 + aNorm2)
	} else {
		cc = 1
		gap = rNorm2
	}
	var l1Norm float64
	for _, v := range w {
		l1Norm += math.Abs(v)
	}
	l1Term := float64(l1Reg * l1Norm)
	dualTerm := float64(cc * (g.yy - wXty))
	l2Term := float64(float64(float64(0.5*l2Reg)*(1+float64(cc*cc))) * wNorm2)
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
		p, err := newEnetProblem(x, y)
		if err != nil {
			return nil, err
		}
		return p.fit(ctx, enetSettings{alpha, l1Ratio})
	}
}

// enetSettings are one Lasso or Elastic Net candidate's hyper-parameters
// (Lasso: l1Ratio 1).
type enetSettings struct{ alpha, l1Ratio float64 }

// enetProblem is what every candidate fitted on one training set shares:
// the centred design, its Gram matrix and the offsets of the intercept.
type enetProblem struct {
	d            enetDesign
	gram         *enetGram
	xMean        []float64
	yMean, nRows float64
}

func newEnetProblem(x *mat.Dense, y []float64) (*enetProblem, error) {
	rows, cols := x.Dims()
	if rows < 1 || cols < 1 {
		return nil, fmt.Errorf("%w: %d rows, %d columns", errNotFittable, rows, cols)
	}
	if len(y) != rows {
		return nil, fmt.Errorf("%w: %d targets for %d rows", errNotFittable, len(y), rows)
	}
	d, yc, xMean, yMean := newEnetDesign(x, y)
	return &enetProblem{d: d, gram: newEnetGram(d, yc), xMean: xMean, yMean: yMean, nRows: float64(rows)}, nil
}

// fit runs coordinate descent from zero coefficients for one candidate.
func (p *enetProblem) fit(ctx context.Context, c enetSettings) (predictor, error) {
	coef := make([]float64, p.d.cols)
	l1Reg := c.alpha * c.l1Ratio * p.nRows
	l2Reg := c.alpha * (1 - c.l1Ratio) * p.nRows
	if res := enetCoordinateDescent(ctx, coef, l1Reg, l2Reg, p.d, p.gram, enetMaxIter, enetTol); res.stopped != nil {
		return nil, res.stopped
	}
	return linearModel{coef: coef, intercept: interceptFor(coef, p.xMean, p.yMean)}, nil
}

// enetGroupFit fits Lasso or Elastic Net candidates on one training set,
// centring it and computing its Gram matrix once; each fit is the one its
// candidate's own fit makes, bit for bit.
func enetGroupFit(ctx context.Context, cands []candidate, x *mat.Dense, y []float64, _ *searchRows) ([]predictor, error) {
	p, err := newEnetProblem(x, y)
	if err != nil {
		return nil, err
	}
	models := make([]predictor, len(cands))
	for i, c := range cands {
		if models[i], err = p.fit(ctx, c.settings.(enetSettings)); err != nil {
			return nil, err
		}
	}
	return models, nil
}

// lassoSpec is GridSearchCV over Lasso alphas after PolynomialFeatures(2);
// Lasso(alpha) is ElasticNet(alpha, l1_ratio=1) with the same solver.
func lassoSpec() modelSpec {
	alphas := []float64{10, 20, 30, 40, 45, 50, 55, 100, 200, 500}
	grid := make([]candidate, len(alphas))
	for i, a := range alphas {
		grid[i] = candidate{params: []param{{"lasso__alpha", a}}, fit: fitElasticNet(a, 1), group: "lasso", settings: enetSettings{a, 1}}
	}
	return modelSpec{name: "Lasso Regression", poly: true, search: true, grid: grid, fitGroup: enetGroupFit}
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
				params:   []param{{"elasticnet__alpha", a}, {"elasticnet__l1_ratio", r}},
				fit:      fitElasticNet(a, r),
				group:    "enet",
				settings: enetSettings{a, r},
			})
		}
	}
	return modelSpec{name: "Elastic Net", poly: true, search: true, grid: grid, fitGroup: enetGroupFit}
}
