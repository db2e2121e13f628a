package main

// Tests of the rate limiter through the server: Flask-Limiter's semantics,
// headers, trusted proxies, dry run, and the middleware's cost.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// healthReq, cheapCalib and cheapBatch are requests whose outcome does not
// matter: every request counts against the limit, whatever its outcome.
func healthReq() *http.Request {
	return httptest.NewRequest("GET", "/api/session/health", nil)
}

func cheapCalib() *http.Request {
	r := httptest.NewRequest("POST", "/api/session/calib_validation", strings.NewReader("file_name=%22x%22"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func cheapBatch() *http.Request {
	return batchRequestOf(`{"calib_id": "none"}`)
}

func modelsReq() *http.Request {
	return httptest.NewRequest("GET", "/api/session/models", nil)
}

// The Python service's four rate-limit tests, ported.

func TestHealthIsNeverLimited(t *testing.T) {
	s := newTestServer(t, nil)
	for i := 0; i < 300; i++ {
		if rec := s.do(healthReq(), "192.0.2.1:5000"); rec.Code != 200 {
			t.Fatalf("health call %d: %d", i+1, rec.Code)
		}
	}
}

func TestEleventhCalibInAMinuteIs429(t *testing.T) {
	s := newTestServer(t, nil)
	for i := 1; i <= 10; i++ {
		if rec := s.do(cheapCalib(), "192.0.2.1:5000"); rec.Code == 429 {
			t.Fatalf("request %d was limited", i)
		}
		s.clock.Advance(time.Second)
	}
	if rec := s.do(cheapCalib(), "192.0.2.1:5000"); rec.Code != 429 {
		t.Fatalf("11th request: %d, want 429", rec.Code)
	}
}

func TestThirtyFirstBatchInAMinuteIs429(t *testing.T) {
	s := newTestServer(t, nil)
	for i := 1; i <= 30; i++ {
		if rec := s.do(cheapBatch(), "192.0.2.1:5000"); rec.Code == 429 {
			t.Fatalf("request %d was limited", i)
		}
	}
	if rec := s.do(cheapBatch(), "192.0.2.1:5000"); rec.Code != 429 {
		t.Fatalf("31st request: %d, want 429", rec.Code)
	}
}

func TestTooManyRequestsBody(t *testing.T) {
	s := newTestServer(t, nil)
	var rec *httptest.ResponseRecorder
	for i := 0; i < 11; i++ {
		rec = s.do(cheapCalib(), "192.0.2.1:5000")
	}
	if rec.Code != 429 {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{"Too Many Requests", "rate limit", "10 per 1 minute"} {
		if !strings.Contains(body, want) {
			t.Errorf("429 body %s lacks %q", body, want)
		}
	}
	var parsed tooManyRequestsBody
	decodeJSON(t, rec, &parsed)
	h := rec.Header()
	if h.Get("Retry-After") != "60" || h.Get("Cache-Control") != "no-store" || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("429 headers: %v", h)
	}
}

// Valid, successful calibrations count like any other request.
func TestSuccessfulRequestsCount(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "2 per minute"})
	for i := 0; i < 2; i++ {
		if rec := s.do(calibRequestOf(t, exampleCalibFields(t)), "192.0.2.1:5000"); rec.Code != 200 {
			t.Fatalf("calibration %d: %d", i, rec.Code)
		}
	}
	if rec := s.do(calibRequestOf(t, exampleCalibFields(t)), "192.0.2.1:5000"); rec.Code != 429 {
		t.Fatalf("third calibration: %d, want 429", rec.Code)
	}
}

func TestWindowBoundary(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "3 per minute"})
	s.clock.Advance(250 * time.Millisecond) // the window starts at the first hit, not on a minute
	for i := 0; i < 3; i++ {
		s.do(cheapCalib(), "192.0.2.1:5000")
		s.clock.Advance(10 * time.Second)
	}
	// First hit at t0; now t0+30s.
	s.clock.Advance(29*time.Second + 999*time.Millisecond) // t0 + 59.999 s
	if rec := s.do(cheapCalib(), "192.0.2.1:5000"); rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("just before the window ends: %d Retry-After %q, want 429 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	s.clock.Advance(time.Millisecond) // t0 + 60 s exactly
	rec := s.do(cheapCalib(), "192.0.2.1:5000")
	if rec.Code == 429 {
		t.Fatal("still limited when the window has ended")
	}
	if got := rec.Header().Get("X-Ratelimit-Remaining"); got != "2" {
		t.Fatalf("new window: remaining %q, want 2", got)
	}
}

