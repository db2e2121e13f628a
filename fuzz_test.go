package main

// Fuzz targets for the request decoders, the CSV store format, the client
// address logic of the rate limiter and the limit strings. Seed corpora
// live in testdata/fuzz/<FuzzName>/; `go test -run Fuzz .` replays them.
// Run one target with, for example:
//
//	go test -run '^$' -fuzz '^FuzzBatchJSON$' -fuzztime 60s -fuzzminimizetime 5s .
//
// (with the default minimize time of 60 s, minimizing each new interesting
// input can stall a one-minute run). Fuzzing refuses to start while a
// seed fails, so move the bug-* and hash-named failing inputs aside first.

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzBoundary is the multipart boundary of FuzzCalibForm's bodies.
const fuzzBoundary = "fuzzboundary"

// requireAPIError fails unless err is a client error the handlers can
// answer: an *apiError with a 4xx status and a message.
func requireAPIError(t *testing.T, err error) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || ae == nil {
		t.Fatalf("error %v (%T) is not an *apiError", err, err)
	}
	if ae.Status < 400 || ae.Status > 499 {
		t.Fatalf("status %d is not 4xx (%v)", ae.Status, err)
	}
	if strings.TrimSpace(ae.Message) == "" {
		t.Fatalf("apiError with status %d has no message (field %q)", ae.Status, ae.Field)
	}
}

// requireCalibrationID fails unless id is a usable store id: non-empty,
// only [A-Za-z0-9_.-], not "." or "..".
func requireCalibrationID(t *testing.T, id string) {
	t.Helper()
	if id == "" || id == "." || id == ".." {
		t.Fatalf("accepted id %q", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			t.Fatalf("id %q holds byte %q", id, c)
		}
	}
}

// requireCoordinates fails unless every value is finite and within ±limit.
func requireCoordinates(t *testing.T, what string, limit float64, values ...float64) {
	t.Helper()
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > limit {
			t.Fatalf("%s: accepted value %v (limit ±%g)", what, v, limit)
		}
	}
}

// requireScreenSize fails unless v is a screen size in (0, limit].
func requireScreenSize(t *testing.T, what string, v, limit float64) {
	t.Helper()
	if !(v > 0 && v <= limit) {
		t.Fatalf("%s: accepted %v, want (0, %g]", what, v, limit)
	}
}

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

func FuzzBatchJSON(f *testing.F) {
	lim := defaultInputLimits()
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/session/batch_predict", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		p, err := decodeBatchRequest(r, lim)
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
			if resp := encodeBatchResponse(p, zeros, zeros); !json.Valid(resp) {
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
		objErr := decodeBatchObject(body, &obj)
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

const (
	verdictUnclear stdlibVerdict = iota // not decided here (a repeated iris key, or nesting past stdlibMaxDepth)
	verdictFail                         // not JSON, not an array of objects, or a key missing or not a finite number
	verdictSucceed                      // an array of objects whose iris keys are finite JSON numbers
)

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

func FuzzCSVLoader(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, fixedErr := parseFixedCSV(raw)
		iris, irisErr := parseIrisCSV(raw)
		if irisErr == nil {
			for i, s := range iris {
				requireCoordinates(t, "iris row "+strconv.Itoa(i), math.MaxFloat64, s.LeftX, s.LeftY, s.RightX, s.RightY)
			}
			back, err := parseIrisCSV(encodeIrisCSV(iris))
			if err != nil {
				t.Fatalf("encodeIrisCSV output does not parse: %v", err)
			}
			requireSameIris(t, back, iris)
		}
		if fixedErr != nil {
			return
		}
		if len(c.Fixed) == 0 {
			t.Fatal("parseFixedCSV succeeded without rows")
		}
		requireCoordinates(t, "screen size", math.MaxFloat64, c.ScreenWidth, c.ScreenHeight)
		for i, s := range c.Fixed {
			requireCoordinates(t, "fixed row "+strconv.Itoa(i), math.MaxFloat64, s.LeftX, s.LeftY, s.RightX, s.RightY, s.PointX, s.PointY)
		}
		// The fixed file's columns include the iris file's: the same text
		// must read as the same iris rows.
		if irisErr != nil {
			t.Fatalf("parseFixedCSV read %d rows but parseIrisCSV failed: %v", len(c.Fixed), irisErr)
		}
		fixedIris := make([]irisSample, len(c.Fixed))
		for i, s := range c.Fixed {
			fixedIris[i] = s.irisSample
		}
		requireSameIris(t, iris, fixedIris)

		back, err := parseFixedCSV(encodeFixedCSV(c))
		if err != nil {
			t.Fatalf("encodeFixedCSV output does not parse: %v", err)
		}
		if len(back.Fixed) != len(c.Fixed) {
			t.Fatalf("round trip: %d rows, want %d", len(back.Fixed), len(c.Fixed))
		}
		for i := range c.Fixed {
			a, b := back.Fixed[i], c.Fixed[i]
			got := []float64{a.LeftX, a.LeftY, a.RightX, a.RightY, a.PointX, a.PointY}
			want := []float64{b.LeftX, b.LeftY, b.RightX, b.RightY, b.PointX, b.PointY}
			requireSameBits(t, "round trip row "+strconv.Itoa(i), got, want)
		}
		requireSameBits(t, "round trip screen size", []float64{back.ScreenWidth, back.ScreenHeight}, []float64{c.ScreenWidth, c.ScreenHeight})
	})
}

