package main

// End-to-end tests: they build the real binary, run it on loopback
// (127.0.0.1:0) and talk to it over HTTP as clients do. They are skipped
// with -short. Every loop is bounded in count and in time.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// crashCalibration is one calibration request of the crash test. Its
// marker is unique within a run and is sent as screen_width = 1000 +
// marker, which the store writes on every row of the fixed file.
type crashCalibration struct {
	marker int
	id     string
	fixed  []labelledSample
	calib  []irisSample
	sentAt time.Time
	doneAt time.Time // when its 200 arrived; zero without one
}

func (c *crashCalibration) width() float64 { return float64(1000 + c.marker) }

// newCrashCalibration draws a calibration from the example recording: a
// contiguous run of 100-180 of its rows and 20-180 of its unlabelled rows,
// every iris coordinate jittered.
func newCrashCalibration(rng *rand.Rand, marker int, id string, fixed []labelledSample, calib []irisSample) *crashCalibration {
	jitter := func(v float64) float64 { return v + rng.NormFloat64()*0.4 }
	c := &crashCalibration{marker: marker, id: id}
	n := 100 + rng.IntN(len(fixed)-100+1)
	from := rng.IntN(len(fixed) - n + 1)
	for _, p := range fixed[from : from+n] {
		p.LeftX, p.LeftY, p.RightX, p.RightY = jitter(p.LeftX), jitter(p.LeftY), jitter(p.RightX), jitter(p.RightY)
		c.fixed = append(c.fixed, p)
	}
	m := 20 + rng.IntN(len(calib)-20+1)
	for _, s := range calib[:m] {
		c.calib = append(c.calib, irisSample{jitter(s.LeftX), jitter(s.LeftY), jitter(s.RightX), jitter(s.RightY)})
	}
	return c
}

func (c *crashCalibration) fields(model string) map[string]string {
	fixed, _ := json.Marshal(c.fixed)
	calib, _ := json.Marshal(c.calib)
	return map[string]string{
		"file_name": strconv.Quote(c.id), "fixed_circle_iris_points": string(fixed), "calib_circle_iris_points": string(calib),
		"screen_width": strconv.Itoa(1000 + c.marker), "screen_height": "746", "k": "9", "model": strconv.Quote(model),
	}
}

// matchesFixed reports whether the parsed fixed file holds exactly c's rows.
func (c *crashCalibration) matchesFixed(got calibration) bool {
	if len(got.Fixed) != len(c.fixed) || got.ScreenWidth != c.width() || got.ScreenHeight != 746 {
		return false
	}
	for i, r := range got.Fixed {
		w := c.fixed[i]
		if r.LeftX != w.LeftX || r.LeftY != w.LeftY || r.RightX != w.RightX || r.RightY != w.RightY || r.PointX != w.PointX || r.PointY != w.PointY {
			return false
		}
	}
	return true
}

// crashRunResult is what one crash-and-restart run found.
type crashRunResult struct {
	calibSent, calib200, batchSent, inFlightAtKill int
	fixedFiles, predictFiles, tempFiles            int
	corrupt                                        int // fixed files that do not parse or mix requests
	predictNewerThanFixed, predictWithoutFixed     int
	killDelay                                      time.Duration
	warmUp, restartExit                            time.Duration // until the first answers; SIGTERM to exit of the restarted server
}