func TestLimitsArePerRouteAndPerClient(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "2 per minute", "RATELIMIT_PREDICT": "2 per minute"})
	for i := 0; i < 2; i++ {
		s.do(cheapCalib(), "192.0.2.1:5000")
	}
	if rec := s.do(cheapCalib(), "192.0.2.1:5001"); rec.Code != 429 {
		t.Fatalf("same address, other port: %d, want 429", rec.Code)
	}
	if rec := s.do(cheapBatch(), "192.0.2.1:5000"); rec.Code == 429 {
		t.Fatal("batch_predict limited by calib_validation's count")
	}
	if rec := s.do(cheapCalib(), "192.0.2.2:5000"); rec.Code == 429 {
		t.Fatal("another client limited by the first one's count")
	}
}

func TestDefaultLimitsPerRoute(t *testing.T) {
	s := newTestServer(t, nil) // defaults: 200 per day;50 per hour
	ip := "198.51.100.7:4000"
	var rec *httptest.ResponseRecorder
	for hour := 0; hour < 4; hour++ {
		for i := 0; i < 50; i++ {
			if rec = s.do(modelsReq(), ip); rec.Code != 200 {
				t.Fatalf("hour %d request %d: %d", hour, i+1, rec.Code)
			}
		}
		rec = s.do(modelsReq(), ip)
		if rec.Code != 429 || !strings.Contains(rec.Body.String(), "50 per 1 hour") {
			t.Fatalf("hour %d, 51st request: %d %s", hour, rec.Code, rec.Body)
		}
		s.clock.Advance(time.Hour)
	}
	// 200 requests were let through today; the refused ones did not count
	// against the day (the hour limit stopped the check first).
	rec = s.do(modelsReq(), ip)
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), "200 per 1 day") {
		t.Fatalf("201st request of the day: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("X-Ratelimit-Limit"); got != "200" {
		t.Errorf("X-RateLimit-Limit %q on the day limit's 429, want 200", got)
	}
	s.clock.Advance(20 * time.Hour) // the day window (begun at the first request) has ended
	if rec = s.do(modelsReq(), ip); rec.Code != 200 {
		t.Fatalf("next day: %d", rec.Code)
	}
	// calib_validation's own limit replaces the defaults.
	for i := 0; i < 11; i++ {
		rec = s.do(cheapCalib(), ip)
	}
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), "10 per 1 minute") {
		t.Fatalf("calib_validation: %d %s", rec.Code, rec.Body)
	}
}

func TestRateLimitHeaders(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_PREDICT": "3 per minute"})
	start := s.clock.Now()
	wantReset := strconv.FormatInt(start.Add(time.Minute).Unix(), 10)
	for i := 1; i <= 4; i++ {
		rec := s.do(cheapBatch(), "203.0.113.9:1")
		h := rec.Header()
		remaining := max(0, 3-i)
		if h.Get("X-Ratelimit-Limit") != "3" || h.Get("X-Ratelimit-Remaining") != strconv.Itoa(remaining) || h.Get("X-Ratelimit-Reset") != wantReset {
			t.Errorf("request %d: limit %q remaining %q reset %q, want 3 %d %s", i, h.Get("X-Ratelimit-Limit"), h.Get("X-Ratelimit-Remaining"), h.Get("X-Ratelimit-Reset"), remaining, wantReset)
		}
		if got, want := h.Get("Ratelimit-Policy"), `"3-per-60s";q=3;w=60`; got != want {
			t.Errorf("RateLimit-Policy %q, want %q", got, want)
		}
		wantRL := fmt.Sprintf(`"3-per-60s";r=%d;t=%d`, remaining, 60-10*(i-1))
		if got := h.Get("Ratelimit"); got != wantRL {
			t.Errorf("request %d: RateLimit %q, want %q", i, got, wantRL)
		}
		if i == 4 && (rec.Code != 429 || h.Get("Retry-After") != "30") {
			t.Errorf("4th request: %d Retry-After %q, want 429 and 30", rec.Code, h.Get("Retry-After"))
		}
		s.clock.Advance(10 * time.Second)
	}
	if rec := s.do(healthReq(), "203.0.113.9:1"); rec.Header().Get("X-Ratelimit-Limit") != "" {
		t.Error("health carries rate-limit headers")
	}
}

func TestSpoofedForwardedForFromUntrustedPeer(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "2 per minute", "RATELIMIT_TRUSTED_PROXIES": "10.0.0.0/8"})
	for i := 0; i < 5; i++ {
		r := cheapCalib()
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		rec := s.do(r, "192.0.2.1:5000")
		if i >= 2 && rec.Code != 429 {
			t.Fatalf("request %d with a forged X-Forwarded-For: %d, want 429", i+1, rec.Code)
		}
	}
}

