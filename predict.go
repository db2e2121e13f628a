package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

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
	pixelScaleX   float64 // x_scale in the contract: half-range of the targets in px
	pixelScaleY   float64
	width, height float64
}

// lateralSwap reports whether the calibration's (or a batch's) left and
// right columns are the wrong way round: mean(left) < mean(right).
func lateralSwap(left, right []float64) bool {
	return mean(left) < mean(right)
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
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

// gazeFeatures builds the model inputs of the contract's step 3: for x
// [l, r, mean, diff, mean − refX], for y [diff/s, (mean − refY)/s].
func gazeFeatures(lx, rx, ly, ry []float64, refX, refY, s float64) (fx, fy *mat.Dense) {
	n := len(lx)
	fx, fy = mat.NewDense(n, 5, nil), mat.NewDense(n, 2, nil)
	for i := 0; i < n; i++ {
		mx := (lx[i] + rx[i]) / 2
		my := (ly[i] + ry[i]) / 2
		copy(fx.RawRowView(i), []float64{lx[i], rx[i], mx, lx[i] - rx[i], mx - refX})
		row := fy.RawRowView(i)
		row[0] = (ly[i] - ry[i]) / s
		row[1] = (my - refY) / s
	}
	return fx, fy
}

// percentile is numpy.percentile with linear interpolation (numpy's _lerp,
// which computes from the upper end when the fraction is ≥ 0.5).
func percentile(sorted []float64, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	t := pos - float64(lo)
	a, b := sorted[lo], sorted[hi]
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// fitGazeModel fits the batch model on the calibration rows for a screen of
// width × height CSS pixels (the contract's steps 1–5).
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

// predict maps a batch of samples to screen points (the contract's steps
// 2, 3, 6 and 7): the batch's own laterality check, the calibration's
// reference means and scale, y outputs de-meaned over the batch and × 1.2,
// then centre + tanh(output) × scale.
func (m *gazeModel) predict(samples []irisSample) (xs, ys []float64) {
	lx, rx, ly, ry := eyeColumns(samples)
	fx, fy := gazeFeatures(lx, rx, ly, ry, m.refX, m.refY, m.yScale)
	n := len(samples)
	xs, ys = make([]float64, n), make([]float64, n)
	m.ridgeX.predict(m.scalerX.transform(fx), xs)
	m.ridgeY.predict(m.scalerY.transform(fy), ys)
	my := mean(ys)
	for i := range xs {
		xs[i] = m.width/2 + math.Tanh(xs[i])*m.pixelScaleX
		ys[i] = m.height/2 + math.Tanh((ys[i]-my)*1.2)*m.pixelScaleY
	}
	return xs, ys
}

// gazeModelCache keeps fitted batch models by calibration id, store version
// and screen size, so repeated batches do not refit. Replacing a
// calibration changes its version, which invalidates its entries (they are
// dropped when the new version is cached). At most max entries are kept;
// when full, an arbitrary entry is dropped.
type gazeModelCache struct {
	mu      sync.Mutex
	max     int
	entries map[gazeCacheKey]*gazeModel
}

type gazeCacheKey struct {
	id, version   string
	width, height float64
}

func newGazeModelCache(max int) *gazeModelCache {
	return &gazeModelCache{max: max, entries: make(map[gazeCacheKey]*gazeModel)}
}

func (c *gazeModelCache) get(k gazeCacheKey) *gazeModel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[k]
}

func (c *gazeModelCache) put(k gazeCacheKey, m *gazeModel) {
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

// batchRequest is the JSON body of batch_predict, each member's JSON kept
// raw so that errors can name the sample and key, and the screen size and
// timestamps are echoed exactly as sent. RUXAILAB's k and model_name are
// accepted and ignored, as the Python service did.
type batchRequest struct {
	CalibID          json.RawMessage
	ScreenWidth      json.RawMessage
	ScreenHeight     json.RawMessage
	IrisTrackingData json.RawMessage
}

// decodeBatchObject splits the top-level JSON object into its members
// without decoding them (other members are skipped).
func decodeBatchObject(body []byte, req *batchRequest) error {
	notObject := func() error {
		return &apiError{Status: http.StatusBadRequest, Message: "body must be a JSON object with calib_id, screen_width, screen_height and iris_tracking_data"}
	}
	p := jsonScanner{data: body}
	p.skipSpace()
	if !p.consume('{') {
		return notObject()
	}
	p.skipSpace()
	if p.consume('}') {
		return p.end("")
	}
	for {
		p.skipSpace()
		key, ok := p.readKey()
		if !ok {
			return notObject()
		}
		p.skipSpace()
		if !p.consume(':') {
			return notObject()
		}
		p.skipSpace()
		start := p.pos
		if !p.skipValue() {
			return &apiError{Status: http.StatusBadRequest, Field: string(key), Message: fmt.Sprintf("is not valid JSON near byte %d", p.pos)}
		}
		value := json.RawMessage(body[start:p.pos])
		switch string(key) {
		case "calib_id":
			req.CalibID = value
		case "screen_width":
			req.ScreenWidth = value
		case "screen_height":
			req.ScreenHeight = value
		case "iris_tracking_data":
			req.IrisTrackingData = value
		}
		p.skipSpace()
		if p.consume(',') {
			continue
		}
		if p.consume('}') {
			return p.end("")
		}
		return notObject()
	}
}

// parseJSONNumber parses raw as a finite JSON number; ok is false for
// anything else (strings, null, NaN spelled out, missing).
func parseJSONNumber(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	if end, ok := jsonNumberEnd(raw, 0); !ok || end != len(raw) {
		return 0, false
	}
	if v, ok := parseDecimalExact(raw); ok {
		return v, true
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// parseScreenSize accepts a positive number, or a numeric string, up to limit px.
func parseScreenSize(field string, raw json.RawMessage, limit float64) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, badField(field, "is required: the screen size in CSS pixels")
	}
	v, ok := parseJSONNumber(raw)
	if !ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			f, err := strconv.ParseFloat(s, 64)
			if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				v, ok = f, true
			}
		}
	}
	if !ok {
		return 0, badField(field, "must be a number, got %s", truncate(string(raw), 40))
	}
	if v <= 0 || v > limit {
		return 0, badField(field, "must be a positive number of CSS pixels up to %g, got %g", limit, v)
	}
	return v, nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parsedBatch is a validated batch_predict request.
