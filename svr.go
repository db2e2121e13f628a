package main

// Support vector regression (scikit-learn's SVR with the RBF kernel): the
// grid, the fitted model and its prediction, the kernel matrix, group fits.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

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
				params:   []param{{"svr__C", c}, {"svr__gamma", g}, {"svr__kernel", "rbf"}},
				fit:      cfg.fit,
				group:    fmt.Sprintf("gamma=%g", g), // C rises within a gamma in grid order
				settings: cfg,
			})
		}
	}
	return modelSpec{name: "Support Vector Regressor", poly: true, search: true, grid: grid, fitGroup: svrGroupFit, refit: svrRefit, costRisesInGrid: true}
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
	svByCol []float64 // len(cols.varying) columns of len(coef) values (nil with shared)
	coef    []float64
	rho     float64
	exp     *expTable

	// shared, for the models of one group fit: the kernel between the
	// rows predicted and every training row, computed once for all of
	// them; sv are the support vectors' training rows.
	shared *svrSharedKernel
	sv     []int
}

// predict evaluates libsvm's svm_predict for epsilon-SVR with the dense RBF
// k_function, exp(−gamma·Σ(x_d − sv_d)²), summed over the support vectors in
// training order.
func (m svrModel) predict(x *mat.Dense, dst []float64) {
	if m.shared != nil {
		// Four rows at a time: four sums side by side, each in the order of
		// the support vectors, as one row alone would be summed.
		n := m.shared.n
		k := m.shared.rows(x)
		rows := len(k) / max(n, 1)
		i := 0
		for ; i+4 <= rows; i += 4 {
			r0, r1, r2, r3 := k[i*n:(i+1)*n], k[(i+1)*n:(i+2)*n], k[(i+2)*n:(i+3)*n], k[(i+3)*n:(i+4)*n]
			var s0, s1, s2, s3 float64
			for j, r := range m.sv {
				c := m.coef[j]
				s0 += c * r0[r]
				s1 += c * r1[r]
				s2 += c * r2[r]
				s3 += c * r3[r]
			}
			dst[i], dst[i+1], dst[i+2], dst[i+3] = s0-m.rho, s1-m.rho, s2-m.rho, s3-m.rho
		}
		for ; i < rows; i++ {
			row := k[i*n : (i+1)*n]
			var sum float64
			for j, r := range m.sv {
				sum += m.coef[j] * row[r]
			}
			dst[i] = sum - m.rho
		}
		return
	}
	rows, _ := x.Dims()
	nsv := len(m.coef)
	arg := make([]float64, nsv)
	point := make([]float64, len(m.cols.varying))
	for i := 0; i < rows; i++ {
		offset := m.cols.split(x.RawRowView(i), point)
		negScaledDistances(arg, point, m.svByCol, nsv, offset, m.gamma)
		m.exp.apply(arg)
		var sum float64
		for k, e := range arg {
			sum += m.coef[k] * e
		}
		dst[i] = sum - m.rho
	}
}

// svrSharedKernel serves the predictions of the models of one group fit
// (one gamma, one training set): the kernel values between the rows of the
// matrix predicted and every training row, computed with svrModel.predict's
// own arithmetic (so each value is the one it would compute for that
// support vector), once per matrix for all the group's models. A different
// matrix, or one whose values changed, is computed afresh.
type svrSharedKernel struct {
	gamma float64
	cols  svrColumns
	n     int       // training rows
	byCol []float64 // the training rows' varying columns, column-major
	exp   *expTable

	mu    sync.Mutex
	x     []float64 // the rows last predicted, row-major
	cols0 int       // their column count
	k     []float64 // their kernel rows: len(x)/cols0 rows of n values
}

// rows returns the kernel rows of x's rows against the training rows.
func (s *svrSharedKernel) rows(x *mat.Dense) []float64 {
	r, c := x.Dims()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == s.cols0 && len(s.x) == r*c {
		same := true
		for i := 0; i < r && same; i++ {
			same = slices.Equal(x.RawRowView(i), s.x[i*c:(i+1)*c])
		}
		if same {
			return s.k
		}
	}
	s.cols0, s.x, s.k = c, s.x[:0], make([]float64, r*s.n)
	point := make([]float64, len(s.cols.varying))
	for i := 0; i < r; i++ {
		row := x.RawRowView(i)
		s.x = append(s.x, row...)
		offset := s.cols.split(row, point)
		out := s.k[i*s.n : (i+1)*s.n]
		negScaledDistances(out, point, s.byCol, s.n, offset, s.gamma)
		s.exp.apply(out)
	}
	return s.k
}

