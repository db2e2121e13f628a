package main

// Tests of the body limit (a huge body is refused without being buffered)
// and of reading bodies.

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestHugeBodyIsRefusedWithoutBuffering: a 100 MB body, with or without a
// Content-Length, is refused with 413 while the live heap stays far below
// 100 MB (reading stops at MAX_BODY_BYTES, 16 MiB).
func TestHugeBodyIsRefusedWithoutBuffering(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	for _, declared := range []bool{true, false} {
		for _, path := range []string{"/api/session/batch_predict", "/api/session/calib_validation"} {
			const size = 100 << 20
			var body io.Reader = &endlessReader{n: size}
			if strings.Contains(path, "calib") { // one form field that never ends
				body = io.MultiReader(strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"fixed_circle_iris_points\"\r\n\r\n["), body)
			}
			req := httptest.NewRequest("POST", path, body)
			if declared {
				req.ContentLength = size
			} else {
				req.ContentLength = -1
			}
			if strings.Contains(path, "batch") {
				req.Header.Set("Content-Type", "application/json")
			} else {
				req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
			}
			runtime.GC()
			base := liveHeap()
			peak := base
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // sample the heap while the request is served
				defer close(sampled)
				for {
					peak = max(peak, liveHeap())
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Microsecond):
					}
				}
			}()
			rec := s.do(req, "")
			close(stop)
			<-sampled
			if rec.Code != 413 {
				t.Errorf("%s (Content-Length declared %v): %d %s", path, declared, rec.Code, rec.Body)
			}
			if grew := peak - base; grew >= 64<<20 {
				t.Errorf("%s (Content-Length declared %v): the heap grew by %d MB for a refused body", path, declared, grew>>20)
			}
		}
	}
}

// TestReadBody: a body is read whole whether its length is declared
// (exactly, beyond readBodyOnce, short of or past the declaration) or not.
func TestReadBody(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), readBodyOnce/10+7)
	cases := []struct {
		name     string
		body     []byte
		declared int64
		want     []byte
	}{
		{"declared", []byte("hello"), 5, []byte("hello")},
		{"undeclared", []byte("hello"), -1, []byte("hello")},
		{"declared beyond the first allocation", big, int64(len(big)), big},
		{"shorter than declared", []byte("hel"), 5, []byte("hel")},
		{"longer than declared", []byte("hello, world"), 5, []byte("hello, world")},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(c.body))
		r.ContentLength = c.declared
		got, err := readBody(r)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", c.name, len(got), err, len(c.want))
		}
	}
}
