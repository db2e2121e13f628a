package main

// The models the server fits: their names, the registry of their specs
// (grid, preprocessing), and the types every model family implements.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// modelNames lists the eight model names the front end offers, in its order.
var modelNames = [...]string{
	"Linear Regression", "Ridge Regression", "Lasso Regression", "Elastic Net",
	"Bayesian Ridge", "SGD Regressor", "Support Vector Regressor", "Random Forest Regressor",
}

// modelSpecs returns every model this build serves, by name.
func modelSpecs() map[string]modelSpec {
	return map[string]modelSpec{
		"Linear Regression":        linearRegressionSpec(),
		"Ridge Regression":         ridgeSpec(),
		"Lasso Regression":         lassoSpec(),
		"Elastic Net":              elasticNetSpec(),
		"Bayesian Ridge":           bayesianRidgeSpec(),
		"SGD Regressor":            sgdSpec(),
		"Support Vector Regressor": svrSpec(),
		"Random Forest Regressor":  randomForestSpec(),
	}
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

// predictor is a fitted single-target regression model.
type predictor interface {
	// predict writes one prediction per row of x into dst (len(dst) == rows).
	predict(x *mat.Dense, dst []float64)
}

// fitter fits a model on the rows of x (samples × features) against y. It
// gives up with stopCause(ctx) once ctx is done; iterative solvers check ctx
// often enough to stop within about 100 ms.
type fitter func(ctx context.Context, x *mat.Dense, y []float64) (predictor, error)

// stopCause is nil while ctx runs, then why it stopped: context.Cause, so a
// fit deadline or a shutdown set as the cause reaches the handler.
func stopCause(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}

// param is one named hyper-parameter of a grid candidate, reported in the
// scikit-learn spelling (for example "ridge__alpha").
type param struct {
	Name  string
	Value any
}

// candidate is one point of a model's parameter grid.
type candidate struct {
	params []param
	fit    fitter
	// fitKey, when not empty, is shared by candidates that fit identical
	// models (they differ only in a parameter the estimator ignores, such
	// as SGD's l1_ratio under the L2 penalty): the search scores the first
	// of them and gives the others the same score.
	fitKey string
	// group, when not empty, names candidates that the spec's fitGroup
	// fits together on one training set, sharing work between them.
	group string
	// settings holds the candidate's typed hyper-parameters (svrConfig,
	// sgdParams) for fitGroup: the values fit closes over, written once.
	settings any
}

// modelSpec says how the calibration fits one model name: whether the
// PolynomialFeatures(2) step comes first, and the candidates a 5-fold grid
// search chooses from (a single candidate without search for plain least
// squares).
type modelSpec struct {
	name   string
	poly   bool
	search bool
	grid   []candidate
	// fitGroup, when set, fits the candidates of one group (in grid order)
	// on the same rows at once and returns one model per candidate, each as
	// the candidate's own fit would be up to the estimator's tolerance; a
	// nil model marks a candidate that could not be fitted. from, when not
	// nil, says which rows of the search x holds.
	fitGroup func(ctx context.Context, cands []candidate, x *mat.Dense, y []float64, from *searchRows) ([]predictor, error)
	// refit, when set, is the search's refit of the chosen candidate on all
	// its rows (from.rows), the same model as the candidate's own fit, made
	// with what the search's group fits left in from.shared.
	refit func(ctx context.Context, cand candidate, x *mat.Dense, y []float64, from *searchRows) (predictor, error)
	// costRisesInGrid says the groups later in the grid take longer to fit
	// (SVR: gamma rises). A search then runs them first, so that the fits
	// left at its end, when a core may wait for the other, are short.
	costRisesInGrid bool
}

// errNotFittable reports data a model cannot be fitted on (too few rows for
// the folds, for example). Handlers answer it with 400.
var errNotFittable = errors.New("model cannot be fitted on these rows")

// fitSingle fits a spec without search on x (already scaled, before any
// polynomial step): the polynomial step if the spec has one, then its one
// candidate.
func fitSingle(ctx context.Context, spec modelSpec, x *mat.Dense, y []float64) (searchResult, error) {
	if spec.search || len(spec.grid) != 1 {
		return searchResult{}, fmt.Errorf("model %q: want one candidate without search", spec.name)
	}
	if spec.poly {
		x = polyFeatures2(x)
	}
	m, err := spec.grid[0].fit(ctx, x, y)
	if err != nil {
		return searchResult{}, err
	}
	return searchResult{model: m, best: spec.grid[0], bestCV: math.NaN()}, nil
}

// predictModel applies a fitted spec to scaled rows.
func predictModel(spec modelSpec, m predictor, x *mat.Dense) []float64 {
	if spec.poly {
		x = polyFeatures2(x)
	}
	rows, _ := x.Dims()
	out := make([]float64, rows)
	m.predict(x, out)
	return out
}

// candidateSettings returns the typed settings of cands (what their fits
// close over), or an error naming a candidate whose settings are not a T.
func candidateSettings[T any](cands []candidate) ([]T, error) {
	out := make([]T, len(cands))
	for i, c := range cands {
		v, ok := c.settings.(T)
		if !ok {
			return nil, fmt.Errorf("grid candidate %v has no %T settings", c.params, v)
		}
		out[i] = v
	}
	return out, nil
}