type parsedBatch struct {
	id                  string
	width, height       float64
	rawWidth, rawHeight json.RawMessage
	samples             []irisSample
	timestamps          []json.RawMessage
}

// decodeBatchRequest validates a batch_predict request body.
func decodeBatchRequest(r *http.Request, lim inputLimits) (parsedBatch, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !(len(mt) > 5 && mt[len(mt)-5:] == "+json")) {
			return parsedBatch{}, &apiError{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("Content-Type must be application/json, got %q", ct)}
		}
	}
	body, err := readChunked(r.Body)
	if err != nil {
		return parsedBatch{}, bodyError(err, "reading the body")
	}
	var req batchRequest
	if err := decodeBatchObject(body, &req); err != nil {
		return parsedBatch{}, err
	}
	var p parsedBatch
	if len(req.CalibID) == 0 || string(req.CalibID) == "null" {
		return p, badField("calib_id", "is required: the file_name the calibration was stored under")
	}
	var rawID string
	if err := json.Unmarshal(req.CalibID, &rawID); err != nil {
		if v, ok := parseJSONNumber(req.CalibID); ok { // a numeric id, as the front end may send
			rawID = strconv.FormatFloat(v, 'f', -1, 64)
		} else {
			return p, badField("calib_id", "must be a string")
		}
	}
	if rawID == "" {
		return p, badField("calib_id", "must not be empty")
	}
	if p.id, err = decodeID("calib_id", rawID, lim); err != nil {
		return p, err
	}
	if p.width, err = parseScreenSize("screen_width", req.ScreenWidth, lim.maxScreenPx); err != nil {
		return p, err
	}
	if p.height, err = parseScreenSize("screen_height", req.ScreenHeight, lim.maxScreenPx); err != nil {
		return p, err
	}
	p.rawWidth, p.rawHeight = bytes.TrimSpace(req.ScreenWidth), bytes.TrimSpace(req.ScreenHeight)
	if len(req.IrisTrackingData) == 0 || string(req.IrisTrackingData) == "null" {
		return p, badField("iris_tracking_data", "is required: an array of iris samples")
	}
	arr, err := decodeSampleArray(req.IrisTrackingData, sampleSpec{
		field: "iris_tracking_data", keys: irisKeyList, passThrough: "timestamp",
		maxLen: lim.maxSamples, maxAbs: lim.maxCoordinate,
	})
	if err != nil {
		return p, err
	}
	if len(arr.values) == 0 {
		return p, badField("iris_tracking_data", "must not be empty")
	}
	p.samples = make([]irisSample, len(arr.values))
	for i, v := range arr.values {
		p.samples[i] = irisSample{v[0], v[1], v[2], v[3]}
	}
	p.timestamps = arr.raw
	for i, ts := range p.timestamps {
		if !utf8.Valid(ts) { // echoed as sent, but the response must stay valid UTF-8
			var v any
			json.Unmarshal(ts, &v)
			p.timestamps[i], _ = json.Marshal(v)
		}
	}
	return p, nil
}

