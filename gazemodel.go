package main

// The batch_predict model: the Python service's WebGazer-style features, a
// StandardScaler + Ridge per axis and the tanh mapping to the screen, and
// the cache of fitted batch models by calibration version, estimator and
// screen size.

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// gazeModel is the batch_predict model of one calibration for one screen
// size: WebGazer-style features, a StandardScaler + Ridge(alpha=1) per axis,
// and the screen scales that map tanh of the model output to pixels.
type gazeModel struct {
	refX, refY    float64 // calibration means of the mid-eye x and y
	yScale        float64 // std(mid-eye y) + 1e-6 over the calibration
	scalerX       standardScaler
	scalerY       standardScaler
	ridgeX        linearModel
	ridgeY        linearModel
	pixelScaleX   float64 // the Python service's x_scale: half the 5–95 % range of the targets, in px
	pixelScaleY   float64
	width, height float64
}

// lateralSwap reports whether the calibration's (or a batch's) left and
// right columns are the wrong way round: mean(left) < mean(right).
func lateralSwap(left, right []float64) bool {
	return mean(left) < mean(right)
}

// eyeColumns splits samples into left/right x and y columns, each pair
// swapped if the laterality check says so.
func eyeColumns(samples []irisSample) (lx, rx, ly, ry []float64) {
	n := len(samples)
	lx, rx, ly, ry = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, s := range samples {
		lx[i], rx[i], ly[i], ry[i] = s.LeftX, s.RightX, s.LeftY, s.RightY
	}
	if lateralSwap(lx, rx) {
		lx, rx = rx, lx
	}
	if lateralSwap(ly, ry) {
		ly, ry = ry, ly
	}
	return lx, rx, ly, ry
}

// gazeFeatures builds the model inputs from the eye columns: for x
// [l, r, mean, diff, mean − refX], for y [diff/s, (mean − refY)/s].
func gazeFeatures(lx, rx, ly, ry []float64, refX, refY, s float64) (fx, fy *mat.Dense) {
	n := len(lx)
	fx, fy = mat.NewDense(n, 5, nil), mat.NewDense(n, 2, nil)
	for i := 0; i < n; i++ {
		x, y := gazeFeatureRow(lx[i], rx[i], ly[i], ry[i], refX, refY, s)
		copy(fx.RawRowView(i), x[:])
		copy(fy.RawRowView(i), y[:])
	}
	return fx, fy
}

// gazeFeatureRow is one row of gazeFeatures.
func gazeFeatureRow(lx, rx, ly, ry, refX, refY, s float64) (x [5]float64, y [2]float64) {
	mx := (lx + rx) / 2
	my := (ly + ry) / 2
	return [5]float64{lx, rx, mx, lx - rx, mx - refX}, [2]float64{(ly - ry) / s, (my - refY) / s}
}

// fitGazeModel fits the batch model on the calibration rows for a screen of
// width × height CSS pixels: targets normalised to [−1, 1] about the
// screen centre, the eye columns (laterality checked), the reference means
// and scale, the features, a StandardScaler + Ridge(alpha=1) per axis, and
// the pixel scales from the targets' 5th and 95th percentiles.
func fitGazeModel(rows []labelledSample, width, height float64) (*gazeModel, error) {
	n := len(rows)
	if n < 2 {
		return nil, fmt.Errorf("%w: the calibration has %d rows, at least 2 are needed", errNotFittable, n)
	}
	iris := make([]irisSample, n)
	tx, ty := make([]float64, n), make([]float64, n)
	for i, r := range rows {
		iris[i] = r.irisSample
		tx[i] = (r.PointX - width/2) / (width / 2)
		ty[i] = (r.PointY - height/2) / (height / 2)
	}
	lx, rx, ly, ry := eyeColumns(iris)
	m := &gazeModel{width: width, height: height}
	midX, midY := make([]float64, n), make([]float64, n)
	for i := range lx {
		midX[i] = (lx[i] + rx[i]) / 2
		midY[i] = (ly[i] + ry[i]) / 2
	}
	m.refX, m.refY = mean(midX), mean(midY)
	m.yScale = populationSD(midY) + 1e-6
	fx, fy := gazeFeatures(lx, rx, ly, ry, m.refX, m.refY, m.yScale)
	m.scalerX, m.scalerY = fitStandardScaler(fx), fitStandardScaler(fy)
	px, err := fitRidge(1)(context.Background(), m.scalerX.transform(fx), tx)
	if err != nil {
		return nil, err
	}
	py, err := fitRidge(1)(context.Background(), m.scalerY.transform(fy), ty)
	if err != nil {
		return nil, err
	}
	m.ridgeX, m.ridgeY = px.(linearModel), py.(linearModel)
	slices.Sort(tx)
	slices.Sort(ty)
	m.pixelScaleX = math.Max((percentile(tx, 95)-percentile(tx, 5))/2, 1e-6) * width / 2
	m.pixelScaleY = math.Max((percentile(ty, 95)-percentile(ty, 5))/2, 1e-6) * height / 2
	return m, nil
}

