package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
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

func TestClientAddressParsing(t *testing.T) {
	id := clientIdentity{ipv6Prefix: 64, trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	tests := []struct {
		remote string
		xff    string
		want   string
	}{
		{"192.0.2.1:80", "", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "", "192.0.2.1"},
		{"[2001:db8::1]:80", "", "2001:db8::1"},
		{"192.0.2.1:80", "203.0.113.1", "192.0.2.1"},
		{"10.0.0.1:80", "203.0.113.1", "203.0.113.1"},
		{"10.0.0.1:80", "203.0.113.1, 10.9.9.9", "203.0.113.1"},
		{"10.0.0.1:80", "10.0.0.2, 10.9.9.9", "10.0.0.2"},
		{"10.0.0.1:80", "garbage, 203.0.113.1", "203.0.113.1"},
		{"10.0.0.1:80", "203.0.113.1, garbage", "10.0.0.1"},
		{"10.0.0.1:80", " , 203.0.113.1:5555 ,", "203.0.113.1"},
		{"[fd00::1]:80", "[2001:db8::7]:443", "2001:db8::7"},
		{"10.0.0.1:80", "::ffff:203.0.113.1", "203.0.113.1"},
		{"not-an-address", "", "invalid IP"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := id.clientAddr(r).String(); got != tc.want {
			t.Errorf("%s / %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestIPv6GroupingAndMappedIPv4(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "2 per minute"})
	s.do(cheapCalib(), "[2001:db8:1:2::1]:5000")
	s.do(cheapCalib(), "[2001:db8:1:2:ffff::9]:5000")
	if rec := s.do(cheapCalib(), "[2001:db8:1:2:abcd::]:5000"); rec.Code != 429 {
		t.Fatalf("third address of one /64: %d, want 429", rec.Code)
	}
	if rec := s.do(cheapCalib(), "[2001:db8:1:3::1]:5000"); rec.Code == 429 {
		t.Fatal("the next /64 was limited")
	}
	s.do(cheapCalib(), "192.0.2.50:1")
	s.do(cheapCalib(), "[::ffff:192.0.2.50]:1")
	if rec := s.do(cheapCalib(), "192.0.2.50:2"); rec.Code != 429 {
		t.Fatalf("IPv4 and IPv4-mapped IPv6 counted apart: %d", rec.Code)
	}

	id := clientIdentity{ipv6Prefix: 48}
	a := id.keyOf(netip.MustParseAddr("2001:db8:1:2::1"))
	b := id.keyOf(netip.MustParseAddr("2001:db8:1:ffff::1"))
	c := id.keyOf(netip.MustParseAddr("2001:db8:2::1"))
	if a != b || a == c {
		t.Errorf("/48 grouping: %v %v %v", a, b, c)
	}
	full := clientIdentity{ipv6Prefix: 128}
	if full.keyOf(netip.MustParseAddr("2001:db8::1")) == full.keyOf(netip.MustParseAddr("2001:db8::2")) {
		t.Error("/128 grouped two addresses")
	}
	if id.keyOf(netip.MustParseAddr("255.255.255.255")) == overflowKey {
		t.Error("an address maps to the overflow key")
	}
}

func TestSweepRemovesExpiredWindows(t *testing.T) {
	w := newFixedWindow(rateLimit{count: 5, window: time.Minute}, 10000)
	id := clientIdentity{ipv6Prefix: 64}
	now := int64(1_000_000)
	for i := 0; i < 500; i++ {
		w.hit(id.keyOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), now)
	}
	if w.size() != 500 {
		t.Fatalf("%d entries, want 500", w.size())
	}
	// Incremental: new clients after the windows expired sweep a few old
	// entries each, so the table shrinks without a full pass.
	later := now + time.Minute.Milliseconds()
	for i := 0; i < 3000; i++ {
		w.hit(id.keyOf(netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)})), later)
	}
	if n := w.size(); n > 3000+250 {
		t.Fatalf("incremental sweep left %d entries, want most of the 500 expired ones gone", n)
	}
	w.sweep(later)
	if n := w.size(); n != 3000 {
		t.Fatalf("after a full sweep %d entries, want the 3000 live ones", n)
	}
}

// TestFullTable: when the table is full, tracked clients keep their own
// counts (an over-limit client is never evicted), and new clients share
// one overflow quota until windows expire.
func TestFullTable(t *testing.T) {
	const capacity = 64
	w := newFixedWindow(rateLimit{count: 3, window: time.Minute}, capacity)
	id := clientIdentity{ipv6Prefix: 64}
	now := int64(5_000_000)
	var tracked []clientKey
	for i := 0; len(tracked) < 2000 && i < 100000; i++ {
		k := id.keyOf(netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)}))
		tracked = append(tracked, k)
		w.hit(k, now)
	}
	if n := w.size(); n > capacity+windowShards {
		t.Fatalf("table holds %d entries, cap %d (+1 overflow per shard)", n, capacity)
	}
	// Pick a client that was tracked (inserted first into its shard) and
	// push it over its limit.
	first := tracked[0]
	for i := 0; i < 5; i++ {
		w.hit(first, now)
	}
	if _, ok := w.hit(first, now); ok {
		t.Fatal("over-limit client allowed")
	}
	// Many new clients: the over-limit one is never evicted.
	for i := 0; i < 5000; i++ {
		w.hit(id.keyOf(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})), now)
	}
	if s, ok := w.peek(first, now); !ok || s.count() < 7 {
		t.Fatalf("over-limit client lost its count: %v %v", s.count(), ok)
	}
	// New clients in a full shard share the overflow window: the 4th new
	// client of that shard is refused.
	sh := w.shard(first)
	refused := false
	for i, n := 0, 0; i < 100000 && n < 4; i++ {
		k := id.keyOf(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}))
		if w.shard(k) != sh {
			continue
		}
		n++
		_, ok := w.hit(k, now+1)
		refused = !ok
	}
	if !refused {
		t.Fatal("new clients of a full shard were not sharing the overflow quota")
	}
	// Once windows expire, new clients get entries of their own again.
	later := now + time.Minute.Milliseconds()
	k := id.keyOf(netip.MustParseAddr("100.100.100.100"))
	if _, ok := w.hit(k, later); !ok {
		t.Fatal("a new client after expiry was refused")
	}
	if _, ok := w.peek(k, later); !ok {
		t.Fatal("a new client after expiry was not tracked")
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

func TestParseRateLimits(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"10 per minute", []string{"10 per 1 minute"}},
		{"10/minute", []string{"10 per 1 minute"}},
		{"10 per 2 minutes", []string{"10 per 2 minute"}},
		{"200 per day;50 per hour", []string{"200 per 1 day", "50 per 1 hour"}},
		{"5/second, 100 PER HOUR", []string{"5 per 1 second", "100 per 1 hour"}},
		{"1 per year|3 per month", []string{"1 per 1 year", "3 per 1 month"}},
		{"", nil},
	}
	for _, tc := range tests {
		got, err := parseRateLimits(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var s []string
		for _, l := range got {
			s = append(s, l.String())
		}
		if fmt.Sprint(s) != fmt.Sprint(tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, s, tc.want)
		}
	}
	for _, bad := range []string{"ten per minute", "10 per fortnight", "0 per minute", "10 minute", "10 per -1 minute", "99999999999 per second"} {
		if _, err := parseRateLimits(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
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

// TestShedding: with every computation slot busy, a burst of concurrent
// requests is answered 503 with Retry-After after a short wait, and the
// server serves again as soon as a slot frees.
func TestShedding(t *testing.T) {
	s := newTestServer(t, map[string]string{"MAX_CONCURRENT_WORK": "2", "WORK_WAIT": "20ms", "RATELIMIT_ENABLED": "false"})
	if rec := s.do(calibRequestOf(t, exampleCalibFields(t)), ""); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	var releases []func()
	for i := 0; i < 2; i++ {
		rel, err := s.work.light.acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, rel)
	}
	batch := readTestdata(t, "api/batch_request.json") // names calibration "sample9full"
	var wg sync.WaitGroup
	codes := make([]int, 30)
	retry := make([]string, 30)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var rec *httptest.ResponseRecorder
			if i%2 == 0 {
				rec = s.do(calibRequestOf(t, exampleCalibFields(t)), "")
			} else {
				rec = s.do(batchRequestOf(batch), "")
			}
			codes[i], retry[i] = rec.Code, rec.Header().Get("Retry-After")
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 503 || retry[i] != "1" {
			t.Fatalf("request %d: %d Retry-After %q, want 503 and 1", i, c, retry[i])
		}
	}
	shed := exampleCalibFields(t)
	shed["file_name"] = `"shed"`
	if rec := s.do(calibRequestOf(t, shed), ""); rec.Code != 503 {
		t.Fatalf("calibration while busy: %d", rec.Code)
	}
	if _, err := s.store.Load("shed"); !errors.Is(err, errCalibrationNotFound) {
		t.Fatalf("a shed calibration was stored: %v", err)
	}
	for _, rel := range releases {
		rel()
	}
	if rec := s.do(batchRequestOf(batch), ""); rec.Code != 200 {
		t.Fatalf("after the burst: %d %s", rec.Code, rec.Body)
	}
}

