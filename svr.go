package main

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// svrSpec is GridSearchCV over SVR(kernel="rbf") after PolynomialFeatures(2):
// C ∈ {50, 100, 200, 500, 1000, 2000} × gamma ∈ {0.1, 0.5, 1, 2, 5}, in
// scikit-learn's ParameterGrid order (keys sorted: C outer, gamma, kernel).
func svrSpec() modelSpec {
	cs := []float64{50, 100, 200, 500, 1000, 2000}
	gammas := []float64{0.1, 0.5, 1, 2, 5}
	grid := make([]candidate, 0, len(cs)*len(gammas))
	for _, c := range cs {
		for _, g := range gammas {
			cfg := svrConfig{c: c, gamma: g, epsilon: 0.1, tol: 1e-3}
			grid = append(grid, candidate{
				params: []param{{"svr__C", c}, {"svr__gamma", g}, {"svr__kernel", "rbf"}},
				fit:    cfg.fit,
				group:  fmt.Sprintf("gamma=%g", g), // C rises within a gamma in grid order
			})
		}
	}
	return modelSpec{name: "Support Vector Regressor", poly: true, search: true, grid: grid, fitGroup: svrGroupFit}
}

// svrConfig holds the hyper-parameters of scikit-learn's SVR with the RBF
// kernel: C, gamma, epsilon (libsvm's p) and the stopping tolerance.
type svrConfig struct {
	c, gamma, epsilon, tol float64
}

// svrModel is a fitted epsilon-SVR: prediction = Σ coef_k·K(sv_k, x) − rho.
// The support vectors are kept column by column, only in the columns that
// vary over the training rows; the others hold one training value each.
type svrModel struct {
	gamma   float64
	cols    svrColumns
	svByCol []float64 // len(cols.varying) columns of len(coef) values
	coef    []float64
	rho     float64
	exp     *expTable
}

// predict evaluates libsvm's svm_predict for epsilon-SVR with the dense RBF
// k_function, exp(−gamma·Σ(x_d − sv_d)²), summed over the support vectors in
// training order.
func (m svrModel) predict(x *mat.Dense, dst []float64) {
	rows, _ := x.Dims()
	nsv := len(m.coef)
	arg := make([]float64, nsv)
	point := make([]float64, len(m.cols.varying))
	for i := 0; i < rows; i++ {
		row := x.RawRowView(i)
		var offset float64 // the columns constant in training
		for k, c := range m.cols.constant {
			d := row[c] - m.cols.value[k]
			offset += d * d
		}
		for k, c := range m.cols.varying {
			point[k] = row[c]
		}
		negScaledDistances(arg, point, m.svByCol, nsv, offset, m.gamma)
		m.exp.apply(arg)
		var sum float64
		for k, e := range arg {
			sum += m.coef[k] * e
		}
		dst[i] = sum - m.rho
	}
}

// svrColumns splits the feature columns into those that vary over the
// training rows and those that hold one value (the polynomial step's
// bias), which add nothing to the distance between training rows.
type svrColumns struct {
	varying, constant []int
	value             []float64 // the constant columns' value
}

func splitColumns(x *mat.Dense) svrColumns {
	n, cols := x.Dims()
	var out svrColumns
	for c := 0; c < cols; c++ {
		first := x.At(0, c)
		varies := false
		for i := 1; i < n && !varies; i++ {
			varies = x.At(i, c) != first
		}
		if varies {
			out.varying = append(out.varying, c)
		} else {
			out.constant = append(out.constant, c)
			out.value = append(out.value, first)
		}
	}
	return out
}

// byColumn copies the given columns of the listed rows (all rows when
// rows is nil) column-major: column k at [k·len(rows), (k+1)·len(rows)).
func byColumn(x *mat.Dense, cols []int, rows []int) []float64 {
	n, _ := x.Dims()
	if rows == nil {
		rows = make([]int, n)
		for i := range rows {
			rows[i] = i
		}
	}
	out := make([]float64, len(cols)*len(rows))
	for k, c := range cols {
		for j, r := range rows {
			out[k*len(rows)+j] = x.At(r, c)
		}
	}
	return out
}

// negScaledDistances sets out[j] = −gamma·(offset + Σ_k (p_k − x_kj)²) for
// the points x_j stored column-major in byCol (stride values per column),
// two columns per pass.
func negScaledDistances(out, p, byCol []float64, stride int, offset, gamma float64) {
	for j := range out {
		out[j] = offset
	}
	k := 0
	for ; k+2 <= len(p); k += 2 {
		col0, col1 := byCol[k*stride:][:len(out)], byCol[(k+1)*stride:][:len(out)]
		v0, v1 := p[k], p[k+1]
		for j := range out {
			t0, t1 := v0-col0[j], v1-col1[j]
			out[j] += t0*t0 + t1*t1
		}
	}
	if k < len(p) {
		col0, v0 := byCol[k*stride:][:len(out)], p[k]
		for j := range out {
			t0 := v0 - col0[j]
			out[j] = (out[j] + t0*t0) * -gamma
		}
		return
	}
	for j := range out {
		out[j] *= -gamma
	}
}

// svrMaxIter bounds the solver as upstream libsvm does (scikit-learn's
// max_iter=-1 sets no bound; the bound only guards against cycling).
func svrMaxIter(l int) int {
	return max(10_000_000, 100*l)
}

