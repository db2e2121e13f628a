package main

// Data preparation as scikit-learn does it before a fit: StandardScaler,
// PolynomialFeatures(2), and the centring of linear models.

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

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
		s.transformRow(x.RawRowView(i)[:cols], out.RawRowView(i))
	}
	return out
}

// transformRow is transform for one row: dst[j] = (src[j] − mean_j)/scale_j.
func (s standardScaler) transformRow(src, dst []float64) {
	for j, v := range src {
		dst[j] = (v - s.mean[j]) / s.scale[j]
	}
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
