package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestPanicIsRecovered: a panicking handler answers 500 JSON, its stack is
// logged, and the server goes on.
func TestPanicIsRecovered(t *testing.T) {
	var logBuf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logBuf.Write(p)
	}), nil))
	mux := http.NewServeMux()
	mux.Handle("/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") }))
	mux.Handle("/ok", handleHealth())
	h := withRecover(log, withCORS(newCORSPolicy("*"), mux))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != 500 || body.Error == "" {
		t.Fatalf("%d %+v", rec.Code, body)
	}
	mu.Lock()
	logged := logBuf.String()
	mu.Unlock()
	if !strings.Contains(logged, "kaboom") || !strings.Contains(logged, "server_test.go") {
		t.Errorf("panic not logged with its stack: %s", logged)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ok", nil))
	if rec.Code != 200 {
		t.Fatal("server stopped serving after a panic")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// failingStore fails every write with err.
type failingStore struct {
	calibrationStore
	err error
}

func (f failingStore) Save(string, calibration) error { return f.err }

// TestStoreFailures: a full disk answers 507, another store failure 503,
// both JSON, and nothing panics.
func TestStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{&os.PathError{Op: "write", Path: "x", Err: errNoSpace()}, 507},
		{&os.PathError{Op: "open", Path: "x", Err: os.ErrPermission}, 503},
	} {
		s := newTestServer(t, nil)
		log := slog.New(slog.DiscardHandler)
		d := serverDeps{store: failingStore{s.store, tc.err}, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
		h := newServer(s.cfg, d)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, calibRequestOf(t, exampleCalibFields(t)))
		var body errorBody
		decodeJSON(t, rec, &body)
		if rec.Code != tc.status || body.Error == "" {
			t.Errorf("%v: %d %+v, want %d", tc.err, rec.Code, body, tc.status)
		}
	}
}

// TestReadOnlyStore: a store folder that cannot be written gives a 5xx
// JSON error (run as root, permissions do not stop writes, so the folder
// is replaced by a file to make every write fail).
func TestReadOnlyStore(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, map[string]string{"CALIBRATION_STORE": dir})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a folder"), 0o444); err != nil {
		t.Fatal(err)
	}
	rec := s.do(calibRequestOf(t, exampleCalibFields(t)), "")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code < 500 || rec.Code == 500 || body.Error == "" {
		t.Fatalf("%d %+v, want 503 or 507", rec.Code, body)
	}
}

// TestStoreCreatesFolder: a missing data folder is created at start.
func TestStoreCreatesFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "data")
	if _, err := openTestStore(t, dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("folder not created: %v", err)
	}
}

// TestConcurrentSavesOfOneID: concurrent calibrations of one id end with
// one whole calibration, never a mix of two requests' rows.
func TestConcurrentSavesOfOneID(t *testing.T) {
	st, err := openTestStore(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := calibration{ScreenWidth: float64(1000 + w), ScreenHeight: 700}
			for i := 0; i < 50+w; i++ {
				c.Fixed = append(c.Fixed, labelledSample{irisSample{float64(w), 1, 2, 3}, float64(w), float64(i)})
				c.Calib = append(c.Calib, irisSample{float64(w), 0, 0, 0})
			}
			for i := 0; i < 10; i++ {
				if err := st.Save("same", c); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	c, err := st.Load("same")
	if err != nil {
		t.Fatal(err)
	}
	w := c.Fixed[0].LeftX
	if len(c.Fixed) != 50+int(w) || c.ScreenWidth != 1000+w {
		t.Fatalf("%d rows, screen %v for writer %v", len(c.Fixed), c.ScreenWidth, w)
	}
	for _, r := range c.Fixed {
		if r.LeftX != w {
			t.Fatalf("rows of writers %v and %v mixed", w, r.LeftX)
		}
	}
	for _, r := range c.Calib {
		if r.LeftX != w {
			t.Fatalf("predict file of writer %v beside fixed file of writer %v", r.LeftX, w)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(st.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{journalFileName, "same_fixed_train_data.csv", "same_predict_train_data.csv"}; !slices.Equal(names, want) {
		t.Fatalf("the store holds %q, want %q (no temporary files left)", names, want)
	}
}

// TestWebhook: from_ruxailab posts the notice in the background; a failing
// receiver is retried and never changes the response.
func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	calls := 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(503) // the first attempt fails
			return
		}
		if r.URL.Path != "/receiveCalibration" {
			t.Errorf("path %s", r.URL.Path)
		}
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		got = append(got, v)
	}))
	defer receiver.Close()
	s := newTestServer(t, map[string]string{"FUNCTIONS_ENDPOINT_URL": receiver.URL})
	fields := exampleCalibFields(t)
	fields["from_ruxailab"] = "true"
	fields["user_id"] = `"user-1"`
	fields["study_id"] = `"study-9"`
	if rec := s.do(calibRequestOf(t, fields), ""); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no webhook arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := map[string]any{"session_id": "sample9full", "user_id": "user-1", "study_id": "study-9", "model": "Linear Regression", "screen_height": 746.0, "screen_width": 1495.0, "k": 9.0}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("webhook %s = %v, want %v", k, got[0][k], v)
		}
	}
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