// fit is scikit-learn's SVR.fit (libsvm solve_epsilon_svr): the kernel
// matrix on the rows of x, the 2l-variable dual solved to libsvm's stopping
// rule, then the support vectors (coef = alpha − alpha* ≠ 0) in row order.
func (cfg svrConfig) fit(ctx context.Context, x *mat.Dense, y []float64) (predictor, error) {
	if err := checkSVRInput(x, y); err != nil {
		return nil, err
	}
	exp := newExpTable()
	cols := splitColumns(x)
	k, err := rbfKernelMatrix(ctx, x, cols, cfg.gamma, exp)
	if err != nil {
		return nil, err
	}
	s := newSVRDual(k, y, cfg)
	if err := s.solve(ctx); err != nil {
		return nil, err
	}
	return s.model(x, cols, cfg.gamma, exp), nil
}

// checkSVRInput refuses data an SVR cannot be fitted on.
func checkSVRInput(x *mat.Dense, y []float64) error {
	n, _ := x.Dims()
	if n < 1 || len(y) != n {
		return fmt.Errorf("%w: SVR needs at least one row and one target per row", errNotFittable)
	}
	for i := 0; i < n; i++ {
		for _, v := range x.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: non-finite feature value", errNotFittable)
			}
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return fmt.Errorf("%w: non-finite target value", errNotFittable)
		}
	}
	return nil
}

// model is the fitted SVR of a solved dual on the training rows x: the
// rows with a non-zero coefficient, in row order.
func (s *svrDual) model(x *mat.Dense, cols svrColumns, gamma float64, exp *expTable) svrModel {
	m := svrModel{gamma: gamma, cols: cols, rho: s.rho, exp: exp}
	var svs []int
	for k, c := range s.coefs() {
		if c != 0 {
			svs = append(svs, k)
			m.coef = append(m.coef, c)
		}
	}
	m.svByCol = byColumn(x, cols.varying, svs)
	return m
}

// expTable is exp(x) by the table method (Tang 1989): x = (64·m + j)·ln2/64
// + r with |r| ≤ ln2/128, exp(x) = 2^m · 2^(j/64) · p(r), p the degree-4
// Taylor polynomial in Estrin's form (relative error about 1e-13, far
// below the kernel's single-precision rounding). It is built per fit, so
// nothing is shared between requests.
type expTable struct {
	pow [64]uint64 // bits of 2^(j/64)
}

func newExpTable() *expTable {
	t := &expTable{}
	for j := range t.pow {
		t.pow[j] = math.Float64bits(math.Exp2(float64(j) / 64))
	}
	return t
}

// apply replaces every v (expected ≤ 0, as −gamma·d² is) with exp(v);
// arguments below −700 count as −700 (exp ≈ 1e-304).
func (t *expTable) apply(v []float64) {
	const (
		shift    = 0x1.8p52 // adding it rounds to an integer kept in the low bits
		shiftBit = 0x4338000000000000
		inv      = 64 / math.Ln2
		ln2      = math.Ln2 / 64
	)
	for i, x := range v {
		if x < -700 {
			x = -700
		}
		kd := x*inv + shift
		k := int64(math.Float64bits(kd)) - shiftBit
		kd -= shift
		r := x - kd*ln2
		r2 := r * r
		p := (1 + r) + r2*((1.0/2+r*(1.0/6))+r2*(1.0/24))
		v[i] = math.Float64frombits(t.pow[k&63]+uint64(k>>6)<<52) * p
	}
}

// rbfKernelMatrix is libsvm's training kernel for RBF, exp(−gamma·‖x_i −
// x_j‖²), kept like libsvm's kernel cache in single precision (Qfloat).
// All rows are computed at once (nearly every row is a support vector
// here), the lower triangle mirrored into the upper one. Columns that are
// the same in every row (the polynomial step's bias) add nothing to the
// distances and are skipped. Once ctx is done it returns stopCause(ctx)
// (checked every 64 rows).
func rbfKernelMatrix(ctx context.Context, x *mat.Dense, cols svrColumns, gamma float64, exp *expTable) (svrKernel, error) {
	n, _ := x.Dims()
	byCol := byColumn(x, cols.varying, nil)
	k := svrKernel{n: n, data: make([]float32, n*n)}
	arg := make([]float64, n)
	point := make([]float64, len(cols.varying))
	for i := 0; i < n; i++ {
		if i%64 == 0 {
			if err := stopCause(ctx); err != nil {
				return svrKernel{}, err
			}
		}
		for c := range point {
			point[c] = byCol[c*n+i]
		}
		d2 := arg[:i]
		negScaledDistances(d2, point, byCol, n, 0, gamma)
		exp.apply(d2)
		row := k.data[i*n : i*n+i]
		for j, v := range d2 {
			row[j] = float32(v)
		}
		k.data[i*n+i] = 1
	}
	// Mirror the lower triangle into the upper one, in tiles that keep
	// both the rows read and the rows written in cache.
	const tile = 16
	for i0 := 0; i0 < n; i0 += tile {
		for j0 := 0; j0 <= i0; j0 += tile {
			for i := i0; i < min(i0+tile, n); i++ {
				row := k.data[i*n : i*n+i]
				for j := j0; j < min(j0+tile, i); j++ {
					k.data[j*n+i] = row[j]
				}
			}
		}
	}
	return k, nil
}

// svrKernel is an n×n kernel matrix, row-major, in single precision as
// libsvm's kernel cache keeps it.
type svrKernel struct {
	n    int
	data []float32
}

func (k svrKernel) row(i int) []float32 {
	return k.data[i*k.n : (i+1)*k.n]
}

