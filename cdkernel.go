package main

// The inner step of coordinate descent (Lasso, Elastic Net): the residual
// brought up to date for one coordinate and its dot product with the
// coordinate's column. cdResidualDotGo is the reference, three gonum calls;
// on amd64 the same arithmetic runs in one SSE2 pass over the rows
// (cdkernel_amd64.s): the same elementwise updates, and the dot product
// summed in gonum's amd64 order (four partial sums, the tail in the first,
// combined as gonum combines them), so both give the same bits
// (TestCDResidualDotMatchesGonum).

import "gonum.org/v1/gonum/floats"

// cdResidualDotGo adds aPrev·prev to r (when prev is not nil: the previous
// coordinate's subtraction, deferred to this pass), then aNext·next (when
// aNext is not 0: the current coordinate's old contribution), and returns
// next·r.
func cdResidualDotGo(r, prev []float64, aPrev float64, next []float64, aNext float64) float64 {
	if prev != nil {
		floats.AddScaled(r, aPrev, prev)
	}
	if aNext != 0 {
		floats.AddScaled(r, aNext, next)
	}
	return floats.Dot(next, r)
}
