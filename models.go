package main

import (
	"fmt"
	"strings"
)

// modelNames lists the eight model names the front end offers, in its order.
var modelNames = [...]string{
	"Linear Regression", "Ridge Regression", "Lasso Regression", "Elastic Net",
	"Bayesian Ridge", "SGD Regressor", "Support Vector Regressor", "Random Forest Regressor",
}

// modelSpecs returns every model this build serves, by name. A spec with an
// empty grid is a model the build does not serve yet.
func modelSpecs() map[string]modelSpec {
	specs := map[string]modelSpec{
		"Linear Regression": {
			name: "Linear Regression", poly: true,
			grid: []candidate{{fit: fitOLS}},
		},
		"Ridge Regression":         ridgeSpec(),
		"Lasso Regression":         lassoSpec(),
		"Elastic Net":              elasticNetSpec(),
		"Bayesian Ridge":           bayesianRidgeSpec(),
		"SGD Regressor":            sgdSpec(),
		"Support Vector Regressor": svrSpec(),
		"Random Forest Regressor":  randomForestSpec(),
	}
	for name, s := range specs {
		if len(s.grid) == 0 {
			delete(specs, name)
		}
	}
	return specs
}

// servedModels lists the names in specs, in the front end's order.
func servedModels(specs map[string]modelSpec) []string {
	var out []string
	for _, n := range modelNames {
		if _, ok := specs[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// unknownModelError names the models this build serves.
func unknownModelError(name string, specs map[string]modelSpec) error {
	return fmt.Errorf("unknown model %q; this server fits: %s", name, strings.Join(servedModels(specs), ", "))
}

// ridgeSpec is GridSearchCV over Ridge alphas after PolynomialFeatures(2).
func ridgeSpec() modelSpec {
	alphas := []float64{0.001, 0.005, 0.01, 0.1, 0.5, 1, 10, 20, 50, 100}
	grid := make([]candidate, len(alphas))
	for i, a := range alphas {
		grid[i] = candidate{params: []param{{"ridge__alpha", a}}, fit: fitRidge(a)}
	}
	return modelSpec{name: "Ridge Regression", poly: true, search: true, grid: grid}
}
