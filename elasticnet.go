package main

// elasticNetSpec is GridSearchCV over ElasticNet alpha × l1_ratio after
// PolynomialFeatures(2), in scikit-learn's ParameterGrid order (keys sorted:
// alpha varies slowest, l1_ratio fastest).
func elasticNetSpec() modelSpec {
	alphas := []float64{0.1, 0.5, 1, 2, 5}
	l1Ratios := []float64{0.5, 0.7, 0.8, 0.9, 1.0}
	grid := make([]candidate, 0, len(alphas)*len(l1Ratios))
	for _, a := range alphas {
		for _, r := range l1Ratios {
			grid = append(grid, candidate{
				params: []param{{"elasticnet__alpha", a}, {"elasticnet__l1_ratio", r}},
				fit:    fitElasticNet(a, r),
			})
		}
	}
	return modelSpec{name: "Elastic Net", poly: true, search: true, grid: grid}
}
