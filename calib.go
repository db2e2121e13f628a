package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// irisSample is one face-mesh reading: iris centres in video pixels.
type irisSample struct {
	LeftX  float64 `json:"left_iris_x"`
	LeftY  float64 `json:"left_iris_y"`
	RightX float64 `json:"right_iris_x"`
	RightY float64 `json:"right_iris_y"`
}

// labelledSample is an iris reading taken while the user looked at the dot
// (PointX, PointY), in CSS pixels.
type labelledSample struct {
	irisSample
	PointX float64 `json:"point_x"`
	PointY float64 `json:"point_y"`
}

// calibration is what the store keeps under one id.
type calibration struct {
	Fixed        []labelledSample
	Calib        []irisSample
	ScreenWidth  float64
	ScreenHeight float64
}

// axisFit is the fitted model of one screen axis.
type axisFit struct {
	scaler standardScaler
	result searchResult
}

// testPoint is one held-out row with its prediction.
type testPoint struct {
	Row          int
	TrueX, TrueY float64
	PredX, PredY float64
}

// targetStats is the quality of one calibration dot over its kept test rows.
type targetStats struct {
	TrueX, TrueY float64
	PredX, PredY []float64
	PrecisionSD  float64
	Accuracy     float64
}

// calibReport is the outcome of calib_validation before encoding.
type calibReport struct {
	Test      []testPoint
	Targets   []targetStats // in order of first appearance among the kept test rows
	Centroids [][2]float64
	X, Y      axisFit
}

// axisDesign returns the feature matrix and target of one axis:
// [left, right] iris x against point_x, or the same for y.
func axisDesign(rows []labelledSample, idx []int, yAxis bool) (*mat.Dense, []float64) {
	x := mat.NewDense(len(idx), 2, nil)
	t := make([]float64, len(idx))
	for i, r := range idx {
		s := rows[r]
		if yAxis {
			x.Set(i, 0, s.LeftY)
			x.Set(i, 1, s.RightY)
			t[i] = s.PointY
		} else {
			x.Set(i, 0, s.LeftX)
			x.Set(i, 1, s.RightX)
			t[i] = s.PointX
		}
	}
	return x, t
}

// fitAxis scales the training rows (StandardScaler fit on them) and fits
// the model; it returns the fit and the predictions for the test rows.
func fitAxis(ctx context.Context, spec modelSpec, rows []labelledSample, train, test []int, yAxis bool, borrow borrower) (axisFit, []float64, error) {
	xTrain, yTrain := axisDesign(rows, train, yAxis)
	xTest, _ := axisDesign(rows, test, yAxis)
	scaler := fitStandardScaler(xTrain)
	res, err := fitModel(ctx, spec, scaler.transform(xTrain), yTrain, borrow)
	if err != nil {
		return axisFit{}, nil, err
	}
	return axisFit{scaler: scaler, result: res}, predictModel(spec, res.model, scaler.transform(xTest)), nil
}

// evaluateCalibration reproduces the Python service's calib_validation maths:
// one 80/20 split (random_state 42) for both axes, per axis a scaler and the
// model, predictions for the test rows, k-means over those predictions, and
// per target PrecisionSD and Accuracy over the test rows whose predictions
// are both non-negative. It runs on the calling goroutine alone.
func evaluateCalibration(spec modelSpec, rows []labelledSample, k int, seed uint64) (calibReport, error) {
	return evaluateCalibrationWith(context.Background(), spec, rows, k, seed, nil)
}

