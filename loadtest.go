//go:build loadtest

package main

// The load generator (the `loadtest` subcommand), built only with
// -tags loadtest so that the server binary holds none of it: loopback-only
// clients of mixed traffic, the payloads they send, and an in-process
// server for -spawn.

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadTestBuilt reports whether this build holds the load generator.
const loadTestBuilt = true

// loadTestData holds the front end's real example calibration and
// RUXAILAB's real batch: the requests the load test sends.
//
//go:embed testdata/api/fixed.json testdata/api/calib.json testdata/api/batch_request.json
var loadTestData embed.FS

// The load test's fixed choices.
const (
	loadTestCalibID         = "loadtest"         // the calibration every batch_predict uses
	loadTestMissingID       = "loadtest-missing" // never stored: batch_predict answers 404
	loadTestMaxRequestsEach = 1 << 20            // per connection, on top of the time bound
	loadTestSampleEvery     = 100 * time.Millisecond
)

// loadTestOptions are the loadtest subcommand's flags.
type loadTestOptions struct {
	target      *url.URL // the server's base URL (nil until spawned with -spawn)
	duration    time.Duration
	connections int
	spawn       bool
	pid         int
	timeout     time.Duration
	greedy      float64
	bad         float64
	seed        uint64
}

// errLoadTestHelp reports that -h printed the usage.
var errLoadTestHelp = errors.New("help requested")

// parseLoadTestArgs reads the loadtest flags; usage goes to out for -h.
func parseLoadTestArgs(args []string, out io.Writer) (loadTestOptions, error) {
	fs := flag.NewFlagSet("eyetrack loadtest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o loadTestOptions
	addr := fs.String("addr", "http://127.0.0.1:5000", "base URL of a running server; loopback only (127.0.0.0/8, ::1, localhost)")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "how long to send traffic")
	fs.IntVar(&o.connections, "connections", 200, "concurrent keep-alive connections, one simulated client each")
	fs.BoolVar(&o.spawn, "spawn", false, "start the server in this process on 127.0.0.1:0 with a temporary store (excludes -addr)")
	fs.IntVar(&o.pid, "pid", 0, "process id of the -addr server, to report its peak memory from /proc/PID/status")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout (a timeout counts as a transport error)")
	fs.Float64Var(&o.greedy, "greedy", 0.25, "fraction of clients that send without pausing (the others pause 0.5-1.5 s and mostly stay within their limits)")
	fs.Float64Var(&o.bad, "bad", 0, "fraction of deliberately bad requests (answered 400/404); 0 keeps the report to 200, 429 and 503")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the traffic mix")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(out, "Usage: eyetrack loadtest [-addr URL | -spawn] [-duration 60s] [-connections 200] [-pid PID]")
			fs.SetOutput(out)
			fs.PrintDefaults()
			return o, errLoadTestHelp
		}
		return o, fmt.Errorf("loadtest: %w", err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("loadtest: unexpected argument %q", fs.Arg(0))
	}
	addrSet := false
	fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	switch {
	case o.duration <= 0 || o.duration > 24*time.Hour:
		return o, fmt.Errorf("loadtest: -duration %v: want more than 0 and at most 24h", o.duration)
	case o.connections < 1 || o.connections > 20000:
		return o, fmt.Errorf("loadtest: -connections %d: want 1 to 20000", o.connections)
	case o.timeout <= 0:
		return o, fmt.Errorf("loadtest: -timeout %v: want a positive duration", o.timeout)
	case o.greedy < 0 || o.greedy > 1:
		return o, fmt.Errorf("loadtest: -greedy %v: want a fraction from 0 to 1", o.greedy)
	case o.bad < 0 || o.bad > 1:
		return o, fmt.Errorf("loadtest: -bad %v: want a fraction from 0 to 1", o.bad)
	case o.spawn && addrSet:
		return o, errors.New("loadtest: -spawn starts its own server; leave out -addr")
	case o.spawn && o.pid != 0:
		return o, errors.New("loadtest: -pid is for an external server; -spawn measures its own process")
	}
	if !o.spawn {
		u, err := loopbackTarget(*addr)
		if err != nil {
			return o, err
		}
		o.target = u
	}
	return o, nil
}

