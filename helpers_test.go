package main

// Helpers shared by the tests: a whole server on a temporary store with an
// injected clock, request builders, the example payloads, stores that
// fail or live in memory, the end-to-end harness for the real binary, and
// redis-server processes of the tests' own.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testClock is a clock the tests own.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testServer is a whole server on a temporary store.
type testServer struct {
	handler http.Handler
	limiter *rateLimiter
	clock   *testClock
	store   *fileStore // nil with a Redis store
	work    *admission
	cfg     config
}

// newTestServer builds the server as run does, from env (CALIBRATION_STORE
// defaults to a temporary folder; a Redis URL opens a Redis store).
func newTestServer(t testing.TB, env map[string]string) *testServer {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if env["CALIBRATION_STORE"] == "" {
		env["CALIBRATION_STORE"] = t.TempDir()
	}
	cfg, err := loadConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var store calibrationStore
	var folder *fileStore
	if isRedisURL(cfg.storeDir) {
		var rs closableStore
		rs, err = openCalibrationStore(cfg.storeDir, redisTTL(cfg), nil)
		if err == nil {
			t.Cleanup(func() { rs.Close() })
		}
		store = rs
	} else {
		folder, err = openTestStore(t, cfg.storeDir)
		store = folder
	}
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	clock := newTestClock()
	if folder != nil {
		folder.retention, folder.now = cfg.retention, clock.Now
	}
	limiter := newRateLimiter(cfg.rateLimit, clock.Now, log)
	t.Cleanup(func() { limiter.Close() })
	hook := newWebhookNotifier(cfg.functionsURL, log)
	t.Cleanup(func() { hook.Close(t.Context()) })
	work := newAdmission(cfg.work, cfg.rateLimit.identity, nil)
	if folder != nil {
		folder.deferWritesWhile(work.computing)
	}
	d := serverDeps{store: store, hook: hook, limiter: limiter, work: work, log: log, now: clock.Now}
	return &testServer{handler: newServer(cfg, d), limiter: limiter, clock: clock, store: folder, work: work, cfg: cfg}
}

