package main

// Tests of the limiter's Redis store against a redis-server of their own:
// the same answers and headers as the in-memory store, limits shared by
// two instances, keys that expire with their windows, the failure policy
// when Redis stops or hangs, and limiting again once it is back; and the
// cost of one limit check.

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// limiterAnswer is what a client sees of the limiter in one response.
type limiterAnswer struct {
	code                                      int
	limit, remaining, reset, rateLimit, retry string
	level                                     string
}

func answerOf(rec *httptest.ResponseRecorder) limiterAnswer {
	h := rec.Header()
	a := limiterAnswer{code: rec.Code, limit: h.Get("X-Ratelimit-Limit"), remaining: h.Get("X-Ratelimit-Remaining"),
		reset: h.Get("X-Ratelimit-Reset"), rateLimit: h.Get("Ratelimit"), retry: h.Get("Retry-After")}
	if rec.Code == 429 {
		var body tooManyRequestsBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err == nil {
			a.level = body.Level
		}
	}
	return a
}

// TestRedisLimiterMatchesMemory: the same requests get the same answers
// and headers from the Redis store as from the in-memory one: client and
// network limits, several windows, refusals that stop the count.
func TestRedisLimiterMatchesMemory(t *testing.T) {
	r := startRedis(t)
	env := map[string]string{"RATELIMIT_CALIB": "3 per minute;5 per hour", "RATELIMIT_NETWORK_CALIB": "5 per minute;100 per hour", "RATELIMIT_PREDICT": "2 per second"}
	run := func(storage string) []limiterAnswer {
		e := map[string]string{"RATELIMIT_STORAGE_URI": storage}
		for k, v := range env {
			e[k] = v
		}
		s := newTestServer(t, e)
		var out []limiterAnswer
		for _, c := range []string{"192.0.2.1:1", "192.0.2.1:1", "192.0.2.1:1", "192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1", "192.0.2.3:1", "198.51.100.1:1"} {
			out = append(out, answerOf(s.do(cheapCalib(), c)))
		}
		for i := 0; i < 3; i++ {
			out = append(out, answerOf(s.do(cheapBatch(), "[2001:db8::1]:1")))
		}
		return out
	}
	memory, redis := run("memory://"), run(r.url)
	for i := range memory {
		if memory[i] != redis[i] {
			t.Errorf("request %d: memory %+v, Redis %+v", i+1, memory[i], redis[i])
		}
	}
	if memory[3].code != 429 || memory[3].level != "client" || memory[6].code != 429 || memory[6].level != "network" || memory[10].code != 429 {
		t.Fatalf("the sequence does not refuse where it should: %+v", memory)
	}
}

// TestTwoInstancesShareLimits: two servers sharing one Redis count one
// client together: ten calibrations spread over both are allowed, the
// eleventh is refused by either.
func TestTwoInstancesShareLimits(t *testing.T) {
	r := startRedis(t)
	env := func() map[string]string {
		return map[string]string{"RATELIMIT_STORAGE_URI": r.url, "CALIBRATION_STORE": r.url + "/1"}
	}
	a, b := newTestServer(t, env()), newTestServer(t, env())
	fields := exampleCalibFields(t)
	for i := 1; i <= 10; i++ {
		s := map[bool]*testServer{true: a, false: b}[i%2 == 1]
		rec := s.do(calibRequestOf(t, fields), "203.0.113.50:1")
		if rec.Code != 200 || rec.Header().Get("X-Ratelimit-Remaining") != strconv.Itoa(10-i) {
			t.Fatalf("calibration %d: %d, remaining %q: %.200s", i, rec.Code, rec.Header().Get("X-Ratelimit-Remaining"), rec.Body)
		}
	}
	for name, s := range map[string]*testServer{"A": a, "B": b} {
		if rec := s.do(calibRequestOf(t, fields), "203.0.113.50:1"); rec.Code != 429 {
			t.Errorf("the eleventh calibration on %s: %d", name, rec.Code)
		}
	}
	if rec := b.do(calibRequestOf(t, fields), "203.0.113.51:1"); rec.Code != 200 {
		t.Errorf("another client: %d", rec.Code)
	}
}

