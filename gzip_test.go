package main

// Tests of gzip: a large batch answer is compressed when asked and is the
// same bytes once decompressed; small answers and clients that do not ask
// get plain JSON.

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"testing"
)

// largeBatchBody is a batch_predict of n copies of the example samples
// against the example calibration.
func largeBatchBody(t *testing.T, n int) string {
	t.Helper()
	sample := `{"left_iris_x": 374.5, "left_iris_y": 223.25, "right_iris_x": 312.75, "right_iris_y": 222.5, "timestamp": %d}`
	var b strings.Builder
	b.WriteString(`{"calib_id": "sample9full", "screen_width": 1495, "screen_height": 746, "iris_tracking_data": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, sample, 1700000000000+i)
	}
	b.WriteString("]}")
	return b.String()
}

func TestGzipLargeAnswers(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	if rec := s.do(calibRequestOf(t, exampleCalibFields(t)), ""); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	body := largeBatchBody(t, 5000)
	plain := s.do(batchRequestOf(body), "")
	if plain.Code != 200 || plain.Header().Get("Content-Encoding") != "" || !containsToken(plain.Header().Values("Vary"), "Accept-Encoding") {
		t.Fatalf("without Accept-Encoding: %d %v", plain.Code, plain.Header())
	}
	req := batchRequestOf(body)
	req.Header.Set("Accept-Encoding", "br;q=1, gzip;q=0.8")
	zipped := s.do(req, "")
	if zipped.Code != 200 || zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Header().Get("Content-Length") != "" {
		t.Fatalf("with gzip: %d %v", zipped.Code, zipped.Header())
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain.Body.Bytes()) {
		t.Fatalf("decompressed answer differs (%d vs %d bytes)", len(got), plain.Body.Len())
	}
	if zipped.Body.Len()*4 > len(got) {
		t.Errorf("compressed %d bytes to %d", len(got), zipped.Body.Len())
	}
	refused := batchRequestOf(body)
	refused.Header.Set("Accept-Encoding", "gzip;q=0, identity")
	if rec := s.do(refused, ""); rec.Header().Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
	small := batchRequestOf(largeBatchBody(t, 180)) // a real batch: about 23 KB, cheaper plain
	small.Header.Set("Accept-Encoding", "gzip")
	if rec := s.do(small, ""); rec.Header().Get("Content-Encoding") != "" || rec.Code != 200 {
		t.Errorf("a small answer: %d %v", rec.Code, rec.Header())
	}
}