func requireSameIris(t *testing.T, got, want []irisSample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d iris rows, want %d", len(got), len(want))
	}
	for i := range want {
		requireSameBits(t, "iris row "+strconv.Itoa(i),
			[]float64{got[i].LeftX, got[i].LeftY, got[i].RightX, got[i].RightY},
			[]float64{want[i].LeftX, want[i].LeftY, want[i].RightX, want[i].RightY})
	}
}

func requireSameBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for j := range want {
		if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
			t.Fatalf("%s: value %d is %v, want %v (bit for bit)", what, j, got[j], want[j])
		}
	}
}

// fuzzIdentity trusts the proxies of the rate-limit tests.
func fuzzIdentity(ipv6Prefix int) clientIdentity {
	return clientIdentity{ipv6Prefix: ipv6Prefix, trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
}

// addressesIn returns every address text s could denote: s parsed as an
// address or as address:port, IPv4-mapped addresses unmapped.
func addressesIn(s string) []netip.Addr {
	s = strings.TrimSpace(s)
	var out []netip.Addr
	if a, err := netip.ParseAddr(s); err == nil {
		out = append(out, a.Unmap())
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		out = append(out, ap.Addr().Unmap())
	}
	return out
}

func FuzzClientAddr(f *testing.F) {
	f.Fuzz(func(t *testing.T, remote, xff string, ipv6Prefix byte) {
		id := fuzzIdentity(int(ipv6Prefix) % 129)
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var values []string
		if xff != "" {
			values = strings.Split(xff, "\n") // one header value per line
			r.Header["X-Forwarded-For"] = values
		}
		got := id.clientAddr(r)

		key := id.keyOf(got)
		if key == overflowKey {
			t.Fatalf("keyOf(%v) with /%d is the overflow key", got, id.ipv6Prefix)
		}
		if got.IsValid() && !got.Unmap().Is4() && key.hi>>32 == 0xffffffff {
			t.Fatalf("IPv6 client %v has key %x, in the IPv4 key space (e.g. %v)", got, key, netip.AddrFrom4([4]byte{byte(key.hi >> 24), byte(key.hi >> 16), byte(key.hi >> 8), byte(key.hi)}))
		}

		peer, peerOK := parseHostAddr(remote)
		if !peerOK {
			if got.IsValid() {
				t.Fatalf("unparsable peer %q gave client %v", remote, got)
			}
			return
		}
		if !got.IsValid() {
			t.Fatalf("peer %q parsed as %v but the client is invalid", remote, peer)
		}
		peerTrusted := false
		for _, p := range id.trusted {
			peerTrusted = peerTrusted || p.Contains(peer)
		}
		if !peerTrusted && got != peer {
			t.Fatalf("untrusted peer %v: client %v taken from X-Forwarded-For %q", peer, got, xff)
		}
		candidates := addressesIn(remote)
		for _, v := range values {
			for _, hop := range strings.Split(v, ",") {
				candidates = append(candidates, addressesIn(hop)...)
			}
		}
		found := false
		for _, c := range candidates {
			found = found || c == got
		}
		if !found {
			t.Fatalf("client %v appears neither as the peer %q nor in X-Forwarded-For %q", got, remote, xff)
		}
	})
}

// TestClientAddrDoesNotAllocate holds clientAddr to its doc comment: the
// rate limiter calls it on every request and it does not allocate.
func TestClientAddrDoesNotAllocate(t *testing.T) {
	id := fuzzIdentity(64)
	tests := []struct{ name, remote, xff string }{
		{"untrusted IPv4 peer", "192.0.2.1:51234", "203.0.113.9"},
		{"IPv6 peer", "[2001:db8::1]:443", ""},
		{"trusted chain", "10.0.0.1:80", "198.51.100.7, 203.0.113.1:5555 , 10.9.9.9"},
		{"trusted IPv6 proxy, mapped hop", "[fd00::1]:80", "::ffff:203.0.113.1"},
		{"all hops trusted", "10.0.0.1:80", "10.0.0.2, 10.9.9.9"},
		{"garbage hop", "10.0.0.1:80", "203.0.113.1, garbage"},
		{"unparsable peer", "not-an-address", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if n := testing.AllocsPerRun(200, func() { id.clientAddr(r) }); n != 0 {
				t.Errorf("clientAddr(%q, %q) allocates %v times per call", tc.remote, tc.xff, n)
			}
		})
	}
}