// TestKMeansQuality: our seeded k-means reaches the inertia of
// scikit-learn's best of 200 starts (within 1%) on the golden sessions'
// test predictions: at least as good as the Python service's 10 starts.
func TestKMeansQuality(t *testing.T) {
	for _, s := range loadGolden(t) {
		g := s.g.Calib["Linear Regression"]
		pts := make([][2]float64, len(g.Test))
		for i, r := range g.Test {
			pts[i] = [2]float64{r.PredX, r.PredY}
		}
		cents, err := kmeans(context.Background(), pts, g.KMeansRef.K, 0)
		if err != nil {
			t.Fatal(err)
		}
		var inertia float64
		for _, p := range pts {
			best := math.Inf(1)
			for _, c := range cents {
				best = math.Min(best, dist2(p, c))
			}
			inertia += best
		}
		if inertia > g.KMeansRef.InertiaNInit200*1.01+1e-9 {
			t.Errorf("%s: inertia %.1f, scikit-learn best of 10 %.1f (best of 200 %.1f)", s.g.Session, inertia, g.KMeansRef.Inertia, g.KMeansRef.InertiaNInit200)
		}
		if len(cents) != g.KMeansRef.K {
			t.Errorf("%s: %d centroids", s.g.Session, len(cents))
		}
	}
}

// errNoSpace is the error a full disk gives.
func errNoSpace() error { return syscall.ENOSPC }

// endlessReader yields n bytes of JSON-ish filler without holding them.
type endlessReader struct{ n int64 }

func (r *endlessReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = ' '
	}
	r.n -= k
	return int(k), nil
}

// TestHugeBodyIsRefusedWithoutBuffering: a 100 MB body, with or without a
// Content-Length, is refused with 413 while the live heap stays far below
// 100 MB (reading stops at MAX_BODY_BYTES, 16 MiB).
func TestHugeBodyIsRefusedWithoutBuffering(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	for _, declared := range []bool{true, false} {
		for _, path := range []string{"/api/session/batch_predict", "/api/session/calib_validation"} {
			const size = 100 << 20
			var body io.Reader = &endlessReader{n: size}
			if strings.Contains(path, "calib") { // one form field that never ends
				body = io.MultiReader(strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"fixed_circle_iris_points\"\r\n\r\n["), body)
			}
			req := httptest.NewRequest("POST", path, body)
			if declared {
				req.ContentLength = size
			} else {
				req.ContentLength = -1
			}
			if strings.Contains(path, "batch") {
				req.Header.Set("Content-Type", "application/json")
			} else {
				req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
			}
			runtime.GC()
			base := liveHeap()
			peak := base
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // sample the heap while the request is served
				defer close(sampled)
				for {
					peak = max(peak, liveHeap())
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Microsecond):
					}
				}
			}()
			rec := s.do(req, "")
			close(stop)
			<-sampled
			if rec.Code != 413 {
				t.Errorf("%s (Content-Length declared %v): %d %s", path, declared, rec.Code, rec.Body)
			}
			if grew := peak - base; grew >= 64<<20 {
				t.Errorf("%s (Content-Length declared %v): the heap grew by %d MB for a refused body", path, declared, grew>>20)
			}
		}
	}
}