// loopbackTarget parses a base URL ("http://" may be left out) and refuses
// any host that is not loopback: this generator must never load a server
// it does not own.
func loopbackTarget(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("loadtest: -addr %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("loadtest: -addr %q: only http:// is supported", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("loadtest: -addr %q: host %q is not loopback; the load test only targets 127.0.0.0/8, ::1 or localhost", raw, u.Hostname())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback address
// (127.0.0.0/8, ::1, or IPv4-mapped 127.x).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.WithZone("").Unmap().IsLoopback()
}

// loopbackDialer connects only to loopback addresses, checked on the
// resolved address just before connect (so "localhost" resolving elsewhere
// is refused too). Every connection made is counted in dials.
func loopbackDialer(dials *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !ap.Addr().WithZone("").Unmap().IsLoopback() {
				return fmt.Errorf("loadtest: refusing to connect to %s: not a loopback address", address)
			}
			return nil
		},
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
}

// loadRoute is one kind of traffic the load test sends.
type loadRoute int

const (
	loadHealth loadRoute = iota
	loadBatch
	loadCalibLinear
	loadCalibRidge
	loadBad
	loadRouteCount
)

func (r loadRoute) String() string {
	switch r {
	case loadHealth:
		return "health"
	case loadBatch:
		return "batch_predict (180 samples)"
	case loadCalibLinear:
		return "calib_validation Linear"
	case loadCalibRidge:
		return "calib_validation Ridge"
	case loadBad:
		return "bad requests (400/404)"
	}
	return "route " + strconv.Itoa(int(r))
}

// pickRoute draws a route: a bad request with probability bad, else health
// 48 %, batch 42 %, Linear calibration 6 %, Ridge calibration 4 %. A polite
// client (one request per second on average) then stays under the default
// limits: about 25 batch_predict and 6 calib_validation hits a minute.
func pickRoute(rng *rand.Rand, bad float64) loadRoute {
	if rng.Float64() < bad {
		return loadBad
	}
	switch n := rng.IntN(100); {
	case n < 48:
		return loadHealth
	case n < 90:
		return loadBatch
	case n < 96:
		return loadCalibLinear
	default:
		return loadCalibRidge
	}
}

// loadPayloads are the request bodies, built once and shared read-only.
type loadPayloads struct {
	batch        []byte
	batchSamples int                  // iris samples in batch
	calibPrefix  map[loadRoute][]byte // multipart fields before file_name, per model
	boundary     string
	badUnknown   []byte // batch_predict of an id never stored: 404
	badJSON      []byte // truncated JSON: 400
	badCalib     []byte // urlencoded form without samples: 400
}

// readLoadTestData returns an embedded example of testdata/api, trimmed.
func readLoadTestData(name string) ([]byte, error) {
	b, err := loadTestData.ReadFile("testdata/api/" + name)
	if err != nil {
		return nil, fmt.Errorf("embedded %s: %w", name, err)
	}
	return bytes.TrimSpace(b), nil
}

// newLoadPayloads builds the bodies from the embedded examples.
func newLoadPayloads() (*loadPayloads, error) {
	read := func(name string) ([]byte, error) {
		b, err := readLoadTestData(name)
		if err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
		return b, nil
	}
	fixed, err := read("fixed.json")
	if err != nil {
		return nil, err
	}
	calib, err := read("calib.json")
	if err != nil {
		return nil, err
	}
	batch, err := read("batch_request.json")
	if err != nil {
		return nil, err
	}
	var batchFields map[string]json.RawMessage
	if err := json.Unmarshal(batch, &batchFields); err != nil {
		return nil, fmt.Errorf("loadtest: embedded batch_request.json: %w", err)
	}
	var samples []json.RawMessage
	if err := json.Unmarshal(batchFields["iris_tracking_data"], &samples); err != nil || len(samples) == 0 {
		return nil, fmt.Errorf("loadtest: embedded batch_request.json has no iris_tracking_data array (%v)", err)
	}
	withID := func(id string) []byte {
		batchFields["calib_id"] = json.RawMessage(strconv.Quote(id))
		b, _ := json.Marshal(batchFields) // raw messages that just parsed: cannot fail
		return b
	}
	p := &loadPayloads{
		batch:        withID(loadTestCalibID),
		batchSamples: len(samples),
		badUnknown:   withID(loadTestMissingID),
		badJSON:      []byte(`{"calib_id": "` + loadTestCalibID + `", "iris_tracking_data": [{"left_iris_x": `),
		badCalib:     []byte(url.Values{"file_name": {`"loadtest-bad"`}}.Encode()),
		calibPrefix:  map[loadRoute][]byte{},
		boundary:     "eyetrackloadtestboundary7f3a9c",
	}
	for route, model := range map[loadRoute]string{loadCalibLinear: "Linear Regression", loadCalibRidge: "Ridge Regression"} {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		if err := mw.SetBoundary(p.boundary); err != nil {
			return nil, err
		}
		for _, f := range [][2]string{
			{"fixed_circle_iris_points", string(fixed)}, {"calib_circle_iris_points", string(calib)},
			{"screen_width", "1495"}, {"screen_height", "746"}, {"k", "9"}, {"model", `"` + model + `"`},
		} {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				return nil, err
			}
		}
		p.calibPrefix[route] = b.Bytes() // not closed: file_name and the closing boundary follow per request
	}
	return p, nil
}

