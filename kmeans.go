package main

// k-means as scikit-learn's KMeans does it (greedy k-means++, Lloyd),
// seeded so that the same points always give the same centroids.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// kmeansRestarts is how many k-means++ starts are tried; the lowest inertia
// wins. scikit-learn tries 10; on the real recordings 24 reach the best of
// 200 starts, and each start costs microseconds.
const kmeansRestarts = 24

// kmeans clusters 2-D points into k groups the way scikit-learn's KMeans
// does (greedy k-means++ seeding with 2 + ⌊ln k⌋ local trials, Lloyd
// iterations until the labels stop changing, the squared centre shift is at
// most 1e-4 × the mean per-axis variance, or 300 iterations; the best start
// by inertia), but from a seeded generator, so that the same points and
// seed always give the same centroids. 1 ≤ k ≤ len(points) is the caller's
// check; a point that is not finite (a model's prediction gone to ±Inf or
// NaN) gives an error wrapping errNotFittable. Once ctx is done it returns
// stopCause(ctx) within a few milliseconds (checked between seeded centres
// and between Lloyd iterations).
func kmeans(ctx context.Context, points [][2]float64, k int, seed uint64) ([][2]float64, error) {
	return kmeansWith(ctx, points, k, seed, nil)
}

// kmeansWith is kmeans with its starts run in parallel on the workers
// borrow lends. Start r draws from its own generator (seed, r), and the
// lowest inertia wins, the earliest start on a tie, so the centroids do not
// depend on how many workers ran.
func kmeansWith(ctx context.Context, points [][2]float64, k int, seed uint64, borrow borrower) ([][2]float64, error) {
	n := len(points)
	var mean [2]float64
	for i, p := range points {
		if !isFinite(p[0]) || !isFinite(p[1]) {
			return nil, fmt.Errorf("%w: prediction %d to cluster is not a finite number", errNotFittable, i)
		}
		mean[0] += p[0]
		mean[1] += p[1]
	}
	mean[0] /= float64(n)
	mean[1] /= float64(n)
	var variance float64
	for _, p := range points {
		variance += sq(p[0]-mean[0]) + sq(p[1]-mean[1])
	}
	tol := variance / float64(n) / 2 * 1e-4
	centers := make([][][2]float64, kmeansRestarts)
	inertia := make([]float64, kmeansRestarts)
	workers := make(chan *kmeansWorkspace, kmeansRestarts) // workspaces, reused by whichever worker is free
	parallelFor(ctx, kmeansRestarts, borrow, func(r int, _ borrower) {
		var ws *kmeansWorkspace
		select {
		case ws = <-workers:
		default:
			ws = newKMeansWorkspace(ctx, n, k, tol)
		}
		ws.seedCenters(points, rand.New(rand.NewPCG(seed, kmeansStream+uint64(r))))
		inertia[r] = ws.lloyd(points)
		centers[r] = append([][2]float64(nil), ws.centers...)
		workers <- ws
	})
	if err := stopCause(ctx); err != nil {
		return nil, err
	}
	best := 0
	for r := range inertia {
		if inertia[r] < inertia[best] {
			best = r
		}
	}
	return centers[best], nil
}

// kmeansStream is the first PCG stream of the starts (start r uses
// kmeansStream + r).
const kmeansStream = 0x9e3779b97f4a7c15

func newKMeansWorkspace(ctx context.Context, n, k int, tol float64) *kmeansWorkspace {
	return &kmeansWorkspace{
		ctx: ctx, tol: tol,
		closest: make([]float64, n), cum: make([]float64, n), cand: make([]float64, n), cand2: make([]float64, n), bestD: make([]float64, n),
		labels: make([]int, n), best: make([]int, n), nearest: make([]float64, n), sums: make([][2]float64, k), counts: make([]int, k),
		centers: make([][2]float64, k), cands: make([]int, 2+int(math.Log(float64(k)))),
	}
}