func TestForwardedForFromTrustedProxy(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "2 per minute", "RATELIMIT_TRUSTED_PROXIES": "10.0.0.0/8, 172.16.0.1"})
	send := func(xff ...string) int {
		r := cheapCalib()
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return s.do(r, "10.1.2.3:443").Code
	}
	// The client forges a left-most entry; the proxies append the real one.
	for i := 0; i < 2; i++ {
		if code := send(fmt.Sprintf("1.1.1.%d, 203.0.113.5", i), "172.16.0.1"); code == 429 {
			t.Fatalf("request %d limited", i)
		}
	}
	if code := send("9.9.9.9, 203.0.113.5, 172.16.0.1"); code != 429 {
		t.Fatalf("third request of 203.0.113.5: %d, want 429", code)
	}
	if code := send("203.0.113.6"); code == 429 {
		t.Fatal("another client behind the proxy was limited")
	}
	// The proxy's own traffic without a header counts against the proxy.
	if code := send(); code == 429 {
		t.Fatal("proxy's first own request limited")
	}
}

func TestDryRunNeverBlocks(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "1 per minute", "RATELIMIT_DRY_RUN": "true"})
	for i := 0; i < 5; i++ {
		rec := s.do(cheapCalib(), "192.0.2.1:1")
		if rec.Code == 429 {
			t.Fatal("dry run blocked a request")
		}
		if i > 0 && rec.Header().Get("X-Ratelimit-Remaining") != "0" {
			t.Fatalf("dry run: remaining %q, want 0", rec.Header().Get("X-Ratelimit-Remaining"))
		}
	}
}

func TestDisabledLimiting(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "1 per minute", "RATELIMIT_ENABLED": "false"})
	for i := 0; i < 5; i++ {
		rec := s.do(cheapCalib(), "192.0.2.1:1")
		if rec.Code == 429 || rec.Header().Get("X-Ratelimit-Limit") != "" {
			t.Fatalf("disabled limiter: %d %v", rec.Code, rec.Header())
		}
	}
}

func TestResetForgetsCounts(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "1 per minute"})
	s.do(cheapCalib(), "192.0.2.1:1")
	if s.do(cheapCalib(), "192.0.2.1:1").Code != 429 {
		t.Fatal("second request not limited")
	}
	s.limiter.Reset()
	if s.do(cheapCalib(), "192.0.2.1:1").Code == 429 {
		t.Fatal("limited after Reset")
	}
}

func TestInvalidLimitStopsStartUp(t *testing.T) {
	for _, env := range []map[string]string{
		{"RATELIMIT_CALIB": "ten per minute"},
		{"RATELIMIT_DEFAULT": "200 per day;fifty per hour"},
		{"RATELIMIT_TRUSTED_PROXIES": "10.0.0/8"},
		{"RATELIMIT_IPV6_PREFIX": "129"},
		{"RATELIMIT_STORAGE_URI": "memcached://x"},
	} {
		_, err := loadConfig(nil, func(k string) string { return env[k] })
		if err == nil {
			t.Errorf("%v: start-up went on", env)
			continue
		}
		for _, v := range env {
			quoted := v
			if i := strings.Index(v, ";"); i >= 0 {
				quoted = v[i+1:]
			}
			if !strings.Contains(err.Error(), quoted) {
				t.Errorf("%v: error %q does not quote the value", env, err)
			}
		}
	}
	if _, err := loadConfig([]string{"-ratelimit-predict", "5 per minute"}, func(string) string { return "" }); err != nil {
		t.Errorf("flag: %v", err)
	}
}

// Benchmarks: the limiter's own cost. Run with -benchmem.

// discardWriter is a reusable ResponseWriter for the middleware benchmark.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkRateLimitMiddleware: the whole middleware (key parse, checks,
// headers) around a handler that does nothing, with the default two limits
// of a route.
func BenchmarkRateLimitMiddleware(b *testing.B) {
	cfg, err := loadConfig(nil, func(k string) string {
		return map[string]string{"RATELIMIT_DEFAULT": "1000000 per day;1000000 per hour"}[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	var tick int64
	clock := func() time.Time { tick++; return time.UnixMilli(1_700_000_000_000 + tick/1000) }
	l := newRateLimiter(cfg.rateLimit, clock, nil)
	h := l.limit("models", cfg.rateLimit.defaults, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	reqs := make([]*http.Request, 256)
	for i := range reqs {
		reqs[i] = httptest.NewRequest("GET", "/api/session/models", nil)
		reqs[i].RemoteAddr = fmt.Sprintf("192.0.2.%d:40000", i)
	}
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		h.ServeHTTP(w, reqs[i&255])
	}
	if w.h.Get("X-Ratelimit-Limit") == "" {
		b.Fatal("no headers set")
	}
}

// The limit's JSON body is valid JSON with the fields a client reads.
func TestTooManyRequestsBodyFields(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_PREDICT": "1 per 2 hours"})
	s.do(cheapBatch(), "192.0.2.9:1")
	rec := s.do(cheapBatch(), "192.0.2.9:1")
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["limit"] != "1 per 2 hour" || body["retry_after"] != float64(7200) {
		t.Fatalf("429 body %v", body)
	}
}