// TestRedisLimiterKeys: every key is under the prefix, names its route,
// level and limit, and expires when its window ends.
func TestRedisLimiterKeys(t *testing.T) {
	r := startRedis(t)
	s := newTestServer(t, map[string]string{"RATELIMIT_STORAGE_URI": r.url, "RATELIMIT_KEY_PREFIX": "lab1"})
	s.do(modelsReq(), "192.0.2.9:1")
	s.do(cheapBatch(), "[2001:db8:1:2::9]:1")
	c := r.client(t, r.url)
	ctx := context.Background()
	rep, err := c.do(ctx, "KEYS", "*")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"lab1:models:client:50-per-3600s:192.0.2.9":               time.Hour,
		"lab1:models:network:5000-per-3600s:192.0.2.0/24":         time.Hour,
		"lab1:models:client:200-per-86400s:192.0.2.9":             24 * time.Hour,
		"lab1:models:network:20000-per-86400s:192.0.2.0/24":       24 * time.Hour,
		"lab1:batch_predict:client:30-per-60s:2001:db8:1:2::/64":  time.Minute,
		"lab1:batch_predict:network:3000-per-60s:2001:db8:1::/48": time.Minute,
	}
	if len(rep.array) != len(want) {
		t.Errorf("%d keys, want %d", len(rep.array), len(want))
	}
	for _, k := range rep.array {
		window, ok := want[string(k.str)]
		if !ok {
			t.Errorf("unexpected key %s", k.str)
			continue
		}
		ttl, err := c.do(ctx, "PTTL", k.str)
		if err != nil || ttl.int <= 0 || ttl.int > window.Milliseconds() {
			t.Errorf("%s expires in %d ms, want within %v (%v)", k.str, ttl.int, window, err)
		}
	}
	if err := s.limiter.Reset(); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.do(ctx, "DBSIZE"); err != nil || rep.int != 0 {
		t.Errorf("after Reset: %d keys (%v)", rep.int, err)
	}
}

// TestRedisFailurePolicy: when Redis stops, and when it hangs, requests
// are answered by the configured policy within the timeouts (fail-open:
// let through without rate-limit headers; fail-closed: 503 with
// Retry-After), never a 500; once Redis is back, limiting resumes.
func TestRedisFailurePolicy(t *testing.T) {
	for _, policy := range []string{"fail-open", "fail-closed"} {
		t.Run(policy, func(t *testing.T) {
			r := startRedis(t)
			s := newTestServer(t, map[string]string{
				"RATELIMIT_STORAGE_URI": r.url + "?dial_timeout=200ms&read_timeout=200ms&write_timeout=200ms", "RATELIMIT_STORAGE_FAILURE": policy,
				"RATELIMIT_DEFAULT": "3 per hour",
			})
			if rec := s.do(modelsReq(), "192.0.2.1:1"); rec.Code != 200 || rec.Header().Get("X-Ratelimit-Remaining") != "2" {
				t.Fatalf("with Redis up: %d %v", rec.Code, rec.Header())
			}
			check := func(when string) {
				t.Helper()
				for i := 0; i < 5; i++ {
					start := time.Now()
					rec := s.do(modelsReq(), "192.0.2.1:1")
					if took := time.Since(start); took > 1500*time.Millisecond {
						t.Fatalf("%s, request %d took %v", when, i+1, took)
					}
					switch {
					case policy == "fail-open" && (rec.Code != 200 || rec.Header().Get("X-Ratelimit-Limit") != ""):
						t.Fatalf("%s, request %d: %d %v, want 200 without rate-limit headers", when, i+1, rec.Code, rec.Header())
					case policy == "fail-closed" && (rec.Code != 503 || rec.Header().Get("Retry-After") == ""):
						t.Fatalf("%s, request %d: %d %v, want 503 with Retry-After", when, i+1, rec.Code, rec.Header())
					}
				}
			}
			r.cmd.Process.Signal(syscall.SIGSTOP) // hung: connections open, nothing answers
			check("Redis hung")
			r.cmd.Process.Signal(syscall.SIGCONT)
			r.stop()
			check("Redis stopped")
			if st := s.limiter.stats(); st.storageFailures != 10 {
				t.Errorf("%d storage failures counted, want 10", st.storageFailures)
			}
			r.start() // empty: nothing persisted
			deadline := time.Now().Add(5 * time.Second)
			rec := s.do(modelsReq(), "192.0.2.1:1")
			for rec.Header().Get("X-Ratelimit-Limit") == "" && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond) // the client redials at most every 100 ms
				rec = s.do(modelsReq(), "192.0.2.1:1")
			}
			if rec.Code != 200 || rec.Header().Get("X-Ratelimit-Remaining") != "2" {
				t.Fatalf("Redis back: %d %v", rec.Code, rec.Header())
			}
			s.do(modelsReq(), "192.0.2.1:1")
			s.do(modelsReq(), "192.0.2.1:1")
			if rec := s.do(modelsReq(), "192.0.2.1:1"); rec.Code != 429 {
				t.Fatalf("the fourth request in the hour once Redis is back: %d", rec.Code)
			}
		})
	}
}

