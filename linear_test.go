package main

// Golden parity of Linear and Ridge regression.

import "testing"

func TestGoldenLinearRegression(t *testing.T) {
	checkGoldenModel(t, "Linear Regression", goldenTolerance{pred: 1e-6})
}

func TestGoldenRidgeRegression(t *testing.T) {
	checkGoldenModel(t, "Ridge Regression", goldenTolerance{pred: 1e-6, checkParams: true})
}