// svrColumns splits the feature columns into those that vary over the
// training rows and those that hold one value (the polynomial step's
// bias), which add nothing to the distance between training rows.
type svrColumns struct {
	varying, constant []int
	value             []float64 // the constant columns' value
}

// split copies row's varying columns into point and returns the squared
// distance of its constant columns from the training value, Σ (x_c − v_c)².
func (c svrColumns) split(row, point []float64) (offset float64) {
	for k, col := range c.constant {
		d := row[col] - c.value[k]
		offset += d * d
	}
	for k, col := range c.varying {
		point[k] = row[col]
	}
	return offset
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
	return cfg.fitFrom(ctx, x, y, nil)
}

// fitFrom is fit with the kernel matrix taken from the search's shared one
// when from is set (svrSearchKernel: the same entries), and given back to
// the search's pool after the solve (the model keeps none of it).
func (cfg svrConfig) fitFrom(ctx context.Context, x *mat.Dense, y []float64, from *searchRows) (predictor, error) {
	if err := checkSVRInput(x, y); err != nil {
		return nil, err
	}
	exp := newExpTable()
	cols := splitColumns(x)
	k, err := svrSearchKernel(ctx, x, cols, cfg.gamma, exp, from)
	if err != nil {
		return nil, err
	}
	if from != nil {
		defer from.pool(svrFoldKernels).Put(&k.data)
	}
	s := newSVRDual(k, y, cfg)
	if err := s.solve(ctx); err != nil {
		return nil, err
	}
	return s.model(x, cols, cfg.gamma, exp), nil
}

// svrRefit is the search's refit of cand on all its rows: cand's own fit,
// its kernel matrix copied from the one the search's folds took theirs
// from instead of computed again (fitFrom).
func svrRefit(ctx context.Context, cand candidate, x *mat.Dense, y []float64, from *searchRows) (predictor, error) {
	cfg, ok := cand.settings.(svrConfig)
	if !ok {
		return nil, fmt.Errorf("SVR refit: candidate settings are %T", cand.settings)
	}
	return cfg.fitFrom(ctx, x, y, from)
}

// checkSVRInput refuses data an SVR cannot be fitted on.
func checkSVRInput(x *mat.Dense, y []float64) error {
	n, _ := x.Dims()
	if n < 1 || len(y) != n {
		return fmt.Errorf("%w: SVR needs at least one row and one target per row", errNotFittable)
	}
	for i := 0; i < n; i++ {
		for _, v := range x.RawRowView(i) {
			if !isFinite(v) {
				return fmt.Errorf("%w: non-finite feature value", errNotFittable)
			}
		}
		if !isFinite(y[i]) {
			return fmt.Errorf("%w: non-finite target value", errNotFittable)
		}
	}
	return nil
}

// model is the fitted SVR of a solved dual on the training rows x: the
// rows with a non-zero coefficient, in row order.
func (s *svrDual) model(x *mat.Dense, cols svrColumns, gamma float64, exp *expTable) svrModel {
	m := s.sharedModel(cols, gamma, exp, nil)
	m.svByCol = byColumn(x, cols.varying, m.sv)
	return m
}

// sharedModel is model for a group fit's candidate, which predicts through
// shared (its support vectors' values are not copied).
func (s *svrDual) sharedModel(cols svrColumns, gamma float64, exp *expTable, shared *svrSharedKernel) svrModel {
	m := svrModel{gamma: gamma, cols: cols, rho: s.rho, exp: exp, shared: shared}
	coefs := s.coefs()
	nsv := 0
	for _, c := range coefs {
		if c != 0 {
			nsv++
		}
	}
	m.sv, m.coef = make([]int, 0, nsv), make([]float64, 0, nsv)
	for k, c := range coefs {
		if c != 0 {
			m.sv = append(m.sv, k)
			m.coef = append(m.coef, c)
		}
	}
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
	if p > q {
		p, q = q, p
	}
	for off := 0; off+q < len(k.data); off += k.n { // column q of each row, with p < q
		k.data[off+p], k.data[off+q] = k.data[off+q], k.data[off+p]
	}
}

