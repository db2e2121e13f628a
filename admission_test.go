package main

// Tests of admission by cost: the estimates, the budget, the two lanes, one
// heavy calibration per client, deadlines, cancellation, and the same
// properties black-box on the real binary.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestCostEstimates: the estimate grows with rows for every model, matches
// the measured figures where they were measured, and keeps real front-end
// calibrations (up to 3,000 rows) with any model within the default budget
// while the largest requests of the slow models are over it.
func TestCostEstimates(t *testing.T) {
	cfg, err := loadConfig(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range servedModels(modelSpecs()) {
		pts := fitCostPoints(name)
		if len(pts) < 2 {
			t.Fatalf("%s: no cost figures", name)
		}
		for _, p := range pts {
			got := estimateFitCost(name, p.rows, 9).Seconds() * 1000
			if diff := got/p.ms - 1; diff > 1e-6 || diff < -1e-6 {
				t.Errorf("%s at %d rows: estimate %.3f ms, measured %.3f ms", name, p.rows, got, p.ms)
			}
		}
		prev := time.Duration(0)
		for rows := 1; rows <= 40_000; rows += 97 {
			c := estimateFitCost(name, rows, 9)
			if c < prev {
				t.Fatalf("%s: estimate falls from %v to %v at %d rows", name, prev, c, rows)
			}
			prev = c
		}
		if c := estimateFitCost(name, 3000, 9); c > cfg.work.budget {
			t.Errorf("%s: 3000 rows estimated at %v, over the default budget %v", name, c, cfg.work.budget)
		}
		if estimateFitCost(name, 3000, 600) <= estimateFitCost(name, 3000, 9) {
			t.Errorf("%s: a larger k does not cost more", name)
		}
	}
	if c := estimateFitCost("Support Vector Regressor", 20_000, 9); c <= cfg.work.budget {
		t.Errorf("SVR on 20000 rows estimated at %v, within the budget", c)
	}
	if c := estimateFitCost("Linear Regression", 20_000, 4000); c <= cfg.work.heavyCost {
		t.Errorf("20000 rows with k = 4000 (k-means for seconds) estimated at %v, not heavy", c)
	}
	if estimateFitCost("Linear Regression", 180, 9) > cfg.work.heavyCost || estimateFitCost("Ridge Regression", 2000, 9) > cfg.work.heavyCost {
		t.Error("an ordinary Linear or Ridge calibration counts as heavy")
	}
	if most := maxRowsWithin("Support Vector Regressor", 9, cfg.work.budget); most < 3000 || estimateFitCost("Support Vector Regressor", most+1, 9) <= cfg.work.budget {
		t.Errorf("maxRowsWithin: %d", most)
	}
}

// TestOverBudgetIsRefusedAtOnce: a calibration estimated over FIT_BUDGET is
// 413 JSON naming the model, the rows and the limit, before any work, and
// stores nothing.
func TestOverBudgetIsRefusedAtOnce(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "FIT_BUDGET": "2s"})
	rec := s.do(calibRequestOf(t, longCalibFields(t, 3000, "Support Vector Regressor", "big")), "")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != http.StatusRequestEntityTooLarge || body.Field != "fixed_circle_iris_points" {
		t.Fatalf("%d %+v", rec.Code, body)
	}
	for _, want := range []string{"Support Vector Regressor", "3000 rows", "FIT_BUDGET", "2s", "at most"} {
		if !strings.Contains(body.Error, want) {
			t.Errorf("message %q does not say %q", body.Error, want)
		}
	}
	if _, err := s.store.Load("big"); !errors.Is(err, errCalibrationNotFound) {
		t.Errorf("a refused calibration was stored: %v", err)
	}
	// The same rows with a light model are accepted.
	if rec := s.do(calibRequestOf(t, longCalibFields(t, 3000, "Linear Regression", "big")), ""); rec.Code != 200 {
		t.Fatalf("Linear Regression on 3000 rows: %d %s", rec.Code, rec.Body)
	}
}