// BenchmarkRedisLimitCheck: one request's limit check against a local
// Redis (the models route: two windows, client and network, one EVALSHA),
// one at a time and from parallel goroutines over the pool; and a bare
// PING, the round trip it rests on.
func BenchmarkRedisLimitCheck(b *testing.B) {
	r := startRedis(b)
	o, err := parseRedisURL(r.url)
	if err != nil {
		b.Fatal(err)
	}
	store := newRedisLimitStore(o, "bench", testIdentity)
	defer store.Close()
	limits := []rateLimit{{count: maxLimitCount, window: time.Hour}, {count: maxLimitCount, window: 24 * time.Hour}}
	c := store.counter("models", newLimitChecks(routeLimitConfig{client: limits, network: limits}))
	keys := make([]requestKeys, 256)
	for i := range keys {
		keys[i] = ipv4Keys(10, i<<8)
	}
	ctx := context.Background()
	b.Run("ping", func(b *testing.B) { // the round trip alone, for comparison
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := store.client.do(ctx, "PING"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.count(ctx, keys[i&255], 1_700_000_000_000); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := c.count(ctx, keys[i&255], 1_700_000_000_000); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// TestRedisLimiterAfterScriptFlush: with the script missing
// from Redis's cache (after a SCRIPT FLUSH, as after a restart), the
// count falls back to EVAL and goes on.
func TestRedisLimiterAfterScriptFlush(t *testing.T) {
	r := startRedis(t)
	s := newTestServer(t, map[string]string{"RATELIMIT_STORAGE_URI": r.url, "RATELIMIT_CALIB": "2 per minute"})
	s.do(cheapCalib(), "192.0.2.1:1")
	if _, err := r.client(t, r.url).do(context.Background(), "SCRIPT", "FLUSH"); err != nil {
		t.Fatal(err)
	}
	if rec := s.do(cheapCalib(), "192.0.2.1:1"); rec.Code != 400 || rec.Header().Get("X-Ratelimit-Remaining") != "0" {
		t.Fatalf("after SCRIPT FLUSH: %d %v", rec.Code, rec.Header())
	}
	if rec := s.do(cheapCalib(), "192.0.2.1:1"); rec.Code != 429 {
		t.Fatalf("third request: %d", rec.Code)
	}
	if st := s.limiter.stats(); st.storageFailures != 0 {
		t.Fatalf("%d storage failures", st.storageFailures)
	}
}

// TestRedisSettings: Redis URLs for the counters and the calibrations, the
// failure policy and the TTL are read; a calibration store that cannot be
// reached stops start-up, with its password redacted from the message.
func TestRedisSettings(t *testing.T) {
	cfg, err := loadConfig(nil, func(k string) string {
		return map[string]string{
			"RATELIMIT_STORAGE_URI": "redis://:s3cret@redis.internal:6379/0", "RATELIMIT_STORAGE_FAILURE": "fail-closed",
			"CALIBRATION_STORE": "rediss://:s3cret@redis.internal:6380/1", "CALIBRATION_TTL": "2160h",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if rc := cfg.rateLimit; rc.redis == nil || rc.redis.addr != "redis.internal:6379" || !rc.failClosed || rc.keyPrefix != "eyetrack:ratelimit" ||
		cfg.calibrationTTL != 2160*time.Hour || !isRedisURL(cfg.storeDir) {
		t.Fatalf("config %+v", cfg)
	}
	err = run(context.Background(), nil, func(k string) string {
		return map[string]string{"CALIBRATION_STORE": "redis://:hunter2@127.0.0.1:1/0"}[k]
	}, new(strings.Builder), new(strings.Builder))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "calibration store") {
		t.Fatalf("a store that cannot be reached at start: %v", err)
	}
}

// TestBlackBoxTwoInstances runs two server processes against one Redis,
// as the README shows: ten calibrations of one client spread over both are
// allowed and the eleventh is refused by either; a calibration made on A
// serves batch_predict on B, also after A is gone.
func TestBlackBoxTwoInstances(t *testing.T) {
	bin := e2eBinary(t)
	r := startRedis(t)
	env := map[string]string{"RATELIMIT_STORAGE_URI": r.url + "/0", "CALIBRATION_STORE": r.url + "/1", "RATELIMIT_TRUSTED_PROXIES": "127.0.0.1/32"}
	a, b := startE2EServer(t, bin, env), startE2EServer(t, bin, env)
	client := e2eClient(t)
	fields := exampleCalibFields(t)
	for i := 1; i <= 11; i++ {
		srv := map[bool]*e2eServer{true: a, false: b}[i%2 == 1]
		got, err := postCalibration(client, srv.base, fields, "198.51.100.10")
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 200, false: 429}[i <= 10]; got.status != want {
			t.Fatalf("calibration %d: %d, want %d: %.200s", i, got.status, want, got.body)
		}
	}
	if got, err := postCalibration(client, b.base, fields, "198.51.100.10"); err != nil || got.status != 429 {
		t.Fatalf("the twelfth calibration, on B: %d %v", got.status, err)
	}
	a.kill()
	got, err := postBatch(client, b.base, readTestdata(t, "api/batch_request.json"), "198.51.100.10")
	if err != nil || got.status != 200 {
		t.Fatalf("batch_predict on B of the calibration made on A: %d %v: %.200s", got.status, err, got.body)
	}
}