// predict maps a batch of samples to screen points as the Python service's
// batch_predict does: the batch's own laterality check, the calibration's
// reference means and scale, y outputs de-meaned over the batch and × 1.2,
// then centre + tanh(output) × scale.
func (m *gazeModel) predict(samples []irisSample) (xs, ys []float64) {
	// The arithmetic of eyeColumns, gazeFeatures, the scalers' transform and
	// the ridges' predict, one sample at a time.
	n := len(samples)
	var sums [4]float64 // left x, right x, left y, right y, summed as mean sums
	for _, s := range samples {
		sums[0] += s.LeftX
		sums[1] += s.RightX
		sums[2] += s.LeftY
		sums[3] += s.RightY
	}
	swapX := sums[0]/float64(n) < sums[1]/float64(n) // lateralSwap
	swapY := sums[2]/float64(n) < sums[3]/float64(n)
	xs, ys = make([]float64, n), make([]float64, n)
	var zx [5]float64
	var zy [2]float64
	for i, s := range samples {
		lx, rx, ly, ry := s.LeftX, s.RightX, s.LeftY, s.RightY
		if swapX {
			lx, rx = rx, lx
		}
		if swapY {
			ly, ry = ry, ly
		}
		fx, fy := gazeFeatureRow(lx, rx, ly, ry, m.refX, m.refY, m.yScale)
		m.scalerX.transformRow(fx[:], zx[:])
		m.scalerY.transformRow(fy[:], zy[:])
		xs[i], ys[i] = m.ridgeX.predictRow(zx[:]), m.ridgeY.predictRow(zy[:])
	}
	my := mean(ys)
	for i := range xs {
		xs[i] = m.width/2 + math.Tanh(xs[i])*m.pixelScaleX
		ys[i] = m.height/2 + math.Tanh((ys[i]-my)*1.2)*m.pixelScaleY
	}
	return xs, ys
}

// gazeModelCache keeps fitted batch models by calibration id, store version,
// estimator and screen size, so repeated batches do not refit. Replacing a
// calibration changes its version, which invalidates its entries (they are
// dropped when the new version is cached). At most max entries are kept;
// when full, an arbitrary entry is dropped.
type gazeModelCache struct {
	mu      sync.Mutex
	max     int
	entries map[gazeCacheKey]batchModel
}

type gazeCacheKey struct {
	id, version   string
	estimator     string
	width, height float64
}

func newGazeModelCache(max int) *gazeModelCache {
	return &gazeModelCache{max: max, entries: make(map[gazeCacheKey]batchModel)}
}

func (c *gazeModelCache) get(k gazeCacheKey) batchModel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[k]
}

func (c *gazeModelCache) put(k gazeCacheKey, m batchModel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for old := range c.entries {
		if old.id == k.id && old.version != k.version { // a replaced calibration
			delete(c.entries, old)
		}
	}
	for old := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, old)
	}
	c.entries[k] = m
}

// forget drops every entry of id.
func (c *gazeModelCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.id == id {
			delete(c.entries, k)
		}
	}
}

// gazeModelFor returns the cached model of id by the estimator for the
// screen size, fitting and caching it when the calibration is new or was
// replaced.
func gazeModelFor(store calibrationStore, cache *gazeModelCache, id, estimator string, width, height float64) (batchModel, error) {
	version, err := store.Version(id)
	if err != nil {
		return nil, storeError("calib_id", err)
	}
	key := gazeCacheKey{id: id, version: version, estimator: estimator, width: width, height: height}
	if m := cache.get(key); m != nil {
		return m, nil
	}
	c, err := store.Load(id)
	if err != nil {
		return nil, storeError("calib_id", err)
	}
	m, err := fitBatchModel(estimator, c.Fixed, width, height)
	if err != nil {
		return nil, &apiError{Status: http.StatusUnprocessableEntity, Field: "calib_id", Message: fmt.Sprintf("calibration %q cannot be used: %v", id, err)}
	}
	cache.put(key, m)
	return m, nil
}