// searchCumulative is sort.SearchFloat64s on the running sums cum: the
// first index whose sum is at least x (len(cum) when none is).
func searchCumulative(cum []float64, x float64) int {
	lo, hi := 0, len(cum)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if cum[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func sq(v float64) float64 { return v * v }

func dist2(a, b [2]float64) float64 { return sq(a[0]-b[0]) + sq(a[1]-b[1]) }

// kmeansWorkspace holds the buffers a worker reuses across starts.
type kmeansWorkspace struct {
	ctx                              context.Context // a stopped ctx ends seeding and iterating early
	tol                              float64
	closest, cum, cand, cand2, bestD []float64
	labels, best, counts             []int
	cands                            []int     // a centre's candidates, indices into the points
	nearest                          []float64 // assign's distances to the nearest centre
	sums, centers                    [][2]float64
}

// seedCenters picks the initial centres by greedy k-means++: the first
// uniformly, each next one the best (lowest potential) of 2 + ⌊ln k⌋
// candidates drawn with probability proportional to the squared distance
// to the nearest chosen centre (the first of equal ones). The candidates
// of a centre are drawn before any is scored (the draws do not depend on
// the scores) and scored two at a time, each potential summed in point
// order as if alone: two independent sums keep the core busier than one.
func (ws *kmeansWorkspace) seedCenters(points [][2]float64, rng *rand.Rand) {
	n, k := len(points), len(ws.centers)
	trials := 2 + int(math.Log(float64(k)))
	ws.centers[0] = points[rng.IntN(n)]
	var pot float64
	for i, p := range points {
		ws.closest[i] = dist2(p, ws.centers[0])
		pot += ws.closest[i]
	}
	cands := ws.cands[:trials]
	for c := 1; c < k; c++ {
		if c%16 == 0 && ws.ctx.Err() != nil { // the caller discards a stopped start
			return
		}
		var s float64
		cum := ws.cum[:len(ws.closest)]
		for i, d := range ws.closest {
			s += d
			cum[i] = s
		}
		for t := range cands {
			cands[t] = min(searchCumulative(cum, rng.Float64()*pot), n-1)
		}
		bestPot, bestIdx, won := math.Inf(1), 0, false
		// A candidate whose potential reaches the best so far cannot win
		// (the terms are not negative), so a sum stops once every sum beside
		// it has reached that bound, and its distances are never used.
		take := func(candPot float64, idx int, dist *[]float64) {
			if candPot < bestPot {
				bestPot, bestIdx, won = candPot, idx, true
				ws.bestD, *dist = *dist, ws.bestD
			}
		}
		for t := 0; t < trials; t += 2 {
			if t+1 == trials {
				q, closest, cand := points[cands[t]], ws.closest[:n], ws.cand[:n]
				var pa float64
				for i, p := range points {
					d := min(dist2(p, q), closest[i])
					cand[i] = d
					if pa += d; pa >= bestPot {
						break
					}
				}
				take(pa, cands[t], &ws.cand)
				break
			}
			qa, qb := points[cands[t]], points[cands[t+1]]
			var pa, pb float64
			closest, candA, candB := ws.closest[:n], ws.cand[:n], ws.cand2[:n]
			for i, p := range points {
				near := closest[i]
				da, db := min(dist2(p, qa), near), min(dist2(p, qb), near)
				candA[i], candB[i] = da, db
				pa += da
				pb += db
				if pa >= bestPot && pb >= bestPot {
					break
				}
			}
			take(pa, cands[t], &ws.cand)
			take(pb, cands[t+1], &ws.cand2)
		}
		ws.centers[c] = points[bestIdx]
		if won {
			ws.closest, ws.bestD = ws.bestD, ws.closest
		}
		pot = bestPot
	}
}

// assign labels every point with its nearest centre (the first of equally
// near ones) and returns the inertia and whether any label changed. The
// centres go in the outer loop, so that the points' comparisons, which do
// not depend on each other, overlap.
func (ws *kmeansWorkspace) assign(points [][2]float64) (inertia float64, changed bool) {
	bd, best := ws.nearest[:len(points)], ws.best[:len(points)]
	for i := range bd {
		bd[i], best[i] = math.Inf(1), 0
	}
	for c, ctr := range ws.centers {
		for i, p := range points {
			if d := dist2(p, ctr); d < bd[i] {
				bd[i], best[i] = d, c
			}
		}
	}
	for i, b := range best {
		if ws.labels[i] != b {
			changed = true
			ws.labels[i] = b
		}
		inertia += bd[i]
	}
	return inertia, changed
}

// lloyd runs Lloyd's iterations on ws.centers and returns the inertia of
// the final centres. An empty cluster takes the point farthest from its
// centre, as scikit-learn relocates them.
func (ws *kmeansWorkspace) lloyd(points [][2]float64) float64 {
	for i := range ws.labels {
		ws.labels[i] = -1
	}
	for iter := 0; iter < 300 && ws.ctx.Err() == nil; iter++ {
		if inertia, changed := ws.assign(points); !changed {
			return inertia // the centres it measured are the final ones
		}
		for c := range ws.sums {
			ws.sums[c], ws.counts[c] = [2]float64{}, 0
		}
		for i, p := range points {
			l := ws.labels[i]
			ws.sums[l][0] += p[0]
			ws.sums[l][1] += p[1]
			ws.counts[l]++
		}
		var shift float64
		for c := range ws.centers {
			var next [2]float64
			if ws.counts[c] == 0 {
				far, fd := 0, -1.0
				for i, p := range points {
					if d := dist2(p, ws.centers[ws.labels[i]]); d > fd {
						far, fd = i, d
					}
				}
				next = points[far]
			} else {
				next = [2]float64{ws.sums[c][0] / float64(ws.counts[c]), ws.sums[c][1] / float64(ws.counts[c])}
			}
			shift += dist2(ws.centers[c], next)
			ws.centers[c] = next
		}
		if shift <= ws.tol {
			break
		}
	}
	inertia, _ := ws.assign(points)
	return inertia
}
