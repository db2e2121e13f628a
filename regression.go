package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// predictor is a fitted single-target regression model.
type predictor interface {
	// predict writes one prediction per row of x into dst (len(dst) == rows).
	predict(x *mat.Dense, dst []float64)
}

// fitter fits a model on the rows of x (samples × features) against y. It
// gives up with stopCause(ctx) once ctx is done; iterative solvers check ctx
// often enough to stop within about 100 ms.
type fitter func(ctx context.Context, x *mat.Dense, y []float64) (predictor, error)

// stopCause is nil while ctx runs, then why it stopped: context.Cause, so a
// fit deadline or a shutdown set as the cause reaches the handler.
func stopCause(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}

// param is one named hyper-parameter of a grid candidate, reported in the
// scikit-learn spelling (for example "ridge__alpha").
type param struct {
	Name  string
	Value any
}

// candidate is one point of a model's parameter grid.
type candidate struct {
	params []param
	fit    fitter
	// fitKey, when not empty, is shared by candidates that fit identical
	// models (they differ only in a parameter the estimator ignores, such
	// as SGD's l1_ratio under the L2 penalty): the search scores the first
	// of them and gives the others the same score.
	fitKey string
	// group, when not empty, names candidates that the spec's fitGroup
	// fits together on one training set, sharing work between them.
	group string
}

// modelSpec says how the calibration fits one model name: whether the
// PolynomialFeatures(2) step comes first, and the candidates a 5-fold grid
// search chooses from (a single candidate without search for plain least
// squares).
type modelSpec struct {
	name   string
	poly   bool
	search bool
	grid   []candidate
	// fitGroup, when set, fits the candidates of one group (in grid order)
	// on the same rows at once and returns one model per candidate, each as
	// the candidate's own fit would be up to the estimator's tolerance; a
	// nil model marks a candidate that could not be fitted.
	fitGroup func(ctx context.Context, cands []candidate, x *mat.Dense, y []float64) ([]predictor, error)
}

// errNotFittable reports data a model cannot be fitted on (too few rows for
// the folds, for example). Handlers answer it with 400.
var errNotFittable = errors.New("model cannot be fitted on these rows")

// standardScaler is scikit-learn's StandardScaler: per column mean and
// population standard deviation, a zero deviation counting as 1.
type standardScaler struct {
	mean, scale []float64
}

// fitStandardScaler computes the mean and scale of each column of x. The
// variance is the mean squared deviation from the column mean (numpy's
// two-pass var), as scikit-learn computes it for dense input.
func fitStandardScaler(x *mat.Dense) standardScaler {
	rows, cols := x.Dims()
	s := standardScaler{mean: make([]float64, cols), scale: make([]float64, cols)}
	for j := 0; j < cols; j++ {
		var sum float64
		for i := 0; i < rows; i++ {
			sum += x.At(i, j)
		}
		m := sum / float64(rows)
		var ss float64
		for i := 0; i < rows; i++ {
			d := x.At(i, j) - m
			ss += d * d
		}
		v := ss / float64(rows)
		sd := math.Sqrt(v)
		// scikit-learn's _is_constant_feature: a variance within rounding
		// noise of zero marks a constant column, whose scale is then 1.
		nf := float64(rows)
		if v <= nf*epsilon*v+(nf*m*epsilon)*(nf*m*epsilon) {
			sd = 1
		}
		s.mean[j], s.scale[j] = m, sd
	}
	return s
}

const epsilon = 2.220446049250313e-16

// transform returns (x − mean) / scale as a new matrix.
func (s standardScaler) transform(x *mat.Dense) *mat.Dense {
	rows, cols := x.Dims()
	out := mat.NewDense(rows, cols, nil)
	for i := 0; i < rows; i++ {
		src, dst := x.RawRowView(i), out.RawRowView(i)
		for j := 0; j < cols; j++ {
			dst[j] = (src[j] - s.mean[j]) / s.scale[j]
		}
	}
	return out
}

