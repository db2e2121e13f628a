package main

// Tests of the rate limiter through the server: Flask-Limiter's semantics,
// headers, trusted proxies, dry run, and the middleware's cost.

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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

// BenchmarkRateLimitMiddleware: the whole middleware (key parse, checks
// at both levels, headers) around a handler that does nothing, with the
// default two limits of a route; 256 clients, each in a /24 of its own, so
// that no request is refused.
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
	served := 0
	h := l.limit("models", cfg.rateLimit.defaults, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	reqs := make([]*http.Request, 256)
	for i := range reqs {
		reqs[i] = httptest.NewRequest("GET", "/api/session/models", nil)
		reqs[i].RemoteAddr = fmt.Sprintf("10.0.%d.1:40000", i)
	}
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		h.ServeHTTP(w, reqs[i&255])
	}
	if w.h.Get("X-Ratelimit-Limit") == "" || served != b.N {
		b.Fatalf("%d of %d requests served; headers %v", served, b.N, w.h)
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

// Limits per network.

// TestNetworkLimitIsSharedByItsClients: the clients of one /24 share the
// network's limit; the 429 says the network refused and names it; a client
// refused at its own level does not use up its network's quota; another
// /24 is not affected.
func TestNetworkLimitIsSharedByItsClients(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "2 per minute", "RATELIMIT_NETWORK_CALIB": "5 per minute"})
	for i := 0; i < 4; i++ { // the first client: 2 allowed, 2 refused by its own limit
		rec := s.do(cheapCalib(), "192.0.2.1:1")
		if want := map[bool]int{true: 429, false: 400}[i >= 2]; rec.Code != want {
			t.Fatalf("request %d of the first client: %d, want %d", i+1, rec.Code, want)
		}
		if i >= 2 && !strings.Contains(rec.Body.String(), `"level":"client"`) {
			t.Fatalf("client refusal body %s", rec.Body)
		}
	}
	for i, c := range []string{"192.0.2.2:1", "192.0.2.2:2", "192.0.2.3:1"} { // network hits 3 to 5
		if rec := s.do(cheapCalib(), c); rec.Code != 400 {
			t.Fatalf("network hit %d from %s: %d", i+3, c, rec.Code)
		}
	}
	rec := s.do(cheapCalib(), "192.0.2.4:1") // the network's sixth
	var body tooManyRequestsBody
	decodeJSON(t, rec, &body)
	if rec.Code != 429 || body.Level != "network" || body.Limit != "5 per 1 minute" || !strings.Contains(body.Error, "192.0.2.0/24") {
		t.Fatalf("sixth request of the /24: %d %+v", rec.Code, body)
	}
	if h := rec.Header(); h.Get("X-Ratelimit-Limit") != "5" || h.Get("X-Ratelimit-Remaining") != "0" || h.Get("Retry-After") != "60" ||
		!strings.Contains(h.Get("Ratelimit"), `"network-5-per-60s";r=0;t=60`) {
		t.Fatalf("network 429 headers %v", h)
	}
	if rec := s.do(cheapCalib(), "192.0.3.1:1"); rec.Code != 400 {
		t.Fatalf("a client of another /24: %d", rec.Code)
	}
	if st := s.limiter.stats(); st.refusedClient != 2 || st.refusedNetwork != 1 {
		t.Fatalf("refusals by level %+v, want 2 client and 1 network", st)
	}
}

// TestClassroomWithinDefaults: 50 participants behind one /24, every one
// calibrating and predicting as often as its own limits allow, all within
// the same minute (and the models list as often as allowed in an hour),
// are never refused at the network level with the default settings.
func TestClassroomWithinDefaults(t *testing.T) {
	s := newTestServer(t, nil)
	for p := 1; p <= 50; p++ {
		addr := fmt.Sprintf("203.0.113.%d:4000", p)
		for _, tc := range []struct {
			req func() *http.Request
			n   int
		}{{cheapCalib, 10}, {cheapBatch, 30}, {modelsReq, 50}} {
			for i := 0; i < tc.n; i++ {
				if rec := s.do(tc.req(), addr); rec.Code == 429 {
					t.Fatalf("participant %d, request %d to %s: 429 %s", p, i+1, tc.req().URL.Path, rec.Body)
				}
			}
		}
	}
	if st := s.limiter.stats(); st.refusedClient+st.refusedNetwork != 0 {
		t.Fatalf("refusals %+v", st)
	}
}

