package main

// Writing JSON answers: bodies, and floats the way the Python service wrote them.

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
)

// writeJSON writes v as a JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal error: response could not be encoded"}`)
	}
	writeJSONBytes(w, status, body)
}

// writeJSONBytes writes an already encoded JSON body.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// appendJSONFloat appends v as a JSON number the way encoding/json writes
// float64, and null for NaN and ±Inf (as the Python service does).
func appendJSONFloat(b []byte, v float64) []byte {
	if out, ok := appendShortestFixed(b, v); ok {
		return out
	}
	if !isFinite(v) {
		return append(b, "null"...)
	}
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, v, format, -1, 64)
}
