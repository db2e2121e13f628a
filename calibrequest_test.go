package main

// Fuzzing of the calib_validation form decoder.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func FuzzCalibForm(f *testing.F) {
	specs := modelSpecs()
	lim := defaultInputLimits()
	f.Fuzz(func(t *testing.T, body []byte, urlencoded bool) {
		r := httptest.NewRequest(http.MethodPost, "/api/session/calib_validation", bytes.NewReader(body))
		if urlencoded {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		}
		if !urlencoded {
			// The simple layout's split is mime/multipart's, wherever it applies.
			if fast, ok := simpleMultipartFields(body, fuzzBoundary); ok {
				slow, err := multipartFields(body, fuzzBoundary)
				if err != nil {
					t.Fatalf("split as the simple layout (%d fields), but mime/multipart fails: %v", len(fast), err)
				}
				if len(fast) != len(slow) {
					t.Fatalf("simple layout %d fields, mime/multipart %d", len(fast), len(slow))
				}
				for name, v := range fast {
					if w, ok := slow[name]; !ok || !bytes.Equal(v, w) {
						t.Fatalf("field %q: simple layout %q, mime/multipart %q (present %v)", name, v, w, ok)
					}
				}
			}
		}
		req, err := decodeCalibRequest(r, specs, lim)
		if err != nil {
			requireAPIError(t, err)
			return
		}
		requireCalibrationID(t, req.id)
		if len(req.id) > lim.maxIDLength {
			t.Fatalf("id of %d bytes accepted, limit %d", len(req.id), lim.maxIDLength)
		}
		if _, ok := specs[req.spec.name]; !ok || len(req.spec.grid) == 0 {
			t.Fatalf("accepted model %q that the build does not serve", req.spec.name)
		}
		n := len(req.cal.Fixed)
		if n < 1 || n > lim.maxCalibRows || len(req.cal.Calib) > lim.maxCalibRows {
			t.Fatalf("accepted %d labelled and %d unlabelled rows (limit %d, labelled must be non-empty)", n, len(req.cal.Calib), lim.maxCalibRows)
		}
		// k counts k-means clusters over the test rows of the real split.
		_, test := trainTestSplit(n)
		if req.k < 1 || req.k > len(test) {
			t.Fatalf("accepted k=%d with %d test rows of %d", req.k, len(test), n)
		}
		requireScreenSize(t, "screen_width", req.cal.ScreenWidth, lim.maxScreenPx)
		requireScreenSize(t, "screen_height", req.cal.ScreenHeight, lim.maxScreenPx)
		for i, s := range req.cal.Fixed {
			requireCoordinates(t, "fixed row "+strconv.Itoa(i), lim.maxCoordinate, s.LeftX, s.LeftY, s.RightX, s.RightY, s.PointX, s.PointY)
		}
		for i, s := range req.cal.Calib {
			requireCoordinates(t, "calib row "+strconv.Itoa(i), lim.maxCoordinate, s.LeftX, s.LeftY, s.RightX, s.RightY)
		}
		for _, raw := range []json.RawMessage{req.userID, req.studyID} {
			if !json.Valid(raw) {
				t.Fatalf("user_id/study_id %q kept for echo is not JSON", raw)
			}
		}
	})
}

// BenchmarkDecodeCalibRequest times reading and checking the example
// calibration form of testdata/api (a multipart body of 57 kB with 180
// labelled and 160 unlabelled samples), the decode phase of every
// calibration.
func BenchmarkDecodeCalibRequest(b *testing.B) {
	body, ct := calibForm(b, exampleCalibFields(b))
	specs, lim := modelSpecs(), defaultInputLimits()
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/api/session/calib_validation", bytes.NewReader(body.Bytes()))
		r.Header.Set("Content-Type", ct)
		if _, err := decodeCalibRequest(r, specs, lim); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSimpleMultipartLayout: the layouts that the fast split takes, and
// those it leaves to mime/multipart, which then reads them.
func TestSimpleMultipartLayout(t *testing.T) {
	const b = "XyZ"
	part := func(name, value string) string {
		return "--" + b + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	cases := []struct {
		name   string
		body   string
		simple bool
		want   map[string]string
	}{
		{"two fields", part("a", "1") + part("b", "x\r\ny") + "--" + b + "--", true, map[string]string{"a": "1", "b": "x\r\ny"}},
		{"final CRLF", part("a", "1") + "--" + b + "--\r\n", true, map[string]string{"a": "1"}},
		{"repeated name keeps the first", part("a", "1") + part("a", "2") + "--" + b + "--", true, map[string]string{"a": "1"}},
		{"empty name skipped", part("", "1") + part("c", "") + "--" + b + "--", true, map[string]string{"c": ""}},
		{"boundary text opening a value", part("a", "--"+b+"x") + "--" + b + "--", false, map[string]string{"a": "--" + b + "x"}},
		{"a delimiter opening a value", "--" + b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + part("b", "2") + "--" + b + "--", false, map[string]string{"a": "", "b": "2"}},
		{"boundary text within a value", part("a", "x--"+b) + "--" + b + "--", true, map[string]string{"a": "x--" + b}},
		{"padding after a delimiter", part("a", "1") + "--" + b + "  \r\n" + "Content-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--" + b + "--", false, map[string]string{"a": "1", "b": "2"}},
		{"lower-case header", "--" + b + "\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1\r\n--" + b + "--", false, map[string]string{"a": "1"}},
		{"a file part", "--" + b + "\r\nContent-Disposition: form-data; name=\"a\"; filename=\"f\"\r\nContent-Type: text/plain\r\n\r\n1\r\n--" + b + "--", false, map[string]string{"a": "1"}},
		{"preamble", "hello\r\n" + part("a", "1") + "--" + b + "--", false, map[string]string{"a": "1"}},
		{"epilogue", part("a", "1") + "--" + b + "--\r\nbye", false, map[string]string{"a": "1"}},
	}
	for _, c := range cases {
		fields, ok := simpleMultipartFields([]byte(c.body), b)
		if ok != c.simple {
			t.Errorf("%s: simple layout %v, want %v", c.name, ok, c.simple)
		}
		if !ok {
			var err error
			if fields, err = multipartFields([]byte(c.body), b); err != nil {
				t.Errorf("%s: mime/multipart: %v", c.name, err)
				continue
			}
		}
		if len(fields) != len(c.want) {
			t.Errorf("%s: %d fields %q, want %q", c.name, len(fields), fields, c.want)
		}
		for k, v := range c.want {
			if got, ok := fields[k]; !ok || string(got) != v {
				t.Errorf("%s: field %q = %q (%v), want %q", c.name, k, got, ok, v)
			}
		}
	}
}