// holdHeavy admits a heavy computation of cost for the client at remote,
// as a running heavy calibration holds its slot; release it with done.
func holdHeavy(t *testing.T, a *admission, remote string, cost time.Duration) *job {
	t.Helper()
	r := httptest.NewRequest("POST", "/api/session/calib_validation", nil)
	r.RemoteAddr = remote
	j, err := a.admit(r, cost)
	if err != nil {
		t.Fatal(err)
	}
	if !j.heavy {
		t.Fatalf("a job of %v is not heavy", cost)
	}
	return j
}

// TestLightWorkIsNeverBlockedByHeavyWork: with every heavy slot taken,
// light calibrations and batch predictions of any client are served; a
// second heavy calibration of the same client is 429 and one of another
// client 503 with the expected wait as Retry-After; once the heavy work
// ends, heavy calibrations run again.
func TestLightWorkIsNeverBlockedByHeavyWork(t *testing.T) {
	s := newTestServer(t, map[string]string{
		"RATELIMIT_ENABLED": "false", "MAX_CONCURRENT_WORK": "2", "MAX_HEAVY_WORK": "1", "HEAVY_WORK_WAIT": "2s",
	})
	if rec := s.do(calibRequestOf(t, exampleCalibFields(t)), "192.0.2.9:1"); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	held := holdHeavy(t, s.work, "192.0.2.1:1000", time.Minute)

	batch := readTestdata(t, "api/batch_request.json")
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				codes[i] = s.do(calibRequestOf(t, exampleCalibFields(t)), fmt.Sprintf("198.51.100.%d:1", i)).Code
			} else {
				codes[i] = s.do(batchRequestOf(batch), fmt.Sprintf("198.51.100.%d:1", i)).Code
			}
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("light request %d while heavy work runs: %d", i, c)
		}
	}

	heavy := longCalibFields(t, 600, "Support Vector Regressor", "heavy")
	if estimateFitCost("Support Vector Regressor", 600, 9) <= s.cfg.work.heavyCost {
		t.Fatal("the heavy example is not heavy")
	}
	rec := s.do(calibRequestOf(t, heavy), "192.0.2.1:2000")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(body.Error, "one at a time") {
		t.Errorf("second heavy calibration of one client: %d %q %+v", rec.Code, rec.Header().Get("Retry-After"), body)
	}
	rec = s.do(calibRequestOf(t, heavy), "203.0.113.5:1")
	decodeJSON(t, rec, &body)
	if retry, _ := strconv.Atoi(rec.Header().Get("Retry-After")); rec.Code != 503 || retry < 55 || !strings.Contains(body.Error, "MAX_HEAVY_WORK") {
		t.Errorf("heavy calibration behind a minute of heavy work: %d Retry-After %q %+v", rec.Code, rec.Header().Get("Retry-After"), body)
	}
	if _, err := s.store.Load("heavy"); !errors.Is(err, errCalibrationNotFound) {
		t.Errorf("a refused heavy calibration was stored: %v", err)
	}
	held.done()
	if rec := s.do(calibRequestOf(t, heavy), "203.0.113.5:1"); rec.Code != 200 {
		t.Errorf("heavy calibration once the lane is free: %d %s", rec.Code, rec.Body)
	}
	if n := len(s.work.heavyJobs); n != 0 {
		t.Errorf("%d heavy jobs left registered", n)
	}
}

// TestHeavyCalibrationWaitsForItsTurn: a heavy calibration whose expected
// wait is within HEAVY_WORK_WAIT waits for the slot and runs.
func TestHeavyCalibrationWaitsForItsTurn(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "MAX_HEAVY_WORK": "1", "HEAVY_WORK_WAIT": "30s"})
	held := holdHeavy(t, s.work, "192.0.2.1:1", 300*time.Millisecond)
	go func() {
		time.Sleep(200 * time.Millisecond)
		held.done()
	}()
	if rec := s.do(calibRequestOf(t, longCalibFields(t, 600, "Support Vector Regressor", "queued")), "203.0.113.5:1"); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// TestFitDeadline: a calibration still fitting at FIT_TIMEOUT answers 503
