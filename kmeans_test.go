package main

// Tests of k-means against scikit-learn's best inertia.

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestKMeansQuality: our seeded k-means reaches the inertia of
// scikit-learn's best of 200 starts (within 1%) on the golden sessions'
// test predictions: at least as good as the Python service's 10 starts.
func TestKMeansQuality(t *testing.T) {
	for _, s := range loadGolden(t) {
		g := s.g.Calib["Linear Regression"]
		pts := make([][2]float64, len(g.Test))
		for i, r := range g.Test {
			pts[i] = [2]float64{r.PredX, r.PredY}
		}
		cents, err := kmeans(context.Background(), pts, g.KMeansRef.K, 0)
		if err != nil {
			t.Fatal(err)
		}
		var inertia float64
		for _, p := range pts {
			best := math.Inf(1)
			for _, c := range cents {
				best = math.Min(best, dist2(p, c))
			}
			inertia += best
		}
		if inertia > g.KMeansRef.InertiaNInit200*1.01+1e-9 {
			t.Errorf("%s: inertia %.1f, scikit-learn best of 10 %.1f (best of 200 %.1f)", s.g.Session, inertia, g.KMeansRef.Inertia, g.KMeansRef.InertiaNInit200)
		}
		if len(cents) != g.KMeansRef.K {
			t.Errorf("%s: %d centroids", s.g.Session, len(cents))
		}
	}
}

// referenceSeeding is greedy k-means++ written plainly: each candidate's
// potential summed in full, one candidate after another, the first of
// equal potentials kept.
func referenceSeeding(points [][2]float64, k int, rng *rand.Rand) [][2]float64 {
	n := len(points)
	trials := 2 + int(math.Log(float64(k)))
	centers := [][2]float64{points[rng.IntN(n)]}
	closest := make([]float64, n)
	var pot float64
	for i, p := range points {
		closest[i] = dist2(p, centers[0])
		pot += closest[i]
	}
	for len(centers) < k {
		cum := make([]float64, n)
		var s float64
		for i, d := range closest {
			s += d
			cum[i] = s
		}
		bestPot, bestIdx, bestD := math.Inf(1), 0, closest
		for t := 0; t < trials; t++ {
			x := rng.Float64() * pot
			idx := n - 1
			for i, c := range cum {
				if c >= x {
					idx = i
					break
				}
			}
			cand := make([]float64, n)
			var candPot float64
			for i, p := range points {
				cand[i] = closest[i]
				if d := dist2(p, points[idx]); d < cand[i] {
					cand[i] = d
				}
				candPot += cand[i]
			}
			if candPot < bestPot {
				bestPot, bestIdx, bestD = candPot, idx, cand
			}
		}
		centers = append(centers, points[bestIdx])
		closest, pot = bestD, bestPot
	}
	return centers
}

// TestKMeansSeedingMatchesReference: the seeding, which scores a centre's
// candidates two at a time and stops a sum that can no longer win, picks
// the centres the plain one-at-a-time form picks, on spread, clustered
// and gridded points (ties), for k from 1 to 40 (an odd and an even number
// of candidates per centre); and Lloyd's inertia is that of the centres it
// returns.
func TestKMeansSeedingMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := 0; trial < 600; trial++ {
		n := 2 + rng.IntN(150)
		points := make([][2]float64, n)
		for i := range points {
			switch trial % 3 {
			case 0:
				points[i] = [2]float64{rng.Float64() * 1500, rng.Float64() * 750}
			case 1:
				c := float64(rng.IntN(9))
				points[i] = [2]float64{c*160 + rng.NormFloat64()*15, c*80 + rng.NormFloat64()*8}
			case 2:
				points[i] = [2]float64{float64(rng.IntN(3)) * 100, float64(rng.IntN(3)) * 50}
			}
		}
		k := 1 + rng.IntN(min(n, 40))
		seed := rng.Uint64()
		ws := newKMeansWorkspace(context.Background(), n, k, 0)
		ws.seedCenters(points, rand.New(rand.NewPCG(seed, 1)))
		want := referenceSeeding(points, k, rand.New(rand.NewPCG(seed, 1)))
		for c := range want {
			if ws.centers[c] != want[c] {
				t.Fatalf("trial %d (n %d, k %d): centre %d is %v, want %v", trial, n, k, c, ws.centers[c], want[c])
			}
		}
		inertia := ws.lloyd(points)
		var sum float64
		for _, p := range points {
			best := math.Inf(1)
			for _, c := range ws.centers {
				if d := dist2(p, c); d < best {
					best = d
				}
			}
			sum += best
		}
		if inertia != sum {
			t.Fatalf("trial %d: lloyd's inertia %v, its centres' %v", trial, inertia, sum)
		}
	}
}

// TestKMeansRefusesNonFinitePoints: a prediction gone to ±Inf or NaN gives
// an error the calibration reports as a 400, not centroids made of it.
func TestKMeansRefusesNonFinitePoints(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		points := [][2]float64{{1, 2}, {3, 4}, {bad, 5}, {6, 7}}
		if _, err := kmeans(context.Background(), points, 2, 0); !errors.Is(err, errNotFittable) {
			t.Errorf("point %v: error %v, want errNotFittable", bad, err)
		}
	}
}