// evaluateCalibrationWith is evaluateCalibration with the two axes and the
// grid candidates fitted in parallel on the workers borrow lends. The result
// does not depend on how many there were. Once ctx is done it stops within
// about 100 ms and returns stopCause(ctx).
func evaluateCalibrationWith(ctx context.Context, spec modelSpec, rows []labelledSample, k int, seed uint64, borrow borrower) (calibReport, error) {
	train, test := trainTestSplit(len(rows))
	if len(train) == 0 || len(test) == 0 {
		return calibReport{}, fmt.Errorf("%w: %d rows leave no training or test rows", errNotFittable, len(rows))
	}
	if k < 1 || k > len(test) {
		return calibReport{}, fmt.Errorf("k must be between 1 and the %d test rows, got %d", len(test), k)
	}
	var fits [2]axisFit
	var preds [2][]float64
	var errs [2]error
	parallelFor(ctx, 2, borrow, func(axis int) {
		fits[axis], preds[axis], errs[axis] = fitAxis(ctx, spec, rows, train, test, axis == 1, borrow)
	})
	if err := stopCause(ctx); err != nil {
		return calibReport{}, err
	}
	if errs[0] != nil {
		return calibReport{}, fmt.Errorf("x axis: %w", errs[0])
	}
	if errs[1] != nil {
		return calibReport{}, fmt.Errorf("y axis: %w", errs[1])
	}
	fx, fy, px, py := fits[0], fits[1], preds[0], preds[1]
	rep := calibReport{X: fx, Y: fy, Test: make([]testPoint, len(test))}
	points := make([][2]float64, len(test))
	for i, r := range test {
		rep.Test[i] = testPoint{Row: r, TrueX: rows[r].PointX, TrueY: rows[r].PointY, PredX: px[i], PredY: py[i]}
		points[i] = [2]float64{px[i], py[i]}
	}
	rep.Targets = targetQuality(rep.Test)
	var err error
	if rep.Centroids, err = kmeans(ctx, points, k, seed); err != nil {
		return calibReport{}, err
	}
	return rep, nil
}

// targetQuality groups the test rows with non-negative predictions by their
// true target and computes, per group, PrecisionSD = (sd(px) + sd(py)) / 2
// with population deviations about the group mean, and Accuracy = the mean
// Euclidean distance between prediction and target.
func targetQuality(test []testPoint) []targetStats {
	type key struct{ x, y float64 }
	index := map[key]int{}
	var out []targetStats
	for _, p := range test {
		if p.PredX < 0 || p.PredY < 0 {
			continue
		}
		k := key{p.TrueX, p.TrueY}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, targetStats{TrueX: p.TrueX, TrueY: p.TrueY})
		}
		out[i].PredX = append(out[i].PredX, p.PredX)
		out[i].PredY = append(out[i].PredY, p.PredY)
	}
	for i := range out {
		t := &out[i]
		t.PrecisionSD = (populationSD(t.PredX) + populationSD(t.PredY)) / 2
		var sum float64
		for j := range t.PredX {
			sum += math.Hypot(t.TrueX-t.PredX[j], t.TrueY-t.PredY[j])
		}
		t.Accuracy = sum / float64(len(t.PredX))
	}
	return out
}

// populationSD is numpy's std with ddof=0.
func populationSD(v []float64) float64 {
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	var ss float64
	for _, x := range v {
		d := x - m
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(v)))
}

// targetKey is the Python service's key for a target coordinate: the text of
// the float up to its decimal point (373.75 → "373", 50.0 → "50").
func targetKey(v float64) string {
	return strconv.FormatInt(int64(math.Trunc(v)), 10)
}

// calibRequest is a validated calib_validation request.
type calibRequest struct {
	id           string
	spec         modelSpec
	k            int
	cal          calibration
	fromRuxailab bool
	userID       json.RawMessage
	studyID      json.RawMessage
}

// formFields holds the first value of each field of a calib_validation
// form, as raw bytes.
type formFields map[string][]byte

// get returns the JSON value of field, trimmed; ok is false when absent.
func (f formFields) get(field string) (json.RawMessage, bool) {
	v, ok := f[field]
	return json.RawMessage(bytes.TrimSpace(v)), ok
}

// maxFormFields bounds how many fields a form may have.
const maxFormFields = 64