// TestCrashDurability SIGKILLs the server in the middle of a burst of
// calibrations and batch predictions from 8 concurrent clients, restarts it
// on the same folder (which writes what the journal held to the files) and
// checks that every stored calibration is whole (exactly the rows of one
// request for that id), that no calibration answered with 200 was lost or
// replaced by an older one, that every stored id serves batch_predict, and
// that the folder holds nothing but calibration files, the store's
// temporary files and the emptied journal. Ten runs, each on a fresh
// folder, with seeded timing.
func TestCrashDurability(t *testing.T) {
	bin := e2eBinary(t)
	var fixed []labelledSample
	if err := json.Unmarshal([]byte(readTestdata(t, "api/fixed.json")), &fixed); err != nil {
		t.Fatal(err)
	}
	var calib []irisSample
	if err := json.Unmarshal([]byte(readTestdata(t, "api/calib.json")), &calib); err != nil {
		t.Fatal(err)
	}
	if len(fixed) < 100 || len(calib) < 20 {
		t.Fatalf("example has %d fixed and %d calib rows", len(fixed), len(calib))
	}
	const runs = 10
	var total crashRunResult
	start := time.Now()
	for run := 0; run < runs; run++ {
		t.Run(fmt.Sprintf("run%d", run), func(t *testing.T) {
			r := crashRun(t, bin, uint64(run), fixed, calib)
			t.Logf("first answers after %v, killed %v later: %d calibrations sent (%d answered 200, %d in flight at the kill), %d batches; "+
				"%d fixed and %d predict files, %d temporary files left, %d corrupt, %d predict files newer than their fixed file, %d without one; restarted server exited %v after SIGTERM",
				r.warmUp.Round(time.Millisecond), r.killDelay, r.calibSent, r.calib200, r.inFlightAtKill, r.batchSent, r.fixedFiles, r.predictFiles, r.tempFiles, r.corrupt, r.predictNewerThanFixed, r.predictWithoutFixed, r.restartExit.Round(time.Millisecond))
			total.calibSent += r.calibSent
			total.calib200 += r.calib200
			total.inFlightAtKill += r.inFlightAtKill
			total.batchSent += r.batchSent
			total.fixedFiles += r.fixedFiles
			total.predictFiles += r.predictFiles
			total.tempFiles += r.tempFiles
			total.corrupt += r.corrupt
			total.predictNewerThanFixed += r.predictNewerThanFixed
			total.predictWithoutFixed += r.predictWithoutFixed
		})
	}
	t.Logf("%d runs in %v: %d calibrations sent, %d answered 200, %d in flight at the kills, %d batches; %d fixed files checked, %d corrupt; "+
		"%d temporary files left; %d predict files newer than their fixed file, %d without one",
		runs, time.Since(start).Round(time.Millisecond), total.calibSent, total.calib200, total.inFlightAtKill, total.batchSent,
		total.fixedFiles, total.corrupt, total.tempFiles, total.predictNewerThanFixed, total.predictWithoutFixed)
}