// calibBody returns the multipart calibration of route stored under id.
func (p *loadPayloads) calibBody(route loadRoute, id string) (io.Reader, int64, string) {
	tail := "\r\n--" + p.boundary + "\r\nContent-Disposition: form-data; name=\"file_name\"\r\n\r\n\"" + id + "\"\r\n--" + p.boundary + "--\r\n"
	prefix := p.calibPrefix[route]
	return io.MultiReader(bytes.NewReader(prefix), strings.NewReader(tail)), int64(len(prefix) + len(tail)), "multipart/form-data; boundary=" + p.boundary
}

// newRequest builds one request of route for client c.
func (p *loadPayloads) newRequest(ctx context.Context, base string, route loadRoute, c *loadClient) (*http.Request, error) {
	var (
		method, path, ct = http.MethodPost, "/api/session/batch_predict", "application/json"
		body             io.Reader
		size             int64
	)
	switch route {
	case loadHealth:
		method, path, ct = http.MethodGet, "/api/session/health", ""
	case loadBatch:
		body, size = bytes.NewReader(p.batch), int64(len(p.batch))
	case loadCalibLinear, loadCalibRidge:
		path = "/api/session/calib_validation"
		body, size, ct = p.calibBody(route, c.calibID)
	case loadBad:
		switch c.rng.IntN(4) {
		case 0:
			body, size = bytes.NewReader(p.badUnknown), int64(len(p.badUnknown))
		case 1:
			body, size = bytes.NewReader(p.badJSON), int64(len(p.badJSON))
		case 2:
			path, ct = "/api/session/calib_validation", "application/x-www-form-urlencoded"
			body, size = bytes.NewReader(p.badCalib), int64(len(p.badCalib))
		default:
			method, path, ct = http.MethodGet, "/api/session/no-such-route", ""
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("X-Forwarded-For", c.forwardedFor)
	return req, nil
}

// loadClient is one simulated client on its own keep-alive connection.
type loadClient struct {
	forwardedFor string // its address, from 198.18.0.0/15
	calibID      string // where its calibrations are stored
	greedy       bool
	bad          float64 // fraction of deliberately bad requests
	rng          *rand.Rand
	http         *http.Client
	body         bytes.Buffer
}

// benchmarkAddress returns the i-th address of 198.18.0.0/15 (RFC 2544's
// benchmarking block), skipping .0 of the block; it wraps after 131070.
func benchmarkAddress(i int) string {
	n := uint32(i%131070) + 1
	return netip.AddrFrom4([4]byte{198, 18 + byte(n>>16), byte(n >> 8), byte(n)}).String()
}

// run sends requests until deadline (or ctx ends, or the count bound).
func (c *loadClient) run(ctx context.Context, base string, deadline time.Time, timeout time.Duration, p *loadPayloads, stats *loadStats) {
	for i := 0; i < loadTestMaxRequestsEach && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		c.do(ctx, base, pickRoute(c.rng, c.bad), timeout, p, stats)
		if c.greedy {
			continue
		}
		pause := 500*time.Millisecond + time.Duration(c.rng.Int64N(int64(time.Second)))
		pause = min(pause, time.Until(deadline))
		if pause <= 0 {
			break
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// do sends one request and records its outcome. A request cut short
// because ctx ended (the user stopped the test) is not counted.
func (c *loadClient) do(ctx context.Context, base string, route loadRoute, timeout time.Duration, p *loadPayloads, stats *loadStats) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := p.newRequest(rctx, base, route, c)
	if err != nil {
		stats.transportError(route, err)
		return
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err == nil {
		c.body.Reset()
		_, err = c.body.ReadFrom(resp.Body)
		resp.Body.Close()
	}
	elapsed := time.Since(start)
	if err != nil {
		if ctx.Err() == nil {
			stats.transportError(route, err)
		}
		return
	}
	rs := &stats.routes[route]
	code := resp.StatusCode
	if code < 100 || code >= len(rs.status) {
		code = 0
	}
	rs.status[code].Add(1)
	rs.latency.add(elapsed)
	stats.noteLatency(route, start, elapsed)
	if resp.StatusCode == http.StatusOK && !p.plausibleBody(route, c.body.Bytes()) {
		rs.badBody.Add(1)
	}
}

// plausibleBody checks the outer shape of a 200 answer: batch_predict an
// array of one prediction per sample sent, calib_validation an object with
// centroids, health {"status":"ok"}.
func (p *loadPayloads) plausibleBody(route loadRoute, b []byte) bool {
	switch route {
	case loadHealth:
		return bytes.Contains(b, []byte(`"ok"`))
	case loadBatch:
		return len(b) > 2 && b[0] == '[' && bytes.Count(b, []byte(`"predicted_x"`)) == p.batchSamples
	case loadCalibLinear, loadCalibRidge:
		return len(b) > 2 && b[0] == '{' && bytes.Contains(b, []byte(`"centroids"`))
	}
	return true
}

// listenWatcher is the spawned server's stdout: it picks the address out
// of "eyetrack listening on http://ADDR (...)".
type listenWatcher struct {
	mu   sync.Mutex
	line []byte
	sent bool
	addr chan string
}

func (w *listenWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent {
		return len(p), nil
	}
	w.line = append(w.line, p...)
	if i := bytes.IndexByte(w.line, '\n'); i >= 0 {
		if addr, ok := listeningAddr(string(w.line[:i])); ok {
			w.addr <- addr
			w.sent = true
		}
		w.line = w.line[i+1:]
	}
	return len(p), nil
}

// spawnedServer is a server started in this process by run.
type spawnedServer struct {
	base   string
	dir    string
	cancel context.CancelFunc
	done   chan error
	logs   *logTally

	stopOnce sync.Once
	stopErr  error
}

// spawnLoadTestServer starts run on 127.0.0.1:0 with a temporary store,
// trusting X-Forwarded-For from 127.0.0.1 so that every simulated client is
// limited on its own. Other settings come from the environment or the
// defaults.
func spawnLoadTestServer(ctx context.Context) (*spawnedServer, error) {
	dir, err := os.MkdirTemp("", "eyetrack-loadtest-*")
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	overrides := map[string]string{"RATELIMIT_TRUSTED_PROXIES": "127.0.0.1/32"}
	getenv := func(name string) string {
		if v, ok := overrides[name]; ok {
			return v
		}
		return os.Getenv(name)
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &spawnedServer{dir: dir, cancel: cancel, done: make(chan error, 1), logs: &logTally{}}
	watcher := &listenWatcher{addr: make(chan string, 1)}
	go func() {
		s.done <- run(sctx, []string{"-addr", "127.0.0.1:0", "-calibration-store", dir}, getenv, watcher, s.logs)
	}()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	select {
	case addr := <-watcher.addr:
		s.base = "http://" + addr
		return s, nil
	case err := <-s.done:
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("loadtest: the server did not start: %v", err)
	case <-timeout.C:
		cancel()
		<-s.done
		os.RemoveAll(dir)
		return nil, errors.New("loadtest: the server did not print its address within 10s")
	}
}

// stop shuts the server down gracefully and removes its store; later
// calls return the first call's result.
func (s *spawnedServer) stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		s.stopErr = <-s.done
		os.RemoveAll(s.dir)
	})
	return s.stopErr
}

// storeSetupCalibration stores the example calibration every batch_predict
// uses, from an address of its own so no client's quota is spent.
func storeSetupCalibration(ctx context.Context, base string, p *loadPayloads, client *http.Client) error {
	c := &loadClient{forwardedFor: benchmarkAddress(131069), calibID: loadTestCalibID, rng: rand.New(rand.NewPCG(0, 0))}
	req, err := p.newRequest(ctx, base, loadCalibLinear, c)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("loadtest: storing the setup calibration: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("loadtest: storing the setup calibration: status %d: %s", resp.StatusCode, truncate(string(body), 300))
	}
	return nil
}

// runLoadTest is the `loadtest` subcommand: a loopback-only load generator
// holding N keep-alive connections of mixed traffic for a duration, then a
// report. It fails on any transport error, any malformed 200 body, and any
// status other than 200, 429 and 503 (400 and 404 are expected only on
// the deliberately bad requests of -bad).
//
//	go run -tags loadtest . loadtest -spawn -duration 60s -connections 200
//	go run -tags loadtest . loadtest -addr http://127.0.0.1:5000 -pid $(pidof eyetrack)
//
// It first stores the example calibration under "loadtest" (every
// batch_predict uses it); each client stores its own calibrations under
// "loadtest-c<N>". Each client sends its own X-Forwarded-For address from
// 198.18.0.0/15, which a server trusting 127.0.0.1 as a proxy counts as a
// separate client (a server that does not trust it sees one client and
// answers mostly 429). With -spawn the server runs in this process with
// RATELIMIT_TRUSTED_PROXIES=127.0.0.1/32 and every other setting from the
// environment, so RATELIMIT_ENABLED=false gives a throughput test.
func runLoadTest(ctx context.Context, args []string, stdout io.Writer) error {
	opts, err := parseLoadTestArgs(args, stdout)
	if errors.Is(err, errLoadTestHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	payloads, err := newLoadPayloads()
	if err != nil {
		return err
	}
	var server *spawnedServer
	targetNote := "external server"
	if opts.spawn {
		if server, err = spawnLoadTestServer(ctx); err != nil {
			return err
		}
		defer server.stop()
		if opts.target, err = loopbackTarget(server.base); err != nil {
			return err
		}
		targetNote = "spawned in-process, temporary store, RATELIMIT_TRUSTED_PROXIES=127.0.0.1/32, other settings from the environment or defaults"
	}
	base := opts.target.String()
	var dials atomic.Int64
	setupClient, setupTransport := newLoopbackClient(&dials)
	err = storeSetupCalibration(ctx, base, payloads, setupClient)
	setupTransport.CloseIdleConnections()
	if err != nil {
		return err
	}
	dials.Store(0)

	var sampler *memorySampler
	if opts.spawn || opts.pid != 0 {
		sampler = startMemorySampler(opts.pid)
	}
	in := loadReportInput{opts: opts, base: base, targetNote: targetNote, stats: &loadStats{}}
	loadBefore := loadAverage()
	in.start = time.Now()
	in.greedy = runLoadClients(ctx, opts, base, payloads, in.stats, &dials)
	in.elapsed = time.Since(in.start)
	in.machine = fmt.Sprintf("%d CPUs, load average %s before and %s after", runtime.NumCPU(), loadBefore, loadAverage())
	in.dials, in.memory, in.interrupted = dials.Load(), peakMemory(sampler, opts.pid), ctx.Err() != nil
	if server != nil {
		in.logs = server.logs
		in.stopErr = server.stop()
	}
	return writeLoadReport(stdout, in)
}

// newLoopbackClient returns an HTTP client of one keep-alive connection
// that dials loopback addresses only (counted in dials) and never follows
// redirects or goes through a proxy.
func newLoopbackClient(dials *atomic.Int64) (*http.Client, *http.Transport) {
	tr := &http.Transport{
		DialContext:         loopbackDialer(dials),
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
		Proxy:               nil, // never through a proxy: loopback only
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, tr
}

// runLoadClients runs opts.connections clients until the duration ends and
// returns how many of them were greedy.
func runLoadClients(ctx context.Context, opts loadTestOptions, base string, payloads *loadPayloads, stats *loadStats, dials *atomic.Int64) int {
	greedy := int(math.Round(opts.greedy * float64(opts.connections)))
	deadline := time.Now().Add(opts.duration)
	var wg sync.WaitGroup
	for i := 0; i < opts.connections; i++ {
		hc, tr := newLoopbackClient(dials)
		c := &loadClient{
			forwardedFor: benchmarkAddress(i),
			calibID:      "loadtest-c" + strconv.Itoa(i),
			greedy:       i < greedy,
			bad:          opts.bad,
			rng:          rand.New(rand.NewPCG(opts.seed, uint64(i))),
			http:         hc,
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			c.run(ctx, base, deadline, opts.timeout, payloads, stats)
		}()
	}
	wg.Wait()
	return greedy
}

// peakMemory stops sampler and describes the server's peak memory: of the
// process pid, or of this process when the server was spawned in it.
func peakMemory(sampler *memorySampler, pid int) string {
	if sampler == nil {
		return "n/a (external server; pass -pid PID to read /proc/PID/status)"
	}
	sampler.finish()
	hwmText := "VmHWM n/a"
	if hwm, err := procStatusKB(pid, "VmHWM"); err == nil {
		hwmText = "VmHWM " + mib(hwm*1024)
	}
	if pid != 0 {
		return fmt.Sprintf("VmRSS peak %s (sampled every %v), %s (pid %d)", mib(sampler.rssKB.Load()*1024), loadTestSampleEvery, hwmText, pid)
	}
	return fmt.Sprintf("HeapInuse %s, Sys %s (runtime.MemStats every %v), %s; one process holds the server and the load generator",
		mib(sampler.heapInuse.Load()), mib(sampler.sys.Load()), loadTestSampleEvery, hwmText)
}
