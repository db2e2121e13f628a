package main

// The calib_validation route: admission, the save beside the fit, the
// answer in the Python service's shape, and the RUXAILAB notice.

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"
)

// targetKey is the Python service's key for a target coordinate: the text of
// the float up to its decimal point (373.75 → "373", 50.0 → "50").
func targetKey(v float64) string {
	return strconv.FormatInt(int64(math.Trunc(v)), 10)
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
func handleCalibValidation(store calibrationStore, cache *gazeModelCache, hook *webhookNotifier, work *admission, guard *overwriteGuard, specs map[string]modelSpec, lim inputLimits, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		req, err := decodeCalibRequest(r, specs, lim)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		rows := len(req.cal.Fixed)
		rec := requestRecordOf(r)
		rec.model, rec.rows = req.spec.name, rows
		decoded := time.Now()
		cost := estimateFitCost(req.spec.name, rows, req.k)
		if err := work.checkBudget(req.spec.name, rows, req.k, cost); err != nil {
			writeError(w, r, log, err)
			return
		}
		work.extendWriteDeadline(w)
		// A refused request (409, 429, 503) changes nothing. Otherwise the
		// calibration is committed to the store (synced to disk) while the
		// model is fitted; the answer waits for both, so a 200 means it
		// survives a crash.
		release, err := guard.claim(r, store, req.id, &req.cal)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		defer release()
		j, err := work.admit(r, cost)
		if err != nil {
			writeError(w, r, log, work.stopError(err, "the calibration"))
			return
		}
		if req.fromRuxailab {
			hook.warnIfOff()
		}
		admitted := time.Now()
		saved := make(chan error, 1)
		go func() { saved <- store.Save(req.id, req.cal) }()
		rep, err := evaluateCalibrationWith(j.ctx, req.spec, req.cal.Fixed, req.k, 0, j.borrow)
		j.done()
		fitted := time.Now()
		rec.fitTime = fitted.Sub(admitted)
		saveErr := <-saved
		setServerTiming(w.Header(), timingPhase{"decode", decoded.Sub(start)}, timingPhase{"queue", admitted.Sub(decoded)},
			timingPhase{"fit", rec.fitTime}, timingPhase{"store", time.Since(fitted)})
		if saveErr != nil {
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
