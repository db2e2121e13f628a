package main

// The epsilon-SVR dual and its SMO solver (libsvm's solve_epsilon_svr,
// working-set selection, shrinking), with warm starts over C.

import (
	"context"
	"math"
)

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
	gmax2, gj := svrSelectLow(g, s.lowOff, s.k.row(gi), gmax)
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
	qi, qj := i, j
	yi, yj := 1.0, 1.0
	if i >= n {
		qi, yi = i-n, -1
	}
	if j >= n {
		qj, yj = j-n, -1
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
	s.nextGmax, s.nextGmaxPos = svrGradient(s.g[:act], s.upOff, ki, kj, dbi, dbj)
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
	// Four rows at a time: each sum is taken in the order of its row, and
	// the four chains of additions overlap.
	q := s.active
	for ; q+4 <= s.n; q += 4 {
		k0, k1, k2, k3 := s.k.row(q), s.k.row(q+1), s.k.row(q+2), s.k.row(q+3)
		var v0, v1, v2, v3 float64
		for r, b := range beta {
			v0 += float64(k0[r]) * b
			v1 += float64(k1[r]) * b
			v2 += float64(k2[r]) * b
			v3 += float64(k3[r]) * b
		}
		s.g[q], s.g[q+1], s.g[q+2], s.g[q+3] = v0-s.t[q], v1-s.t[q+1], v2-s.t[q+2], v3-s.t[q+3]
	}
	for ; q < s.n; q++ {
		var v float64
		for r, k := range s.k.row(q) {
			v += float64(k) * beta[r]
		}
		s.g[q] = v - s.t[q]
	}
}

// calculateRho is Solver::calculate_rho: the mean of y·G over the free
// variables, or the midpoint of the bounds when none is free.
func (s *svrDual) calculateRho() float64 {
	nrFree := 0
	ub, lb, sumFree := math.Inf(1), math.Inf(-1), 0.0
	// The alphas (y = +1), then the alpha*s (y = −1), in libsvm's order.
	for q, a := range s.alpha[:s.n] {
		yf := s.g[q] + s.eps
		switch {
		case a <= 0: // not in I_low
			ub = min(ub, yf)
		case a >= s.c: // not in I_up
			lb = max(lb, yf)
		default:
			nrFree++
			sumFree += yf
		}
	}
	for q, a := range s.alpha[s.n : 2*s.n] {
		yf := s.g[q] - s.eps
		switch {
		case a >= s.c: // not in I_low
			ub = min(ub, yf)
		case a <= 0: // not in I_up
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