// readForm reads a multipart or URL-encoded form. Multipart field values
// are read in chunks and copied once into a buffer of their exact size, so a huge field costs at most twice its size (up to the body
// limit), never the repeated doubling of a growing buffer.
func readForm(r *http.Request) (formFields, error) {
	fields := formFields{}
	mr, err := r.MultipartReader()
	if errors.Is(err, http.ErrNotMultipart) {
		if err := r.ParseForm(); err != nil {
			return nil, bodyError(err, "form could not be read")
		}
		for k, v := range r.PostForm {
			if len(v) > 0 {
				fields[k] = []byte(v[0])
			}
		}
		return fields, nil
	}
	if err != nil {
		return nil, bodyError(err, "form could not be read")
	}
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return fields, nil
		}
		if err != nil {
			return nil, bodyError(err, "form could not be read")
		}
		if n >= maxFormFields {
			return nil, &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("the form has more than %d fields", maxFormFields)}
		}
		name := part.FormName()
		value, err := readChunked(part)
		part.Close()
		if err != nil {
			return nil, bodyError(err, "form could not be read")
		}
		if _, seen := fields[name]; !seen && name != "" {
			fields[name] = value
		}
	}
}

// readChunked reads r to the end in chunks (512 bytes, doubling up to
// 64 KiB, none of them copied while reading) and returns one buffer of the
// exact size.
func readChunked(r io.Reader) ([]byte, error) {
	var chunks [][]byte
	total, size := 0, 512
	for {
		chunk := make([]byte, size)
		size = min(2*size, 64<<10)
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			chunks = append(chunks, chunk[:n])
			total += n
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// decodeFormJSON unmarshals the JSON text of a form field into v.
func decodeFormJSON(raw json.RawMessage, field, want string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return badField(field, "must be JSON text holding %s (the front end sends JSON.stringify(value)); got %s", want, truncate(string(raw), 40))
	}
	return nil
}

// labelledKeys and irisKeyList are the keys of the two sample arrays.
var (
	labelledKeys = []string{"left_iris_x", "left_iris_y", "right_iris_x", "right_iris_y", "point_x", "point_y"}
	irisKeyList  = labelledKeys[:4]
)

// decodePoints parses a sample array; labelled arrays also need point_x/point_y.
func decodePoints(raw json.RawMessage, field string, labelled bool, lim inputLimits) ([]labelledSample, error) {
	keys := irisKeyList
	if labelled {
		keys = labelledKeys
	}
	arr, err := decodeSampleArray(raw, sampleSpec{field: field, keys: keys, maxLen: lim.maxCalibRows, maxAbs: lim.maxCoordinate})
	if err != nil {
		return nil, err
	}
	out := make([]labelledSample, len(arr.values))
	for i, v := range arr.values {
		out[i] = labelledSample{irisSample{v[0], v[1], v[2], v[3]}, v[4], v[5]}
	}
	return out, nil
}

// isFormContentType reports whether ct is one of the two form encodings.
func isFormContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "multipart/form-data" || mt == "application/x-www-form-urlencoded")
}

