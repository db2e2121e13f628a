package main

// Fuzzing of the sample-array decoder against encoding/json.

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func FuzzBatchJSON(f *testing.F) {
	lim := defaultInputLimits()
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/session/batch_predict", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		p, err := decodeBatchRequest(r, lim, nil)
		if err != nil {
			requireAPIError(t, err)
		} else {
			requireCalibrationID(t, p.id)
			requireScreenSize(t, "screen_width", p.width, lim.maxScreenPx)
			requireScreenSize(t, "screen_height", p.height, lim.maxScreenPx)
			if len(p.samples) == 0 || len(p.samples) != len(p.timestamps) || len(p.samples) > lim.maxSamples {
				t.Fatalf("%d samples and %d timestamps accepted (limit %d)", len(p.samples), len(p.timestamps), lim.maxSamples)
			}
			for i, s := range p.samples {
				requireCoordinates(t, "sample "+strconv.Itoa(i), lim.maxCoordinate, s.LeftX, s.LeftY, s.RightX, s.RightY)
			}
			// The screen size and the timestamps are echoed as sent: the
			// response must still be JSON.
			zeros := make([]float64, len(p.samples))
			if resp := encodeBatchResponse(nil, p, zeros, zeros); !json.Valid(resp) {
				t.Fatalf("the response echoing this request is not JSON: %.300q", resp)
			}
			if !json.Valid(body) && !deeperThanStdlib(body) {
				t.Fatalf("decodeBatchRequest accepted a body that is not JSON: %q", body)
			}
		}

		// decodeBatchObject against encoding/json: a JSON object must split,
		// with the last of repeated members kept.
		var members map[string]json.RawMessage
		var obj batchRequest
		objErr := decodeBatchObject(body, &obj, nil)
		if json.Unmarshal(body, &members) == nil && members != nil {
			if objErr != nil {
				t.Fatalf("decodeBatchObject refused a JSON object: %v", objErr)
			}
			for name, got := range map[string]json.RawMessage{"calib_id": obj.CalibID, "screen_width": obj.ScreenWidth,
				"screen_height": obj.ScreenHeight, "iris_tracking_data": obj.IrisTrackingData} {
				if want := members[name]; !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
					t.Fatalf("member %s: got %q, encoding/json %q", name, got, want)
				}
			}
		}

		// Decoding iris_tracking_data while splitting gives what decoding
		// the split member gives.
		spec := sampleSpec{field: "iris_tracking_data", keys: irisKeyList, passThrough: "timestamp", maxLen: lim.maxSamples, maxAbs: lim.maxCoordinate}
		var inPlace batchRequest
		if err := decodeBatchObject(body, &inPlace, &spec); (err == nil) != (objErr == nil) {
			t.Fatalf("splitting with the sample spec: %v, without: %v", err, objErr)
		}
		if inPlace.samples != nil {
			want, err := decodeSampleArray(inPlace.IrisTrackingData, spec)
			if err != nil {
				t.Fatalf("decoded while splitting, but alone: %v", err)
			}
			if !reflect.DeepEqual(*inPlace.samples, want) {
				t.Fatalf("decoded while splitting %v, alone %v", *inPlace.samples, want)
			}
		}

		// decodeSampleArray against encoding/json, on the whole body and on
		// the iris_tracking_data member our own splitter found.
		checkSampleArrayAgainstStdlib(t, body)
		if objErr == nil && len(obj.IrisTrackingData) > 0 {
			checkSampleArrayAgainstStdlib(t, obj.IrisTrackingData)
		}
	})
}

// stdlibMaxDepth is encoding/json's nesting limit: deeper text is refused
// by json.Valid although it is JSON, so such inputs are not compared.
const stdlibMaxDepth = 10000

