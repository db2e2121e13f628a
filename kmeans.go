package main

import (
	"math"
	"math/rand/v2"
	"sort"
)

// kmeansRestarts is how many k-means++ starts are tried; the lowest inertia wins.
const kmeansRestarts = 10

// kmeans clusters 2-D points into k groups the way scikit-learn's KMeans
// does (greedy k-means++ seeding with 2 + ⌊ln k⌋ local trials, Lloyd
// iterations until the squared centre shift is at most 1e-4 × the mean
// per-axis variance or 300 iterations, the best of kmeansRestarts starts by
// inertia), but from a seeded generator, so that the same points and seed
// always give the same centroids. 1 ≤ k ≤ len(points) is the caller's check.
func kmeans(points [][2]float64, k int, seed uint64) [][2]float64 {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var mean [2]float64
	for _, p := range points {
		mean[0] += p[0]
		mean[1] += p[1]
	}
	n := float64(len(points))
	mean[0] /= n
	mean[1] /= n
	var variance float64
	for _, p := range points {
		variance += sq(p[0]-mean[0]) + sq(p[1]-mean[1])
	}
	tol := variance / n / 2 * 1e-4

	var best [][2]float64
	bestInertia := math.Inf(1)
	labels := make([]int, len(points))
	for r := 0; r < kmeansRestarts; r++ {
		centers := kmeansPlusPlus(points, k, rng)
		inertia := lloyd(points, centers, labels, tol)
		if inertia < bestInertia {
			bestInertia = inertia
			best = append(best[:0:0], centers...)
		}
	}
	return best
}

func sq(v float64) float64 { return v * v }

func dist2(a, b [2]float64) float64 { return sq(a[0]-b[0]) + sq(a[1]-b[1]) }

// kmeansPlusPlus picks k initial centres by greedy k-means++.
func kmeansPlusPlus(points [][2]float64, k int, rng *rand.Rand) [][2]float64 {
	n := len(points)
	trials := 2 + int(math.Log(float64(k)))
	centers := make([][2]float64, 0, k)
	centers = append(centers, points[rng.IntN(n)])
	closest := make([]float64, n)
	var pot float64
	for i, p := range points {
		closest[i] = dist2(p, centers[0])
		pot += closest[i]
	}
	cum := make([]float64, n)
	cand := make([]float64, n)
	bestD := make([]float64, n)
	for len(centers) < k {
		var s float64
		for i, d := range closest {
			s += d
			cum[i] = s
		}
		bestPot, bestIdx := math.Inf(1), -1
		for t := 0; t < trials; t++ {
			idx := sort.SearchFloat64s(cum, rng.Float64()*pot)
			if idx >= n {
				idx = n - 1
			}
			var candPot float64
			for i, p := range points {
				cand[i] = math.Min(closest[i], dist2(p, points[idx]))
				candPot += cand[i]
			}
			if candPot < bestPot {
				bestPot, bestIdx = candPot, idx
				copy(bestD, cand)
			}
		}
		centers = append(centers, points[bestIdx])
		copy(closest, bestD)
		pot = bestPot
	}
	return centers
}

// lloyd runs Lloyd's iterations in place on centers and returns the inertia
// (sum of squared distances to the nearest centre) of the final centres. An
// empty cluster takes the point farthest from its centre, as scikit-learn
// relocates them.
func lloyd(points [][2]float64, centers [][2]float64, labels []int, tol float64) float64 {
	k := len(centers)
	sums := make([][2]float64, k)
	counts := make([]int, k)
	assign := func() (inertia float64, changed bool) {
		for i, p := range points {
			best, bd := 0, math.Inf(1)
			for c := range centers {
				if d := dist2(p, centers[c]); d < bd {
					best, bd = c, d
				}
			}
			if labels[i] != best {
				changed = true
			}
			labels[i] = best
			inertia += bd
		}
		return inertia, changed
	}
	for i := range labels {
		labels[i] = -1
	}
	for iter := 0; iter < 300; iter++ {
		if _, changed := assign(); !changed && iter > 0 {
			break
		}
		for c := range sums {
			sums[c], counts[c] = [2]float64{}, 0
		}
		for i, p := range points {
			sums[labels[i]][0] += p[0]
			sums[labels[i]][1] += p[1]
			counts[labels[i]]++
		}
		var shift float64
		for c := range centers {
			if counts[c] == 0 {
				far, fd := 0, -1.0
				for i, p := range points {
					if d := dist2(p, centers[labels[i]]); d > fd {
						far, fd = i, d
					}
				}
				shift += dist2(centers[c], points[far])
				centers[c] = points[far]
				continue
			}
			next := [2]float64{sums[c][0] / float64(counts[c]), sums[c][1] / float64(counts[c])}
			shift += dist2(centers[c], next)
			centers[c] = next
		}
		if shift <= tol {
			break
		}
	}
	inertia, _ := assign()
	return inertia
}