// TestFloodFromOneNetwork: with the client table capped, a flood of
// distinct IPv6 /64s from one /48 fills it. A client limited before the
// flood stays limited until its own window ends (nothing is reset early),
// new clients of another /48 and of IPv4 are served, each network with its
// own quota, the flooded network is refused, every answer is 200 or 429,
// and the tables stay within their caps.
func TestFloodFromOneNetwork(t *testing.T) {
	const maxClients, maxNetworks = 1000, 1000
	s := newTestServer(t, map[string]string{"RATELIMIT_MAX_CLIENTS": strconv.Itoa(maxClients), "RATELIMIT_MAX_NETWORKS": strconv.Itoa(maxNetworks)})
	const limited = "198.51.100.10:1"
	for i := 0; i < 51; i++ {
		s.do(modelsReq(), limited)
	}
	if rec := s.do(modelsReq(), limited); rec.Code != 429 {
		t.Fatalf("the limited client before the flood: %d", rec.Code)
	}
	s.clock.Advance(time.Minute)
	codes := map[int]int{}
	for i := 0; i < 6000; i++ { // 6000 /64s of 2001:db8:ff::/48, one request each
		rec := s.do(modelsReq(), fmt.Sprintf("[2001:db8:ff:%x::1]:1", i))
		codes[rec.Code]++
	}
	// The network's hour limit (50 × 100) refuses the last 1000.
	if len(codes) != 2 || codes[200] != 5000 || codes[429] != 1000 {
		t.Fatalf("flood answers %v, want 5000 × 200 and 1000 × 429", codes)
	}
	rec := s.do(modelsReq(), "[2001:db8:ff:ffff::1]:1")
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), `"level":"network"`) || !strings.Contains(rec.Body.String(), "2001:db8:ff::/48") {
		t.Fatalf("a new client of the flooded /48: %d %s", rec.Code, rec.Body)
	}
	if rec := s.do(modelsReq(), limited); rec.Code != 429 || rec.Header().Get("Retry-After") != strconv.Itoa(59*60) {
		t.Fatalf("the limited client after the flood: %d, Retry-After %q, want 429 and %d", rec.Code, rec.Header().Get("Retry-After"), 59*60)
	}
	for _, c := range []string{"[2001:db8:1:1::1]:1", "192.0.2.77:1"} {
		for i := 0; i < 60; i++ {
			if rec := s.do(modelsReq(), c); rec.Code != 200 {
				t.Fatalf("new client %s after the flood, request %d: %d %s", c, i+1, rec.Code, rec.Body)
			}
		}
	}
	st := s.limiter.stats()
	if st.trackedClients > maxClients || st.trackedNetworks > maxNetworks {
		t.Fatalf("tracked %d clients and %d networks, caps %d and %d", st.trackedClients, st.trackedNetworks, maxClients, maxNetworks)
	}
	s.clock.Advance(59*time.Minute - time.Millisecond)
	if rec := s.do(modelsReq(), limited); rec.Code != 429 {
		t.Fatalf("the limited client a millisecond before its window ends: %d", rec.Code)
	}
	s.clock.Advance(time.Millisecond)
	if rec := s.do(modelsReq(), limited); rec.Code != 200 {
		t.Fatalf("the limited client once its window ended: %d", rec.Code)
	}
}