// swap exchanges rows p and q and columns p and q.
func (k svrKernel) swap(p, q int) {
	rp, rq := k.row(p), k.row(q)
	for c := range rp {
		rp[c], rq[c] = rq[c], rp[c]
	}
	for r := 0; r < k.n; r++ {
		row := k.row(r)
		row[p], row[q] = row[q], row[p]
	}
}

// svrDual is the epsilon-SVR dual of libsvm's solve_epsilon_svr, 2n
// variables: alpha_r (y = +1, linear term epsilon − t_r) and alpha*_r
// (y = −1, linear term epsilon + t_r), Q = y_k·y_l·K(k mod n, l mod n),
// minimised subject to 0 ≤ alpha ≤ C and Σ alpha − Σ alpha* = 0.
//
// Both variables of a row see the same g_r = Σ_k K_rk·beta_k − t_r, with
// beta = alpha − alpha*: y·G is g_r + epsilon for alpha_r and g_r −
// epsilon for alpha*_r, so the solver keeps n gradients instead of 2n, and
// a row is in I_up (resp. I_low) through the better of its two variables.
//
// It is solved to libsvm's stopping rule — the maximal violating pair
// (max over I_up of −y·G plus max over I_low of y·G) below tol — by SMO with
// libsvm's second-order working-set selection (WSS3, Fan, Chen & Lin 2005)
// and shrinking, interleaved with Newton steps on the free variables (the
// minimum over the face of the box they lie on, cut back to stay in it)
// whenever SMO has run a while without any variable reaching or leaving a
// bound. The result satisfies libsvm's optimality bound, so the fitted
// function agrees with libsvm's to within that tolerance, though the path
// differs.
//
// Rows are kept in solver positions q (row[q] is the data row), the active
// (not shrunk) ones first; the kernel matrix is permuted along with them,
// rows and columns, so every pass runs over a contiguous prefix.
type svrDual struct {
	n           int
	k           svrKernel
	c, eps, tol float64
	row         []int     // data row at position q
	t           []float64 // target at position q
	alpha       []float64 // alpha at q, alpha* at n + q
	g           []float64 // Σ_k K·beta_k − t at q (valid for the active positions)
	upOff       []float64 // upOff − g is −y·G of the position's best I_up variable (−Inf: none)
	lowOff      []float64 // g + lowOff is y·G of its best I_low variable (−Inf: none)
	active      int
	unshrunk    bool
	rho         float64
	iter        int
	timedOut    bool
	stable      int // SMO steps since a variable last reached or left a bound
	// nextGmax and nextGmaxPos are the I_up maximum found while the last
	// step updated g.
	nextGmax    float64
	nextGmaxPos int
	ws          newtonWork
}

// newtonWork is the Newton step's scratch space, reused between steps.
type newtonWork struct {
	// free lists the positions in the factorization, with the sign of
	// their beta and whether Cholesky kept them; slot is the inverse map
	// (−1 for positions not listed).
	free         []int
	sign         []float64
	kept         []bool
	slot         []int
	chol         []float64 // L of K_FF, row-major with stride stride
	stride       int
	u, v, dir    []float64
	rhs          []float64
	beta         []float64
	calls        int
	gFree, moved []float64
	movedList    []int
}

func newSVRDual(k svrKernel, t []float64, cfg svrConfig) *svrDual {
	n := k.n
	s := &svrDual{
		n: n, k: k, c: cfg.c, eps: cfg.epsilon, tol: cfg.tol,
		row: make([]int, n), t: make([]float64, n),
		alpha: make([]float64, 2*n), g: make([]float64, n),
		upOff: make([]float64, n), lowOff: make([]float64, n),
		active: n,
	}
	for q := 0; q < n; q++ {
		s.row[q] = q
		s.t[q] = t[q]
		s.g[q] = -t[q]
		s.updateStatus(q)
	}
	return s
}

// coefs returns beta_r = alpha_r − alpha*_r per data row, libsvm's dual
// coefficients.
func (s *svrDual) coefs() []float64 {
	out := make([]float64, s.n)
	for q, r := range s.row {
		out[r] = s.alpha[q] - s.alpha[s.n+q]
	}
	return out
}

// updateStatus refreshes position q's I_up and I_low offsets: alpha is in
// I_up below C and in I_low above 0; alpha* (y = −1) the other way round.
// Of two candidates the one with the larger y·G (resp. −y·G) is kept.
func (s *svrDual) updateStatus(q int) {
	a, as := s.alpha[q], s.alpha[s.n+q]
	switch {
	case as > 0: // −y·G of alpha*: −g + eps
		s.upOff[q] = s.eps
	case a < s.c: // −y·G of alpha: −g − eps
		s.upOff[q] = -s.eps
	default:
		s.upOff[q] = math.Inf(-1)
	}
	switch {
	case a > 0: // y·G of alpha: g + eps
		s.lowOff[q] = s.eps
	case as < s.c: // y·G of alpha*: g − eps
		s.lowOff[q] = -s.eps
	default:
		s.lowOff[q] = math.Inf(-1)
	}
}

