package main

// SGD Regressor: scikit-learn 1.2.1's SGDRegressor with the service's grid
// and its defaults otherwise (loss squared_error, penalty "l2",
// fit_intercept, learning_rate "invscaling" with power_t 0.25, shuffle each
// epoch, tol 1e-3, n_iter_no_change 5 on the training loss, no early
// stopping, no averaging).
//
// Exact parity with scikit-learn is impossible here: the Python service does
// not seed SGDRegressor, so its shuffles (and results) change from run to
// run, and scikit-learn's shuffles come from its own rand_r stream while ours
// come from a fixed-seed math/rand/v2 PCG. Ours is deterministic: the same
// request always gives the same answer.

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// sgdSeed seeds the epoch shuffles of every SGD fit.
const sgdSeed uint64 = 0xbb67ae8584caa73b

// sgdSpec is GridSearchCV over SGDRegressor after PolynomialFeatures(2). The
// candidates follow ParameterGrid order: keys sorted (alpha, eta0, l1_ratio,
// max_iter), the last varying fastest. With penalty "l2" and our fixed shuffle
// seed the four l1_ratio candidates of an (alpha, eta0) pair fit identically,
// so the search, taking the first of equal scores, always reports l1_ratio
// 0.5 (scikit-learn's unseeded fits differ by their shuffles only).
func sgdSpec() modelSpec {
	var grid []candidate
	for _, alpha := range []float64{1e-4, 1e-3} {
		for _, eta0 := range []float64{1e-4, 1e-3} {
			for _, l1Ratio := range []float64{0.5, 0.7, 0.8, 1} {
				for _, maxIter := range []int{1000} {
					p := sgdParams{alpha: alpha, eta0: eta0, l1Ratio: l1Ratio, maxIter: maxIter}
					grid = append(grid, candidate{
						params: []param{
							{"sgdregressor__alpha", alpha},
							{"sgdregressor__eta0", eta0},
							{"sgdregressor__l1_ratio", l1Ratio},
							{"sgdregressor__max_iter", maxIter},
						},
						fit:      p.fitter(),
						settings: p,
						// l1_ratio is ignored under the L2 penalty, as in scikit-learn
						fitKey: fmt.Sprintf("alpha=%g eta0=%g max_iter=%d", alpha, eta0, maxIter),
						group:  "sgd", // all fitted together, in lockstep
					})
				}
			}
		}
	}
	return modelSpec{name: "SGD Regressor", poly: true, search: true, grid: grid, fitGroup: sgdGroupFit}
}

// sgdParams are the searched hyper-parameters of one SGDRegressor.
type sgdParams struct {
	alpha   float64 // L2 penalty strength
	eta0    float64 // initial learning rate
	l1Ratio float64 // accepted but unused: it only matters for penalty "elasticnet"
	maxIter int     // epochs at most
}

// scikit-learn's fixed SGDRegressor settings that the grid does not touch.
const (
	sgdTol           = 1e-3 // an epoch improves when its loss sum drops by more than tol·n
	sgdNoChangeLimit = 5    // n_iter_no_change
	sgdMaxDLoss      = 1e12 // MAX_DLOSS: the gradient is clipped to ±this
)

