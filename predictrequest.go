package main

// The batch_predict request: a JSON object split into its members without
// reflection, the calibration id, the screen size, the iris samples and the
// optional estimator.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// batchRequest is the JSON body of batch_predict, each member's JSON kept
// raw so that errors can name the sample and key, and the screen size and
// timestamps are echoed exactly as sent. RUXAILAB's k and model_name are
// accepted and ignored, as the Python service did.
type batchRequest struct {
	CalibID          json.RawMessage
	ScreenWidth      json.RawMessage
	ScreenHeight     json.RawMessage
	IrisTrackingData json.RawMessage
	Estimator        json.RawMessage

	// samples is IrisTrackingData decoded while splitting, when the
	// splitter was given its spec and the member decoded without error.
	samples *sampleArray
}

// decodeBatchObject splits the top-level JSON object into its members
// without decoding them (other members are skipped), except that with a
// non-nil spec the iris_tracking_data member is also decoded in the same
// pass when it can be (req.samples); when it cannot, it is only split, and
// decoding it again later reports the error in its turn.
func decodeBatchObject(body []byte, req *batchRequest, samples *sampleSpec) error {
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
		var decoded *sampleArray
		if samples != nil && string(key) == "iris_tracking_data" {
			if arr, err := p.sampleArray(*samples); err == nil {
				decoded = &arr
			} else {
				p.pos = start
			}
		}
		if decoded == nil && !p.skipValue() {
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
			req.IrisTrackingData, req.samples = value, decoded
		case "estimator":
			req.Estimator = value
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

// parsedBatch is a validated batch_predict request.
type parsedBatch struct {
	id                  string
	width, height       float64
	rawWidth, rawHeight json.RawMessage
	samples             []irisSample
	timestamps          []json.RawMessage
	estimator           string // "" when the request names none
	body                []byte // the body read, which the raw fields point into
}

// decodeBatchRequest validates a batch_predict request body, read into
// buf's storage when it fits (readBodyInto; buf may be nil); the result's
// body is the buffer used, to be reused once the answer is written.
func decodeBatchRequest(r *http.Request, lim inputLimits, buf []byte) (parsedBatch, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !(len(mt) > 5 && mt[len(mt)-5:] == "+json")) {
			return parsedBatch{}, &apiError{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("Content-Type must be application/json, got %q", ct)}
		}
	}
	body, err := readBodyInto(r, buf)
	if err != nil {
		return parsedBatch{}, bodyError(err, "reading the body")
	}
	irisSpec := sampleSpec{
		field: "iris_tracking_data", keys: irisKeyList, passThrough: "timestamp",
		maxLen: lim.maxSamples, maxAbs: lim.maxCoordinate,
	}
	var req batchRequest
	if err := decodeBatchObject(body, &req, &irisSpec); err != nil {
		return parsedBatch{}, err
	}
	p := parsedBatch{body: body}
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
	if p.estimator, err = decodeEstimator(req.Estimator); err != nil {
		return p, err
	}
	if len(req.IrisTrackingData) == 0 || string(req.IrisTrackingData) == "null" {
		return p, badField("iris_tracking_data", "is required: an array of iris samples")
	}
	if req.samples == nil { // not decoded while splitting: this reports why
		arr, err := decodeSampleArray(req.IrisTrackingData, irisSpec)
		if err != nil {
			return p, err
		}
		req.samples = &arr
	}
	arr := *req.samples
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

// decodeEstimator reads the optional estimator member: absent or null is
// "" (the server's default), otherwise one of batchEstimatorNames.
func decodeEstimator(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil || !validEstimator(name) {
		return "", badField("estimator", "must be one of %s", estimatorChoices())
	}
	return name, nil
}