// Tuning of the solver, measured on the golden recordings' grids.
const (
	// svrShrinkEvery is the number of SMO steps between shrinking passes
	// (libsvm shrinks every min(2n, 1000); here the problems are small and
	// most variables end at a bound, so more often pays).
	svrShrinkEvery = 50
	// svrNewtonAfter is the number of SMO steps without any variable
	// reaching or leaving a bound after which a Newton step is taken.
	svrNewtonAfter = 10
	// svrNewtonRounds bounds the cut-back Newton steps of one call.
	svrNewtonRounds = 16
	// svrRefactorEvery is the number of Newton calls between factoring
	// K_FF from scratch (in between it is updated).
	svrRefactorEvery = 8
	// svrOverRelax scales every SMO step (successive over-relaxation):
	// any factor in (0, 2) keeps each step a strict descent of the dual,
	// and 1.4 took fewer steps than libsvm's 1 on the golden grids.
	svrOverRelax = 1.4
)

// svrCheckEvery is how many SMO steps pass between checks of the fit's ctx
// (a step costs O(active rows): about 10 ms for 1024 steps on 16,000 rows).
const svrCheckEvery = 1024

// solve runs Solver::Solve's loop (shrinking, the gradient reconstructed
// before the final check) with the Newton steps, then sets rho. Once ctx
// is done it returns stopCause(ctx), leaving the dual unsolved.
func (s *svrDual) solve(ctx context.Context) error {
	maxIter := svrMaxIter(2 * s.n)
	counter := svrShrinkEvery + 1
	haveGmax := false
	for {
		if s.iter%svrCheckEvery == 0 {
			if err := stopCause(ctx); err != nil {
				return err
			}
		}
		if s.iter >= maxIter {
			s.timedOut = true
			break
		}
		counter--
		if counter == 0 {
			counter = svrShrinkEvery
			s.shrink()
			haveGmax = false
		}
		if s.stable >= svrNewtonAfter {
			s.newton()
			s.stable = 0
			haveGmax = false
		}
		i, j, ok := s.selectWorkingSet(haveGmax)
		if !ok {
			s.reconstructGradient()
			s.active = s.n
			if i, j, ok = s.selectWorkingSet(false); !ok {
				break
			}
			counter = 1
		}
		s.iter++
		s.step(i, j)
		haveGmax = true
	}
	s.rho = s.calculateRho()
	return nil
}

// selectWorkingSet is libsvm's WSS3 over the active positions: i maximises
// −y_i·G_i over I_up, j minimises −(G_max + y_j·G_j)²/(QD_i + QD_j −
// 2K_ij) over I_low among those that violate the optimality with i. It
// returns variables (q for alpha, n + q for alpha*); ok is false when the
// maximal violation is below tol or no j exists.
func (s *svrDual) selectWorkingSet(haveGmax bool) (int, int, bool) {
	act := s.active
	g := s.g[:act]
	gmax, gi := math.Inf(-1), -1
	if haveGmax {
		gmax, gi = s.nextGmax, s.nextGmaxPos
	} else {
		for q, off := range s.upOff[:act] {
			if v := off - g[q]; v >= gmax {
				gmax, gi = v, q
			}
		}
	}
	if gi < 0 || math.IsInf(gmax, -1) {
		return 0, 0, false
	}
	ki := s.k.row(gi)[:act]
	gmax2 := math.Inf(-1)
	gj := -1
	// WSS3 maximises diff²/quad over diff > 0, compared as products to
	// avoid dividing.
	bestNum, bestQuad := 0.0, 1.0
	for q, off := range s.lowOff[:act] {
		v := g[q] + off
		if v > gmax2 {
			gmax2 = v
		}
		if diff := gmax + v; diff > 0 {
			quad := 2 - 2*float64(ki[q])
			if quad <= 0 {
				quad = 1e-12
			}
			if num := diff * diff; num*bestQuad > bestNum*quad {
				gj, bestNum, bestQuad = q, num, quad
			}
		}
	}
	if gmax+gmax2 < s.tol || gj < 0 {
		return 0, 0, false
	}
	i := gi
	if s.upOff[gi] == s.eps {
		i += s.n // alpha*
	}
	j := gj
	if s.lowOff[gj] != s.eps {
		j += s.n
	}
	return i, j, true
}

