package main

// Tests of the calibration store in Redis against a redis-server of their
// own: exact round trips, versions, TTLs, damaged values, a full Redis, two
// instances sharing calibrations (a replaced one never answered from a
// cached model), and a Redis that is down.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func openRedisTestStore(t *testing.T, url string, ttl time.Duration) *redisStore {
	t.Helper()
	o, err := parseRedisURL(url)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newRedisStore(o, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRedisStoreRoundTrip(t *testing.T) {
	r := startRedis(t)
	s := openRedisTestStore(t, r.url, 0)
	if _, err := s.Load("nobody"); !errors.Is(err, errCalibrationNotFound) {
		t.Fatalf("Load of an unknown id: %v", err)
	}
	if _, err := s.Version("nobody"); !errors.Is(err, errCalibrationNotFound) {
		t.Fatalf("Version of an unknown id: %v", err)
	}
	first, second := testCalibration(1.0/3, 40), testCalibration(7, 3)
	versions := map[string]bool{}
	for _, c := range []calibration{first, second} {
		if err := s.Save("p-01", c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load("p-01")
		if err != nil || !sameCalibration(got, c) {
			t.Fatalf("Load after Save: %v (err %v)", got.ScreenWidth, err)
		}
		v, err := s.Version("p-01")
		if err != nil || len(v) != redisVersionLen || versions[v] {
			t.Fatalf("version %q (err %v) after %d saves", v, err, len(versions)+1)
		}
		versions[v] = true
	}
	c := r.client(t, r.url)
	if ttl, err := c.do(context.Background(), "PTTL", redisCalibrationPrefix+"p-01"); err != nil || ttl.int != -1 {
		t.Fatalf("without CALIBRATION_TTL the key expires in %d ms (%v)", ttl.int, err)
	}
	expiring := openRedisTestStore(t, r.url, 90*24*time.Hour)
	if err := expiring.Save("p-02", first); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c.do(context.Background(), "PTTL", redisCalibrationPrefix+"p-02"); err != nil || ttl.int <= 0 || ttl.int > (90*24*time.Hour).Milliseconds() {
		t.Fatalf("with a TTL of 90 days the key expires in %d ms (%v)", ttl.int, err)
	}
}

// TestRedisStoreDamagedValue: a value that is not a calibration record
// answers 422 naming the id, never a 500.
func TestRedisStoreDamagedValue(t *testing.T) {
	r := startRedis(t)
	s := newTestServer(t, map[string]string{"CALIBRATION_STORE": r.url})
	c := r.client(t, r.url)
	for id, value := range map[string]string{"short": "abc", "garbage": "0123456789abcdef0123456789abcdefECJ1 not a record"} {
		if _, err := c.do(context.Background(), "SET", redisCalibrationPrefix+id, value); err != nil {
			t.Fatal(err)
		}
		rec := s.do(batchRequestOf(batchBodyFor(t, id)), "192.0.2.1:1")
		if rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", id, rec.Code, rec.Body)
		}
	}
}

// TestRedisStoreFull: a save that Redis refuses for lack of memory is 507.
func TestRedisStoreFull(t *testing.T) {
	r := startRedis(t, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
	s := openRedisTestStore(t, r.url, 0)
	err := s.Save("big", testCalibration(1, 40_000)) // a 3 MB record
	if !errors.Is(err, errStoreFull) {
		t.Fatalf("a save over maxmemory: %v", err)
	}
	var ae *apiError
	if !errors.As(storeError("", err), &ae) || ae.Status != http.StatusInsufficientStorage {
		t.Fatalf("answered %+v, want 507", ae)
	}
}

// TestTwoInstancesShareCalibrations: a calibration made on instance A
// serves batch_predict on instance B; replaced on A, B answers from the
// new one (its cached model of the old one is not used).
func TestTwoInstancesShareCalibrations(t *testing.T) {
	r := startRedis(t)
	a := newTestServer(t, map[string]string{"CALIBRATION_STORE": r.url})
	b := newTestServer(t, map[string]string{"CALIBRATION_STORE": r.url})
	batch := batchBodyFor(t, "shared")
	predict := func(s *testServer) string {
		t.Helper()
		rec := s.do(batchRequestOf(batch), "192.0.2.1:1")
		if rec.Code != 200 {
			t.Fatalf("batch_predict: %d %s", rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	calibrate := func(fields map[string]string) {
		t.Helper()
		fields["file_name"] = `"shared"`
		if rec := a.do(calibRequestOf(t, fields), "192.0.2.1:1"); rec.Code != 200 {
			t.Fatalf("calibration on A: %d %.200s", rec.Code, rec.Body)
		}
	}
	if rec := b.do(batchRequestOf(batch), "192.0.2.1:1"); rec.Code != 404 {
		t.Fatalf("before any calibration: %d", rec.Code)
	}
	calibrate(exampleCalibFields(t))
	first := predict(b)
	if first != predict(a) {
		t.Fatal("B's predictions differ from A's for the same calibration")
	}
	predict(b) // cached on B now
	calibrate(session9FullFields(t, "Linear Regression"))
	second := predict(b)
	if second == first {
		t.Fatal("B answered from the replaced calibration")
	}
	if second != predict(a) {
		t.Fatal("after the replacement B's predictions differ from A's")
	}
}

// TestRedisStoreUnavailable: with Redis down, calibrations and predictions
// answer 503 with Retry-After within the timeouts, never a 500; once it is
// back, saves work again.
func TestRedisStoreUnavailable(t *testing.T) {
	r := startRedis(t)
	s := newTestServer(t, map[string]string{"CALIBRATION_STORE": r.url + "?dial_timeout=200ms&read_timeout=200ms&write_timeout=200ms"})
	fields := exampleCalibFields(t)
	if rec := s.do(calibRequestOf(t, fields), "192.0.2.1:1"); rec.Code != 200 {
		t.Fatalf("with Redis up: %d", rec.Code)
	}
	r.stop()
	for name, req := range map[string]func() *http.Request{
		"calib_validation": func() *http.Request { return calibRequestOf(t, fields) },
		"batch_predict":    func() *http.Request { return batchRequestOf(readTestdata(t, "api/batch_request.json")) },
	} {
		start := time.Now()
		rec := s.do(req(), "192.0.2.2:1")
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || time.Since(start) > 2*time.Second {
			t.Errorf("%s with Redis down: %d, Retry-After %q, after %v", name, rec.Code, rec.Header().Get("Retry-After"), time.Since(start))
		}
	}
	r.start()
	deadline := time.Now().Add(5 * time.Second)
	rec := s.do(calibRequestOf(t, fields), "192.0.2.3:1")
	for rec.Code == 503 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // the client redials at most every 100 ms
		rec = s.do(calibRequestOf(t, fields), "192.0.2.3:1")
	}
	if rec.Code != 200 {
		t.Fatalf("Redis back: %d %.200s", rec.Code, rec.Body)
	}
}

// TestRedisParticipantData: with the Redis store, the admin routes list a
// calibration's metadata (no samples), delete it (gone from Redis, and from
// another instance whose cached model it was) and delete a participant's;
// CALIBRATION_RETENTION becomes the keys' time to live; protection holds.
func TestRedisParticipantData(t *testing.T) {
	r := startRedis(t)
	env := map[string]string{"CALIBRATION_STORE": r.url, "ADMIN_TOKEN": testAdminToken, "RATELIMIT_ENABLED": "false",
		"CALIBRATION_RETENTION": "720h", "PROTECT_CALIBRATIONS": "true"}
	a, b := newTestServer(t, env), newTestServer(t, env)
	calibrateAs(t, a, "r1", "alice", "198.51.100.1:1")
	calibrateAs(t, a, "r2", "alice", "198.51.100.1:1")
	calibrateAs(t, a, "r3", "bob", "198.51.100.1:1")
	c := r.client(t, r.url)
	if ttl, err := c.do(context.Background(), "PTTL", redisCalibrationPrefix+"r1"); err != nil || ttl.int <= 0 || ttl.int > (720*time.Hour).Milliseconds() {
		t.Errorf("retention as the key's TTL: %d ms (%v)", ttl.int, err)
	}
	rec := b.do(adminRequest("GET", "/api/session/calibrations?limit=2", testAdminToken), "")
	var page listBody
	decodeJSON(t, rec, &page)
	if rec.Code != 200 || len(page.Calibrations) != 2 || page.Next != "r2" || page.Calibrations[0].UserID != "alice" ||
		page.Calibrations[0].Rows != 180 || page.Calibrations[0].Model != "Linear Regression" || strings.Contains(rec.Body.String(), "iris") {
		t.Fatalf("listing on instance B: %d %s", rec.Code, rec.Body)
	}
	// Another network cannot replace r3, through either instance.
	fields := exampleCalibFields(t)
	fields["file_name"] = `"r3"`
	if rec := b.do(calibRequestOf(t, fields), "203.0.113.7:1"); rec.Code != 409 {
		t.Errorf("replacing from another network: %d", rec.Code)
	}
	batch := batchBodyFor(t, "r1")
	if rec := b.do(batchRequestOf(batch), ""); rec.Code != 200 { // B caches r1's model
		t.Fatal(rec.Code)
	}
	if rec := a.do(adminRequest("DELETE", "/api/session/calibration/r1", testAdminToken), ""); rec.Code != 204 {
		t.Fatalf("delete on A: %d %s", rec.Code, rec.Body)
	}
	if rec := b.do(batchRequestOf(batch), ""); rec.Code != 404 {
		t.Errorf("batch on B after the deletion on A: %d", rec.Code)
	}
	if n, _ := c.do(context.Background(), "EXISTS", redisCalibrationPrefix+"r1"); n.int != 0 {
		t.Error("the key is still in Redis")
	}
	rec = b.do(adminRequest("DELETE", "/api/session/calibrations?user_id=alice", testAdminToken), "")
	var del deletedBody
	decodeJSON(t, rec, &del)
	if rec.Code != 200 || strings.Join(del.Deleted, ",") != "r2" {
		t.Errorf("deleting alice's: %d %+v", rec.Code, del)
	}
	if rec := a.do(adminRequest("DELETE", "/api/session/calibration/r1", testAdminToken), ""); rec.Code != 404 {
		t.Errorf("deleting again: %d", rec.Code)
	}
}
