package main

// End-to-end tests of protection by cost, on the real binary over
// loopback: heavy calibrations never starve light requests, a client that
// leaves frees the server, and shutdown answers running fits.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// timedResult is one request's outcome and how long it took.
type timedResult struct {
	name string
	resp e2eResponse
	err  error
	took time.Duration
}

// TestHeavyCalibrationsDoNotStarveLightOnes: two heavy SVR calibrations
// from two clients run or wait in their own lane while light calibrations
// and batch predictions from a third client are each answered 200 within
// 3 s; each heavy one ends with 200 or a JSON error naming its limit.
func TestHeavyCalibrationsDoNotStarveLightOnes(t *testing.T) {
	bin := e2eBinary(t)
	srv := startE2EServer(t, bin, map[string]string{
		"CALIBRATION_STORE": t.TempDir(), "RATELIMIT_TRUSTED_PROXIES": "127.0.0.1/32",
	})
	client := e2eClient(t)
	client.Timeout = 90 * time.Second
	if r, err := postCalibration(client, srv.base, session9FullFields(t, "Linear Regression"), "198.51.100.7"); err != nil || r.status != 200 {
		t.Fatalf("first calibration: %d %v %s", r.status, err, r.body)
	}

	results := make(chan timedResult, 32)
	var heavy sync.WaitGroup
	for i, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		heavy.Add(1)
		go func() {
			defer heavy.Done()
			start := time.Now()
			r, err := postCalibration(client, srv.base, longCalibFields(t, 1500, "Support Vector Regressor", fmt.Sprintf("heavy%d", i)), ip)
			results <- timedResult{"heavy " + ip, r, err, time.Since(start)}
		}()
	}
	time.Sleep(300 * time.Millisecond) // both heavy requests are in
	var light []timedResult
	for i := 0; i < 6; i++ {
		start := time.Now()
		var r e2eResponse
		var err error
		name := "light calibration"
		if i%2 == 1 {
			name = "batch_predict"
			r, err = postBatch(client, srv.base, batch9FullBody(t), "198.51.100.7")
		} else {
			r, err = postCalibration(client, srv.base, session9FullFields(t, "Linear Regression"), "198.51.100.7")
		}
		light = append(light, timedResult{name, r, err, time.Since(start)})
		time.Sleep(200 * time.Millisecond)
	}
	heavy.Wait()
	close(results)
	for _, l := range light {
		if l.err != nil || l.resp.status != 200 || l.took > 3*time.Second {
			t.Errorf("%s while heavy fits run: %d %v after %v: %.200s", l.name, l.resp.status, l.err, l.took, l.resp.body)
		}
	}
	for h := range results {
		if h.err != nil {
			t.Errorf("%s: %v", h.name, h.err)
			continue
		}
		if h.took > 90*time.Second {
			t.Errorf("%s took %v", h.name, h.took)
		}
		var body errorBody
		switch {
		case h.resp.status == 200:
		case json.Unmarshal(h.resp.body, &body) == nil && body.Error != "" && strings.ContainsAny(body.Error, "_") && h.resp.status >= 400:
			// a JSON error naming its limit (MAX_HEAVY_WORK, FIT_TIMEOUT, FIT_BUDGET)
		default:
			t.Errorf("%s: %d %.300s", h.name, h.resp.status, h.resp.body)
		}
		t.Logf("%s: %d after %v", h.name, h.resp.status, h.took.Round(time.Millisecond))
	}
}