// step is one SMO update of the variables i and j: libsvm's analytic
// two-variable solution (over-relaxed by svrOverRelax) clipped to the box,
// then the gradient update over the active positions, which also finds the
// next I_up maximum.
func (s *svrDual) step(i, j int) {
	n := s.n
	qi, qj := i%n, j%n
	yi, yj := 1.0, 1.0
	if i >= n {
		yi = -1
	}
	if j >= n {
		yj = -1
	}
	// libsvm's G = y·(y·G), y·G being g ± eps.
	gi := yi * (s.g[qi] + yi*s.eps)
	gj := yj * (s.g[qj] + yj*s.eps)
	c := s.c
	alpha := s.alpha
	oldAi, oldAj := alpha[i], alpha[j]
	ki, kj := s.k.row(qi), s.k.row(qj)
	quad := 2 - 2*float64(ki[qj]) // QD_i + QD_j ∓ 2Q_ij, the RBF diagonal being 1
	if quad <= 0 {
		quad = 1e-12
	}
	if yi != yj {
		delta := svrOverRelax * (-gi - gj) / quad
		diff := alpha[i] - alpha[j]
		alpha[i] += delta
		alpha[j] += delta
		if diff > 0 {
			if alpha[j] < 0 {
				alpha[j] = 0
				alpha[i] = diff
			}
		} else if alpha[i] < 0 {
			alpha[i] = 0
			alpha[j] = -diff
		}
		if diff > 0 {
			if alpha[i] > c {
				alpha[i] = c
				alpha[j] = c - diff
			}
		} else if alpha[j] > c {
			alpha[j] = c
			alpha[i] = c + diff
		}
	} else {
		delta := svrOverRelax * (gi - gj) / quad
		sum := alpha[i] + alpha[j]
		alpha[i] -= delta
		alpha[j] += delta
		if sum > c {
			if alpha[i] > c {
				alpha[i] = c
				alpha[j] = sum - c
			}
		} else if alpha[j] < 0 {
			alpha[j] = 0
			alpha[i] = sum
		}
		if sum > c {
			if alpha[j] > c {
				alpha[j] = c
				alpha[i] = sum - c
			}
		} else if alpha[i] < 0 {
			alpha[i] = 0
			alpha[j] = sum
		}
	}
	dbi := yi * (alpha[i] - oldAi)
	dbj := yj * (alpha[j] - oldAj)
	ui, li, uj, lj := s.upOff[qi], s.lowOff[qi], s.upOff[qj], s.lowOff[qj]
	s.updateStatus(qi)
	s.updateStatus(qj)
	if ui != s.upOff[qi] || li != s.lowOff[qi] || uj != s.upOff[qj] || lj != s.lowOff[qj] {
		s.stable = 0
	} else {
		s.stable++
	}
	act := s.active
	g, up := s.g[:act], s.upOff[:act]
	ki, kj = ki[:act], kj[:act]
	gmax, gmaxPos := math.Inf(-1), -1
	for q := range g {
		v := g[q] + (float64(ki[q])*dbi + float64(kj[q])*dbj)
		g[q] = v
		if w := up[q] - v; w >= gmax {
			gmax, gmaxPos = w, q
		}
	}
	s.nextGmax, s.nextGmaxPos = gmax, gmaxPos
}

// shrinkable is libsvm's be_shrunk for both variables of position q: none
// is free, and none can form a violating pair under the current extremes
// gmax1 (over I_up) and gmax2 (over I_low).
func (s *svrDual) shrinkable(q int, gmax1, gmax2 float64) bool {
	return s.upOff[q]-s.g[q] < -gmax2 && s.g[q]+s.lowOff[q] < -gmax1
}

// shrink is libsvm's do_shrinking: unshrink once when the violation falls
// below 10·tol, then move the shrinkable positions behind the active ones.
func (s *svrDual) shrink() {
	gmax1, gmax2 := math.Inf(-1), math.Inf(-1)
	for q, g := range s.g[:s.active] {
		gmax1 = max(gmax1, s.upOff[q]-g)
		gmax2 = max(gmax2, g+s.lowOff[q])
	}
	if !s.unshrunk && gmax1+gmax2 <= s.tol*10 {
		s.unshrunk = true
		s.reconstructGradient()
		s.active = s.n
	}
	for q := 0; q < s.active; q++ {
		if !s.shrinkable(q, gmax1, gmax2) {
			continue
		}
		s.active--
		for s.active > q {
			if !s.shrinkable(s.active, gmax1, gmax2) {
				s.swap(q, s.active)
				break
			}
			s.active--
		}
	}
}

// swap exchanges two solver positions.
func (s *svrDual) swap(p, q int) {
	n := s.n
	s.row[p], s.row[q] = s.row[q], s.row[p]
	s.t[p], s.t[q] = s.t[q], s.t[p]
	s.alpha[p], s.alpha[q] = s.alpha[q], s.alpha[p]
	s.alpha[n+p], s.alpha[n+q] = s.alpha[n+q], s.alpha[n+p]
	s.g[p], s.g[q] = s.g[q], s.g[p]
	s.upOff[p], s.upOff[q] = s.upOff[q], s.upOff[p]
	s.lowOff[p], s.lowOff[q] = s.lowOff[q], s.lowOff[p]
	s.k.swap(p, q)
	if ws := &s.ws; ws.slot != nil {
		sp, sq := ws.slot[p], ws.slot[q]
		if sp >= 0 {
			ws.free[sp] = q
		}
		if sq >= 0 {
			ws.free[sq] = p
		}
		ws.slot[p], ws.slot[q] = sq, sp
	}
}

// reconstructGradient recomputes g at the shrunk positions from beta.
func (s *svrDual) reconstructGradient() {
	if s.active == s.n {
		return
	}
	beta := growFloats(s.ws.beta, s.n)
	s.ws.beta = beta
	for q := range beta {
		beta[q] = s.alpha[q] - s.alpha[s.n+q]
	}
	for q := s.active; q < s.n; q++ {
		var v float64
		for r, k := range s.k.row(q) {
			v += float64(k) * beta[r]
		}
		s.g[q] = v - s.t[q]
	}
}

// newton moves the free variables (positions with exactly one of alpha,
// alpha* strictly inside (0, C), the other 0) towards the minimum of the
// dual over their face, keeping Σ beta fixed: K_FF·d + mu·1 = −(y·G)_F,
// 1ᵀd = 0, solved with the Cholesky factor of K_FF (pivots at rounding
// level drop their variable from the step). The step is cut back where the
// first variable reaches its bound; that variable is then fixed (deleted
// from the factor) and the rest tried again: the primal active-set method,
// with SMO to free variables again. The factor is kept between calls and
// brought up to date by deleting and appending variables, rebuilt every
// few calls.
func (s *svrDual) newton() {
	ws := &s.ws
	if ws.slot == nil {
		ws.slot = make([]int, s.n)
		for q := range ws.slot {
			ws.slot[q] = -1
		}
		ws.gFree = make([]float64, s.n)
		ws.moved = make([]float64, s.n)
	}
	ws.calls++
	if ws.calls%svrRefactorEvery == 1 {
		s.rebuildFactor()
	} else {
		s.syncFactor()
	}
	if len(ws.free) < 2 {
		return
	}
	for _, q := range ws.free {
		ws.gFree[q] = s.g[q]
	}
	for round := 0; round < svrNewtonRounds && len(ws.free) >= 2; round++ {
		stop, ok := s.newtonStep()
		if !ok || stop < 0 {
			break
		}
		s.dropFree(stop)
	}
	g := s.g[:s.active]
	for _, q := range ws.movedList {
		d, kq := ws.moved[q], s.k.row(q)[:len(g)]
		for i, k := range kq {
			g[i] += float64(k) * d
		}
		ws.moved[q] = 0
	}
	ws.movedList = ws.movedList[:0]
}