// polyFeatures2 is PolynomialFeatures(degree=2, include_bias=True) for two
// input columns a, b: the output columns are 1, a, b, a², ab, b².
func polyFeatures2(x *mat.Dense) *mat.Dense {
	rows, cols := x.Dims()
	if cols != 2 {
		panic(fmt.Sprintf("polyFeatures2: %d columns, want 2", cols))
	}
	out := mat.NewDense(rows, 6, nil)
	for i := 0; i < rows; i++ {
		r := x.RawRowView(i)
		a, b := r[0], r[1]
		copy(out.RawRowView(i), []float64{1, a, b, a * a, a * b, b * b})
	}
	return out
}

// linearModel predicts x·coef + intercept.
type linearModel struct {
	coef      []float64
	intercept float64
}

func (m linearModel) predict(x *mat.Dense, dst []float64) {
	rows, _ := x.Dims()
	for i := 0; i < rows; i++ {
		v := m.intercept
		for j, c := range x.RawRowView(i) {
			v += c * m.coef[j]
		}
		dst[i] = v
	}
}

// centerData subtracts the column means of x and the mean of y, as
// scikit-learn's linear models do before fitting with fit_intercept=True.
// It returns the centred copies and the offsets.
func centerData(x *mat.Dense, y []float64) (xc *mat.Dense, yc []float64, xMean []float64, yMean float64) {
	rows, cols := x.Dims()
	xMean = make([]float64, cols)
	for i := 0; i < rows; i++ {
		for j, v := range x.RawRowView(i) {
			xMean[j] += v
		}
	}
	for j := range xMean {
		xMean[j] /= float64(rows)
	}
	for _, v := range y {
		yMean += v
	}
	yMean /= float64(rows)
	xc = mat.NewDense(rows, cols, nil)
	for i := 0; i < rows; i++ {
		src, dst := x.RawRowView(i), xc.RawRowView(i)
		for j := range src {
			dst[j] = src[j] - xMean[j]
		}
	}
	yc = make([]float64, rows)
	for i, v := range y {
		yc[i] = v - yMean
	}
	return xc, yc, xMean, yMean
}

// interceptFor returns y_mean − x_mean·coef, scikit-learn's _set_intercept.
func interceptFor(coef, xMean []float64, yMean float64) float64 {
	v := yMean
	for j, c := range coef {
		v -= xMean[j] * c
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
		if err := stopCause(ctx); err != nil {
			return nil, err
		}
		rows, cols := x.Dims()
		if rows < 1 {
			return nil, fmt.Errorf("%w: no rows", errNotFittable)
		}
		xc, yc, xMean, yMean := centerData(x, y)
		a := mat.NewSymDense(cols, nil)
		a.SymOuterK(1, xc.T())
		for j := 0; j < cols; j++ {
			a.SetSym(j, j, a.At(j, j)+alpha)
		}
		var b mat.VecDense
		b.MulVec(xc.T(), mat.NewVecDense(rows, yc))
		var chol mat.Cholesky
		var w mat.VecDense
		if chol.Factorize(a) {
			if err := chol.SolveVecTo(&w, &b); err != nil {
				return nil, fmt.Errorf("%w: %v", errNotFittable, err)
			}
		} else if err := w.SolveVec(a, &b); err != nil {
			return nil, fmt.Errorf("%w: %v", errNotFittable, err)
		}
		coef := make([]float64, cols)
		copy(coef, w.RawVector().Data)
		return linearModel{coef: coef, intercept: interceptFor(coef, xMean, yMean)}, nil
	}
}

// r2Score is scikit-learn's r2_score for one target: 1 − SS_res/SS_tot,
// with 1 for a perfect fit of a constant target and 0 for an imperfect one.
func r2Score(yTrue, yPred []float64) float64 {
	var mean float64
	for _, v := range yTrue {
		mean += v
	}
	mean /= float64(len(yTrue))
	var num, den float64
	for i, v := range yTrue {
		d := v - yPred[i]
		num += d * d
		e := v - mean
		den += e * e
	}
	switch {
	case den != 0:
		return 1 - num/den
	case num == 0:
		return 1
	default:
		return 0
	}
}

