package main

// The batch_predict request decoder.

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkDecodeBatchRequest times reading and checking RUXAILAB's example
// batch of testdata/api (180 samples, 30 kB), the decode phase of every
// batch_predict.
func BenchmarkDecodeBatchRequest(b *testing.B) {
	body := []byte(readTestdata(b, "api/batch_request.json"))
	lim := defaultInputLimits()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/api/session/batch_predict", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if _, err := decodeBatchRequest(r, lim, nil); err != nil {
			b.Fatal(err)
		}
	}
}
