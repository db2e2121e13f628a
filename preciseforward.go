package main

// The forward model of the precise estimator: each iris coordinate as a
// weighted least-squares linear function of the screen point, the
// covariance of its residuals, and the posterior map it implies.

import "math"

// preciseForward is a fitted forward model: feature k ≈ mean[k] +
// slope[k]·(t − tMean), with residual covariance cov.
type preciseForward struct {
	tMean [2]float64
	mean  [preciseFeatures]float64
	slope [preciseFeatures][2]float64
	cov   [preciseFeatures][preciseFeatures]float64
	prec  [preciseFeatures][preciseFeatures]float64 // inverse of cov
}

// forward fits the forward model on the listed rows (their weights apply).
func (d *preciseData) forward(rows []int) preciseForward {
	var fw preciseForward
	var sw float64
	var fMean [preciseFeatures]float64
	for _, i := range rows {
		sw += d.w[i]
		for a := range 2 {
			fw.tMean[a] += d.w[i] * d.t[i][a]
		}
		for k := range fMean {
			fMean[k] += d.w[i] * d.f[i][k]
		}
	}
	if sw == 0 {
		sw = 1
	}
	for a := range 2 {
		fw.tMean[a] /= sw
	}
	for k := range fMean {
		fMean[k] /= sw
	}
	// Normal equations of the slopes on centred data: (TᵀWT) s_k = TᵀW f_k.
	var tt [2][2]float64
	var tf [2][preciseFeatures]float64
	for _, i := range rows {
		dt := [2]float64{d.t[i][0] - fw.tMean[0], d.t[i][1] - fw.tMean[1]}
		for a := range 2 {
			for b := range 2 {
				tt[a][b] += d.w[i] * dt[a] * dt[b]
			}
			for k := range tf[a] {
				tf[a][k] += d.w[i] * dt[a] * (d.f[i][k] - fMean[k])
			}
		}
	}
	// A dot layout on a line (or a single dot) leaves an axis without
	// variance: a tiny ridge keeps the system solvable, that slope 0.
	ridge := 1e-9 * (tt[0][0] + tt[1][1] + 1)
	tt[0][0] += ridge
	tt[1][1] += ridge
	det := tt[0][0]*tt[1][1] - tt[0][1]*tt[1][0]
	for k := range fw.mean {
		fw.slope[k][0] = (tt[1][1]*tf[0][k] - tt[0][1]*tf[1][k]) / det
		fw.slope[k][1] = (tt[0][0]*tf[1][k] - tt[1][0]*tf[0][k]) / det
		fw.mean[k] = fMean[k]
	}
	for _, i := range rows {
		r := fw.residual(d.f[i], d.t[i])
		for a := range r {
			for b := range r {
				fw.cov[a][b] += d.w[i] * r[a] * r[b] / sw
			}
		}
	}
	var trace float64
	for k := range fw.cov {
		trace += fw.cov[k][k]
	}
	for k := range fw.cov { // keeps the covariance invertible (identical frames, one dot)
		fw.cov[k][k] += 1e-6*trace/preciseFeatures + 1e-9
	}
	fw.prec = invertSPD4(fw.cov)
	return fw
}

// residual is a sample's features minus what the forward model expects at
// its dot.
func (fw *preciseForward) residual(f [preciseFeatures]float64, t [2]float64) [preciseFeatures]float64 {
	var r [preciseFeatures]float64
	for k := range r {
		r[k] = f[k] - fw.mean[k] - fw.slope[k][0]*(t[0]-fw.tMean[0]) - fw.slope[k][1]*(t[1]-fw.tMean[1])
	}
	return r
}

// distance2 is the squared Mahalanobis length of a sample's residual.
func (fw *preciseForward) distance2(f [preciseFeatures]float64, t [2]float64) float64 {
	r := fw.residual(f, t)
	var q float64
	for a := range r {
		for b := range r {
			q += r[a] * fw.prec[a][b] * r[b]
		}
	}
	return q
}

// model is the posterior mean map for a Gaussian prior on the screen point
// (mean centre, standard deviation spread per axis) and the forward model's
// likelihood weighted by kappa: gain = (S⁻¹ + κ BᵀΣ⁻¹B)⁻¹ κ BᵀΣ⁻¹, and the
// offset is the features expected at the centre.
func (fw *preciseForward) model(centre, spread [2]float64, kappa float64) *preciseModel {
	var bp [2][preciseFeatures]float64 // BᵀΣ⁻¹
	for a := range 2 {
		for k := range bp[a] {
			for j := range fw.prec {
				bp[a][k] += fw.slope[j][a] * fw.prec[j][k]
			}
		}
	}
	var p [2][2]float64 // S⁻¹ + κ BᵀΣ⁻¹B
	for a := range 2 {
		for b := range 2 {
			for k := range bp[a] {
				p[a][b] += kappa * bp[a][k] * fw.slope[k][b]
			}
		}
		p[a][a] += 1 / (spread[a] * spread[a])
	}
	det := p[0][0]*p[1][1] - p[0][1]*p[1][0]
	inv := [2][2]float64{{p[1][1] / det, -p[0][1] / det}, {-p[1][0] / det, p[0][0] / det}}
	m := &preciseModel{centre: centre, kappa: kappa}
	for a := range 2 {
		for k := range bp[a] {
			m.gain[a][k] = kappa * (inv[a][0]*bp[0][k] + inv[a][1]*bp[1][k])
		}
	}
	for k := range m.offset {
		m.offset[k] = fw.mean[k] + fw.slope[k][0]*(centre[0]-fw.tMean[0]) + fw.slope[k][1]*(centre[1]-fw.tMean[1])
	}
	return m
}

// invertSPD4 inverts a symmetric positive-definite 4×4 matrix by Cholesky
// factorisation; a matrix that is not positive definite (it cannot be, by
// the ridge added above, short of overflow) gives the identity.
func invertSPD4(a [preciseFeatures][preciseFeatures]float64) [preciseFeatures][preciseFeatures]float64 {
	const n = preciseFeatures
	var l [n][n]float64
	var id [n][n]float64
	for i := range id {
		id[i][i] = 1
	}
	for j := 0; j < n; j++ {
		s := a[j][j]
		for k := 0; k < j; k++ {
			s -= l[j][k] * l[j][k]
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return id
		}
		l[j][j] = math.Sqrt(s)
		for i := j + 1; i < n; i++ {
			s := a[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			l[i][j] = s / l[j][j]
		}
	}
	var inv [n][n]float64
	for c := 0; c < n; c++ { // solve L Lᵀ x = e_c
		var y [n]float64
		for i := 0; i < n; i++ {
			s := id[i][c]
			for k := 0; k < i; k++ {
				s -= l[i][k] * y[k]
			}
			y[i] = s / l[i][i]
		}
		for i := n - 1; i >= 0; i-- {
			s := y[i]
			for k := i + 1; k < n; k++ {
				s -= l[k][i] * inv[k][c]
			}
			inv[i][c] = s / l[i][i]
		}
	}
	return inv
}