// TestShedderBoundsWaiting: at most maxWaiting requests wait; the rest are
// refused at once.
func TestShedderBoundsWaiting(t *testing.T) {
	w := newWorkShedder(1, 2, time.Hour)
	ctx := t.Context()
	release, err := w.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 10)
	for i := 0; i < 10; i++ {
		go func() {
			rel, err := w.acquire(ctx)
			if err == nil {
				rel()
			}
			results <- err
		}()
	}
	// Eight of ten cannot even wait (2 waiting slots + 1 spare) and fail at once.
	refused := 0
	for refused < 7 {
		if err := <-results; err != nil {
			refused++
		}
	}
	release()
	for i := refused; i < 10; i++ {
		<-results
	}
}

// Benchmarks: the limiter's own cost. Run with -benchmem.

func BenchmarkFixedWindowExistingClient(b *testing.B) {
	w := newFixedWindow(rateLimit{count: maxLimitCount, window: time.Hour}, 1_000_000)
	k := clientIdentity{ipv6Prefix: 64}.keyOf(netip.MustParseAddr("192.0.2.1"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.hit(k, 1_000_000)
	}
}

// BenchmarkFixedWindowDistinctClients inserts up to 1,000,000 distinct
// clients (run with -benchtime=1000000x) and reports the heap each tracked
// client costs.
func BenchmarkFixedWindowDistinctClients(b *testing.B) {
	const clients = 1_000_000
	keys := make([]clientKey, clients)
	id := clientIdentity{ipv6Prefix: 64}
	for i := range keys {
		if i%2 == 0 {
			keys[i] = id.keyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		} else {
			var a [16]byte
			a[0], a[1], a[4], a[5], a[6], a[7] = 0x20, 0x01, byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
			keys[i] = id.keyOf(netip.AddrFrom16(a))
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := newFixedWindow(rateLimit{count: 10, window: time.Hour}, clients)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.hit(keys[i%clients], 1_000_000)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := w.size(); n > 0 {
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/client")
		b.ReportMetric(float64(n), "clients")
	}
	runtime.KeepAlive(w)
}

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

// TestWideKeysCountAndSweep: clients keyed by more than 64 bits (IPv6
// prefixes over /64) are counted and swept like the others.
func TestWideKeysCountAndSweep(t *testing.T) {
	id := clientIdentity{ipv6Prefix: 128}
	w := newFixedWindow(rateLimit{count: 2, window: time.Minute}, 1000)
	a, b := id.keyOf(netip.MustParseAddr("2001:db8::1")), id.keyOf(netip.MustParseAddr("2001:db8::2"))
	if a.lo == 0 || b.lo == 0 {
		t.Fatal("test keys are not wide")
	}
	for i, want := range []bool{true, true, false} {
		if _, ok := w.hit(a, 1000); ok != want {
			t.Fatalf("hit %d of a: allowed %v", i+1, ok)
		}
	}
	if _, ok := w.hit(b, 1000); !ok {
		t.Fatal("b limited by a's count")
	}
	if w.size() != 2 {
		t.Fatalf("%d entries, want 2", w.size())
	}
	w.sweep(1000 + time.Minute.Milliseconds())
	if w.size() != 0 || w.tracked.Load() != 0 {
		t.Fatalf("after the sweep: %d entries, tracked %d", w.size(), w.tracked.Load())
	}
}