// crashRun is one run of TestCrashDurability.
func crashRun(t *testing.T, bin string, run uint64, fixedRows []labelledSample, calibRows []irisSample) crashRunResult {
	const (
		clients           = 8
		requestsPerClient = 80
		ids               = 5
	)
	var res crashRunResult
	dir := t.TempDir()
	srv := startE2EServer(t, bin, map[string]string{
		"CALIBRATION_STORE": dir,
		"RATELIMIT_ENABLED": "false",
		"WORK_WAIT":         "10s", // queue rather than shed: every calibration is fitted
	})
	client := e2eClient(t)
	batchBodies := make([]string, ids)
	for i := range batchBodies {
		batchBodies[i] = batchBodyFor(t, fmt.Sprintf("crash%d", i))
	}

	var (
		mu        sync.Mutex
		sent      = map[int]*crashCalibration{} // by marker
		nextMark  int
		completed atomic.Int64 // calibrations answered
		killed    atomic.Bool
		wg        sync.WaitGroup
	)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(0xC4A5, run*clients+uint64(c)))
			for i := 0; i < requestsPerClient && !killed.Load(); i++ {
				id := rng.IntN(ids)
				if rng.IntN(10) < 3 {
					mu.Lock()
					res.batchSent++
					mu.Unlock()
					got, err := postBatch(client, srv.base, batchBodies[id], "")
					switch {
					case err != nil && !killed.Load():
						t.Errorf("batch_predict failed before the kill: %v", err)
					case err == nil && got.status != 200 && got.status != 404 && got.status != 503: // 404 before the id's first save, 503 if shed
						t.Errorf("batch_predict: status %d: %s", got.status, got.body)
					}
					if err != nil {
						return
					}
					continue
				}
				model := "Linear Regression"
				if rng.IntN(5) == 0 {
					model = "Ridge Regression"
				}
				mu.Lock()
				cal := newCrashCalibration(rng, nextMark, fmt.Sprintf("crash%d", id), fixedRows, calibRows)
				nextMark++
				sent[cal.marker] = cal
				res.calibSent++
				cal.sentAt = time.Now()
				mu.Unlock()
				got, err := postCalibration(client, srv.base, cal.fields(model), "")
				if err != nil {
					if !killed.Load() {
						t.Errorf("calibration %d failed before the kill: %v", cal.marker, err)
					}
					return
				}
				completed.Add(1)
				switch got.status {
				case 200:
					mu.Lock()
					cal.doneAt = time.Now()
					res.calib200++
					mu.Unlock()
				case 503: // shed under load; the calibration was stored all the same
				default:
					t.Errorf("calibration %d: status %d: %s", cal.marker, got.status, got.body)
				}
			}
		}()
	}

	// Kill after a few answers plus a seeded delay, with requests in flight.
	rng := rand.New(rand.NewPCG(0xDEAD, run))
	warmUp := time.Now()
	for wait := time.Now().Add(10 * time.Second); completed.Load() < 6 && time.Now().Before(wait); {
		time.Sleep(2 * time.Millisecond)
	}
	res.warmUp = time.Since(warmUp)
	res.killDelay = time.Duration(rng.IntN(150)) * time.Millisecond
	time.Sleep(res.killDelay)
	killed.Store(true)
	mu.Lock()
	res.inFlightAtKill = res.calibSent - int(completed.Load())
	mu.Unlock()
	srv.kill()
	wg.Wait()
	if srv.waitErr == nil {
		t.Fatal("the server exited normally before the kill")
	}

	// Restart on the same folder: before it listens, the server writes the
	// saves the journal held to their files. Then the folder is checked.
	srv2 := startE2EServer(t, bin, map[string]string{"CALIBRATION_STORE": dir, "RATELIMIT_ENABLED": "false"})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fixedOf := map[string]*crashCalibration{}
	predictOf := map[string]*crashCalibration{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-"):
			res.tempFiles++
		case name == journalFileName:
			if n := journalSize(t, dir); n != 0 { // nothing but the runway's zeros
				t.Errorf("the journal holds %d bytes after the restart", n)
			}
		case strings.HasSuffix(name, "_fixed_train_data.csv"):
			res.fixedFiles++
			id := strings.TrimSuffix(name, "_fixed_train_data.csv")
			cal, problem := checkFixedFile(filepath.Join(dir, name), id, sent)
			if problem != "" {
				res.corrupt++
				t.Errorf("%s: %s", name, problem)
				continue
			}
			fixedOf[id] = cal
		case strings.HasSuffix(name, "_predict_train_data.csv"):
			res.predictFiles++
			id := strings.TrimSuffix(name, "_predict_train_data.csv")
			cal, problem := checkPredictFile(filepath.Join(dir, name), id, sent)
			if problem != "" {
				t.Errorf("%s: %s", name, problem)
				continue
			}
			predictOf[id] = cal
		case strings.HasSuffix(name, metaSuffix):
			if problem := checkMetaFile(filepath.Join(dir, name), strings.TrimSuffix(name, metaSuffix), sent); problem != "" {
				t.Errorf("%s: %s", name, problem)
			}
		default:
			t.Errorf("stray file in the store after the crash and restart: %s", name)
		}
	}
	for id, p := range predictOf {
		switch f, ok := fixedOf[id]; {
		case !ok:
			res.predictWithoutFixed++
		case f != p:
			res.predictNewerThanFixed++
		}
	}
	// Every 200 is on disk, and no later-sent 200 was overwritten by an
	// earlier calibration.
	for _, cal := range sent {
		if cal.doneAt.IsZero() {
			continue
		}
		f, ok := fixedOf[cal.id]
		if !ok {
			t.Errorf("calibration %d of %s was answered 200 but %s has no fixed file", cal.marker, cal.id, cal.id)
			continue
		}
		if !f.doneAt.IsZero() && cal.sentAt.After(f.doneAt) {
			t.Errorf("%s holds calibration %d, answered at %v, although calibration %d, sent after that, was answered 200 too",
				cal.id, f.marker, f.doneAt.Format(time.StampMicro), cal.marker)
		}
	}

	// Every stored id serves batch_predict.
	client2 := e2eClient(t)
	for id := range fixedOf {
		got, err := postBatch(client2, srv2.base, batchBodyFor(t, id), "")
		if err != nil {
			t.Fatal(err)
		}
		var preds []map[string]any
		if got.status != 200 || json.Unmarshal(got.body, &preds) != nil || len(preds) != 180 {
			t.Errorf("batch_predict %s after the restart: status %d, %d predictions: %.200s", id, got.status, len(preds), got.body)
		}
	}
	if got, err := postBatch(client2, srv2.base, batchBodyFor(t, "never-stored"), ""); err != nil || got.status != 404 {
		t.Errorf("batch_predict of an id never stored: %d %v", got.status, err)
	}
	sigterm := time.Now()
	srv2.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv2.waitExit(t, 15*time.Second); err != nil {
		t.Errorf("the restarted server did not exit cleanly: %v\n%s", err, srv2.stderr)
	}
	res.restartExit = time.Since(sigterm)
	return res
}

