package main

// Newton steps on the SVR dual's free variables: an incrementally
// updated Cholesky factor of their kernel block, and the step that moves
// them all at once when SMO has stalled.

import (
	"math"
	"slices"
	"sync"
)

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
	uv           [][2]float64 // M⁻¹f and M⁻¹1, the two lanes of the Newton solve
	dir          []float64
	rhs          []float64
	beta         []float64
	calls        int
	gFree, moved []float64
	movedList    []int
	// buffers, when set, lends and takes back chol's storage, so that the
	// fits of one search reuse it instead of allocating (and zeroing) a
	// new factor each time it grows. Only the lower triangle of the rows in
	// use is ever read, and it is always written first.
	buffers *sync.Pool
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
	var buf []float64
	if ws.buffers != nil {
		if b, ok := ws.buffers.Get().(*[]float64); ok && cap(*b) >= stride*stride {
			buf = (*b)[:stride*stride]
		}
	}
	if buf == nil {
		buf = make([]float64, stride*stride)
	}
	if keep {
		for a := range ws.free {
			copy(buf[a*stride:a*stride+a+1], ws.chol[a*ws.stride:a*ws.stride+a+1])
		}
	}
	ws.release()
	ws.chol, ws.stride = buf, stride
}

// release gives chol's storage back to buffers (when set) and leaves the
// factor empty.
func (ws *newtonWork) release() {
	if ws.buffers != nil && ws.chol != nil {
		b := ws.chol
		ws.buffers.Put(&b)
	}
	ws.chol, ws.stride = nil, 0
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
	if cap(ws.uv) < m {
		ws.uv = make([][2]float64, m, 2*m)
	}
	ws.uv = ws.uv[:m]
	ws.dir = growFloats(ws.dir, m)
	ws.rhs = growFloats(ws.rhs, m)
	for a, q := range ws.free {
		ws.rhs[a] = ws.gFree[q] + ws.sign[a]*s.eps
		ws.uv[a] = [2]float64{ws.rhs[a], 1}
	}
	// d = −M⁻¹(f + mu·1) with 1ᵀd = 0: u = M⁻¹f, v = M⁻¹1.
	choleskySolve2(L, stride, m, ws.kept, ws.uv)
	var su, sv float64
	for _, uv := range ws.uv {
		su += uv[0]
		sv += uv[1]
	}
	mu := -su / sv
	if !(sv > 0) || !isFinite(mu) {
		return 0, false
	}
	// Cut back so that every w = |beta| stays in [0, C].
	tau, stop := 1.0, -1
	for a, q := range ws.free {
		d := -(ws.uv[a][0] + mu*ws.uv[a][1])
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