// TestLeavingClientsFreeTheServer: two clients send heavy calibrations and
// disconnect half a second later; light calibrations right after are 200
// within 3 s, and a new heavy calibration gets the heavy lane at once (the
// abandoned fits stopped).
func TestLeavingClientsFreeTheServer(t *testing.T) {
	bin := e2eBinary(t)
	srv := startE2EServer(t, bin, map[string]string{
		"CALIBRATION_STORE": t.TempDir(), "RATELIMIT_TRUSTED_PROXIES": "127.0.0.1/32", "MAX_HEAVY_WORK": "1",
	})
	client := e2eClient(t)
	for i, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		body, ct := calibForm(t, longCalibFields(t, 2500, "Support Vector Regressor", fmt.Sprintf("left%d", i)))
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		req, err := http.NewRequestWithContext(ctx, "POST", srv.base+"/api/session/calib_validation", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-Forwarded-For", ip)
		go func() {
			defer cancel()
			send(client, req)
		}()
	}
	time.Sleep(700 * time.Millisecond)
	for i := 0; i < 3; i++ {
		start := time.Now()
		r, err := postCalibration(client, srv.base, session9FullFields(t, "Linear Regression"), "198.51.100.7")
		if took := time.Since(start); err != nil || r.status != 200 || took > 3*time.Second {
			t.Errorf("light calibration after the clients left: %d %v after %v", r.status, err, took)
		}
	}
	start := time.Now()
	r, err := postCalibration(client, srv.base, longCalibFields(t, 600, "Support Vector Regressor", "after"), "203.0.113.9")
	took := time.Since(start)
	if err != nil || r.status != 200 || took > 10*time.Second {
		t.Errorf("heavy calibration after the clients left: %d %v after %v: %.300s", r.status, err, took, r.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(srv.stderr.String(), "client left") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(srv.stderr.String(), "client left"); n < 2 {
		t.Errorf("%d abandoned fits logged as stopped, want 2:\n%s", n, srv.stderr)
	}
}

// TestShutdownAnswersRunningFits: with SHUTDOWN_TIMEOUT=1s, SIGTERM during
// a long fit gives its client a whole HTTP answer (503 JSON with
// Retry-After) and the process exits.
func TestShutdownAnswersRunningFits(t *testing.T) {
	bin := e2eBinary(t)
	srv := startE2EServer(t, bin, map[string]string{
		"CALIBRATION_STORE": t.TempDir(), "RATELIMIT_ENABLED": "false", "SHUTDOWN_TIMEOUT": "1s",
	})
	client := e2eClient(t)
	client.Timeout = 60 * time.Second
	done := make(chan timedResult, 1)
	start := time.Now()
	go func() {
		r, err := postCalibration(client, srv.base, longCalibFields(t, 2500, "Support Vector Regressor", "long"), "")
		done <- timedResult{"long fit", r, err, time.Since(start)}
	}()
	time.Sleep(800 * time.Millisecond) // the body is in and the fit runs
	sigterm := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var res timedResult
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("no answer 20 s after SIGTERM\n%s", srv.stderr)
	}
	var body errorBody
	if res.err != nil || res.resp.status != 503 || res.resp.header.Get("Retry-After") == "" || json.Unmarshal(res.resp.body, &body) != nil || body.Error == "" {
		t.Fatalf("the running fit's answer: %d %v Retry-After %q: %s", res.resp.status, res.err, res.resp.header.Get("Retry-After"), res.resp.body)
	}
	if err := srv.waitExit(t, 15*time.Second); err != nil {
		t.Errorf("exit: %v\n%s", err, srv.stderr)
	}
	t.Logf("503 %v after SIGTERM (%q); exited %v after SIGTERM", time.Since(sigterm).Round(time.Millisecond), body.Error, time.Since(sigterm).Round(time.Millisecond))
}

// TestLongIDSurvivesSIGKILL: with MAX_STRING_LENGTH raised, an id over the
// file system's limit is refused, the longest allowed one is answered 200;
// after SIGKILL the server starts again and serves it.
func TestLongIDSurvivesSIGKILL(t *testing.T) {
	bin := e2eBinary(t)
	dir := t.TempDir()
	env := map[string]string{"CALIBRATION_STORE": dir, "RATELIMIT_ENABLED": "false", "MAX_STRING_LENGTH": "1000"}
	srv := startE2EServer(t, bin, env)
	client := e2eClient(t)
	fields := session9FullFields(t, "Linear Regression")
	var accepted []string
	for _, n := range []int{300, 255, 217, 216, 200} {
		id := strings.Repeat("i", n)
		fields["file_name"] = `"` + id + `"`
		r, err := postCalibration(client, srv.base, fields, "")
		if err != nil {
			t.Fatal(err)
		}
		switch r.status {
		case 200:
			accepted = append(accepted, id)
		case 400:
			if !strings.Contains(string(r.body), "file_name") {
				t.Errorf("%d characters: 400 not naming file_name: %s", n, r.body)
			}
		default:
			t.Errorf("%d characters: %d %s", n, r.status, r.body)
		}
	}
	if len(accepted) == 0 || len(accepted[0]) > 216 {
		t.Fatalf("accepted ids of lengths %v", len(accepted))
	}
	srv.kill()
	srv = startE2EServer(t, bin, env)
	for _, id := range accepted {
		r, err := postBatch(client, srv.base, batchBodyFor(t, id), "")
		if err != nil || r.status != 200 {
			t.Errorf("id of %d characters after SIGKILL: %d %v %.200s", len(id), r.status, err, r.body)
		}
	}
}