// fuzzRateUnits is the limits library's unit table, written out here.
var fuzzRateUnits = map[string]time.Duration{
	"second": time.Second, "minute": time.Minute, "hour": time.Hour,
	"day": 24 * time.Hour, "month": 30 * 24 * time.Hour, "year": 365 * 24 * time.Hour,
}

// fuzzUnitNames are the unit words of composed limit strings.
var fuzzUnitNames = [...]string{"second", "minute", "hour", "day", "month", "year"}

// FuzzLimitString parses s as it comes, and a limit string composed from
// count, multiple and unit, whose outcome is known in advance: accepted
// exactly when count is in [1, maxLimitCount], multiple in [1, 1000] and
// the window at most maxWindow (100 years).
func FuzzLimitString(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, count uint32, multiple uint16, unit byte) {
		checkRateLimits(t, s)
		name := fuzzUnitNames[int(unit)%len(fuzzUnitNames)]
		composed := strconv.FormatUint(uint64(count), 10) + " per " + strconv.Itoa(int(multiple)) + " " + name + "s"
		limits := checkRateLimits(t, composed)
		valid := count >= 1 && count <= maxLimitCount && multiple >= 1 && multiple <= 1000 &&
			float64(multiple)*float64(fuzzRateUnits[name]) <= float64(maxWindow)
		switch {
		case valid && len(limits) != 1:
			t.Fatalf("%q: refused or not one limit: %v", composed, limits)
		case valid && (limits[0].count != count || limits[0].multiple != int(multiple) || limits[0].unit != name):
			t.Fatalf("%q: parsed as %+v", composed, limits[0])
		case !valid && limits != nil:
			t.Fatalf("%q: accepted as %v", composed, limits)
		}
	})
}

// checkRateLimits parses s and checks every limit it yields: count in
// [1, maxLimitCount], window = multiple × unit > 0, and String() parsing
// back to the same limit. It returns the limits (nil on error).
func checkRateLimits(t *testing.T, s string) []rateLimit {
	t.Helper()
	limits, err := parseRateLimits(s)
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("%q: empty error message", s)
		}
		return nil
	}
	for _, l := range limits {
		if l.count < 1 || l.count > maxLimitCount {
			t.Fatalf("%q: count %d outside [1, %d]", s, l.count, maxLimitCount)
		}
		if l.window <= 0 {
			t.Fatalf("%q: limit %v has window %v", s, l, l.window)
		}
		unit, ok := fuzzRateUnits[l.unit]
		if !ok || l.multiple < 1 || l.window != time.Duration(l.multiple)*unit {
			t.Fatalf("%q: limit %+v: window is not multiple × unit", s, l)
		}
		again, err := parseRateLimits(l.String())
		if err != nil || len(again) != 1 || again[0] != l {
			t.Fatalf("%q: %+v prints as %q, which parses as %+v (%v)", s, l, l.String(), again, err)
		}
	}
	return limits
}

// TestParseDecimalExactMatchesParseFloat: wherever the exact fast path
// answers, it answers what strconv.ParseFloat does, bit for bit.
func TestParseDecimalExactMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs []string
	for i := 0; i < 200000; i++ {
		f32 := float32(rng.Float64() * 2000)
		inputs = append(inputs,
			strconv.FormatFloat(float64(f32), 'f', -1, 64), // a face-mesh coordinate as the browser prints it
			strconv.FormatFloat(float64(rng.IntN(4000))/4, 'f', -1, 64),
			strconv.FormatFloat(rng.NormFloat64()*1e3, 'f', -1, 64),
			strconv.FormatFloat(float64(rng.Uint64()>>rng.IntN(64)), 'f', 1, 64),
			"-"+strconv.FormatFloat(float64(f32), 'f', -1, 64))
	}
	inputs = append(inputs, "0", "-0", "0.0", "-0.0", "50.0", "373.75", "0.1", "1e5", "123456789012345.5", "9007199254740991", "9007199254740993", "0.0000000000000000001")
	fast := 0
	for _, in := range inputs {
		got, ok := parseDecimalExact([]byte(in))
		if !ok {
			continue
		}
		fast++
		want, err := strconv.ParseFloat(in, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: fast %v (%x), ParseFloat %v (%x) %v", in, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
	if fast < len(inputs)/3 {
		t.Fatalf("the fast path answered only %d of %d inputs", fast, len(inputs))
	}
}