// deeperThanStdlib reports whether data nests arrays and objects more than
// stdlibMaxDepth deep (brackets inside strings not counted).
func deeperThanStdlib(data []byte) bool {
	depth, inString := 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			if depth++; depth > stdlibMaxDepth {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}

// stdlibVerdict is what encoding/json says decodeSampleArray must do.
type stdlibVerdict int

// stdlibSamples decodes data with encoding/json's token reader: per element
// the four iris numbers and the raw JSON of the last "timestamp" member.
func stdlibSamples(data []byte) (stdlibVerdict, [][4]float64, []json.RawMessage) {
	if deeperThanStdlib(data) {
		return verdictUnclear, nil, nil
	}
	if !json.Valid(data) {
		return verdictFail, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return verdictFail, nil, nil
	}
	var values [][4]float64
	var stamps []json.RawMessage
	verdict := verdictSucceed
	for dec.More() {
		var elem json.RawMessage
		if err := dec.Decode(&elem); err != nil {
			return verdictUnclear, nil, nil
		}
		v, stamp, ok := stdlibSample(elem)
		switch {
		case ok == verdictUnclear:
			return verdictUnclear, nil, nil
		case ok == verdictFail:
			verdict = verdictFail // keep reading: a later repeated key makes it unclear
		}
		values = append(values, v)
		stamps = append(stamps, stamp)
	}
	if verdict == verdictFail {
		return verdictFail, nil, nil
	}
	return verdictSucceed, values, stamps
}

// stdlibSample reads one element of the array (valid JSON).
func stdlibSample(elem json.RawMessage) ([4]float64, json.RawMessage, stdlibVerdict) {
	var v [4]float64
	var stamp json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(elem))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return v, nil, verdictFail
	}
	var seen [4]bool
	verdict := verdictSucceed
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		var raw json.RawMessage
		if err != nil || !isKey || dec.Decode(&raw) != nil {
			return v, nil, verdictUnclear
		}
		if key == "timestamp" {
			stamp = raw
		}
		idx := -1
		for j, k := range irisKeyList {
			if k == key {
				idx = j
			}
		}
		if idx < 0 {
			continue
		}
		if seen[idx] {
			return v, nil, verdictUnclear
		}
		seen[idx] = true
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			verdict = verdictFail // a string, null, object…: not a number
			continue
		}
		x, err := strconv.ParseFloat(string(raw), 64) // what encoding/json does for float64
		if err != nil || math.IsInf(x, 0) {
			verdict = verdictFail
			continue
		}
		v[idx] = x
	}
	if seen != [4]bool{true, true, true, true} {
		verdict = verdictFail
	}
	return v, stamp, verdict
}

// checkSampleArrayAgainstStdlib runs decodeSampleArray on data and compares
// it with encoding/json's reading of the same text.
func checkSampleArrayAgainstStdlib(t *testing.T, data []byte) {
	t.Helper()
	got, err := decodeSampleArray(data, sampleSpec{field: "iris_tracking_data", keys: irisKeyList, passThrough: "timestamp", maxLen: math.MaxInt32})
	if err != nil {
		requireAPIError(t, err)
	}
	verdict, want, stamps := stdlibSamples(data)
	switch verdict {
	case verdictFail:
		if err == nil {
			t.Fatalf("decodeSampleArray accepted %.200q, which encoding/json refuses or which lacks finite iris numbers (got %v)", data, got.values)
		}
	case verdictSucceed:
		if err != nil {
			t.Fatalf("decodeSampleArray refused %.200q, which encoding/json reads: %v", data, err)
		}
		if len(got.values) != len(want) || len(got.raw) != len(want) {
			t.Fatalf("decodeSampleArray read %d elements (%d timestamps), encoding/json %d", len(got.values), len(got.raw), len(want))
		}
		for i := range want {
			for j := 0; j < 4; j++ {
				if math.Float64bits(got.values[i][j]) != math.Float64bits(want[i][j]) {
					t.Fatalf("element %d, %s: %v, encoding/json %v", i, irisKeyList[j], got.values[i][j], want[i][j])
				}
			}
			if !bytes.Equal(got.raw[i], stamps[i]) {
				t.Fatalf("element %d: timestamp %q, encoding/json %q", i, got.raw[i], stamps[i])
			}
		}
	}
}

const (
	verdictUnclear stdlibVerdict = iota // not decided here (a repeated iris key, or nesting past stdlibMaxDepth)
	verdictFail                         // not JSON, not an array of objects, or a key missing or not a finite number
	verdictSucceed                      // an array of objects whose iris keys are finite JSON numbers
)

// TestSampleArrayRoomIsBounded: the room made for samples before decoding
// them stays within a small multiple of the input, however many braces it
// holds.
func TestSampleArrayRoomIsBounded(t *testing.T) {
	data := []byte("[" + strings.Repeat("{", 100_000))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := decodeSampleArray(data, sampleSpec{field: "f", keys: irisKeyList, passThrough: "timestamp", maxLen: 100_000}); err == nil {
		t.Fatal("a run of braces decoded")
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 4*uint64(len(data)) {
		t.Errorf("%d bytes allocated for %d bytes of input", grown, len(data))
	}
}
