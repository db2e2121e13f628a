package main

// Tests of k-means against scikit-learn's best inertia.

import (
	"context"
	"math"
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
