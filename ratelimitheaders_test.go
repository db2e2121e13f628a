package main

// Tests of the rate-limit response headers: values, the level shown in
// RateLimit, number formatting, one allocation, and values that stay as
// they were made.

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

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
		if got, want := h.Get("Ratelimit-Policy"), `"3-per-60s";q=3;w=60, "network-300-per-60s";q=300;w=60`; got != want {
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

// TestRateLimitFieldShowsTheBindingLevel: for each window the RateLimit
// field shows the level with fewer requests left, and X-RateLimit-* the
// check with the fewest left overall.
func TestRateLimitFieldShowsTheBindingLevel(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_PREDICT": "10 per minute;100 per hour", "RATELIMIT_NETWORK_PREDICT": "12 per minute;1000 per hour"})
	for i := 0; i < 8; i++ {
		s.do(cheapBatch(), fmt.Sprintf("192.0.2.%d:1", 10+i))
	}
	rec := s.do(cheapBatch(), "192.0.2.99:1") // the network's 9th in the minute: 3 left; the client's first: 9 left
	h := rec.Header()
	if got, want := h.Get("Ratelimit"), `"network-12-per-60s";r=3;t=60, "100-per-3600s";r=99;t=3600`; got != want {
		t.Errorf("RateLimit %q, want %q", got, want)
	}
	if h.Get("X-Ratelimit-Limit") != "12" || h.Get("X-Ratelimit-Remaining") != "3" {
		t.Errorf("X-RateLimit-Limit %q Remaining %q, want 12 and 3", h.Get("X-Ratelimit-Limit"), h.Get("X-Ratelimit-Remaining"))
	}
	want := `"10-per-60s";q=10;w=60, "network-12-per-60s";q=12;w=60, "100-per-3600s";q=100;w=3600, "network-1000-per-3600s";q=1000;w=3600`
	if got := h.Get("Ratelimit-Policy"); got != want {
		t.Errorf("RateLimit-Policy %q, want %q", got, want)
	}
}

func TestAppendUint(t *testing.T) {
	for _, v := range []uint64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, 1_700_000_000, math.MaxUint32, math.MaxUint64 - 1, math.MaxUint64} {
		want := strconv.FormatUint(v, 10)
		var room [32]byte
		if got := string(appendUint(room[:0], v)); got != want {
			t.Errorf("appendUint(%d) = %q", v, got)
		}
		if got := string(appendUint([]byte("x"), v)); got != "x"+want { // no room: appends by reallocating
			t.Errorf("appendUint(x, %d) = %q", v, got)
		}
	}
}

// TestRateHeadersAllocateAtMostOnce: setting the headers costs at most one
// allocation, whether or not the route's number cache holds the values.
func TestRateHeadersAllocateAtMostOnce(t *testing.T) {
	limits, err := parseRateLimits("1000000 per hour;1000000 per day")
	if err != nil {
		t.Fatal(err)
	}
	rl := newRouteLimits("models", newLimitChecks(routeLimitConfig{client: limits, network: limits}), smallIntValues(1024))
	res := limitResult{failed: -1}
	now := int64(1_700_000_000_000)
	for i := range rl.checks {
		res.states[i] = packWindow(now+rl.checks[i].windowMs, 7)
	}
	h := make(http.Header)
	n := int64(0)
	cold := testing.AllocsPerRun(200, func() { // a new reset time every time: never cached
		n++
		res.states[0] = packWindow(now+n*1000, 7)
		setRateHeaders(h, rl, &res, now)
	})
	warm := testing.AllocsPerRun(200, func() { setRateHeaders(h, rl, &res, now) })
	if cold > 1 || warm > 1 {
		t.Fatalf("allocations per call: %v with new numbers, %v with cached ones; want at most 1", cold, warm)
	}
}

// TestHeaderValuesStayAsMade: the values a response was given (which
// point into shared chunks and caches) do not change as later responses
// are made.
func TestHeaderValuesStayAsMade(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_PREDICT": "1000 per hour"})
	first := s.do(cheapBatch(), "192.0.2.1:1").Header().Clone()
	kept := s.do(cheapBatch(), "192.0.2.1:1").Header()
	snapshot := kept.Clone()
	for i := 0; i < 3*textSlabSize; i++ {
		s.clock.Advance(time.Second)
		s.do(cheapBatch(), fmt.Sprintf("192.0.2.%d:1", i%200))
	}
	for _, k := range []string{"X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Ratelimit"} {
		if kept.Get(k) != snapshot.Get(k) {
			t.Errorf("%s changed from %q to %q", k, snapshot.Get(k), kept.Get(k))
		}
	}
	if first.Get("X-Ratelimit-Remaining") != "999" || snapshot.Get("X-Ratelimit-Remaining") != "998" {
		t.Errorf("remaining %q then %q, want 999 then 998", first.Get("X-Ratelimit-Remaining"), snapshot.Get("X-Ratelimit-Remaining"))
	}
}

// TestRateHeadersConcurrent: responses made at once by many goroutines
// (sharing the route's text chunks and number cache) each get their own
// values, and keep them.
func TestRateHeadersConcurrent(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_DEFAULT": "5000 per hour"})
	const goroutines, each = 8, 300
	kept := make([][]http.Header, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				kept[g] = append(kept[g], s.do(modelsReq(), fmt.Sprintf("192.0.%d.1:1", g)).Header())
			}
		}()
	}
	wg.Wait()
	for g := range kept {
		for i, h := range kept[g] {
			left := 5000 - i - 1
			want := fmt.Sprintf(`"5000-per-3600s";r=%d;t=3600`, left)
			if h.Get("Ratelimit") != want || h.Get("X-Ratelimit-Remaining") != strconv.Itoa(left) {
				t.Fatalf("client %d, request %d: RateLimit %q, remaining %q; want %q", g, i+1, h.Get("Ratelimit"), h.Get("X-Ratelimit-Remaining"), want)
			}
		}
	}
}
