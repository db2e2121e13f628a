package main

// The batch_predict route: admission, the cached model, and the answer in
// the Python service's shape.

import (
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// encodeBatchResponse writes the JSON array of predictions, echoing the
// screen size and each timestamp as sent (null when absent), into dst's
// storage (a pooled buffer, or nil) when it is large enough.
func encodeBatchResponse(dst []byte, p parsedBatch, xs, ys []float64) []byte {
	size := 2 // the answer's exact length but for the floats, counted at their longest (24 bytes)
	for _, ts := range p.timestamps {
		size += len(`{"predicted_x":,"predicted_y":,"screen_height":,"screen_width":,"timestamp":},`) + 2*24 + len(p.rawHeight) + len(p.rawWidth) + max(len(ts), len("null"))
	}
	b := slices.Grow(dst[:0], size)
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

// handleBatchPredict serves POST /api/session/batch_predict; a request that
// names no estimator gets defaultEstimator.
func handleBatchPredict(store calibrationStore, cache *gazeModelCache, work *admission, lim inputLimits, defaultEstimator string, log *slog.Logger) http.Handler {
	var buffers bufferPool // bodies and answers, reused once an answer is written
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body := buffers.get()
		defer func() { buffers.put(body) }()
		p, err := decodeBatchRequest(r, lim, body)
		if p.body != nil {
			body = p.body
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if p.estimator == "" {
			p.estimator = defaultEstimator
		}
		requestRecordOf(r).rows = len(p.samples)
		decoded := time.Now()
		j, err := work.admit(r, 0) // light: a fit of a few milliseconds at most, then a linear map
		if err != nil {
			writeError(w, r, log, work.stopError(err, "the prediction"))
			return
		}
		admitted := time.Now()
		model, err := gazeModelFor(store, cache, p.id, p.estimator, p.width, p.height)
		if err != nil {
			j.done()
			writeError(w, r, log, err)
			return
		}
		ready := time.Now()
		xs, ys := model.predict(p.samples)
		j.done()
		setServerTiming(w.Header(), timingPhase{"decode", decoded.Sub(start)}, timingPhase{"queue", admitted.Sub(decoded)},
			timingPhase{"model", ready.Sub(admitted)}, timingPhase{"predict", time.Since(ready)})
		answer := encodeBatchResponse(buffers.get(), p, xs, ys)
		writeJSONBytes(w, http.StatusOK, answer) // copied out before it returns
		buffers.put(answer)
	})
}
