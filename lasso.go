package main

// lassoSpec is GridSearchCV over Lasso alphas after PolynomialFeatures(2);
// Lasso(alpha) is ElasticNet(alpha, l1_ratio=1) with the same solver.
func lassoSpec() modelSpec {
	alphas := []float64{10, 20, 30, 40, 45, 50, 55, 100, 200, 500}
	grid := make([]candidate, len(alphas))
	for i, a := range alphas {
		grid[i] = candidate{params: []param{{"lasso__alpha", a}}, fit: fitElasticNet(a, 1)}
	}
	return modelSpec{name: "Lasso Regression", poly: true, search: true, grid: grid}
}
