package main

import (
	"fmt"
	"math"

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
			})
		}
	}
	return modelSpec{name: "Support Vector Regressor", poly: true, search: true, grid: grid}
}

// svrConfig holds the hyper-parameters of scikit-learn's SVR with the RBF
// kernel: C, gamma, epsilon (libsvm's p) and the stopping tolerance.
type svrConfig struct {
	c, gamma, epsilon, tol float64
}

// svrModel is a fitted epsilon-SVR: prediction = Σ coef_k·K(sv_k, x) − rho.
type svrModel struct {
	gamma float64
	sv    [][]float64
	coef  []float64
	rho   float64
}

// predict evaluates libsvm's svm_predict for epsilon-SVR with the dense RBF
// k_function, exp(−gamma·Σ(x_d − sv_d)²), summed over the support vectors in
// training order.
func (m svrModel) predict(x *mat.Dense, dst []float64) {
	rows, _ := x.Dims()
	for i := 0; i < rows; i++ {
		row := x.RawRowView(i)
		var sum float64
		for k, sv := range m.sv {
			var d2 float64
			for c, v := range sv {
				d := row[c] - v
				d2 += float64(d * d)
			}
			sum += float64(m.coef[k] * math.Exp(-m.gamma*d2))
		}
		dst[i] = sum - m.rho
	}
}

// svrMaxIter bounds the solver as upstream libsvm does (scikit-learn's
// max_iter=-1 sets no bound; the bound only guards against cycling).
func svrMaxIter(l int) int {
	return max(10_000_000, 100*l)
}

// fit is scikit-learn's SVR.fit (libsvm solve_epsilon_svr): the kernel
// matrix on the rows of x, the 2l-variable dual solved by the SMO Solver,
// then the support vectors (coef = alpha − alpha* ≠ 0) in row order.
func (cfg svrConfig) fit(x *mat.Dense, y []float64) (predictor, error) {
	n, cols := x.Dims()
	if n < 1 || len(y) != n {
		return nil, fmt.Errorf("%w: SVR needs at least one row and one target per row", errNotFittable)
	}
	for i := 0; i < n; i++ {
		for _, v := range x.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: non-finite feature value", errNotFittable)
			}
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("%w: non-finite target value", errNotFittable)
		}
	}
	s := newSVRSolver(newRBFKernel(x, cfg.gamma), y, cfg)
	s.solve()
	m := svrModel{gamma: cfg.gamma, rho: s.rho}
	for k := 0; k < n; k++ {
		if c := s.coef[k]; math.Abs(c) > 0 {
			sv := make([]float64, cols)
			copy(sv, x.RawRowView(k))
			m.sv = append(m.sv, sv)
			m.coef = append(m.coef, c)
		}
	}
	return m, nil
}

// rbfKernel is libsvm's training kernel for RBF, exp(−gamma·(‖x_i‖² +
// ‖x_j‖² − 2·x_i·x_j)), kept like libsvm's kernel cache in single precision
// (Qfloat, here widened back to float64). Rows are computed when first
// asked for, as libsvm fills its cache; the matrix is symmetric, so a row
// takes the entries of earlier rows from them and writes its own into them.
type rbfKernel struct {
	n     int
	gamma float64
	x     *mat.Dense
	sq    []float64 // ‖x_i‖²
	data  []float64 // n×n
	done  []bool
}

func newRBFKernel(x *mat.Dense, gamma float64) *rbfKernel {
	n, _ := x.Dims()
	k := &rbfKernel{n: n, gamma: gamma, x: x, sq: make([]float64, n), data: make([]float64, n*n), done: make([]bool, n)}
	for i := range k.sq {
		r := x.RawRowView(i)
		k.sq[i] = svrDot(r, r)
	}
	return k
}

// row returns the kernel values of data row r against every row.
func (k *rbfKernel) row(r int) []float64 {
	out := k.data[r*k.n : (r+1)*k.n]
	if k.done[r] {
		return out
	}
	xr := k.x.RawRowView(r)
	for c := 0; c < k.n; c++ {
		if k.done[c] {
			continue // written when row c was computed
		}
		v := float64(float32(math.Exp(-k.gamma * (k.sq[r] + k.sq[c] - 2*svrDot(xr, k.x.RawRowView(c))))))
		out[c] = v
		k.data[c*k.n+r] = v
	}
	k.done[r] = true
	return out
}

// svrDot is libsvm's dense dot product: a left-to-right sum of products.
func svrDot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += float64(v * b[i])
	}
	return s
}