// checkFixedFile parses a fixed file and finds the request it came from:
// every row must carry one request's marker and the file must hold exactly
// that request's rows, the request having been sent for this id.
func checkFixedFile(path, id string, sent map[int]*crashCalibration) (*crashCalibration, string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err.Error()
	}
	c, err := parseFixedCSV(raw)
	if err != nil {
		return nil, "does not parse: " + err.Error()
	}
	table, err := parseNumericCSV(raw, fixedHeader)
	if err != nil {
		return nil, "lacks the screen columns: " + err.Error()
	}
	for i := range table.rows {
		if w := table.get(i, "screen_width", 0); w != c.ScreenWidth {
			return nil, fmt.Sprintf("mixes requests: row 1 has screen_width %v, row %d %v", c.ScreenWidth, i+1, w)
		}
	}
	cal, ok := sent[int(c.ScreenWidth)-1000]
	switch {
	case !ok:
		return nil, fmt.Sprintf("screen_width %v is no request's marker", c.ScreenWidth)
	case cal.id != id:
		return nil, fmt.Sprintf("holds calibration %d, which was sent for %s", cal.marker, cal.id)
	case !cal.matchesFixed(c):
		return nil, fmt.Sprintf("has %d rows that are not exactly the %d rows of calibration %d", len(c.Fixed), len(cal.fixed), cal.marker)
	}
	return cal, ""
}

// checkPredictFile parses a predict file and finds the request of this id
// whose unlabelled rows it holds exactly.
func checkPredictFile(path, id string, sent map[int]*crashCalibration) (*crashCalibration, string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err.Error()
	}
	rows, err := parseIrisCSV(raw)
	if err != nil {
		return nil, "does not parse: " + err.Error()
	}
	for _, cal := range sent {
		if cal.id == id && slices.Equal(cal.calib, rows) {
			return cal, ""
		}
	}
	return nil, fmt.Sprintf("its %d rows are no request's unlabelled samples", len(rows))
}

// checkMetaFile checks that a metadata file parses and describes one of the
// calibrations sent under id (its rows, screen width and model).
func checkMetaFile(path, id string, sent map[int]*crashCalibration) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var m metaFile
	if err := json.Unmarshal(raw, &m); err != nil {
		return "does not parse: " + err.Error()
	}
	for _, cal := range sent {
		if cal.id == id && m.ScreenWidth == cal.width() && m.Rows == len(cal.fixed) && m.Model != "" && !m.Created.IsZero() {
			return ""
		}
	}
	return fmt.Sprintf("describes no request sent under %q: %s", id, raw)
}