// decodeCalibRequest reads and validates a calib_validation form. Every
// check runs before any model work starts.
func decodeCalibRequest(r *http.Request, specs map[string]modelSpec, lim inputLimits) (calibRequest, error) {
	var req calibRequest
	ct := r.Header.Get("Content-Type")
	if !isFormContentType(ct) {
		return req, &apiError{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("Content-Type must be multipart/form-data or application/x-www-form-urlencoded, got %q", ct)}
	}
	form, err := readForm(r)
	if err != nil {
		return req, err
	}

	// file_name → id
	raw, ok := form.get("file_name")
	if !ok || string(raw) == "null" {
		return req, badField("file_name", "is required: the id to store the calibration under")
	}
	var name string
	if err := decodeFormJSON(raw, "file_name", "a string", &name); err != nil {
		return req, err
	}
	if req.id, err = decodeID("file_name", name, lim); err != nil {
		return req, err
	}

	// model
	modelName := "Linear Regression"
	if raw, ok := form.get("model"); ok && string(raw) != "null" && len(raw) > 0 {
		if err := decodeFormJSON(raw, "model", "a string", &modelName); err != nil {
			return req, err
		}
	}
	spec, ok := specs[modelName]
	if !ok {
		return req, badField("model", "%v", unknownModelError(truncate(modelName, lim.maxStringLen), specs))
	}
	req.spec = spec

	// screen size
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"screen_width", &req.cal.ScreenWidth}, {"screen_height", &req.cal.ScreenHeight}} {
		raw, _ := form.get(f.name)
		v, err := parseScreenSize(f.name, raw, lim.maxScreenPx)
		if err != nil {
			return req, err
		}
		*f.dst = v
	}

	// samples
	raw, ok = form.get("fixed_circle_iris_points")
	if !ok || string(raw) == "null" {
		return req, badField("fixed_circle_iris_points", "is required: the labelled calibration samples")
	}
	if req.cal.Fixed, err = decodePoints(raw, "fixed_circle_iris_points", true, lim); err != nil {
		return req, err
	}
	if len(req.cal.Fixed) == 0 {
		return req, badField("fixed_circle_iris_points", "must not be empty")
	}
	raw, ok = form.get("calib_circle_iris_points")
	if !ok || string(raw) == "null" {
		return req, badField("calib_circle_iris_points", "is required (it may be an empty array)")
	}
	calibPts, err := decodePoints(raw, "calib_circle_iris_points", false, lim)
	if err != nil {
		return req, err
	}
	req.cal.Calib = make([]irisSample, len(calibPts))
	for i, p := range calibPts {
		req.cal.Calib[i] = p.irisSample
	}

	// k
	raw, ok = form.get("k")
	if !ok || string(raw) == "null" {
		return req, badField("k", "is required: the number of k-means clusters")
	}
	var kf float64
	var ks string
	if v, isNum := parseJSONNumber(raw); isNum {
		kf = v
	} else if json.Unmarshal(raw, &ks) == nil {
		if kf, err = strconv.ParseFloat(strings.TrimSpace(ks), 64); err != nil {
			return req, badField("k", "must be an integer, got %s", truncate(string(raw), 40))
		}
	} else {
		return req, badField("k", "must be an integer, got %s", truncate(string(raw), 40))
	}
	_, nTest := splitSizes(len(req.cal.Fixed))
	if kf != math.Trunc(kf) || kf < 1 || kf > float64(nTest) {
		return req, badField("k", "must be an integer from 1 to %d (the test rows of %d samples), got %s", nTest, len(req.cal.Fixed), truncate(string(raw), 40))
	}
	req.k = int(kf)

	// RUXAILAB fields
	if raw, ok := form.get("from_ruxailab"); ok && string(raw) != "null" {
		if err := decodeFormJSON(raw, "from_ruxailab", "true or false", &req.fromRuxailab); err != nil {
			return req, err
		}
	}
	for _, f := range []struct {
		name string
		dst  *json.RawMessage
	}{{"user_id", &req.userID}, {"study_id", &req.studyID}} {
		raw, ok := form.get(f.name)
		if !ok || len(raw) == 0 {
			*f.dst = json.RawMessage("null")
			continue
		}
		var v any
		if err := decodeFormJSON(raw, f.name, "a string or null", &v); err != nil {
			return req, err
		}
		text := string(raw) // a number counts as the text it was sent as
		switch v := v.(type) {
		case nil, float64:
		case string:
			text = v
		default:
			return req, badField(f.name, "must be a string or null")
		}
		if err := checkStringLength(f.name, text, lim.maxStringLen); err != nil {
			return req, err
		}
		*f.dst = raw
	}
	return req, nil
}

// splitSizes returns the training and test row counts of the 80/20 split:
// test = ceil(0.2·n), computed without floating point.
func splitSizes(n int) (train, test int) {
	test = (n*2 + 9) / 10
	return n - test, test
}