// kFoldBounds returns the [start, end) test ranges of scikit-learn's
// KFold(n_splits=k, shuffle=False): n/k rows each, the first n%k folds one more.
func kFoldBounds(n, k int) [][2]int {
	out := make([][2]int, k)
	start := 0
	for f := 0; f < k; f++ {
		size := n / k
		if f < n%k {
			size++
		}
		out[f] = [2]int{start, start + size}
		start += size
	}
	return out
}

// selectRows copies the rows of x whose indices are listed.
func selectRows(x *mat.Dense, idx []int) *mat.Dense {
	_, cols := x.Dims()
	out := mat.NewDense(len(idx), cols, nil)
	for i, r := range idx {
		copy(out.RawRowView(i), x.RawRowView(r))
	}
	return out
}

// searchResult is what a grid search chose.
type searchResult struct {
	model  predictor
	best   candidate
	bestCV float64 // mean R² over the folds of the chosen candidate (NaN without search)
}

// gridSearch is GridSearchCV(cv=5) for a regressor: KFold without shuffle,
// the mean R² over the 5 folds per candidate, the first candidate with the
// highest mean wins (rank "min", argmin), then a refit on all rows. A
// candidate whose fit fails on a fold scores NaN and is ranked last, as
// error_score=nan does.
//
// The (candidate group, fold) fits run in parallel on workers lent by
// borrow (nil: one at a time); every score lands in its own slot and the
// means add the folds in order, so the choice is the same however many
// workers ran. Once ctx is done no further fit starts and the search
// returns stopCause(ctx).
func gridSearch(ctx context.Context, spec modelSpec, x *mat.Dense, y []float64, borrow borrower) (searchResult, error) {
	const folds = 5
	grid := spec.grid
	n, _ := x.Dims()
	if len(grid) == 0 {
		return searchResult{}, fmt.Errorf("%w: empty grid", errNotFittable)
	}
	if n < folds {
		return searchResult{}, fmt.Errorf("%w: %d training rows, the 5-fold search needs at least 5", errNotFittable, n)
	}
	type fold struct {
		trainX, testX *mat.Dense
		trainY, testY []float64
	}
	fs := make([]fold, folds)
	for f, b := range kFoldBounds(n, folds) {
		var tr, te []int
		for i := 0; i < n; i++ {
			if i >= b[0] && i < b[1] {
				te = append(te, i)
			} else {
				tr = append(tr, i)
			}
		}
		fs[f] = fold{trainX: selectRows(x, tr), testX: selectRows(x, te), trainY: pick(y, tr), testY: pick(y, te)}
	}
	copies, groups := searchPlan(spec)
	scores := make([][folds]float64, len(grid))
	parallelFor(ctx, len(groups)*folds, borrow, func(task int) {
		members, f := groups[task/folds], fs[task%folds]
		models := make([]predictor, len(members))
		var err error
		if len(members) == 1 {
			models[0], err = grid[members[0]].fit(ctx, f.trainX, f.trainY)
		} else {
			cands := make([]candidate, len(members))
			for i, c := range members {
				cands[i] = grid[c]
			}
			models, err = spec.fitGroup(ctx, cands, f.trainX, f.trainY)
		}
		pred := make([]float64, len(f.testY))
		for i, c := range members {
			if err != nil || models[i] == nil {
				scores[c][task%folds] = math.NaN()
				continue
			}
			models[i].predict(f.testX, pred)
			scores[c][task%folds] = r2Score(f.testY, pred)
		}
	})
	if err := stopCause(ctx); err != nil { // a stopped fit scored NaN: no choice can be made
		return searchResult{}, err
	}
	means := make([]float64, len(grid))
	for c, first := range copies {
		var sum float64
		for _, v := range scores[first] {
			sum += v
		}
		means[c] = sum / folds
	}
	best := -1
	for c, m := range means {
		if math.IsNaN(m) {
			continue
		}
		if best < 0 || m > means[best] {
			best = c
		}
	}
	if best < 0 {
		return searchResult{}, fmt.Errorf("%w: no candidate could be fitted on every fold", errNotFittable)
	}
	model, err := grid[best].fit(ctx, x, y)
	if err != nil {
		return searchResult{}, err
	}
	return searchResult{model: model, best: grid[best], bestCV: means[best]}, nil
}