// svrSharedKernelRows is the most rows of a search whose kernel matrices
// (one per gamma, 4·rows² bytes each) are kept for all its folds.
const svrSharedKernelRows = 512

// svrSearchKernel is rbfKernelMatrix(x) for a fold of a grid search: taken
// from the kernel matrix of the search's whole matrix, computed once per
// gamma for all folds, when the search is small enough to keep it and the
// fold's varying columns are the search's (each entry is then the one
// rbfKernelMatrix(x) computes: the same operations on the same values, the
// rows keeping their order); computed from x otherwise.
func svrSearchKernel(ctx context.Context, x *mat.Dense, cols svrColumns, gamma float64, exp *expTable, from *searchRows) (svrKernel, error) {
	if from == nil {
		return rbfKernelMatrix(ctx, x, cols, gamma, exp)
	}
	all, _ := from.all.Dims()
	if all > svrSharedKernelRows || !slices.Equal(splitColumns(from.all).varying, cols.varying) {
		return rbfKernelMatrix(ctx, x, cols, gamma, exp)
	}
	type shared struct {
		once sync.Once
		k    svrKernel
		err  error
	}
	v, _ := from.shared.LoadOrStore(fmt.Sprintf("svr kernel, gamma %g", gamma), &shared{})
	full := v.(*shared)
	full.once.Do(func() { full.k, full.err = rbfKernelMatrix(ctx, from.all, cols, gamma, exp) })
	if full.err != nil {
		return svrKernel{}, full.err
	}
	n := len(from.rows)
	k := svrKernel{n: n}
	if b, ok := from.pool(svrFoldKernels).Get().(*[]float32); ok && cap(*b) >= n*n {
		k.data = (*b)[:n*n] // every value is written below
	} else {
		k.data = make([]float32, n*n)
	}
	for i, r := range from.rows {
		src, dst := full.k.row(r), k.row(i)
		for j, c := range from.rows {
			dst[j] = src[c]
		}
	}
	return k, nil
}

// The pools of a search's SVR group fits (searchRows.pool): the Newton
// factors' storage and the folds' kernel matrices.
const (
	svrFactors     = "svr factor buffers"
	svrFoldKernels = "svr fold kernel buffers"
)

// svrGroupFit fits several SVR candidates together on one training set
// (the spec's fitGroup): candidates of one gamma, in increasing C, share
// one kernel matrix, and each C starts from the previous solution scaled by
// C/C_prev (alpha seeding: feasible, the bounded variables stay bounded),
// then is solved to the same stopping rule as a fit of its own.
func svrGroupFit(ctx context.Context, cands []candidate, x *mat.Dense, y []float64, from *searchRows) ([]predictor, error) {
	cfgs, err := candidateSettings[svrConfig](cands)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(cfgs); i++ {
		if cfgs[i].gamma != cfgs[0].gamma || cfgs[i].c < cfgs[i-1].c {
			return nil, fmt.Errorf("SVR group: candidates must share gamma and rise in C")
		}
	}
	if err := checkSVRInput(x, y); err != nil {
		return nil, err
	}
	exp := newExpTable()
	cols := splitColumns(x)
	k, err := svrSearchKernel(ctx, x, cols, cfgs[0].gamma, exp, from)
	if err != nil {
		return nil, err
	}
	s := newSVRDual(k, y, cfgs[0])
	if from != nil {
		s.ws.buffers = from.pool(svrFactors)
		defer s.ws.release()
		defer from.pool(svrFoldKernels).Put(&k.data) // the models keep none of it
	}
	n, _ := x.Dims()
	shared := &svrSharedKernel{gamma: cfgs[0].gamma, cols: cols, n: n, byCol: byColumn(x, cols.varying, nil), exp: exp}
	out := make([]predictor, len(cfgs))
	for i, cfg := range cfgs {
		if i > 0 {
			s.raiseC(cfg.c, true)
		}
		if err := s.solve(ctx); err != nil {
			return nil, err
		}
		out[i] = s.sharedModel(cols, cfg.gamma, exp, shared)
	}
	return out, nil
}