// svrSolver is libsvm's Solver (Fan, Chen & Lin 2005: SMO with second-order
// working-set selection WSS3, shrinking and gradient reconstruction) on the
// epsilon-SVR dual with 2n variables: k < n is alpha_k (y = +1, linear term
// epsilon − t_k), k ≥ n is alpha*_k (y = −1, linear term epsilon + t_k), and
// Q_kl = y_k·y_l·K(k mod n, l mod n). Slices are indexed by the solver's
// permuted position; index maps a position back to its data row.
//
// It keeps f = y·G and fBar = y·G_bar instead of libsvm's G and G_bar: every
// libsvm quantity is y_k times ours, and since a sign flip commutes exactly
// with rounding the iterates are bit-for-bit libsvm's, while the loops need
// neither the signs nor the ±1 factors of Q.
type svrSolver struct {
	n, l       int
	kernel     *rbfKernel
	c, eps     float64
	y          []float64 // ±1 per position
	index      []int     // data row per position
	yp         []float64 // y·p, p the linear term
	alpha      []float64
	up, low    []bool // membership of I_up (y·alpha may grow) and I_low (may shrink)
	activeSet  []int  // original position per position
	f          []float64
	fBar       []float64
	activeSize int
	unshrink   bool
	rho        float64
	coef       []float64 // alpha − alpha*, per data row
	iterations int
	// nextGmax and nextGmaxIdx are selectWorkingSet's first loop, done by
	// step while it updates f; valid until the active set changes.
	nextGmax    float64
	nextGmaxIdx int
	timedOut    bool // stopped by svrMaxIter (libsvm's solve_timed_out)
}

// newSVRSolver sets up solve_epsilon_svr's problem: all alphas zero, so the
// gradient starts at the linear term and G_bar at zero.
func newSVRSolver(kernel *rbfKernel, t []float64, cfg svrConfig) *svrSolver {
	n := kernel.n
	l := 2 * n
	s := &svrSolver{
		n: n, l: l, kernel: kernel, c: cfg.c, eps: cfg.tol,
		y: make([]float64, l), index: make([]int, l), yp: make([]float64, l),
		alpha: make([]float64, l), up: make([]bool, l), low: make([]bool, l),
		activeSet: make([]int, l), f: make([]float64, l), fBar: make([]float64, l),
		activeSize: l, coef: make([]float64, n),
	}
	for k := 0; k < n; k++ {
		s.y[k], s.y[k+n] = 1, -1
		s.index[k], s.index[k+n] = k, k
		s.yp[k] = cfg.epsilon - t[k]
		s.yp[k+n] = -(cfg.epsilon + t[k])
	}
	for k := 0; k < l; k++ {
		s.activeSet[k] = k
		s.f[k] = s.yp[k]
		s.updateStatus(k)
	}
	return s
}

// row returns the kernel row of the data row behind solver position i.
func (s *svrSolver) row(i int) []float64 {
	return s.kernel.row(s.index[i])
}

// updateStatus is libsvm's update_alpha_status, kept as I_up / I_low
// membership: alpha_i ≥ C is the upper bound, alpha_i ≤ 0 the lower one.
func (s *svrSolver) updateStatus(i int) {
	atUpper, atLower := s.alpha[i] >= s.c, s.alpha[i] <= 0
	if s.y[i] > 0 {
		s.up[i], s.low[i] = !atUpper, !atLower
	} else {
		s.up[i], s.low[i] = !atLower, !atUpper
	}
}

func (s *svrSolver) isUpper(i int) bool {
	if s.y[i] > 0 {
		return !s.up[i]
	}
	return !s.low[i]
}

// solve runs Solver::Solve to the tolerance, then sets rho and coef.
func (s *svrSolver) solve() {
	l := s.l
	maxIter := svrMaxIter(l)
	counter := min(l, 1000) + 1
	haveGmax := false
	for {
		if s.iterations >= maxIter {
			s.timedOut = true
			break
		}
		counter--
		if counter == 0 {
			counter = min(l, 1000)
			s.shrink()
			haveGmax = false
		}
		i, j, ok := s.selectWorkingSet(haveGmax)
		if !ok {
			s.reconstructGradient()
			s.activeSize = l
			if i, j, ok = s.selectWorkingSet(false); !ok {
				break
			}
			counter = 1
		}
		s.iterations++
		s.step(i, j)
		haveGmax = true
	}
	s.rho = s.calculateRho()
	for k := 0; k < l; k++ {
		if a := s.alpha[k]; a != 0 {
			if orig := s.activeSet[k]; orig < s.n {
				s.coef[orig] += a
			} else {
				s.coef[orig-s.n] -= a
			}
		}
	}
}