// encodeBatchResponse writes the JSON array of predictions, echoing the
// screen size and each timestamp as sent (null when absent).
func encodeBatchResponse(p parsedBatch, xs, ys []float64) []byte {
	b := make([]byte, 0, 128*len(xs)+2)
	b = append(b, '[')
	for i := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"predicted_x":`...)
		b = appendJSONFloat(b, xs[i])
		b = append(b, `,"predicted_y":`...)
		b = appendJSONFloat(b, ys[i])
		b = append(b, `,"screen_height":`...)
		b = append(b, p.rawHeight...)
		b = append(b, `,"screen_width":`...)
		b = append(b, p.rawWidth...)
		b = append(b, `,"timestamp":`...)
		if len(p.timestamps[i]) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, p.timestamps[i]...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// handleBatchPredict serves POST /api/session/batch_predict.
func handleBatchPredict(store calibrationStore, cache *gazeModelCache, work *admission, lim inputLimits, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := decodeBatchRequest(r, lim)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		j, err := work.admit(r, 0) // light: a ridge fit at most, then a linear map
		if err != nil {
			writeError(w, r, log, work.stopError(err, "the prediction"))
			return
		}
		model, err := gazeModelFor(store, cache, p.id, p.width, p.height)
		if err != nil {
			j.done()
			writeError(w, r, log, err)
			return
		}
		xs, ys := model.predict(p.samples)
		j.done()
		writeJSONBytes(w, http.StatusOK, encodeBatchResponse(p, xs, ys))
	})
}

// gazeModelFor returns the cached model of id for the screen size, fitting
// and caching it when the calibration is new or was replaced.
func gazeModelFor(store calibrationStore, cache *gazeModelCache, id string, width, height float64) (*gazeModel, error) {
	version, err := store.Version(id)
	if err != nil {
		return nil, storeError("calib_id", err)
	}
	key := gazeCacheKey{id: id, version: version, width: width, height: height}
	if m := cache.get(key); m != nil {
		return m, nil
	}
	c, err := store.Load(id)
	if err != nil {
		return nil, storeError("calib_id", err)
	}
	m, err := fitGazeModel(c.Fixed, width, height)
	if err != nil {
		return nil, &apiError{Status: http.StatusUnprocessableEntity, Field: "calib_id", Message: fmt.Sprintf("calibration %q cannot be used: %v", id, err)}
	}
	cache.put(key, m)
	return m, nil
}
