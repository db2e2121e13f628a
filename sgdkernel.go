package main

// The inner loop of SGD: one epoch of _plain_sgd's updates for fits run in
// lockstep, two fits to a pair so that the amd64 kernel (sgdkernel_amd64.s)
// updates both with one packed SSE2 instruction per operation. The Go loop
// below is the reference: the assembly performs the same IEEE operations in
// the same order, so both give the same bits (TestSGDKernelMatchesGo).

import "math"

// sgdPair holds two fits (lanes 0 and 1) of fitSGDTogether: their weights
// lane by lane, intercepts, learning-rate and penalty settings, and the
// epoch's loss sums. A lane with eta0 = 0 is idle: its weights stay 0. The
// layout is fixed: the assembly reads it by offset (160 bytes).
type sgdPair struct {
	w     [sgdWidth][2]float64 // offset 0: w[j][lane]
	b     [2]float64           // 96
	eta0  [2]float64           // 112
	alpha [2]float64           // 128
	loss  [2]float64           // 144
}

// sgdConstants are the constants the kernel uses, each for both lanes.
type sgdConstants struct {
	half, negMaxDLoss, maxDLoss, one, signBit [2]float64
}

var sgdKernelConstants = sgdConstants{
	half: [2]float64{0.5, 0.5}, negMaxDLoss: [2]float64{-sgdMaxDLoss, -sgdMaxDLoss},
	maxDLoss: [2]float64{sgdMaxDLoss, sgdMaxDLoss}, one: [2]float64{1, 1},
	signBit: [2]float64{math.Copysign(0, -1), math.Copysign(0, -1)},
}

// sgdEpochGo runs one epoch over the rows in order for every pair, from
// step count t, and returns the step count after it: per row, the
// invscaling root √√t (within an ulp of t^0.25), then for each lane with
// η = eta0/root: p = w·x + b summed in two interleaved halves, the loss
// ½(p − y)² added to the lane's sum, the gradient p − y clipped to
// ±MAX_DLOSS, w scaled by max(0, 1 − η·α) (the penalty "l2", so l1_ratio
// is 0), then w += −η·(p − y)·x and b += −η·(p − y).
func sgdEpochGo(pairs []sgdPair, order []int32, x [][sgdWidth]float64, y []float64, t float64) float64 {
	for _, i := range order {
		row, target := &x[i], y[i]
		root := math.Sqrt(math.Sqrt(t))
		for p := range pairs {
			pair := &pairs[p]
			for l := 0; l < 2; l++ {
				eta := pair.eta0[l] / root
				even := pair.w[0][l]*row[0] + pair.w[2][l]*row[2] + pair.w[4][l]*row[4]
				odd := pair.w[1][l]*row[1] + pair.w[3][l]*row[3] + pair.w[5][l]*row[5]
				dloss := pair.b[l] + (even + odd) - target
				pair.loss[l] += 0.5 * dloss * dloss
				dloss = min(max(dloss, -sgdMaxDLoss), sgdMaxDLoss)
				update := -eta * dloss
				shrink := max(1-eta*pair.alpha[l], 0)
				for j, v := range row {
					pair.w[j][l] = pair.w[j][l]*shrink + update*v
				}
				pair.b[l] += update
			}
		}
		t++
	}
	return t
}
