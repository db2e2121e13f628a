package main

// The realtime validation route: one face-mesh prediction per request, its
// right-iris centre added to the client's window (realtimewindows.go), and
// the window's precision in pixels and degrees.

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
)

// The realtime validation's fixed geometry, as the Python service had it:
// a 96 ppi screen seen from 60 cm; "good" is below 0.5°.
const (
	realtimePPI        = 96
	realtimeDistanceCm = 60
	realtimeGoodDeg    = 0.5
)

// realtimeAnswer is the route's answer when a point was read.
type realtimeAnswer struct {
	Status           string  `json:"status"`
	PrecisionDegrees float64 `json:"precision_degrees"`
	PrecisionPixels  float64 `json:"precision_pixels"`
	PointsCollected  int     `json:"points_collected"`
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// decodeRealtimePoint reads prediction[0].annotations.rightEyeIris[0] as
// (x, y). ok is false when the prediction holds no face or no iris (absent,
// null or empty at any level): the answer is then no_prediction. A value of
// the wrong kind is a 400 naming it.
func decodeRealtimePoint(r *http.Request) (x, y float64, ok bool, err error) {
	obj, err := readJSONObject(r, `{"prediction": [faceMesh prediction, ...]}`)
	if err != nil {
		return 0, 0, false, err
	}
	if isNull(obj["prediction"]) {
		return 0, 0, false, nil
	}
	var faces []json.RawMessage
	if json.Unmarshal(obj["prediction"], &faces) != nil {
		return 0, 0, false, badField("prediction", "must be an array of face-mesh predictions")
	}
	if len(faces) == 0 || isNull(faces[0]) {
		return 0, 0, false, nil
	}
	var face struct {
		Annotations *struct {
			RightEyeIris []json.RawMessage `json:"rightEyeIris"`
		} `json:"annotations"`
	}
	if json.Unmarshal(faces[0], &face) != nil {
		return 0, 0, false, badField("prediction[0]", "must be a face-mesh prediction with annotations.rightEyeIris")
	}
	if face.Annotations == nil || len(face.Annotations.RightEyeIris) == 0 || isNull(face.Annotations.RightEyeIris[0]) {
		return 0, 0, false, nil
	}
	var point []json.RawMessage
	if json.Unmarshal(face.Annotations.RightEyeIris[0], &point) != nil || len(point) < 2 {
		return 0, 0, false, badField("prediction[0].annotations.rightEyeIris[0]", "must be a point [x, y] or [x, y, z]")
	}
	x, okX := parseJSONNumber(bytes.TrimSpace(point[0]))
	y, okY := parseJSONNumber(bytes.TrimSpace(point[1]))
	if !okX || !okY {
		return 0, 0, false, badField("prediction[0].annotations.rightEyeIris[0]", "must hold finite numbers")
	}
	return x, y, true, nil
}

// handleRealtimeValidation serves POST /api/realtime-validation: each client
// (by identity) has its own window of points.
func handleRealtimeValidation(windows *realtimeWindows, identity clientIdentity, log *slog.Logger) http.Handler {
	noPrediction := []byte(`{"status":"no_prediction"}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x, y, ok, err := decodeRealtimePoint(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if !ok {
			writeJSONBytes(w, http.StatusOK, noPrediction)
			return
		}
		p := windows.add(identity.keyOf(identity.clientAddr(r)), x, y)
		deg := visualAngleDeg(p.rmsPx, realtimePPI, 2.54, realtimeDistanceCm)
		status := "poor"
		if deg < realtimeGoodDeg {
			status = "good"
		}
		writeJSON(w, http.StatusOK, realtimeAnswer{Status: status, PrecisionDegrees: deg, PrecisionPixels: p.rmsPx, PointsCollected: p.points})
	})
}
