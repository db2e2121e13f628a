package main

// Batch estimators: the names a batch_predict request may choose, what a
// fitted batch model offers, and fitting one by name.

import (
	"fmt"
	"strings"
)

// The batch estimators a server offers. webgazer is the Python service's
// maths (gazemodel.go); precise is this server's own (precise.go).
const (
	estimatorWebGazer = "webgazer"
	estimatorPrecise  = "precise"
)

// batchEstimatorNames lists the valid estimator names, the default first.
func batchEstimatorNames() []string {
	return []string{estimatorWebGazer, estimatorPrecise}
}

// batchModel is a fitted batch estimator: it maps a batch of iris samples
// to screen points in CSS pixels.
type batchModel interface {
	predict(samples []irisSample) (xs, ys []float64)
}

// validEstimator reports whether name is a batch estimator.
func validEstimator(name string) bool {
	for _, n := range batchEstimatorNames() {
		if n == name {
			return true
		}
	}
	return false
}

// estimatorChoices is the list of valid names as an error message shows it.
func estimatorChoices() string {
	return `"` + strings.Join(batchEstimatorNames(), `", "`) + `"`
}

// fitBatchModel fits the named estimator on calibration rows for a screen
// of width × height CSS pixels.
func fitBatchModel(estimator string, rows []labelledSample, width, height float64) (batchModel, error) {
	switch estimator {
	case estimatorWebGazer:
		m, err := fitGazeModel(rows, width, height)
		if err != nil {
			return nil, err
		}
		return m, nil
	case estimatorPrecise:
		m, err := fitPreciseModel(rows, width, height)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown batch estimator %q (valid: %s)", estimator, estimatorChoices())
}