// encodeCalibResponse writes the Python service's response object: per
// target "<X>": {"<Y>": {predicted_x, predicted_y, PrecisionSD, Accuracy}}
// in order of first appearance, then "centroids". Two targets with the same
// integer parts share one key, the later one replacing the earlier, as a
// Python dict assignment does.
func encodeCalibResponse(rep calibReport) []byte {
	type inner struct {
		keys []string
		vals map[string]targetStats
	}
	var xKeys []string
	groups := map[string]*inner{}
	for _, t := range rep.Targets {
		xk, yk := targetKey(t.TrueX), targetKey(t.TrueY)
		g, ok := groups[xk]
		if !ok {
			g = &inner{vals: map[string]targetStats{}}
			groups[xk] = g
			xKeys = append(xKeys, xk)
		}
		if _, ok := g.vals[yk]; !ok {
			g.keys = append(g.keys, yk)
		}
		g.vals[yk] = t
	}
	floats := func(b []byte, v []float64) []byte {
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONFloat(b, x)
		}
		return append(b, ']')
	}
	b := make([]byte, 0, 4096)
	b = append(b, '{')
	for _, xk := range xKeys {
		b = strconv.AppendQuote(b, xk)
		b = append(b, ":{"...)
		g := groups[xk]
		for j, yk := range g.keys {
			if j > 0 {
				b = append(b, ',')
			}
			t := g.vals[yk]
			b = strconv.AppendQuote(b, yk)
			b = append(b, `:{"predicted_x":`...)
			b = floats(b, t.PredX)
			b = append(b, `,"predicted_y":`...)
			b = floats(b, t.PredY)
			b = append(b, `,"PrecisionSD":`...)
			b = appendJSONFloat(b, t.PrecisionSD)
			b = append(b, `,"Accuracy":`...)
			b = appendJSONFloat(b, t.Accuracy)
			b = append(b, '}')
		}
		b = append(b, "},"...)
	}
	b = append(b, `"centroids":[`...)
	for i, c := range rep.Centroids {
		if i > 0 {
			b = append(b, ',')
		}
		b = floats(b, c[:])
	}
	return append(b, "]}"...)
}

// handleCalibValidation serves POST /api/session/calib_validation: validate,
// admit by estimated cost, store the calibration (replacing the id's older
// one), fit and report, and notify RUXAILAB when asked.
func handleCalibValidation(store calibrationStore, cache *gazeModelCache, hook *webhookNotifier, work *admission, specs map[string]modelSpec, lim inputLimits, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeCalibRequest(r, specs, lim)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		rows := len(req.cal.Fixed)
		cost := estimateFitCost(req.spec.name, rows, req.k)
		if err := work.checkBudget(req.spec.name, rows, req.k, cost); err != nil {
			writeError(w, r, log, err)
			return
		}
		work.extendWriteDeadline(w)
		// A refused request (429, 503) changes nothing. Otherwise the
		// calibration is committed to the store (synced to disk) while the
		// model is fitted; the answer waits for both, so a 200 means it
		// survives a crash.
		j, err := work.admit(r, cost)
		if err != nil {
			writeError(w, r, log, work.stopError(err, "the calibration"))
			return
		}
		if req.fromRuxailab {
			hook.warnIfOff()
		}
		saved := make(chan error, 1)
		go func() { saved <- store.Save(req.id, req.cal) }()
		rep, err := evaluateCalibrationWith(j.ctx, req.spec, req.cal.Fixed, req.k, 0, j.borrow)
		j.done()
		if saveErr := <-saved; saveErr != nil {
			writeError(w, r, log, storeError("", saveErr))
			return
		}
		cache.forget(req.id)
		if err != nil {
			if errors.Is(err, errNotFittable) {
				err = badField("fixed_circle_iris_points", "model %q cannot be fitted on these samples: %v (the calibration was stored)", req.spec.name, err)
			}
			writeError(w, r, log, work.stopError(err, fmt.Sprintf("the fit of %q on %d rows (the calibration was stored)", req.spec.name, rows)))
			return
		}
		writeJSONBytes(w, http.StatusOK, encodeCalibResponse(rep))
		if req.fromRuxailab {
			hook.notify(calibrationNotice{
				SessionID: req.id, UserID: req.userID, StudyID: req.studyID, Model: req.spec.name,
				ScreenHeight: req.cal.ScreenHeight, ScreenWidth: req.cal.ScreenWidth, K: req.k,
			})
		}
	})
}