// fitter returns the fitter of one SGDRegressor.
func (p sgdParams) fitter() fitter {
	return func(ctx context.Context, x *mat.Dense, y []float64) (predictor, error) {
		m, _, err := fitSGD(ctx, p, x, y)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
}

// fitSGD is scikit-learn's _plain_sgd for SGDRegressor on dense data:
// weights and intercept start at 0 and t at 1; each epoch shuffles the rows,
// then per row computes p = w·x + b, η = eta0 / t^0.25, adds the squared loss
// ½(p − y)² to the epoch's sum, shrinks w by max(0, 1 − (1 − l1_ratio)·η·α)
// with l1_ratio forced to 0 because the penalty is "l2" (so the grid's
// l1_ratio changes nothing, exactly as in scikit-learn), then steps
// w += −η·(p − y)·x and b += −η·(p − y) (intercept_decay 1). After an epoch
// the fit fails if a weight overflowed; an epoch whose loss sum is not below
// best_loss − tol·n counts towards n_iter_no_change, any other resets the
// count, and 5 in a row stop the fit (else max_iter epochs). It also returns
// the number of epochs run, scikit-learn's n_iter_. Once ctx is done it
// returns stopCause(ctx) after the current epoch.
func fitSGD(ctx context.Context, p sgdParams, x *mat.Dense, y []float64) (linearModel, int, error) {
	fits, err := fitSGDTogether(ctx, []sgdParams{p}, x, y)
	if err != nil {
		return linearModel{}, 0, err
	}
	return fits[0].model, fits[0].epochs, fits[0].err
}

// sgdFit is the outcome of one SGD fit.
type sgdFit struct {
	model  linearModel
	epochs int
	err    error
}

// sgdWidth is the most columns an SGD fit takes: PolynomialFeatures(2) of
// the two iris columns (1, a, b, a², ab, b²). Narrower rows are padded with
// zeros, which leave their weights at 0 and every sum unchanged.
const sgdWidth = 6

// fitSGDTogether runs fitSGD for several parameter sets on the same rows in
// lockstep: the epochs' shuffles depend only on the rows, so every fit sees
// the same order, and each fit's arithmetic is exactly that of fitting it
// alone. The fits go two to a pair (sgdEpoch updates both lanes of a pair
// with one packed instruction on amd64), and independent pairs let the
// processor overlap their dependency chains. The error is for input no fit
// can use; a fit that overflows carries its own; a stopped ctx ends every
// fit with stopCause(ctx) as the error (checked once per epoch).
func fitSGDTogether(ctx context.Context, ps []sgdParams, x *mat.Dense, y []float64) ([]sgdFit, error) {
	rows, cols := x.Dims()
	if rows < 1 {
		return nil, fmt.Errorf("%w: SGD on no rows", errNotFittable)
	}
	if len(y) != rows {
		return nil, fmt.Errorf("SGD: %d targets for %d rows", len(y), rows)
	}
	if cols > sgdWidth {
		return nil, fmt.Errorf("SGD: %d columns, at most %d", cols, sgdWidth)
	}
	maxIter := 0
	for _, p := range ps {
		if p.maxIter < 1 || p.eta0 <= 0 || p.alpha < 0 {
			return nil, fmt.Errorf("SGD: invalid parameters %+v", p)
		}
		maxIter = max(maxIter, p.maxIter)
	}
	raw := x.RawMatrix()
	for i := 0; i < rows; i++ {
		if !allFiniteValues(raw.Data[i*raw.Stride:i*raw.Stride+cols]) || !allFiniteValues(y[i:i+1]) {
			return nil, fmt.Errorf("%w: row %d is not finite", errNotFittable, i)
		}
	}
	data := make([][sgdWidth]float64, rows) // the rows, zero-padded to sgdWidth
	for i := range data {
		copy(data[i][:], raw.Data[i*raw.Stride:i*raw.Stride+cols])
	}
	fits := make([]sgdFit, len(ps))
	states := make([]sgdState, len(ps))
	pairs := make([]sgdPair, (len(ps)+1)/2) // fit m is lane m%2 of pair m/2; a spare lane stays idle
	for m, p := range ps {
		states[m] = sgdState{p: p, fit: &fits[m], bestLoss: math.Inf(1), pair: m / 2, lane: m % 2}
		pairs[m/2].eta0[m%2], pairs[m/2].alpha[m%2] = p.eta0, p.alpha
	}
	active := len(ps)
	order := make([]int32, rows)
	for i := range order {
		order[i] = int32(i)
	}
	shuffler := rand.NewPCG(sgdSeed, uint64(rows))
	t := 1.0
	for epoch := 1; epoch <= maxIter && active > 0; epoch++ {
		if err := stopCause(ctx); err != nil {
			return nil, err
		}
		shuffleIndices(order, shuffler)
		for p := range pairs {
			pairs[p].loss = [2]float64{}
		}
		t = sgdEpoch(pairs, order, data, y, t)
		for m := range states {
			if st := &states[m]; !st.done && st.endEpoch(epoch, rows, cols, &pairs[st.pair]) {
				active--
			}
		}
	}
	return fits, nil
}

// sgdState is the bookkeeping of one fit of fitSGDTogether between epochs;
// its weights, intercept and loss sum are its lane of pairs[pair].
type sgdState struct {
	p             sgdParams
	pair, lane    int
	bestLoss      float64
	noImprovement int     // epochs in a row without improvement
	done          bool    // stopped: its lane is idle
	fit           *sgdFit // where the outcome goes
}

// endEpoch is _plain_sgd's end-of-epoch bookkeeping for one fit, whose
// lane of pair holds its state: it stops the fit after max_iter epochs, on
// overflow (fit.err), or after n_iter_no_change epochs whose loss sum did
// not fall below best_loss − tol·rows, and then sets fit.model (its first
// cols weights) and idles its lane. It reports whether the fit stopped.
func (st *sgdState) endEpoch(epoch, rows, cols int, pair *sgdPair) bool {
	l, fit := st.lane, st.fit
	fit.epochs = epoch
	stop := epoch >= st.p.maxIter
	w := make([]float64, cols)
	for j := range w {
		w[j] = pair.w[j][l]
	}
	if !isFinite(pair.b[l]) || !allFiniteValues(w) {
		fit.err = fmt.Errorf("%w: SGD overflowed at epoch %d; scaling the input may help", errNotFittable, epoch)
		stop = true
	}
	sumLoss := pair.loss[l]
	if sumLoss > st.bestLoss-sgdTol*float64(rows) {
		st.noImprovement++
	} else {
		st.noImprovement = 0
	}
	st.bestLoss = math.Min(st.bestLoss, sumLoss)
	if st.noImprovement >= sgdNoChangeLimit {
		stop = true
	}
	if stop {
		if fit.err == nil {
			fit.model = linearModel{coef: w, intercept: pair.b[l]}
		}
		st.done = true
		for j := range pair.w {
			pair.w[j][l] = 0
		}
		pair.b[l], pair.eta0[l], pair.alpha[l] = 0, 0, 0
	}
	return stop
}

// sgdGroupFit fits the SGD candidates of one group together (the spec's
// fitGroup); a candidate that overflows gets a nil model.
func sgdGroupFit(ctx context.Context, cands []candidate, x *mat.Dense, y []float64, _ *searchRows) ([]predictor, error) {
	ps, err := candidateSettings[sgdParams](cands)
	if err != nil {
		return nil, err
	}
	fits, err := fitSGDTogether(ctx, ps, x, y)
	if err != nil {
		return nil, err
	}
	out := make([]predictor, len(fits))
	for i, f := range fits {
		if f.err == nil {
			out[i] = f.model
		}
	}
	return out, nil
}

// shuffleIndices is a Fisher–Yates shuffle drawing from pcg (Lemire's
// multiply-and-reject bounded integers, so every order is equally likely).
func shuffleIndices(order []int32, pcg *rand.PCG) {
	for i := len(order) - 1; i > 0; i-- {
		j := boundedPCG(pcg, uint64(i+1))
		order[i], order[j] = order[j], order[i]
	}
}

// boundedPCG returns a uniform integer in [0, n), n > 0.
func boundedPCG(pcg *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(pcg.Uint64(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(pcg.Uint64(), n)
		}
	}
	return hi
}