// step is one SMO update of the pair (i, j): the analytic two-variable
// solution clipped to the box, then the gradient and G_bar updates.
func (s *svrSolver) step(i, j int) {
	ki, kj := s.row(i), s.row(j)
	yi, yj := s.y[i], s.y[j]
	gi, gj := yi*s.f[i], yj*s.f[j]
	ci, cj := s.c, s.c
	alpha := s.alpha
	oldAi, oldAj := alpha[i], alpha[j]
	qij := yi * yj * ki[s.index[j]]
	if yi != yj {
		quad := 1 + 1 + 2*qij // QD_i + QD_j + 2·Q_ij, the RBF diagonal being 1
		if quad <= 0 {
			quad = 1e-12
		}
		delta := (-gi - gj) / quad
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
		if diff > ci-cj {
			if alpha[i] > ci {
				alpha[i] = ci
				alpha[j] = ci - diff
			}
		} else if alpha[j] > cj {
			alpha[j] = cj
			alpha[i] = cj + diff
		}
	} else {
		quad := 1 + 1 - 2*qij
		if quad <= 0 {
			quad = 1e-12
		}
		delta := (gi - gj) / quad
		sum := alpha[i] + alpha[j]
		alpha[i] -= delta
		alpha[j] += delta
		if sum > ci {
			if alpha[i] > ci {
				alpha[i] = ci
				alpha[j] = sum - ci
			}
		} else if alpha[j] < 0 {
			alpha[j] = 0
			alpha[i] = sum
		}
		if sum > cj {
			if alpha[j] > cj {
				alpha[j] = cj
				alpha[i] = sum - cj
			}
		} else if alpha[i] < 0 {
			alpha[i] = 0
			alpha[j] = sum
		}
	}
	// libsvm: G_k += Q_ik·Δα_i + Q_jk·Δα_j; times y_k that is
	// f_k += K_ik·(y_i·Δα_i) + K_jk·(y_j·Δα_j). The same pass finds the
	// next working set's i (selectWorkingSet's first loop), so the statuses
	// are updated first; G_bar is independent of G.
	dai := yi * (alpha[i] - oldAi)
	daj := yj * (alpha[j] - oldAj)
	ui, uj := s.isUpper(i), s.isUpper(j)
	s.updateStatus(i)
	s.updateStatus(j)
	idx := s.index[:s.activeSize]
	f, up := s.f[:len(idx)], s.up[:len(idx)]
	gmax, gmaxIdx := math.Inf(-1), -1
	for k, r := range idx {
		v := f[k] + (float64(ki[r]*dai) + float64(kj[r]*daj))
		f[k] = v
		if up[k] && -v >= gmax {
			gmax, gmaxIdx = -v, k
		}
	}
	s.nextGmax, s.nextGmaxIdx = gmax, gmaxIdx
	if ui != s.isUpper(i) {
		s.updateGradBar(i, ui)
	}
	if uj != s.isUpper(j) {
		s.updateGradBar(j, uj)
	}
}

// updateGradBar is libsvm's G_bar ± C·Q_i over all positions when variable
// i reaches (+) or leaves (−) its upper bound; times y_k that is
// fBar_k ± C·y_i·K_ik.
func (s *svrSolver) updateGradBar(i int, leftUpper bool) {
	ki := s.row(i)
	ci := s.c
	if leftUpper {
		ci = -ci
	}
	yi := s.y[i]
	for k, r := range s.index {
		s.fBar[k] += float64(ci * (yi * ki[r]))
	}
}

// selectWorkingSet is libsvm's WSS3: i maximises −y_i·G_i over I_up, j
// minimises −(G_max + y_j·G_j)²/(QD_i + QD_j − 2K_ij) over I_low among those
// that violate the optimality with i. ok is false when the maximal
// violation is below eps (optimal) or no j exists. With haveGmax the
// maximum over I_up is the one step found.
func (s *svrSolver) selectWorkingSet(haveGmax bool) (int, int, bool) {
	gmax, gmax2 := math.Inf(-1), math.Inf(-1)
	gmaxIdx, gminIdx := -1, -1
	objDiffMin := math.Inf(1)
	n := s.activeSize
	f, up, low := s.f[:n], s.up[:n], s.low[:n]
	if haveGmax {
		gmax, gmaxIdx = s.nextGmax, s.nextGmaxIdx
	} else {
		for t, v := range f {
			if up[t] && -v >= gmax {
				gmax, gmaxIdx = -v, t
			}
		}
	}
	if gmaxIdx == -1 {
		return 0, 0, false // G_max = −∞: nothing violates
	}
	ki := s.row(gmaxIdx)
	idx := s.index[:n]
	for j, v := range f {
		if !low[j] {
			continue
		}
		if v >= gmax2 {
			gmax2 = v
		}
		gradDiff := gmax + v
		if gradDiff > 0 {
			quad := 1 + 1 - 2*ki[idx[j]]
			var objDiff float64
			if quad > 0 {
				objDiff = -(gradDiff * gradDiff) / quad
			} else {
				objDiff = -(gradDiff * gradDiff) / 1e-12
			}
			if objDiff <= objDiffMin {
				gminIdx, objDiffMin = j, objDiff
			}
		}
	}
	if gmax+gmax2 < s.eps || gminIdx == -1 {
		return 0, 0, false
	}
	return gmaxIdx, gminIdx, true
}