// TestNetworkSettings: the network prefixes, limits and caps are read and
// checked like the others.
func TestNetworkSettings(t *testing.T) {
	cfg, err := loadConfig([]string{"-ratelimit-network-multiplier", "7", "-ratelimit-ipv6-network-prefix", "56"}, func(k string) string {
		return map[string]string{"RATELIMIT_NETWORK_PREDICT": "99 per minute;1000 per day", "RATELIMIT_IPV4_NETWORK_PREFIX": "16", "RATELIMIT_MAX_NETWORKS": "123"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	rc := cfg.rateLimit
	if rc.calib.network[0].count != 70 || len(rc.predict.network) != 2 || rc.predict.network[0].count != 99 ||
		rc.identity.ipv4NetPrefix != 16 || rc.identity.ipv6NetPrefix != 56 || rc.maxNetworks != 123 {
		t.Fatalf("config %+v", rc)
	}
	if c := rc.defaults.network; c[0].count != 1400 || c[1].count != 350 {
		t.Fatalf("default network limits %v, want 7 × the client's", c)
	}
	for _, bad := range []map[string]string{
		{"RATELIMIT_NETWORK_CALIB": "many per minute"}, {"RATELIMIT_NETWORK_MULTIPLIER": "0"},
		{"RATELIMIT_IPV4_NETWORK_PREFIX": "33"}, {"RATELIMIT_IPV6_NETWORK_PREFIX": "65"},
		{"RATELIMIT_MAX_NETWORKS": "none"}, {"RATELIMIT_CALIB": "1/second;2/minute;3/hour;4/day;5/month"},
	} {
		if _, err := loadConfig(nil, func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestBlackBoxNetworkFlood runs the server binary with the client table
// capped at 10,000 and loopback as the trusted proxy, and floods it with
// 40,000 distinct IPv6 /64s of 2001:db8::/32 (in four /48s), 16 requests
// at a time: a client limited before the flood is still limited after it,
// the flooding networks are refused past their limits, a new IPv6 client
// of another network and a new IPv4 client are served, only 200 and 429
// are answered, and the resident memory grows by less
// than the documented bound of the tables plus 32 MiB for everything
// else (connections, buffers, the garbage collector's slack).
func TestBlackBoxNetworkFlood(t *testing.T) {
	bin := e2eBinary(t)
	const maxClients = 10_000
	srv := startE2EServer(t, bin, map[string]string{
		"CALIBRATION_STORE": t.TempDir(), "RATELIMIT_TRUSTED_PROXIES": "127.0.0.1/32", "RATELIMIT_MAX_CLIENTS": strconv.Itoa(maxClients),
	})
	client := e2eClient(t)
	get := func(xff string) int {
		got, err := request(client, "GET", srv.base+"/api/session/models", nil, "", xff)
		if err != nil {
			t.Fatal(err)
		}
		return got.status
	}
	const limited = "198.51.100.10"
	for i := 0; i < 50; i++ {
		get(limited)
	}
	if code := get(limited); code != 429 {
		t.Fatalf("the limited client before the flood: %d", code)
	}
	before := processRSS(t, srv.cmd.Process.Pid)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 40_000; i += 16 {
				got, err := request(client, "GET", srv.base+"/api/session/models", nil, "", fmt.Sprintf("2001:db8:%x:%x::1", i%4, i/4))
				mu.Lock()
				if err != nil {
					codes[-1]++
				} else {
					codes[got.status]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if codes[200] != 4*5000 || codes[429] != 40_000-4*5000 { // the models route's network limit: 5000 per hour
		t.Fatalf("flood answers %v, want 20000 × 200 and 20000 × 429", codes)
	}
	if code := get(limited); code != 429 {
		t.Fatalf("the limited client after the flood: %d", code)
	}
	for _, c := range []string{"2001:db8:1234:1::1", "2001:470::1", "192.0.2.200"} {
		if code := get(c); code != 200 {
			t.Fatalf("new client %s after the flood: %d", c, code)
		}
	}
	// The models route's table: two windows per key, at most maxClients
	// clients and a few networks, at most 64 bytes each as measured.
	grew, bound := processRSS(t, srv.cmd.Process.Pid)-before, int64(maxClients*64+32<<20)
	if grew > bound {
		t.Fatalf("resident memory grew by %d bytes during the flood, bound %d", grew, bound)
	}
	t.Logf("flood answers %v; resident memory grew by %d KiB", codes, grew>>10)
}

// TestNetworkRefusalIsLogged: a network's first refusal in a window is
// logged once, naming the network.
func TestNetworkRefusalIsLogged(t *testing.T) {
	cfg, err := loadConfig(nil, func(k string) string {
		return map[string]string{"RATELIMIT_CALIB": "5 per minute", "RATELIMIT_NETWORK_CALIB": "3 per minute"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	clock := newTestClock()
	l := newRateLimiter(cfg.rateLimit, clock.Now, slog.New(slog.NewTextHandler(&logged, nil)))
	h := l.limit("calib_validation", cfg.rateLimit.calib, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	send := func(n int) {
		for i := 0; i < n; i++ {
			r := cheapCalib()
			r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1", i+1)
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	}
	send(8) // 3 allowed, 5 refused at the network level
	clock.Advance(time.Minute)
	send(5)
	if n := strings.Count(logged.String(), "a network is over its rate limit"); n != 2 || !strings.Contains(logged.String(), "counted_as=192.0.2.0/24") {
		t.Fatalf("%d log lines, want one per window:\n%s", n, logged.String())
	}
}