// JSON with Retry-After, naming the limit, and frees its slot.
func TestFitDeadline(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "FIT_TIMEOUT": "30ms"})
	rec := s.do(calibRequestOf(t, longCalibFields(t, 1000, "Support Vector Regressor", "slow")), "")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(body.Error, "FIT_TIMEOUT") {
		t.Fatalf("%d %q %+v", rec.Code, rec.Header().Get("Retry-After"), body)
	}
	if n := len(s.work.heavyJobs); n != 0 {
		t.Errorf("%d heavy jobs left registered", n)
	}
}

// TestClientLeavingStopsItsFit: when the request's context ends (the client
// disconnected), the fit stops within a fraction of a second and frees its
// slot.
func TestClientLeavingStopsItsFit(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	ctx, cancel := context.WithCancel(context.Background())
	req := calibRequestOf(t, longCalibFields(t, 1500, "Support Vector Regressor", "gone")).WithContext(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	rec := s.do(req, "")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the handler returned %v after the client left (a whole fit takes ~4s)", took)
	}
	if rec.Code != 503 {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if n := len(s.work.heavyJobs); n != 0 {
		t.Errorf("%d heavy jobs left registered", n)
	}
	if rec := s.do(calibRequestOf(t, longCalibFields(t, 600, "Support Vector Regressor", "next")), ""); rec.Code != 200 {
		t.Errorf("the same client's next heavy calibration: %d %s", rec.Code, rec.Body)
	}
}

// TestSolversStopWhenCancelled: every model's calibration, and k-means with
// a large k, returns the context's cause soon after it is cancelled.
func TestSolversStopWhenCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("fits calibrations of thousands of rows")
	}
	stopped := errors.New("stopped by the test")
	cases := []struct {
		model string
		rows  int
		k     int
	}{
		{"Linear Regression", 20_000, 2000}, // k-means dominates
		{"Lasso Regression", 100_000, 9},
		{"Elastic Net", 100_000, 9},
		{"Bayesian Ridge", 16_000, 9},
		{"SGD Regressor", 4000, 9},
		{"Support Vector Regressor", 2000, 9},
		{"Random Forest Regressor", 4000, 9},
	}
	specs := modelSpecs()
	for _, tc := range cases {
		rows := longRecording(t, tc.rows)
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(50*time.Millisecond, func() { cancel(stopped) })
		start := time.Now()
		_, err := evaluateCalibrationWith(ctx, specs[tc.model], rows, tc.k, 0, nil)
		took := time.Since(start)
		if !errors.Is(err, stopped) {
			t.Errorf("%s: %v, want the cancellation's cause (took %v)", tc.model, err, took)
		}
		if took > time.Second { // about 50 ms plus one check interval; generous for -race
			t.Errorf("%s: stopped %v after the start, 50 ms after which it was cancelled", tc.model, took)
		}
	}
}

// BenchmarkCancelLatency measures how long a calibration runs on after its
// context is cancelled, per model (the solvers check it about every 10 ms
// of work; the target is 100 ms).
func BenchmarkCancelLatency(b *testing.B) {
	cases := map[string]int{"Linear Regression": 20_000, "Elastic Net": 100_000, "SGD Regressor": 4000, "Support Vector Regressor": 2000, "Random Forest Regressor": 4000}
	specs := modelSpecs()
	for model, n := range cases {
		b.Run(strings.ReplaceAll(model, " ", "_"), func(b *testing.B) {
			rows := longRecording(b, n)
			k := 9
			if model == "Linear Regression" {
				k = 2000
			}
			var worst time.Duration
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				var at atomic.Int64
				time.AfterFunc(30*time.Millisecond, func() { at.Store(time.Now().UnixNano()); cancel() })
				evaluateCalibrationWith(ctx, specs[model], rows, k, 0, nil)
				if c := at.Load(); c != 0 {
					worst = max(worst, time.Duration(time.Now().UnixNano()-c))
				}
				cancel()
			}
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst_ms_after_cancel")
		})
	}
}