// TestBlackBoxRateLimit checks the default limits on the real binary.
//
// The limiter keys clients by socket address, and every test client is
// 127.0.0.1. To be several clients, the server is started with
// RATELIMIT_TRUSTED_PROXIES=127.0.0.1/32: it then believes X-Forwarded-For
// from loopback, and each "client" sends its own address there (TEST-NET
// addresses). Everything else is the default configuration.
func TestBlackBoxRateLimit(t *testing.T) {
	bin := e2eBinary(t)
	srv := startE2EServer(t, bin, map[string]string{
		"CALIBRATION_STORE":         t.TempDir(),
		"RATELIMIT_TRUSTED_PROXIES": "127.0.0.1/32",
	})
	client := e2eClient(t)
	const alice, bob = "198.51.100.10", "198.51.100.20"
	fields := exampleCalibFields(t)

	for i := 1; i <= 11; i++ {
		got, err := postCalibration(client, srv.base, fields, alice)
		if err != nil {
			t.Fatal(err)
		}
		h := got.header
		if i <= 10 {
			if got.status != 200 {
				t.Fatalf("calibration %d: status %d: %s", i, got.status, got.body)
			}
			if h.Get("X-RateLimit-Limit") != "10" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(10-i) {
				t.Errorf("calibration %d: X-RateLimit-Limit %q Remaining %q, want 10 and %d", i, h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"), 10-i)
			}
			continue
		}
		if got.status != 429 {
			t.Fatalf("calibration 11: status %d, want 429: %s", got.status, got.body)
		}
		now := time.Now().Unix()
		retry, err := strconv.Atoi(h.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 60 {
			t.Errorf("Retry-After %q, want 1 to 60 seconds", h.Get("Retry-After"))
		}
		if h.Get("X-RateLimit-Limit") != "10" || h.Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("X-RateLimit-Limit %q Remaining %q, want 10 and 0", h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"))
		}
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err != nil || reset < now || reset > now+61 {
			t.Errorf("X-RateLimit-Reset %q, want a Unix time within the next minute (now %d)", h.Get("X-RateLimit-Reset"), now)
		}
		if p := h.Get("RateLimit-Policy"); !strings.Contains(p, "q=10") || !strings.Contains(p, "w=60") {
			t.Errorf("RateLimit-Policy %q, want q=10 and w=60", p)
		}
		if rl := h.Get("RateLimit"); !strings.Contains(rl, "r=0") || !strings.Contains(rl, "t=") {
			t.Errorf("RateLimit %q, want r=0 and t=", rl)
		}
		var body tooManyRequestsBody
		if err := json.Unmarshal(got.body, &body); err != nil || body.Error == "" || body.RetryAfter != int64(retry) {
			t.Errorf("429 body %s (err %v), want an error and retry_after %d", got.body, err, retry)
		}
	}

	// Another client is not affected.
	got, err := postCalibration(client, srv.base, fields, bob)
	if err != nil || got.status != 200 || got.header.Get("X-RateLimit-Remaining") != "9" {
		t.Errorf("the other client: status %d, remaining %q, err %v", got.status, got.header.Get("X-RateLimit-Remaining"), err)
	}
	// Limits are per route: the limited client still predicts.
	batch := readTestdata(t, "api/batch_request.json") // names calibration "sample9full"
	if got, err := postBatch(client, srv.base, batch, alice); err != nil || got.status != 200 {
		t.Errorf("batch_predict of the limited client: status %d, err %v: %.200s", got.status, err, got.body)
	}
	// Health is never limited, and carries no rate-limit headers.
	for i := 0; i < 60; i++ {
		got, err := request(client, "GET", srv.base+"/api/session/health", nil, "", alice)
		if err != nil || got.status != 200 {
			t.Fatalf("health %d: status %d, err %v", i+1, got.status, err)
		}
		if got.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("health carries X-RateLimit-Limit %q", got.header.Get("X-RateLimit-Limit"))
		}
	}
}

// TestGracefulShutdown sends SIGTERM while a calibration (the slowest
// model served) is in flight, its body deliberately held back: new
// connections are refused from then on, the request still completes with
// 200 once its body arrives, and the process exits with status 0 within
// the shutdown timeout.
func TestGracefulShutdown(t *testing.T) {
	bin := e2eBinary(t)
	const shutdownTimeout = 10 * time.Second
	srv := startE2EServer(t, bin, map[string]string{
		"CALIBRATION_STORE": t.TempDir(),
		"RATELIMIT_ENABLED": "false",
		"SHUTDOWN_TIMEOUT":  shutdownTimeout.String(),
	})
	client := e2eClient(t)

	got, err := request(client, "GET", srv.base+"/api/session/models", nil, "", "")
	var served struct{ Models []string }
	if err != nil || got.status != 200 || json.Unmarshal(got.body, &served) != nil {
		t.Fatalf("models: %d %v %s", got.status, err, got.body)
	}
	model := "Linear Regression"
	for _, m := range []string{"Support Vector Regressor", "Random Forest Regressor"} {
		if slices.Contains(served.Models, m) {
			model = m
			break
		}
	}
	form, ct := calibForm(t, session9FullFields(t, model))
	raw := form.Bytes()
	half := len(raw) / 2

	pr, pw := io.Pipe()
	slow, err := http.NewRequest("POST", srv.base+"/api/session/calib_validation", pr)
	if err != nil {
		t.Fatal(err)
	}
	slow.ContentLength = int64(len(raw))
	slow.Header.Set("Content-Type", ct)
	type outcome struct {
		resp e2eResponse
		err  error
		at   time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := send(client, slow)
		done <- outcome{r, err, time.Now()}
	}()
	wrote := make(chan error, 1)
	go func() {
		_, err := pw.Write(raw[:half])
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first half of the body was not sent within 10s")
	}
	time.Sleep(300 * time.Millisecond) // the server has read the headers: the connection is active

	sigterm := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	refused := false
	for i := 0; i < 150 && !refused; i++ {
		conn, err := net.DialTimeout("tcp", srv.addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		conn.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if !refused {
		t.Error("new connections were still accepted 3s after SIGTERM")
	}
	select {
	case o := <-done:
		t.Fatalf("the held-back request ended before its body was sent: %d %v", o.resp.status, o.err)
	case <-srv.exited:
		t.Fatalf("the server exited with a request in flight: %v\n%s", srv.waitErr, srv.stderr)
	default:
	}

	go func() {
		_, err := pw.Write(raw[half:])
		pw.CloseWithError(err)
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(shutdownTimeout):
		t.Fatal("the in-flight request did not complete")
	}
	if o.err != nil || o.resp.status != 200 || !bytes.Contains(o.resp.body, []byte(`"centroids"`)) {
		t.Fatalf("in-flight %s calibration: status %d, err %v: %.300s", model, o.resp.status, o.err, o.resp.body)
	}
	if err := srv.waitExit(t, shutdownTimeout); err != nil {
		t.Fatalf("exit: %v, want status 0\n%s", err, srv.stderr)
	}
	exited := time.Now()
	if d := exited.Sub(sigterm); d > shutdownTimeout {
		t.Errorf("exited %v after SIGTERM, beyond the %v shutdown timeout", d, shutdownTimeout)
	}
	if _, err := net.DialTimeout("tcp", srv.addr, time.Second); err == nil {
		t.Error("a connection was accepted after the exit")
	}
	logs := srv.stderr.String()
	if !strings.Contains(logs, "shutting down") || !strings.Contains(logs, "msg=stopped") {
		t.Errorf("the log lacks the shutdown lines:\n%s", logs)
	}
	t.Logf("%s calibration held in flight: answered 200 %v after SIGTERM; exit %v after SIGTERM, %v after the answer",
		model, o.at.Sub(sigterm).Round(time.Millisecond), exited.Sub(sigterm).Round(time.Millisecond), exited.Sub(o.at).Round(time.Millisecond))
}

// TestRunServesAndShutsDown: run serves on the address it prints and, when
// its context ends, finishes in-flight work and returns nil.
func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	env := map[string]string{"ADDR": "127.0.0.1:0", "CALIBRATION_STORE": t.TempDir()}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.Fields(line)[3]
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("startup line %q", line)
	}
	resp, err := http.Get(url + "/api/session/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if _, err := http.Get(url + "/api/session/health"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(context.Background(), nil, func(k string) string {
		return map[string]string{"RATELIMIT_CALIB": "ten per minute"}[k]
	}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ten per minute") {
		t.Fatalf("run: %v", err)
	}
	if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatalf("-h: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(config) bool
	}{
		{"defaults", nil, nil, func(c config) bool {
			return c.addr == "127.0.0.1:5000" && c.storeDir == "./data" && c.maxBodyBytes == 16<<20 && c.corsOrigins == "*" &&
				c.rateLimit.enabled && !c.rateLimit.dryRun && len(c.rateLimit.calib.client) == 1 && c.rateLimit.calib.client[0].count == 10 && c.rateLimit.calib.network[0].count == 1000 &&
				c.rateLimit.predict.client[0].count == 30 && len(c.rateLimit.defaults.client) == 2 && c.rateLimit.identity.ipv6Prefix == 64 && c.rateLimit.identity.ipv4NetPrefix == 24 && c.rateLimit.identity.ipv6NetPrefix == 48 &&
				c.rateLimit.maxClients == 1_000_000 && c.rateLimit.maxNetworks == 250_000 && c.functionsURL == "" && c.logFormat == "text" && c.batchEstimator == "webgazer"
		}},
		{"batch estimator", nil, map[string]string{"BATCH_ESTIMATOR": "precise"}, func(c config) bool { return c.batchEstimator == "precise" }},
		{"batch estimator flag", []string{"-batch-estimator", "webgazer"}, map[string]string{"BATCH_ESTIMATOR": "precise"}, func(c config) bool { return c.batchEstimator == "webgazer" }},
		{"input limits", nil, map[string]string{"MAX_SAMPLES": "10", "MAX_CALIB_ROWS": "20", "MAX_STRING_LENGTH": "30", "MAX_SCREEN_PX": "4000"}, func(c config) bool {
			return c.limits.maxSamples == 10 && c.limits.maxCalibRows == 20 && c.limits.maxIDLength == 30 && c.limits.maxStringLen == 30 && c.limits.maxScreenPx == 4000
		}},
		{"PORT alone listens on all interfaces", nil, map[string]string{"PORT": "8080"}, func(c config) bool { return c.addr == ":8080" }},
		{"ADDR wins over PORT", nil, map[string]string{"PORT": "8080", "ADDR": "127.0.0.1:9"}, func(c config) bool { return c.addr == "127.0.0.1:9" }},
		{"flag wins over environment", []string{"-addr", "127.0.0.1:7", "-max-body-bytes", "1000"}, map[string]string{"ADDR": "127.0.0.1:9", "MAX_BODY_BYTES": "5"}, func(c config) bool {
			return c.addr == "127.0.0.1:7" && c.maxBodyBytes == 1000
		}},
		{"environment", nil, map[string]string{"CALIBRATION_STORE": "/srv/cal", "FUNCTIONS_ENDPOINT_URL": "https://fn.example", "CORS_ORIGINS": "https://a.example", "LOG_FORMAT": "json", "RATELIMIT_DRY_RUN": "yes", "RATELIMIT_TRUSTED_PROXIES": "10.0.0.0/8,::1", "RATELIMIT_IPV6_PREFIX": "48", "RATELIMIT_MAX_CLIENTS": "5000", "MAX_CONCURRENT_WORK": "3", "WORK_WAIT": "1s"}, func(c config) bool {
			return c.storeDir == "/srv/cal" && c.functionsURL == "https://fn.example" && c.corsOrigins == "https://a.example" && c.logFormat == "json" &&
				c.rateLimit.dryRun && len(c.rateLimit.identity.trusted) == 2 && c.rateLimit.identity.ipv6Prefix == 48 && c.rateLimit.maxClients == 5000 &&
				c.work.lightSlots == 3 && c.work.lightWait == time.Second
		}},
	}
	for _, tc := range tests {
		c, err := loadConfig(tc.args, func(k string) string { return tc.env[k] })
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("%s: %+v", tc.name, c)
		}
	}
	for _, bad := range []map[string]string{
		{"MAX_BODY_BYTES": "-1"}, {"MAX_BODY_BYTES": "lots"}, {"LOG_FORMAT": "xml"}, {"CALIBRATION_STORE": "ftp://localhost"},
		{"CALIBRATION_STORE": "redis://localhost/x"}, {"CALIBRATION_TTL": "1h"}, {"CALIBRATION_STORE": "redis://h", "CALIBRATION_TTL": "-1s"},
		{"RATELIMIT_STORAGE_URI": "redis://h:port"}, {"RATELIMIT_STORAGE_FAILURE": "fail-sometimes"}, {"RATELIMIT_KEY_PREFIX": " "},
		{"RATELIMIT_ENABLED": "perhaps"}, {"MAX_CONCURRENT_WORK": "0"}, {"WORK_WAIT": "soon"}, {"SHUTDOWN_TIMEOUT": "-5s"},
		{"RATELIMIT_MAX_CLIENTS": "0"}, {"MAX_SAMPLES": "0"}, {"MAX_STRING_LENGTH": "0"}, {"MAX_SCREEN_PX": "wide"},
		{"BATCH_ESTIMATOR": "ridge"},
	} {
		if _, err := loadConfig(nil, func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := loadConfig([]string{"stray"}, func(string) string { return "" }); err == nil {
		t.Error("a stray argument was accepted")
	}
}

// TestCommandLine: -h lists the subcommands and every setting, -version
// prints the build's version, boolean flags stand alone or take =value,
// and the server binary says how to get the load generator.
func TestCommandLine(t *testing.T) {
	none := func(string) string { return "" }
	var help strings.Builder
	if err := run(context.Background(), []string{"-h"}, none, &help, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"eyetrack loadtest", "eyetrack eval", "-ratelimit-dry-run", "RATELIMIT_DRY_RUN", "FIT_BUDGET", "MAX_HEAVY_WORK", "BATCH_ESTIMATOR", "-version"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("-h does not mention %q:\n%s", want, help.String())
		}
	}
	var version strings.Builder
	if err := run(context.Background(), []string{"-version"}, none, &version, io.Discard); err != nil {
		t.Fatal(err)
	}
	if v := version.String(); !strings.HasPrefix(v, "eyetrack ") || !strings.Contains(v, "go1.") {
		t.Errorf("-version: %q", v)
	}
	for _, tc := range []struct {
		args             []string
		enabled, dryRun  bool
		wantErrSubstring string
	}{
		{[]string{"-ratelimit-dry-run"}, true, true, ""},
		{[]string{"-ratelimit-enabled=false"}, false, false, ""},
		{[]string{"-ratelimit-enabled=off", "-ratelimit-dry-run=yes"}, false, true, ""},
		{[]string{"-ratelimit-enabled", "false"}, true, false, "unexpected argument"},
		{[]string{"-ratelimit-dry-run=maybe"}, true, false, "maybe"},
	} {
		c, err := loadConfig(tc.args, none)
		if tc.wantErrSubstring != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSubstring) {
				t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.wantErrSubstring)
			}
			continue
		}
		if err != nil || c.rateLimit.enabled != tc.enabled || c.rateLimit.dryRun != tc.dryRun {
			t.Errorf("%v: enabled %v dry run %v, err %v", tc.args, c.rateLimit.enabled, c.rateLimit.dryRun, err)
		}
	}
	if !loadTestBuilt {
		err := run(context.Background(), []string{"loadtest", "-spawn"}, none, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-tags loadtest") {
			t.Errorf("loadtest in the server binary: %v", err)
		}
	}
}

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestOperationsBlackBox, on the real binary with LOG_FORMAT=json and
// METRICS_ADDR: every line the program writes is JSON; /metrics is served
// on the metrics listener only, with pprof there when enabled; answers
// carry X-Request-Id and Server-Timing; the healthcheck subcommand passes.
func TestOperationsBlackBox(t *testing.T) {
	bin := e2eBinary(t)
	metricsAddr := freeLoopbackAddr(t)
	srv := startE2EServer(t, bin, map[string]string{
		"CALIBRATION_STORE": t.TempDir(), "LOG_FORMAT": "json", "METRICS_ADDR": metricsAddr, "PPROF": "true",
	})
	client := e2eClient(t)
	r, err := postCalibration(client, srv.base, session9FullFields(t, "Linear Regression"), "")
	if err != nil || r.status != 200 {
		t.Fatalf("calibration: %d %v", r.status, err)
	}
	if r.header.Get("X-Request-Id") == "" || !strings.Contains(r.header.Get("Server-Timing"), "fit;dur=") {
		t.Errorf("calibration headers: %v", r.header)
	}
	if r, _ := request(client, "GET", srv.base+"/metrics", nil, "", ""); r.status != 404 {
		t.Errorf("/metrics on the main listener: %d, want 404 with METRICS_ADDR set", r.status)
	}
	m, err := request(client, "GET", "http://"+metricsAddr+"/metrics", nil, "", "")
	if err != nil || m.status != 200 || !strings.Contains(string(m.body), `eyetrack_http_requests_total{route="POST /api/session/calib_validation",method="POST",status="200"} 1`) {
		t.Errorf("/metrics on METRICS_ADDR: %d %v\n%.2000s", m.status, err, m.body)
	}
	if p, err := request(client, "GET", "http://"+metricsAddr+"/debug/pprof/cmdline", nil, "", ""); err != nil || p.status != 200 {
		t.Errorf("pprof on METRICS_ADDR: %d %v", p.status, err)
	}
	if p, _ := request(client, "GET", srv.base+"/debug/pprof/cmdline", nil, "", ""); p.status != 404 {
		t.Errorf("pprof on the main listener: %d", p.status)
	}
	hc := exec.Command(bin, "healthcheck")
	hc.Env = []string{"ADDR=" + srv.addr}
	if out, err := hc.CombinedOutput(); err != nil || !strings.Contains(string(out), "ready") {
		t.Errorf("healthcheck: %v %s", err, out)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.waitExit(t, 20*time.Second); err != nil {
		t.Errorf("exit: %v", err)
	}
	lines := 0
	for _, out := range []string{srv.stdout.String(), srv.stderr.String()} {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			lines++
			if !json.Valid([]byte(line)) {
				t.Errorf("not a JSON line: %q", line)
			}
		}
	}
	if lines < 5 || !strings.Contains(srv.stderr.String(), `"msg":"eyetrack started"`) || !strings.Contains(srv.stderr.String(), `"msg":"request"`) {
		t.Errorf("%d lines; stderr:\n%s", lines, srv.stderr)
	}
}
