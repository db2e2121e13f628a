//go:build loadtest

package main

// The load test's measurements and report: latency histograms, counts by
// route and status, peak memory, the server's log levels.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// latencyHistogram counts durations in buckets 1 % wide from 1 µs to about
// 150 s, so quantiles are exact to 1 % in constant memory. Safe for
// concurrent use.
type latencyHistogram struct {
	buckets [histogramBuckets]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Int64
}

const histogramBuckets = 1900 // 1.01^1900 µs ≈ 160 s

// histogramBucket is ceil(log_1.01(d / 1 µs)), clamped to the table.
func histogramBucket(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return min(histogramBuckets-1, int(math.Ceil(math.Log(us)/math.Log(1.01))))
}

func (h *latencyHistogram) add(d time.Duration) {
	h.buckets[histogramBucket(d)].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile returns the upper edge of the bucket holding the q-th fraction
// of the observations (nearest-rank), capped at the maximum seen.
func (h *latencyHistogram) quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i := range h.buckets {
		if seen += h.buckets[i].Load(); seen >= max(rank, 1) {
			edge := time.Duration(math.Pow(1.01, float64(i)) * float64(time.Microsecond))
			return min(edge, time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// mergeFrom adds o's observations to h (o must be quiescent).
func (h *latencyHistogram) mergeFrom(o *latencyHistogram) {
	for i := range o.buckets {
		if v := o.buckets[i].Load(); v != 0 {
			h.buckets[i].Add(v)
		}
	}
	h.count.Add(o.count.Load())
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

// routeStats are the outcomes of one route.
type routeStats struct {
	status    [600]atomic.Uint64 // by HTTP status; index 0 holds codes outside 100-599
	transport atomic.Uint64      // requests that got no complete response
	badBody   atomic.Uint64      // 200 answers whose body is not the JSON expected
	latency   latencyHistogram   // of complete responses
}

func (s *routeStats) requests() uint64 {
	var n uint64
	for i := range s.status {
		n += s.status[i].Load()
	}
	return n + s.transport.Load()
}

// loadStats are the outcomes of the whole run.
type loadStats struct {
	routes [loadRouteCount]routeStats

	slowestNs atomic.Int64 // the longest latency so far, for a cheap first check

	mu           sync.Mutex
	errorSamples []string // the first few transport errors
	slowest      slowRequest
}

// slowRequest is the slowest request of the run.
type slowRequest struct {
	route   loadRoute
	start   time.Time
	elapsed time.Duration
}

// noteLatency remembers the request if it is the slowest so far.
func (s *loadStats) noteLatency(route loadRoute, start time.Time, elapsed time.Duration) {
	if int64(elapsed) <= s.slowestNs.Load() {
		return
	}
	s.mu.Lock()
	if elapsed > s.slowest.elapsed {
		s.slowest = slowRequest{route: route, start: start, elapsed: elapsed}
		s.slowestNs.Store(int64(elapsed))
	}
	s.mu.Unlock()
}

func (s *loadStats) transportError(route loadRoute, err error) {
	s.routes[route].transport.Add(1)
	s.mu.Lock()
	if len(s.errorSamples) < 5 {
		s.errorSamples = append(s.errorSamples, route.String()+": "+err.Error())
	}
	s.mu.Unlock()
}

// expectedStatus reports whether the load test accepts status on route:
// success, rate limiting and load shedding, and on the bad-request route the
// client mistakes it makes on purpose.
func expectedStatus(route loadRoute, status int) bool {
	switch status {
	case 200, 429, 503:
		return true
	case 400, 404:
		return route == loadBad
	}
	return false
}

// memorySampler follows the server's peak memory: the Go runtime's
// HeapInuse and Sys of this process (with -spawn), or the VmRSS of an
// external process (with -pid), every loadTestSampleEvery.
type memorySampler struct {
	pid       int // 0: this process
	heapInuse atomic.Uint64
	sys       atomic.Uint64
	rssKB     atomic.Uint64
	stop      chan struct{}
	done      chan struct{}
}

func startMemorySampler(pid int) *memorySampler {
	m := &memorySampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(loadTestSampleEvery)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				m.sample()
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memorySampler) sample() {
	raise := func(a *atomic.Uint64, v uint64) {
		if v > a.Load() {
			a.Store(v)
		}
	}
	if m.pid == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		raise(&m.heapInuse, ms.HeapInuse)
		raise(&m.sys, ms.Sys)
		return
	}
	if kb, err := procStatusKB(m.pid, "VmRSS"); err == nil {
		raise(&m.rssKB, kb)
	}
}

func (m *memorySampler) finish() {
	close(m.stop)
	<-m.done
}

// procStatusKB reads a "Name:   123 kB" field of /proc/PID/status (PID 0:
// this process).
func procStatusKB(pid int, field string) (uint64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s has no %s", path, field)
}

// logTally counts the spawned server's log lines by level and keeps the
// first few errors.
type logTally struct {
	mu       sync.Mutex
	partial  []byte
	errors   int
	warnings int
	samples  []string
}

func (l *logTally) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		switch {
		case strings.Contains(line, "level=ERROR"), strings.Contains(line, `"level":"ERROR"`):
			l.errors++
			if len(l.samples) < 3 {
				l.samples = append(l.samples, truncate(line, 300))
			}
		case strings.Contains(line, "level=WARN"), strings.Contains(line, `"level":"WARN"`):
			l.warnings++
		}
	}
	return len(p), nil
}

// loadReportInput is everything the report shows.
type loadReportInput struct {
	opts        loadTestOptions
	base        string
	targetNote  string
	machine     string
	start       time.Time
	elapsed     time.Duration
	greedy      int
	stats       *loadStats
	dials       int64
	memory      string
	logs        *logTally // nil for an external server
	stopErr     error
	interrupted bool
}

// mib formats a byte count in MiB.
func mib(b uint64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// millis formats a latency in milliseconds.
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}

// loadTotals sums the per-route counts of a run.
type loadTotals struct {
	all                       latencyHistogram
	requests, transport, body uint64         // body: malformed 200 bodies
	statuses                  map[int]uint64 // by status, over every route
	unexpected                []string       // "route: status=count" outside expectedStatus
	unexpectedCount           uint64
}

func sumLoadStats(st *loadStats) *loadTotals {
	t := &loadTotals{statuses: map[int]uint64{}}
	for r := range st.routes {
		rs := &st.routes[r]
		t.all.mergeFrom(&rs.latency)
		t.requests += rs.requests()
		t.transport += rs.transport.Load()
		t.body += rs.badBody.Load()
		for code := range rs.status {
			n := rs.status[code].Load()
			if n == 0 {
				continue
			}
			t.statuses[code] += n
			if !expectedStatus(loadRoute(r), code) {
				t.unexpectedCount += n
				t.unexpected = append(t.unexpected, fmt.Sprintf("%s: %d=%d", loadRoute(r), code, n))
			}
		}
	}
	return t
}

// writeLoadReport prints the report and returns an error when the run
// failed: an unexpected status, a transport error, a malformed 200 body, no
// request at all, or a spawned server that did not shut down cleanly.
func writeLoadReport(w io.Writer, in loadReportInput) error {
	t := sumLoadStats(in.stats)
	secs := in.elapsed.Seconds()
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, "eyetrack load test")
	fmt.Fprintf(b, "target:      %s (%s)\n", in.base, in.targetNote)
	fmt.Fprintf(b, "clients:     %d keep-alive connections: %d greedy (no pause), %d polite (0.5-1.5 s pause); X-Forwarded-For %s to %s\n",
		in.opts.connections, in.greedy, in.opts.connections-in.greedy, benchmarkAddress(0), benchmarkAddress(in.opts.connections-1))
	note := ""
	if in.interrupted {
		note = " (interrupted before the end)"
	}
	fmt.Fprintf(b, "duration:    %.1fs%s; %d requests, %.1f/s; %d connections opened\n", secs, note, t.requests, float64(t.requests)/secs, in.dials)
	fmt.Fprintf(b, "machine:     %s\n\n", in.machine)
	writeRouteTable(b, in.stats, t, secs)
	fmt.Fprintln(b, "(latency from request start to the last body byte; quantiles exact to 1%)")
	in.stats.mu.Lock()
	if slow := in.stats.slowest; slow.elapsed > 0 {
		fmt.Fprintf(b, "slowest:     %s, sent %.1fs into the run, %s\n", slow.route, slow.start.Sub(in.start).Seconds(), millis(slow.elapsed))
	}
	in.stats.mu.Unlock()
	writeOutcomes(b, in, t)
	problems := loadProblems(in, t)
	if len(problems) == 0 {
		fmt.Fprintln(b, "result:      PASS")
	} else {
		fmt.Fprintf(b, "result:      FAIL: %s\n", strings.Join(problems, "; "))
	}
	if err := b.Flush(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("loadtest failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

// writeRouteTable prints a row of counts and latencies per route, and one
// for all of them.
func writeRouteTable(w io.Writer, st *loadStats, t *loadTotals, secs float64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "route\trequests\treq/s\t200\t400\t404\t429\t503\tother\terrors\tp50\tp90\tp99\tmax\t")
	row := func(name string, n uint64, count func(int) uint64, other, errs uint64, h *latencyHistogram) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", name, n, strconv.FormatFloat(float64(n)/secs, 'f', 1, 64),
			count(200), count(400), count(404), count(429), count(503), other, errs,
			millis(h.quantile(0.50)), millis(h.quantile(0.90)), millis(h.quantile(0.99)), millis(time.Duration(h.max.Load())))
	}
	for r := range st.routes {
		rs := &st.routes[r]
		if rs.requests() == 0 {
			continue
		}
		var other uint64
		for code := range rs.status {
			if !expectedStatus(loadRoute(r), code) {
				other += rs.status[code].Load()
			}
		}
		row(loadRoute(r).String(), rs.requests(), func(code int) uint64 { return rs.status[code].Load() }, other, rs.transport.Load(), &rs.latency)
	}
	row("all", t.requests, func(code int) uint64 { return t.statuses[code] }, t.unexpectedCount, t.transport, &t.all)
	tw.Flush()
}

// writeOutcomes prints the statuses, errors, memory and server log lines.
func writeOutcomes(w io.Writer, in loadReportInput, t *loadTotals) {
	var codes []string
	for code := 0; code < 600; code++ {
		n, ok := t.statuses[code]
		if !ok {
			continue
		}
		name := strconv.Itoa(code)
		if code == 0 {
			name = "outside-100-599"
		}
		codes = append(codes, fmt.Sprintf("%s=%d", name, n))
	}
	fmt.Fprintf(w, "\nstatuses:    %s\n", strings.Join(codes, " "))
	if len(t.unexpected) == 0 {
		fmt.Fprintln(w, "unexpected statuses: none")
	} else {
		fmt.Fprintf(w, "unexpected statuses: %s\n", strings.Join(t.unexpected, " "))
	}
	fmt.Fprintf(w, "transport errors: %d\n", t.transport)
	in.stats.mu.Lock()
	for _, e := range in.stats.errorSamples {
		fmt.Fprintf(w, "  e.g. %s\n", e)
	}
	in.stats.mu.Unlock()
	fmt.Fprintf(w, "malformed 200 bodies: %d\n", t.body)
	fmt.Fprintf(w, "peak server memory: %s\n", in.memory)
	if in.logs != nil {
		in.logs.mu.Lock()
		fmt.Fprintf(w, "server log:  %d ERROR lines, %d WARN lines\n", in.logs.errors, in.logs.warnings)
		for _, s := range in.logs.samples {
			fmt.Fprintf(w, "  e.g. %s\n", s)
		}
		in.logs.mu.Unlock()
	}
	if in.stopErr != nil {
		fmt.Fprintf(w, "server shutdown: %v\n", in.stopErr)
	}
}

// loadProblems lists what makes the run fail.
func loadProblems(in loadReportInput, t *loadTotals) []string {
	var problems []string
	if len(t.unexpected) > 0 {
		problems = append(problems, "unexpected statuses "+strings.Join(t.unexpected, " "))
	}
	if t.transport > 0 {
		problems = append(problems, fmt.Sprintf("%d transport errors", t.transport))
	}
	if t.body > 0 {
		problems = append(problems, fmt.Sprintf("%d malformed 200 bodies", t.body))
	}
	if t.requests == 0 {
		problems = append(problems, "no request completed")
	}
	if in.stopErr != nil {
		problems = append(problems, "the server did not shut down cleanly")
	}
	return problems
}

// loadAverage returns the 1-minute load average of the machine ("n/a"
// where /proc/loadavg is missing): context for the latencies, since the
// load generator shares the CPUs with the server.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	if f := strings.Fields(string(raw)); len(f) > 0 {
		return f[0]
	}
	return "n/a"
}