// beShrunk is libsvm's be_shrunk: a bound variable that cannot take part in
// a violating pair under the current extremes gmax1 (I_up) and gmax2 (I_low).
func (s *svrSolver) beShrunk(i int, gmax1, gmax2 float64) bool {
	switch {
	case !s.up[i]:
		return -s.f[i] > gmax1
	case !s.low[i]:
		return s.f[i] > gmax2
	}
	return false
}

// shrink is libsvm's do_shrinking: unshrink once when the violation falls
// below 10·eps, then move the shrinkable variables behind the active set.
func (s *svrSolver) shrink() {
	gmax1, gmax2 := math.Inf(-1), math.Inf(-1)
	for i, v := range s.f[:s.activeSize] {
		if s.up[i] && -v >= gmax1 {
			gmax1 = -v
		}
		if s.low[i] && v >= gmax2 {
			gmax2 = v
		}
	}
	if !s.unshrink && gmax1+gmax2 <= s.eps*10 {
		s.unshrink = true
		s.reconstructGradient()
		s.activeSize = s.l
	}
	for i := 0; i < s.activeSize; i++ {
		if !s.beShrunk(i, gmax1, gmax2) {
			continue
		}
		s.activeSize--
		for s.activeSize > i {
			if !s.beShrunk(s.activeSize, gmax1, gmax2) {
				s.swap(i, s.activeSize)
				break
			}
			s.activeSize--
		}
	}
}

// swap exchanges two solver positions (Solver::swap_index with
// SVR_Q::swap_index).
func (s *svrSolver) swap(i, j int) {
	s.y[i], s.y[j] = s.y[j], s.y[i]
	s.index[i], s.index[j] = s.index[j], s.index[i]
	s.yp[i], s.yp[j] = s.yp[j], s.yp[i]
	s.alpha[i], s.alpha[j] = s.alpha[j], s.alpha[i]
	s.up[i], s.up[j] = s.up[j], s.up[i]
	s.low[i], s.low[j] = s.low[j], s.low[i]
	s.activeSet[i], s.activeSet[j] = s.activeSet[j], s.activeSet[i]
	s.f[i], s.f[j] = s.f[j], s.f[i]
	s.fBar[i], s.fBar[j] = s.fBar[j], s.fBar[i]
}

// reconstructGradient is libsvm's reconstruct_gradient: the inactive
// gradients from G_bar + p plus the free variables' contributions, by
// whichever loop order touches fewer kernel values.
func (s *svrSolver) reconstructGradient() {
	l, active := s.l, s.activeSize
	if active == l {
		return
	}
	for j := active; j < l; j++ {
		s.f[j] = s.fBar[j] + s.yp[j]
	}
	nrFree := 0
	for j := 0; j < active; j++ {
		if s.up[j] && s.low[j] {
			nrFree++
		}
	}
	if nrFree*l > 2*active*(l-active) {
		for i := active; i < l; i++ {
			ki := s.row(i)
			for j := 0; j < active; j++ {
				if s.up[j] && s.low[j] {
					s.f[i] += s.alpha[j] * (s.y[j] * ki[s.index[j]])
				}
			}
		}
	} else {
		for i := 0; i < active; i++ {
			if !s.up[i] || !s.low[i] {
				continue
			}
			ki, ya := s.row(i), s.y[i]
			ai := s.alpha[i]
			for j := active; j < l; j++ {
				s.f[j] += ai * (ya * ki[s.index[j]])
			}
		}
	}
}

// calculateRho is Solver::calculate_rho: the mean of y_i·G_i over the free
// variables, or the midpoint of the bounds when none is free.
func (s *svrSolver) calculateRho() float64 {
	nrFree := 0
	ub, lb, sumFree := math.Inf(1), math.Inf(-1), 0.0
	for i, v := range s.f[:s.activeSize] {
		switch {
		case !s.low[i]: // y = +1 at 0, or y = −1 at C
			if v < ub {
				ub = v
			}
		case !s.up[i]: // y = +1 at C, or y = −1 at 0
			if v > lb {
				lb = v
			}
		default:
			nrFree++
			sumFree += v
		}
	}
	if nrFree > 0 {
		return sumFree / float64(nrFree)
	}
	return (ub + lb) / 2
}