// liveHeap is the bytes of heap objects right now (live and not yet swept).
func liveHeap() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
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
				c.rateLimit.enabled && !c.rateLimit.dryRun && len(c.rateLimit.calib) == 1 && c.rateLimit.calib[0].count == 10 &&
				c.rateLimit.predict[0].count == 30 && len(c.rateLimit.defaults) == 2 && c.rateLimit.identity.ipv6Prefix == 64 &&
				c.rateLimit.maxClients == 1_000_000 && c.functionsURL == "" && c.logFormat == "text"
		}},
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
		{"MAX_BODY_BYTES": "-1"}, {"MAX_BODY_BYTES": "lots"}, {"LOG_FORMAT": "xml"}, {"CALIBRATION_STORE": "redis://localhost"},
		{"RATELIMIT_ENABLED": "perhaps"}, {"MAX_CONCURRENT_WORK": "0"}, {"WORK_WAIT": "soon"}, {"SHUTDOWN_TIMEOUT": "-5s"},
		{"RATELIMIT_MAX_CLIENTS": "0"}, {"MAX_SAMPLES": "0"}, {"MAX_STRING_LENGTH": "0"}, {"MAX_SCREEN_PX": "wide"},
	} {
		if _, err := loadConfig(nil, func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := loadConfig([]string{"stray"}, func(string) string { return "" }); err == nil {
		t.Error("a stray argument was accepted")
	}
}

// TestStaleTempFilesAreRemoved: temporary files a crashed save left are
// removed at start once they are older than a live save could be.
func TestStaleTempFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".a_fixed_train_data.csv.tmp-123")
	fresh := filepath.Join(dir, ".b_fixed_train_data.csv.tmp-456")
	keep := filepath.Join(dir, "a_fixed_train_data.csv")
	for _, f := range []string{stale, fresh, keep} {
		os.WriteFile(f, []byte("x"), 0o644)
	}
	old := time.Now().Add(-2 * staleTempAge)
	os.Chtimes(stale, old, old)
	if _, err := openTestStore(t, dir); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{stale: false, fresh: true, keep: true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(f), err == nil, want)
		}
	}
}

// TestOperatorLimits: the input limits an operator sets are enforced, with
// a 4xx naming the field.
func TestOperatorLimits(t *testing.T) {
	s := newTestServer(t, map[string]string{"MAX_SAMPLES": "2", "MAX_CALIB_ROWS": "50", "MAX_STRING_LENGTH": "8", "MAX_SCREEN_PX": "1000", "RATELIMIT_ENABLED": "false"})
	sample := `{"left_iris_x": 600, "left_iris_y": 290, "right_iris_x": 510, "right_iris_y": 288}`
	long := exampleCalibFields(t)
	long["file_name"] = `"a-long-file-name"`
	wide := exampleCalibFields(t)
	wide["file_name"] = `"short"`
	for _, tc := range []struct {
		req   *http.Request
		field string
	}{
		{batchRequestOf(`{"calib_id": "x", "screen_width": 900, "screen_height": 700, "iris_tracking_data": [` + sample + "," + sample + "," + sample + `]}`), "iris_tracking_data"},
		{batchRequestOf(`{"calib_id": "x", "screen_width": 1495, "screen_height": 700, "iris_tracking_data": [` + sample + `]}`), "screen_width"},
		{calibRequestOf(t, long), "file_name"},
		{calibRequestOf(t, wide), "screen_width"},
	} {
		rec := s.do(tc.req, "")
		var body errorBody
		decodeJSON(t, rec, &body)
		if rec.Code != 400 || body.Field != tc.field {
			t.Errorf("%d %+v, want 400 naming %s", rec.Code, body, tc.field)
		}
	}
	rows := exampleCalibFields(t) // 180 rows against a limit of 50
	rows["file_name"], rows["screen_width"], rows["screen_height"] = `"rows"`, "900", "700"
	rec := s.do(calibRequestOf(t, rows), "")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != 400 || body.Field != "fixed_circle_iris_points" {
		t.Errorf("too many rows: %d %+v", rec.Code, body)
	}
}