// do sends a request from remote (ip:port) and returns the recorder.
func (s *testServer) do(req *http.Request, remote string) *httptest.ResponseRecorder {
	if remote != "" {
		req.RemoteAddr = remote
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

// calibForm encodes fields as multipart/form-data, each value as given.
func calibForm(t testing.TB, fields map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

func calibRequestOf(t testing.TB, fields map[string]string) *http.Request {
	body, ct := calibForm(t, fields)
	req := httptest.NewRequest("POST", "/api/session/calib_validation", body)
	req.Header.Set("Content-Type", ct)
	return req
}

func batchRequestOf(body string) *http.Request {
	req := httptest.NewRequest("POST", "/api/session/batch_predict", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// exampleCalibFields is the front end's request of testdata/api (the
// calibration stored as "sample9full").
func exampleCalibFields(t testing.TB) map[string]string {
	return map[string]string{
		"file_name":                `"sample9full"`,
		"fixed_circle_iris_points": readTestdata(t, "api/fixed.json"),
		"calib_circle_iris_points": readTestdata(t, "api/calib.json"),
		"screen_width":             "1495",
		"screen_height":            "746",
		"k":                        "9",
		"model":                    `"Linear Regression"`,
	}
}

func decodeJSON(t testing.TB, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
	}
}

// session9FullFields is the 180-row 9_full recording as the front end
// would send it.
func session9FullFields(t testing.TB, model string) map[string]string {
	c, err := parseFixedCSV([]byte(readTestdata(t, "sessions/9_full_fixed_train_data.csv")))
	if err != nil {
		t.Fatal(err)
	}
	fixed, _ := json.Marshal(c.Fixed)
	predict, err := parseIrisCSV([]byte(readTestdata(t, "sessions/9_full_predict_train_data.csv")))
	if err != nil {
		t.Fatal(err)
	}
	calib, _ := json.Marshal(predict)
	name, _ := json.Marshal(model)
	return map[string]string{
		"file_name": `"9_full"`, "fixed_circle_iris_points": string(fixed), "calib_circle_iris_points": string(calib),
		"screen_width": "1495", "screen_height": "746", "k": "9", "model": string(name),
	}
}

// batch9FullBody is a batch_predict of the 180 samples of the 9_full
// second recording.
func batch9FullBody(t testing.TB) string {
	predict, err := parseIrisCSV([]byte(readTestdata(t, "sessions/9_full_predict_train_data.csv")))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`{"calib_id": "9_full", "screen_width": 1495, "screen_height": 746, "k": 9, "model_name": "Linear Regression", "iris_tracking_data": [`)
	for i, s := range predict {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"left_iris_x": %v, "left_iris_y": %v, "right_iris_x": %v, "right_iris_y": %v, "timestamp": %d}`, s.LeftX, s.LeftY, s.RightX, s.RightY, 1700000000000+33*i)
	}
	b.WriteString("]}")
	return b.String()
}

// memStore is a calibrationStore in memory, for benchmarks that separate
// the handler's own work from the durable write to disk.
type memStore struct {
	mu    sync.Mutex
	cals  map[string]calibration
	saves int
}

func (m *memStore) Save(id string, c calibration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cals == nil {
		m.cals = map[string]calibration{}
	}
	m.cals[id] = c
	m.saves++
	return nil
}

func (m *memStore) Load(id string) (calibration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cals[id]
	if !ok {
		return calibration{}, errCalibrationNotFound
	}
	return c, nil
}

func (m *memStore) MaxIDLength() int { return 1 << 16 }

func (m *memStore) Meta(id string) (calibrationMeta, error) {
	c, err := m.Load(id)
	return c.Meta, err
}

func (m *memStore) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cals[id]; !ok {
		return errCalibrationNotFound
	}
	delete(m.cals, id)
	return nil
}

func (m *memStore) DeleteUser(userID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, c := range m.cals {
		if c.Meta.UserID == userID {
			delete(m.cals, id)
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (m *memStore) List(after string, limit int) ([]calibrationInfo, string, error) {
	return nil, "", errors.ErrUnsupported
}

func (m *memStore) Version(id string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cals[id]; !ok {
		return "", errCalibrationNotFound
	}
	return fmt.Sprint(m.saves), nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// failingStore fails every write with err.
type failingStore struct {
	calibrationStore
	err error
}

func (f failingStore) Save(string, calibration) error { return f.err }

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

// liveHeap is the bytes of heap objects right now (live and not yet swept).
func liveHeap() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// openTestStore opens a store on dir that is closed when the test ends.
func openTestStore(t testing.TB, dir string) (*fileStore, error) {
	st, err := newFileStore(dir, nil)
	if err == nil {
		t.Cleanup(func() { st.Close() })
	}
	return st, err
}

// testCalibration is a small calibration whose every value carries marker.
func testCalibration(marker float64, rows int) calibration {
	c := calibration{ScreenWidth: 1000 + marker, ScreenHeight: 700}
	for i := 0; i < rows; i++ {
		c.Fixed = append(c.Fixed, labelledSample{irisSample{marker, 0.25, float64(i), 3}, 100 * marker, float64(i)})
		c.Calib = append(c.Calib, irisSample{marker, 1, 2, float64(i)})
	}
	return c
}

func sameCalibration(a, b calibration) bool {
	return slices.Equal(a.Fixed, b.Fixed) && slices.Equal(a.Calib, b.Calib) &&
		a.ScreenWidth == b.ScreenWidth && a.ScreenHeight == b.ScreenHeight
}

// journalOf encodes the journal records of saves, in order.
func journalOf(saves ...journalRecord) []byte {
	var out []byte
	for _, r := range saves {
		out = append(out, encodeJournalRecord(r.saved, r.id, r.cal)...)
	}
	return out
}

func recordOf(id string, c calibration, saved time.Time) journalRecord {
	return journalRecord{saved: saved, id: id, cal: c}
}

func journalSize(t *testing.T, dir string) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, journalFileName))
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(bytes.TrimRight(data, "\x00"))) // the runway's zeros hold nothing
}

// longRecording is a calibration of n rows made from the 9_full recording
// (180 rows, 9 targets): its rows in order, each repeated n/180 times with
// Gaussian jitter of 0.3 video px on the iris coordinates, so the targets
// keep their blocks and no two rows are the same (exact repeats make the
// SVR faster than a real recording would).
func longRecording(t testing.TB, n int) []labelledSample {
	t.Helper()
	c, err := parseFixedCSV([]byte(readTestdata(t, "sessions/9_full_fixed_train_data.csv")))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	out := make([]labelledSample, n)
	for i := range out {
		s := c.Fixed[i*len(c.Fixed)/n]
		s.LeftX += rng.NormFloat64() * 0.3
		s.LeftY += rng.NormFloat64() * 0.3
		s.RightX += rng.NormFloat64() * 0.3
		s.RightY += rng.NormFloat64() * 0.3
		out[i] = s
	}
	return out
}

// longCalibFields is a calib_validation form of n rows (longRecording) for
// model under id, with k = 9.
func longCalibFields(t testing.TB, n int, model, id string) map[string]string {
	t.Helper()
	fixed, _ := json.Marshal(longRecording(t, n))
	name, _ := json.Marshal(model)
	return map[string]string{
		"file_name": strconv.Quote(id), "fixed_circle_iris_points": string(fixed), "calib_circle_iris_points": "[]",
		"screen_width": "1495", "screen_height": "746", "k": "9", "model": string(name),
	}
}

// fuzzBoundary is the multipart boundary of FuzzCalibForm's bodies.
const fuzzBoundary = "fuzzboundary"

// requireAPIError fails unless err is a client error the handlers can
// answer: an *apiError with a 4xx status and a message.
func requireAPIError(t *testing.T, err error) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || ae == nil {
		t.Fatalf("error %v (%T) is not an *apiError", err, err)
	}
	if ae.Status < 400 || ae.Status > 499 {
		t.Fatalf("status %d is not 4xx (%v)", ae.Status, err)
	}
	if strings.TrimSpace(ae.Message) == "" {
		t.Fatalf("apiError with status %d has no message (field %q)", ae.Status, ae.Field)
	}
}

// requireCalibrationID fails unless id is a usable store id: non-empty,
// only [A-Za-z0-9_.-], not "." or "..".
func requireCalibrationID(t *testing.T, id string) {
	t.Helper()
	if id == "" || id == "." || id == ".." {
		t.Fatalf("accepted id %q", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			t.Fatalf("id %q holds byte %q", id, c)
		}
	}
}

// requireCoordinates fails unless every value is finite and within ±limit.
func requireCoordinates(t *testing.T, what string, limit float64, values ...float64) {
	t.Helper()
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > limit {
			t.Fatalf("%s: accepted value %v (limit ±%g)", what, v, limit)
		}
	}
}

// requireScreenSize fails unless v is a screen size in (0, limit].
func requireScreenSize(t *testing.T, what string, v, limit float64) {
	t.Helper()
	if !(v > 0 && v <= limit) {
		t.Fatalf("%s: accepted %v, want (0, %g]", what, v, limit)
	}
}

// goldenFile is one scikit-learn reference file (testdata/golden/README.md
// in the shared data explains every field).
type goldenFile struct {
	Session      string  `json:"session"`
	SourceCSV    string  `json:"source_csv"`
	NRows        int     `json:"n_rows"`
	ScreenWidth  float64 `json:"screen_width"`
	ScreenHeight float64 `json:"screen_height"`
	K            int     `json:"k"`
	Split        struct {
		TrainRows []int `json:"train_rows"`
		TestRows  []int `json:"test_rows"`
	} `json:"split"`
	Calib    map[string]goldenCalib `json:"calib"`
	Batch    goldenBatch            `json:"batch"`
	Accuracy goldenAccuracy         `json:"accuracy"`
}

// goldenAccuracy is the 80/20 split used as a holdout; the eval command's
// random protocol reproduces its batch-maths figure.
type goldenAccuracy struct {
	NTrain        int `json:"n_train"`
	NTest         int `json:"n_test"`
	ABatchPredict struct {
		MeanPx   float64 `json:"mean_px"`
		MedianPx float64 `json:"median_px"`
	} `json:"a_batch_predict"`
}

type goldenAxis struct {
	BestParams     map[string]any `json:"best_params"`
	BestCVR2       float64        `json:"best_cv_r2"`
	BestCVR2Margin *float64       `json:"best_cv_r2_margin"`
	// ConvergenceWarnings counts this axis's fits that stopped at max_iter.
	ConvergenceWarnings *int      `json:"convergence_warnings"`
	Coef                []float64 `json:"coef"`
	Intercept           float64   `json:"intercept"`
	ScalerMean          []float64 `json:"scaler_mean"`
	ScalerScale         []float64 `json:"scaler_scale"`
}

type goldenCalib struct {
	Axes map[string]goldenAxis `json:"axes"`
	Test []struct {
		Row   int     `json:"row"`
		TrueX float64 `json:"true_x"`
		TrueY float64 `json:"true_y"`
		PredX float64 `json:"pred_x"`
		PredY float64 `json:"pred_y"`
	} `json:"test"`
	Targets            map[string]map[string]goldenTarget `json:"targets"`
	MeanTargetAccuracy float64                            `json:"mean_target_accuracy"`
	KMeansRef          struct {
		K               int     `json:"k"`
		Inertia         float64 `json:"inertia"`
		InertiaNInit200 float64 `json:"inertia_n_init_200"`
	} `json:"kmeans_ref"`
}

type goldenTarget struct {
	PredictedX  []float64 `json:"predicted_x"`
	PredictedY  []float64 `json:"predicted_y"`
	PrecisionSD float64   `json:"PrecisionSD"`
	Accuracy    float64   `json:"Accuracy"`
}

type goldenBatch struct {
	ScreenWidth  float64 `json:"screen_width"`
	ScreenHeight float64 `json:"screen_height"`
	Input        []struct {
		LeftX     float64 `json:"left_iris_x"`
		LeftY     float64 `json:"left_iris_y"`
		RightX    float64 `json:"right_iris_x"`
		RightY    float64 `json:"right_iris_y"`
		Timestamp float64 `json:"timestamp"`
	} `json:"input"`
	Expected []struct {
		PredictedX float64 `json:"predicted_x"`
		PredictedY float64 `json:"predicted_y"`
	} `json:"expected"`
}

// loadGolden reads every golden file with its session's labelled rows.
func loadGolden(t testing.TB) []struct {
	g    goldenFile
	rows []labelledSample
} {
	t.Helper()
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in testdata/golden: %v", err)
	}
	var out []struct {
		g    goldenFile
		rows []labelledSample
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g goldenFile
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		csvRaw, err := os.ReadFile(filepath.Join("testdata", g.SourceCSV))
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseFixedCSV(csvRaw)
		if err != nil {
			t.Fatalf("%s: %v", g.SourceCSV, err)
		}
		if len(c.Fixed) != g.NRows {
			t.Fatalf("%s: %d rows, golden says %d", g.SourceCSV, len(c.Fixed), g.NRows)
		}
		out = append(out, struct {
			g    goldenFile
			rows []labelledSample
		}{g, c.Fixed})
	}
	return out
}

func containsToken(values []string, token string) bool {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// e2eBuild is the server binary, built once per test process.
var e2eBuild struct {
	once sync.Once
	path string
	err  error
}

// e2eBinary returns the path of the server binary built from this package
// (`go build`, no -race, for speed). Under `go test` it is built once into
// go test's own work folder, which go test deletes at the end of the run;
// a test binary run by hand builds it per test into the test's temporary
// folder instead.
func e2eBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the server binary (skipped with -short)")
	}
	dir, ok := goTestWorkDir()
	if !ok {
		path := filepath.Join(t.TempDir(), "eyetrack")
		if err := buildServerBinary(path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	e2eBuild.once.Do(func() {
		e2eBuild.path = filepath.Join(dir, "eyetrack-e2e")
		e2eBuild.err = buildServerBinary(e2eBuild.path)
	})
	if e2eBuild.err != nil {
		t.Fatal(e2eBuild.err)
	}
	return e2eBuild.path
}

// goTestWorkDir returns the folder of the running test binary when go test
// built it in its temporary work folder ($WORK/b001 under a go-build*
// folder).
func goTestWorkDir() (string, bool) {
	exe, err := os.Executable()
	if err != nil {
		return "", false
	}
	dir := filepath.Dir(exe)
	return dir, strings.HasPrefix(filepath.Base(filepath.Dir(dir)), "go-build")
}

func buildServerBinary(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", path, ".").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// e2eLog collects a process's output, or a log (the first 1 MiB), safe
// for concurrent writes.
type e2eLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *e2eLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 1<<20 - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *e2eLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// e2eServer is one running server process.
type e2eServer struct {
	cmd     *exec.Cmd
	addr    string  // 127.0.0.1:PORT
	base    string  // http://127.0.0.1:PORT
	stdout  *e2eLog // every line the process printed on stdout
	stderr  *e2eLog
	exited  chan struct{}
	waitErr error // valid once exited is closed
}

// startE2EServer runs the binary on 127.0.0.1:0 with only the given
// environment (plus ADDR, TMPDIR and LOG_FORMAT=text), and waits for its
// "eyetrack listening on" line. The process is killed at cleanup if it is
// still running.
func startE2EServer(t *testing.T, bin string, env map[string]string) *e2eServer {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = []string{"ADDR=127.0.0.1:0", "TMPDIR=" + os.TempDir(), "LOG_FORMAT=text"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &e2eServer{cmd: cmd, stdout: &e2eLog{}, stderr: &e2eLog{}, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() { // the first "eyetrack listening on" line, then the rest is drained
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			s.stdout.Write(append(sc.Bytes(), '\n'))
			if a, ok := listeningAddr(sc.Text()); ok && !found {
				addr <- a
				found = true
			}
		}
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { s.kill() })
	select {
	case s.addr = <-addr:
		s.base = "http://" + s.addr
	case <-s.exited:
		t.Fatalf("the server exited before listening: %v\n%s", s.waitErr, s.stderr)
	case <-time.After(15 * time.Second):
		t.Fatalf("the server printed no address within 15s\n%s", s.stderr)
	}
	return s
}

// kill sends SIGKILL (if the process still runs) and waits for its end.
func (s *e2eServer) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// waitExit waits at most d for the process to end and returns Wait's error.
func (s *e2eServer) waitExit(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-s.exited:
		return s.waitErr
	case <-time.After(d):
		t.Fatalf("the server still runs %v later\n%s", d, s.stderr)
		return nil
	}
}

// e2eClient returns an HTTP client of its own (keep-alive connections, no
// proxy), closed at cleanup.
func e2eClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// e2eResponse is a whole response.
type e2eResponse struct {
	status int
	header http.Header
	body   []byte
}

// send performs req and reads the whole answer.
func send(client *http.Client, req *http.Request) (e2eResponse, error) {
	resp, err := client.Do(req)
	if err != nil {
		return e2eResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return e2eResponse{status: resp.StatusCode, header: resp.Header, body: body}, err
}

// request builds and sends one request; forwardedFor, when set, is sent
// as X-Forwarded-For.
func request(client *http.Client, method, url string, body io.Reader, contentType, forwardedFor string) (e2eResponse, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return e2eResponse{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	return send(client, req)
}

// postCalibration sends a calib_validation form (each value as given).
func postCalibration(client *http.Client, base string, fields map[string]string, forwardedFor string) (e2eResponse, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			return e2eResponse{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return e2eResponse{}, err
	}
	return request(client, "POST", base+"/api/session/calib_validation", &b, mw.FormDataContentType(), forwardedFor)
}

// postBatch sends a batch_predict body.
func postBatch(client *http.Client, base, body, forwardedFor string) (e2eResponse, error) {
	return request(client, "POST", base+"/api/session/batch_predict", strings.NewReader(body), "application/json", forwardedFor)
}

// batchBodyFor is batch9FullBody (180 samples) against the calibration id.
func batchBodyFor(t testing.TB, id string) string {
	body := batch9FullBody(t)
	out := strings.Replace(body, `"calib_id": "9_full"`, `"calib_id": `+strconv.Quote(id), 1)
	if out == body {
		t.Fatal("batch9FullBody no longer starts with the 9_full calib_id")
	}
	return out
}

// timedResult is one request's outcome and how long it took.
type timedResult struct {
	name string
	resp e2eResponse
	err  error
	took time.Duration
}

// goldenTolerance says how closely one model must match scikit-learn.
type goldenTolerance struct {
	pred        float64 // px, per test-row prediction and per-target statistic
	checkParams bool    // the chosen grid parameters must be the same (unless near-tied)
}

// checkGoldenModel runs the whole calibration for model on every golden
// session and compares test rows, predictions, chosen parameters and the
// response's per-target numbers with scikit-learn's.
func checkGoldenModel(t *testing.T, model string, tol goldenTolerance) {
	specs := modelSpecs()
	spec, ok := specs[model]
	if !ok {
		t.Fatalf("model %q is not served", model)
	}
	for _, s := range loadGolden(t) {
		g, ok := s.g.Calib[model]
		if !ok {
			continue
		}
		t.Run(s.g.Session, func(t *testing.T) {
			rep, err := evaluateCalibration(spec, s.rows, s.g.K, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Test) != len(g.Test) {
				t.Fatalf("%d test rows, want %d", len(rep.Test), len(g.Test))
			}
			worst := 0.0
			for i, want := range g.Test {
				got := rep.Test[i]
				if got.Row != want.Row {
					t.Fatalf("test row %d is data row %d, want %d", i, got.Row, want.Row)
				}
				worst = math.Max(worst, math.Max(math.Abs(got.PredX-want.PredX), math.Abs(got.PredY-want.PredY)))
			}
			if worst > tol.pred {
				t.Errorf("largest prediction difference %.3g px, tolerance %.3g", worst, tol.pred)
			}
			if tol.checkParams {
				for axis, fit := range map[string]axisFit{"x": rep.X, "y": rep.Y} {
					want := g.Axes[axis]
					if want.BestCVR2Margin != nil && *want.BestCVR2Margin < 1e-8 {
						continue // a near tie: scikit-learn's own choice is rounding noise
					}
					if got := paramsText(fit.result.best.params); got != paramsText(fromGoldenParams(want.BestParams)) {
						t.Errorf("axis %s: chose %s, scikit-learn chose %s", axis, got, paramsText(fromGoldenParams(want.BestParams)))
					}
				}
			}
			checkTargets(t, rep.Targets, g.Targets, tol.pred)
		})
	}
}

// checkTargets compares the response's targets with the golden ones.
func checkTargets(t *testing.T, got []targetStats, want map[string]map[string]goldenTarget, tol float64) {
	t.Helper()
	n := 0
	for _, ys := range want {
		n += len(ys)
	}
	seen := map[[2]string]bool{}
	for _, ts := range got {
		seen[[2]string{targetKey(ts.TrueX), targetKey(ts.TrueY)}] = true
	}
	if len(seen) != n {
		t.Errorf("%d targets, want %d", len(seen), n)
	}
	for _, ts := range got {
		w, ok := want[targetKey(ts.TrueX)][targetKey(ts.TrueY)]
		if !ok {
			t.Errorf("target (%g, %g) not in the golden response", ts.TrueX, ts.TrueY)
			continue
		}
		if len(w.PredictedX) != len(ts.PredX) {
			t.Errorf("target (%g, %g): %d kept rows, want %d", ts.TrueX, ts.TrueY, len(ts.PredX), len(w.PredictedX))
			continue
		}
		for i := range w.PredictedX {
			if math.Abs(w.PredictedX[i]-ts.PredX[i]) > tol || math.Abs(w.PredictedY[i]-ts.PredY[i]) > tol {
				t.Errorf("target (%g, %g) row %d: got (%v, %v), want (%v, %v)", ts.TrueX, ts.TrueY, i, ts.PredX[i], ts.PredY[i], w.PredictedX[i], w.PredictedY[i])
			}
		}
		if math.Abs(w.PrecisionSD-ts.PrecisionSD) > tol || math.Abs(w.Accuracy-ts.Accuracy) > tol {
			t.Errorf("target (%g, %g): PrecisionSD %v Accuracy %v, want %v %v", ts.TrueX, ts.TrueY, ts.PrecisionSD, ts.Accuracy, w.PrecisionSD, w.Accuracy)
		}
	}
}

// fromGoldenParams turns the golden best_params object into params.
func fromGoldenParams(m map[string]any) []param {
	var out []param
	for k, v := range m {
		out = append(out, param{Name: k, Value: v})
	}
	return out
}

// paramsText is a canonical text of a parameter set for comparisons:
// names sorted, numbers in shortest form.
func paramsText(ps []param) string {
	var parts []string
	for _, p := range ps {
		v := p.Value
		switch x := v.(type) {
		case int:
			v = float64(x)
		}
		if f, ok := v.(float64); ok {
			parts = append(parts, fmt.Sprintf("%s=%g", p.Name, f))
		} else {
			parts = append(parts, fmt.Sprintf("%s=%v", p.Name, v))
		}
	}
	slices.Sort(parts)
	return fmt.Sprint(parts)
}

// gridRecording is a recording of a layout of dots, n samples each, in
// layout order; the iris coordinates encode the row index.
func gridRecording(t *testing.T, xs, ys []float64, n int) recording {
	t.Helper()
	var rows []labelledSample
	for _, x := range xs {
		for _, y := range ys {
			for i := 0; i < n; i++ {
				v := float64(len(rows))
				rows = append(rows, labelledSample{irisSample: irisSample{v, v, v, v}, PointX: x, PointY: y})
			}
		}
	}
	rec, err := newRecording("grid", rows, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// processRSS returns the resident memory of process pid in bytes.
func processRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to read the server's memory from: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// testRedis is a redis-server of a test's own on a free loopback port,
// without persistence, stopped at cleanup.
type testRedis struct {
	t      testing.TB
	bin    string
	args   []string
	port   int
	url    string // redis://127.0.0.1:PORT
	cmd    *exec.Cmd
	out    *e2eLog
	exited chan struct{}
}

// startRedis starts redis-server with extra arguments. Without
// redis-server the test is skipped, except in CI (CI=true), where that is
// a failure.
func startRedis(t testing.TB, extra ...string) *testRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed; CI must have it (.ci/run installs it with apt-get)")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server); skipping the Redis test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &testRedis{t: t, bin: bin, port: port, url: fmt.Sprintf("redis://127.0.0.1:%d", port)}
	r.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", t.TempDir(), "--logfile", ""}, extra...)
	t.Cleanup(r.stop) // first: a start that fails stops the process too
	r.start()
	return r
}

// start runs the server and waits until it answers PING (on its TCP port;
// a server with only a TLS port is waited for by its log line).
func (r *testRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, r.args...)
	r.out = &e2eLog{}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func() { r.cmd.Wait(); close(r.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r.ready() {
			return
		}
		select {
		case <-r.exited:
			r.t.Fatalf("redis-server exited at start:\n%s", r.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	r.t.Fatalf("redis-server not ready within 10s:\n%s", r.out)
}

func (r *testRedis) ready() bool {
	if slices.Contains(r.args, "--tls-port") {
		return strings.Contains(r.out.String(), "Ready to accept connections")
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprint(c, "PING\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH")) // up, and maybe with a password
}

// stop ends the server (SIGTERM; SIGKILL after 5 s) and waits for it.
func (r *testRedis) stop() {
	if r.exited == nil { // never started
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

// restart stops the server and starts it again on the same port (empty:
// it keeps nothing).
func (r *testRedis) restart() {
	r.stop()
	r.start()
}

// client returns a client of the server, closed at cleanup.
func (r *testRedis) client(t testing.TB, url string) *redisClient {
	t.Helper()
	o, err := parseRedisURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := newRedisClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}