// reserve makes room in chol for an m×m factor, copying the current one
// (of len(free) rows) to a new stride when keep is set.
func (ws *newtonWork) reserve(m int, keep bool) {
	if m <= ws.stride {
		return
	}
	stride := max(2*ws.stride, m, 32)
	buf := make([]float64, stride*stride)
	if keep {
		for a := range ws.free {
			copy(buf[a*stride:a*stride+a+1], ws.chol[a*ws.stride:a*ws.stride+a+1])
		}
	}
	ws.chol, ws.stride = buf, stride
}

// freeSign is +1 when only alpha of position q is free, −1 when only
// alpha* is, and 0 otherwise.
func (s *svrDual) freeSign(q int) float64 {
	a, as := s.alpha[q], s.alpha[s.n+q]
	switch {
	case a > 0 && a < s.c && as == 0:
		return 1
	case as > 0 && as < s.c && a == 0:
		return -1
	}
	return 0
}

// rebuildFactor lists the free positions and factors K_FF from scratch.
func (s *svrDual) rebuildFactor() {
	ws := &s.ws
	for _, q := range ws.free {
		ws.slot[q] = -1
	}
	ws.free, ws.sign, ws.kept = ws.free[:0], ws.sign[:0], ws.kept[:0]
	for q := 0; q < s.active; q++ {
		if sg := s.freeSign(q); sg != 0 {
			ws.slot[q] = len(ws.free)
			ws.free, ws.sign, ws.kept = append(ws.free, q), append(ws.sign, sg), append(ws.kept, false)
		}
	}
	ws.reserve(len(ws.free), false)
	n, L := ws.stride, ws.chol
	for a, qa := range ws.free {
		ka := s.k.row(qa)
		for b, qb := range ws.free[:a+1] {
			L[a*n+b] = float64(ka[qb])
		}
	}
	choleskyDropping(L, n, len(ws.free), ws.kept)
}

// syncFactor deletes from the factor the positions no longer free and
// appends the newly free ones.
func (s *svrDual) syncFactor() {
	ws := &s.ws
	for a := len(ws.free) - 1; a >= 0; a-- {
		q := ws.free[a]
		if q < s.active {
			if sg := s.freeSign(q); sg != 0 {
				ws.sign[a] = sg
				continue
			}
		}
		s.dropFree(a)
	}
	for q := 0; q < s.active; q++ {
		if ws.slot[q] >= 0 {
			continue
		}
		if sg := s.freeSign(q); sg != 0 {
			s.appendFree(q, sg)
		}
	}
}

// dropFree deletes entry a of the free list and of the factor.
func (s *svrDual) dropFree(a int) {
	ws := &s.ws
	choleskyDelete(ws.chol, ws.stride, len(ws.free), ws.kept, a)
	ws.slot[ws.free[a]] = -1
	ws.free = slices.Delete(ws.free, a, a+1)
	ws.sign = slices.Delete(ws.sign, a, a+1)
	ws.kept = slices.Delete(ws.kept, a, a+1)
	for b := a; b < len(ws.free); b++ {
		ws.slot[ws.free[b]] = b
	}
}

// appendFree adds position q as the last free variable: the new row l of
// L solves L·l = K_Fq, and its pivot is sqrt(K_qq − l·l).
func (s *svrDual) appendFree(q int, sign float64) {
	ws := &s.ws
	ws.reserve(len(ws.free)+1, true)
	n, L, m := ws.stride, ws.chol, len(ws.free)
	kq := s.k.row(q)
	row := L[m*n : m*n+m+1]
	for b, qb := range ws.free {
		if !ws.kept[b] {
			row[b] = 0
			continue
		}
		row[b] = (float64(kq[qb]) - dot4(row[:b], L[b*n:b*n+b])) / L[b*n+b]
	}
	d := float64(kq[q]) - dot4(row[:m], row[:m])
	kept := d > choleskyPivotFloor
	if kept {
		row[m] = math.Sqrt(d)
	} else {
		clear(row)
	}
	ws.slot[q] = m
	ws.free, ws.sign, ws.kept = append(ws.free, q), append(ws.sign, sign), append(ws.kept, kept)
}