// TestParallelForBorrowsAtMostOnePerTask: however eagerly workers are lent,
// parallelFor never holds more extra workers than tasks beyond the first,
// and runs every task once.
func TestParallelForBorrowsAtMostOnePerTask(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 10} {
		var borrowed, runs atomic.Int64
		borrow := func() (func(), bool) {
			borrowed.Add(1)
			return func() {}, true
		}
		counts := make([]atomic.Int64, n)
		parallelFor(context.Background(), n, borrow, func(i int, _ borrower) {
			time.Sleep(time.Millisecond)
			counts[i].Add(1)
			runs.Add(1)
		})
		if b := borrowed.Load(); b > int64(max(0, n-1)) {
			t.Errorf("n=%d: %d workers borrowed", n, b)
		}
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Errorf("n=%d: task %d ran %d times", n, i, c)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	parallelFor(ctx, 5, nil, func(int, borrower) { ran = true })
	if ran {
		t.Error("a task started after the context ended")
	}
}

// TestParallelForLendsTheCallersSlot: once the calling goroutine has no
// task left, the nested loop of a task still running on a worker gets its
// slot (the search of one axis takes over the core of the axis that
// finished first), and the slot is the caller's again when parallelFor
// returns: the pool's other slot is free, the caller's is not.
func TestParallelForLendsTheCallersSlot(t *testing.T) {
	w := newWorkShedder(2, 0, 0)
	release, _ := w.borrow() // the calling goroutine's own slot
	defer release()
	caller := goroutineID()
	bothStarted := make(chan struct{})
	var started, inFlight, most atomic.Int64
	parallelFor(context.Background(), 2, w.borrow, func(_ int, borrow borrower) {
		if started.Add(1) == 2 {
			close(bothStarted)
		}
		<-bothStarted // one task on the caller, one on the borrowed worker
		if goroutineID() == caller {
			return // done first, then waiting for the worker
		}
		parallelFor(context.Background(), 200, borrow, func(int, borrower) {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(500 * time.Microsecond)
			inFlight.Add(-1)
		})
	})
	if most.Load() != 2 {
		t.Errorf("the nested loop ran at most %d tasks at once, want 2 (the caller's lent slot)", most.Load())
	}
	r, ok := w.borrow()
	if !ok {
		t.Fatal("the borrowed slot was not given back")
	}
	defer r()
	if _, ok := w.borrow(); ok {
		t.Error("the caller's slot was left in the pool after parallelFor returned")
	}
}

// goroutineID is the running goroutine's number, from its stack trace's
// first line ("goroutine 7 [running]:").
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	return id
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

// TestComputingUntilQuiet: the server counts as computing while a
// computation runs and for quietGap after the last one started or ended
// (the background writer waits for that), and not before any.
func TestComputingUntilQuiet(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	a := s.work
	now := time.Unix(1_790_000_000, 0)
	a.now = func() time.Time { return now }
	if a.computing() {
		t.Fatal("computing before any computation")
	}
	r := httptest.NewRequest("POST", "/api/session/batch_predict", nil)
	j, err := a.admit(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if !a.computing() {
		t.Fatal("not computing while a computation runs")
	}
	j.done()
	if !a.computing() {
		t.Fatal("not computing right after a computation ended")
	}
	now = now.Add(quietGap - time.Microsecond)
	if !a.computing() {
		t.Fatal("not computing within quietGap of the last computation")
	}
	now = now.Add(time.Microsecond)
	if a.computing() {
		t.Fatal("computing quietGap after the last computation")
	}
}
