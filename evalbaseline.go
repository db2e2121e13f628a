package main

// The eval command's plain baseline: a StandardScaler + Ridge(alpha=1) per
// screen axis on the four iris coordinates, nothing else.

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// plainRidgeModel is the baseline the estimators are compared with.
type plainRidgeModel struct {
	scaler standardScaler
	ridgeX linearModel
	ridgeY linearModel
}

// irisMatrix is the n × 4 matrix of left x, left y, right x, right y.
func irisMatrix(samples []irisSample) *mat.Dense {
	m := mat.NewDense(len(samples), 4, nil)
	for i, s := range samples {
		copy(m.RawRowView(i), []float64{s.LeftX, s.LeftY, s.RightX, s.RightY})
	}
	return m
}

// fitPlainRidge fits the baseline on calibration rows (the screen size is
// not used).
func fitPlainRidge(rows []labelledSample, _, _ float64) (batchModel, error) {
	if len(rows) < 2 {
		return nil, fmt.Errorf("%w: the calibration has %d rows, at least 2 are needed", errNotFittable, len(rows))
	}
	iris := make([]irisSample, len(rows))
	tx, ty := make([]float64, len(rows)), make([]float64, len(rows))
	for i, r := range rows {
		iris[i], tx[i], ty[i] = r.irisSample, r.PointX, r.PointY
	}
	x := irisMatrix(iris)
	m := &plainRidgeModel{scaler: fitStandardScaler(x)}
	xs := m.scaler.transform(x)
	px, err := fitRidge(1)(context.Background(), xs, tx)
	if err != nil {
		return nil, err
	}
	py, err := fitRidge(1)(context.Background(), xs, ty)
	if err != nil {
		return nil, err
	}
	m.ridgeX, m.ridgeY = px.(linearModel), py.(linearModel)
	return m, nil
}

func (m *plainRidgeModel) predict(samples []irisSample) (xs, ys []float64) {
	x := m.scaler.transform(irisMatrix(samples))
	xs, ys = make([]float64, len(samples)), make([]float64, len(samples))
	m.ridgeX.predict(x, xs)
	m.ridgeY.predict(x, ys)
	return xs, ys
}