// newtonStep takes one Newton step on the free variables ws.free, whose
// K_FF is factored in ws.chol. It returns the index in ws.free of the variable
// the cut step brought to its bound (−1 for a full step), and false when
// no step could be computed.
func (s *svrDual) newtonStep() (int, bool) {
	n, c := s.n, s.c
	ws := &s.ws
	L, m, stride := ws.chol, len(ws.free), ws.stride
	ws.u = growFloats(ws.u, m)
	ws.v = growFloats(ws.v, m)
	ws.dir = growFloats(ws.dir, m)
	ws.rhs = growFloats(ws.rhs, m)
	for a, q := range ws.free {
		ws.rhs[a] = ws.gFree[q] + ws.sign[a]*s.eps
		ws.u[a] = ws.rhs[a]
		ws.v[a] = 1
	}
	// d = −M⁻¹(f + mu·1) with 1ᵀd = 0: u = M⁻¹f, v = M⁻¹1.
	choleskySolve2(L, stride, m, ws.kept, ws.u, ws.v)
	var su, sv float64
	for a := range ws.u {
		su += ws.u[a]
		sv += ws.v[a]
	}
	mu := -su / sv
	if !(sv > 0) || math.IsNaN(mu) || math.IsInf(mu, 0) {
		return 0, false
	}
	// Cut back so that every w = |beta| stays in [0, C].
	tau, stop := 1.0, -1
	for a, q := range ws.free {
		d := -(ws.u[a] + mu*ws.v[a])
		if !ws.kept[a] {
			d = 0
		}
		ws.dir[a] = d
		w := s.alpha[q]
		if ws.sign[a] < 0 {
			w = s.alpha[n+q]
		}
		switch dw := d * ws.sign[a]; {
		case dw > 0 && w+tau*dw >= c:
			tau, stop = (c-w)/dw, a
		case dw < 0 && w+tau*dw <= 0:
			tau, stop = w/-dw, a
		}
	}
	if tau <= 0 {
		return stop, stop >= 0
	}
	for a, d := range ws.dir {
		if d == 0 {
			continue
		}
		q := ws.free[a]
		p := q
		if ws.sign[a] < 0 {
			p = n + q
		}
		old := s.alpha[p]
		nv := old + tau*d*ws.sign[a]
		switch {
		case a == stop && d*ws.sign[a] > 0, nv > c:
			nv = c
		case a == stop, nv < 0:
			nv = 0
		}
		s.alpha[p] = nv
		db := (nv - old) * ws.sign[a]
		ws.dir[a] = db
		if db == 0 {
			continue
		}
		if ws.moved[q] == 0 {
			ws.movedList = append(ws.movedList, q)
		}
		ws.moved[q] += db
		s.updateStatus(q)
	}
	// The free variables' gradients now; the rest of g is brought up to
	// date once, when the rounds are over. For the variables in the
	// factor, K_FF·d = −(f + mu·1), so the step τ·d moves their y·G by
	// −τ·(f + mu); the few left out of it take K·Δbeta directly.
	for a, qa := range ws.free {
		if ws.kept[a] {
			ws.gFree[qa] -= tau * (ws.rhs[a] + mu)
			continue
		}
		ka := s.k.row(qa)
		var v float64
		for b, qb := range ws.free {
			v += float64(ka[qb]) * ws.dir[b]
		}
		ws.gFree[qa] += v
	}
	return stop, true
}

// choleskyDelete turns the factor L (m×m, row-major with the given
// stride) of a matrix M into the factor of M without row and column k: the
// rows below k lose their column k, which the trailing block takes back
// as a rank-one update (Givens rotations, Golub & Van Loan §6.5.4), and
// move up one row and left one column. Variables left out of the factor
// (kept false) stay out.
func choleskyDelete(L []float64, stride, m int, kept []bool, k int) {
	if kept[k] {
		for j := k + 1; j < m; j++ {
			if !kept[j] {
				continue
			}
			x := L[j*stride+k]
			if x == 0 {
				continue
			}
			ljj := L[j*stride+j]
			r := math.Hypot(ljj, x)
			cs, sn := r/ljj, x/ljj
			L[j*stride+j] = r
			for i := j + 1; i < m; i++ {
				if !kept[i] {
					continue
				}
				lij := (L[i*stride+j] + sn*L[i*stride+k]) / cs
				L[i*stride+k] = cs*L[i*stride+k] - sn*lij
				L[i*stride+j] = lij
			}
		}
	}
	for i := k + 1; i < m; i++ {
		src := L[i*stride : i*stride+i+1]
		dst := L[(i-1)*stride : (i-1)*stride+i]
		copy(dst[:k], src[:k])
		copy(dst[k:], src[k+1:])
	}
}

// growFloats returns buf resized to n values, reallocating when short.
func growFloats(buf []float64, n int) []float64 {
	if cap(buf) < n {
		return make([]float64, n)
	}
	return buf[:n]
}

// choleskyPivotFloor is the pivot below which a variable counts as a
// linear combination of the earlier ones (the kernel is stored in single
// precision, so smaller pivots are rounding noise).
const choleskyPivotFloor = 1e-9

// choleskyDropping factors the m×m symmetric matrix whose lower triangle is
// in L (row-major with the given stride) as L·Lᵀ in place, leaving out
// every variable whose pivot falls to rounding level (its row and column
// zeroed, kept[a] false). It returns the number of variables kept.
func choleskyDropping(L []float64, stride, m int, kept []bool) int {
	nKept := 0
	for a := 0; a < m; a++ {
		ra := L[a*stride : a*stride+a+1]
		for b := 0; b < a; b++ {
			if !kept[b] {
				ra[b] = 0
				continue
			}
			rb := L[b*stride : b*stride+b+1]
			ra[b] = (ra[b] - dot4(ra[:b], rb[:b])) / rb[b]
		}
		d := ra[a] - dot4(ra[:a], ra[:a])
		if d <= choleskyPivotFloor {
			kept[a] = false
			clear(ra)
			continue
		}
		kept[a] = true
		ra[a] = math.Sqrt(d)
		nKept++
	}
	return nKept
}