// searchPlan says which candidates a search fits and how: copies[c] is the
// candidate whose scores c takes (itself, or the first with its fitKey),
// and groups lists the fitted candidates, in grid order, those of one
// group together when the spec can fit groups.
func searchPlan(spec modelSpec) (copies []int, groups [][]int) {
	copies = make([]int, len(spec.grid))
	sameAs := map[string]int{} // fitKey → the candidate fitted for it
	slot := map[string]int{}   // group → its index in groups
	for c, cand := range spec.grid {
		copies[c] = c
		if cand.fitKey != "" {
			if first, ok := sameAs[cand.fitKey]; ok {
				copies[c] = first
				continue
			}
			sameAs[cand.fitKey] = c
		}
		if spec.fitGroup != nil && cand.group != "" {
			if g, ok := slot[cand.group]; ok {
				groups[g] = append(groups[g], c)
				continue
			}
			slot[cand.group] = len(groups)
		}
		groups = append(groups, []int{c})
	}
	return copies, groups
}

// pick returns v[idx[0]], v[idx[1]], ….
func pick(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, r := range idx {
		out[i] = v[r]
	}
	return out
}

// fitModel fits spec on x (already scaled, before any polynomial step): the
// polynomial step if the spec has one, then the single fit or the search.
func fitModel(ctx context.Context, spec modelSpec, x *mat.Dense, y []float64, borrow borrower) (searchResult, error) {
	if spec.poly {
		x = polyFeatures2(x)
	}
	if !spec.search {
		if len(spec.grid) != 1 {
			return searchResult{}, fmt.Errorf("model %q: want one candidate without search", spec.name)
		}
		m, err := spec.grid[0].fit(ctx, x, y)
		if err != nil {
			return searchResult{}, err
		}
		return searchResult{model: m, best: spec.grid[0], bestCV: math.NaN()}, nil
	}
	return gridSearch(ctx, spec, x, y, borrow)
}

// borrower lends an extra worker for parallel model fitting: it returns a
// release function and true when a worker is free right now, false without
// waiting otherwise. The server's borrower takes slots of its computation
// cap, so parallel fits never exceed it.
type borrower func() (release func(), ok bool)

// parallelFor calls fn(0) … fn(n−1), on the calling goroutine and on extra
// workers that borrow lends: at most one per task beyond the first, asked
// for while tasks remain unclaimed. Once ctx is done no further task starts
// (those running finish; fn checks ctx itself to stop sooner).
func parallelFor(ctx context.Context, n int, borrow borrower, fn func(i int)) {
	var next atomic.Int64
	work := func() {
		for ctx.Err() == nil {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			fn(i)
		}
	}
	var wg sync.WaitGroup
	// Each extra worker takes one of the unclaimed tasks beyond the one the
	// caller will take, so extra workers never outnumber n − 1.
	for extra := 0; borrow != nil && extra < n-1-int(next.Load()); extra++ {
		release, ok := borrow()
		if !ok {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			work()
		}()
	}
	work()
	wg.Wait()
}

// predictModel applies a fitted spec to scaled rows.
func predictModel(spec modelSpec, m predictor, x *mat.Dense) []float64 {
	if spec.poly {
		x = polyFeatures2(x)
	}
	rows, _ := x.Dims()
	out := make([]float64, rows)
	m.predict(x, out)
	return out
}

// pairwiseSum is numpy's pairwise summation of a contiguous float64
// array (np.sum, np.mean): plain accumulation below 8 values, eight
// interleaved partial sums up to 128 values, and recursive halving (at a
// multiple of 8) above that.
func pairwiseSum(v []float64) float64 {
	n := len(v)
	switch {
	case n < 8:
		var s float64
		for _, x := range v {
			s += x
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], v[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := 0; j < 8; j++ {
				r[j] += v[i+j]
			}
		}
		s := (r[0] + r[1]) + (r[2] + r[3]) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += v[i]
		}
		return s
	default:
		half := n / 2
		half -= half % 8
		return pairwiseSum(v[:half]) + pairwiseSum(v[half:])
	}
}