// choleskySolve2 solves L·Lᵀ·x = b for two right-hand sides b1, b2 in
// place, over the kept variables (the others get 0); L is m×m, row-major
// with the given stride. The back substitution goes by rows of L: x_a is
// final once the rows below it are done.
func choleskySolve2(L []float64, stride, m int, kept []bool, b1, b2 []float64) {
	b1, b2 = b1[:m], b2[:m]
	for a := 0; a < m; a++ {
		if !kept[a] {
			b1[a], b2[a] = 0, 0
			continue
		}
		row := L[a*stride:][:a]
		var s1, s2 float64
		for c, v := range row {
			s1 += v * b1[c]
			s2 += v * b2[c]
		}
		d := L[a*stride+a]
		b1[a], b2[a] = (b1[a]-s1)/d, (b2[a]-s2)/d
	}
	for a := m - 1; a >= 0; a-- {
		if !kept[a] {
			continue
		}
		d := L[a*stride+a]
		x1, x2 := b1[a]/d, b2[a]/d
		b1[a], b2[a] = x1, x2
		for c, v := range L[a*stride:][:a] {
			b1[c] -= v * x1
			b2[c] -= v * x2
		}
	}
}

// dot4 is a dot product summed in four interleaved partial sums.
func dot4(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// calculateRho is Solver::calculate_rho: the mean of y·G over the free
// variables, or the midpoint of the bounds when none is free.
func (s *svrDual) calculateRho() float64 {
	nrFree := 0
	ub, lb, sumFree := math.Inf(1), math.Inf(-1), 0.0
	for p := 0; p < 2*s.n; p++ {
		yf, y := s.g[p%s.n]+s.eps, 1.0
		if p >= s.n {
			yf, y = s.g[p-s.n]-s.eps, -1
		}
		a := s.alpha[p]
		atUpper, atLower := a >= s.c, a <= 0
		switch {
		case (y > 0 && atLower) || (y < 0 && atUpper): // not in I_low
			ub = min(ub, yf)
		case (y > 0 && atUpper) || (y < 0 && atLower): // not in I_up
			lb = max(lb, yf)
		default:
			nrFree++
			sumFree += yf
		}
	}
	if nrFree > 0 {
		return sumFree / float64(nrFree)
	}
	return (ub + lb) / 2
}

// raiseC continues a solved dual at a larger bound c: the solution stays
// feasible (every alpha ≤ old C ≤ c, Σ beta unchanged), so SMO restarts
// from it; with scale the alphas are first multiplied by c/C (alpha
// seeding), which keeps feasibility too.
func (s *svrDual) raiseC(c float64, scale bool) {
	s.reconstructGradient()
	s.active = s.n
	s.unshrunk = false
	if scale {
		f := c / s.c
		for p, a := range s.alpha {
			if a >= s.c {
				s.alpha[p] = c // exactly at the new bound
			} else {
				s.alpha[p] = a * f
			}
		}
		for q := range s.g {
			s.g[q] = f*(s.g[q]+s.t[q]) - s.t[q]
		}
	}
	s.c = c
	for q := range s.g {
		s.updateStatus(q)
	}
	s.stable = 0
}

// svrGroupFit fits several SVR candidates together on one training set
// (the spec's fitGroup): candidates of one gamma, in increasing C, share
// one kernel matrix, and each C starts from the previous solution scaled by
// C/C_prev (alpha seeding: feasible, the bounded variables stay bounded),
// then is solved to the same stopping rule as a fit of its own.
func svrGroupFit(ctx context.Context, cands []candidate, x *mat.Dense, y []float64) ([]predictor, error) {
	cfgs := make([]svrConfig, len(cands))
	for i, c := range cands {
		cfg, err := svrConfigOf(c)
		if err != nil {
			return nil, err
		}
		if i > 0 && (cfg.gamma != cfgs[0].gamma || cfg.c < cfgs[i-1].c) {
			return nil, fmt.Errorf("SVR group: candidates must share gamma and rise in C")
		}
		cfgs[i] = cfg
	}
	if err := checkSVRInput(x, y); err != nil {
		return nil, err
	}
	exp := newExpTable()
	cols := splitColumns(x)
	k, err := rbfKernelMatrix(ctx, x, cols, cfgs[0].gamma, exp)
	if err != nil {
		return nil, err
	}
	s := newSVRDual(k, y, cfgs[0])
	out := make([]predictor, len(cfgs))
	for i, cfg := range cfgs {
		if i > 0 {
			s.raiseC(cfg.c, true)
		}
		if err := s.solve(ctx); err != nil {
			return nil, err
		}
		out[i] = s.model(x, cols, cfg.gamma, exp)
	}
	return out, nil
}

// svrConfigOf reads a grid candidate's C and gamma from its parameters.
func svrConfigOf(c candidate) (svrConfig, error) {
	cfg := svrConfig{epsilon: 0.1, tol: 1e-3}
	for _, p := range c.params {
		v, _ := p.Value.(float64)
		switch p.Name {
		case "svr__C":
			cfg.c = v
		case "svr__gamma":
			cfg.gamma = v
		}
	}
	if cfg.c <= 0 || cfg.gamma <= 0 {
		return cfg, fmt.Errorf("SVR candidate without C and gamma: %v", c.params)
	}
	return cfg, nil
}
