package main

// Tests of the metrics: the exposition parses back, counters move by the
// requests sent, a latency histogram exists per route.

import (
	"bufio"
	"math"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parsedMetric is one sample line of an exposition.
type parsedMetric struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	metricNameRe  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRe   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	sampleLineRe  = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$`)
	labelPairRe   = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
	allowedEscape = strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n")
)

// parseExposition parses the text format strictly: every family has HELP
// then TYPE before its samples, every sample belongs to the family announced
// last (histograms: _bucket, _sum, _count), names and labels are well formed,
// values parse, a histogram's buckets are cumulative and end with +Inf equal
// to _count. It returns the samples and the families' types.
func parseExposition(t *testing.T, text string) ([]parsedMetric, map[string]string) {
	t.Helper()
	types := map[string]string{}
	var samples []parsedMetric
	family, kind := "", ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			f := strings.SplitN(line, " ", 4)
			if len(f) < 4 || !metricNameRe.MatchString(f[2]) {
				t.Fatalf("line %d: bad HELP %q", n, line)
			}
			if _, dup := types[f[2]]; dup {
				t.Fatalf("line %d: family %s twice", n, f[2])
			}
			family, kind = f[2], ""
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || f[2] != family || !strings.Contains(" counter gauge histogram summary untyped ", " "+f[3]+" ") {
				t.Fatalf("line %d: bad TYPE %q after HELP of %s", n, line, family)
			}
			kind = f[3]
			types[family] = kind
		case strings.HasPrefix(line, "#") || line == "":
			t.Fatalf("line %d: unexpected %q", n, line)
		default:
			m := sampleLineRe.FindStringSubmatch(line)
			if m == nil || kind == "" {
				t.Fatalf("line %d: bad sample %q", n, line)
			}
			name := m[1]
			base := name
			if kind == "histogram" {
				base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			}
			if base != family {
				t.Fatalf("line %d: sample %s outside its family %s", n, name, family)
			}
			labels := map[string]string{}
			if rest := m[2]; rest != "" {
				rest = rest[1 : len(rest)-1]
				for rest != "" {
					p := labelPairRe.FindStringSubmatch(rest)
					if p == nil || !labelNameRe.MatchString(p[1]) {
						t.Fatalf("line %d: bad labels %q", n, m[2])
					}
					labels[p[1]] = allowedEscape.Replace(p[2])
					rest = strings.TrimPrefix(rest[len(p[0]):], ",")
				}
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil && m[3] != "+Inf" && m[3] != "-Inf" {
				t.Fatalf("line %d: bad value %q", n, m[3])
			}
			samples = append(samples, parsedMetric{name: name, labels: labels, value: v})
		}
	}
	checkHistograms(t, samples, types)
	return samples, types
}

// checkHistograms verifies cumulative buckets ending in +Inf == _count.
func checkHistograms(t *testing.T, samples []parsedMetric, types map[string]string) {
	t.Helper()
	last := map[string]float64{}
	inf := map[string]float64{}
	for _, s := range samples {
		if !strings.HasSuffix(s.name, "_bucket") || types[strings.TrimSuffix(s.name, "_bucket")] != "histogram" {
			continue
		}
		key := seriesKey(strings.TrimSuffix(s.name, "_bucket"), s.labels, "le")
		if s.value < last[key] {
			t.Fatalf("%s: buckets not cumulative", key)
		}
		last[key] = s.value
		if s.labels["le"] == "+Inf" {
			inf[key] = s.value
		}
	}
	for _, s := range samples {
		if strings.HasSuffix(s.name, "_count") && types[strings.TrimSuffix(s.name, "_count")] == "histogram" {
			key := seriesKey(strings.TrimSuffix(s.name, "_count"), s.labels, "")
			if v, ok := inf[key]; !ok || v != s.value {
				t.Fatalf("%s: +Inf bucket %v, count %v", key, v, s.value)
			}
		}
	}
}

func seriesKey(name string, labels map[string]string, skip string) string {
	var parts []string
	for k, v := range labels {
		if k != skip {
			parts = append(parts, k+"="+v)
		}
	}
	slices.Sort(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// metricValue sums the samples of name whose labels include want.
func metricValue(samples []parsedMetric, name string, want map[string]string) float64 {
	var sum float64
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && s.labels[k] == v
		}
		if ok {
			sum += s.value
		}
	}
	return sum
}

func scrape(t *testing.T, s *testServer) ([]parsedMetric, map[string]string) {
	t.Helper()
	rec := s.do(httptest.NewRequest("GET", "/metrics", nil), "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	return parseExposition(t, rec.Body.String())
}

// TestMetricsMoveWithTheRequests: scraped before and after a small load,
// the request counters move by exactly the requests sent, a latency
// histogram exists per route, limiter decisions and fits are counted, and
// /metrics itself is never rate limited.
func TestMetricsMoveWithTheRequests(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "3 per minute"})
	before, types := scrape(t, s)
	for _, name := range []string{"eyetrack_http_requests_total", "eyetrack_http_request_duration_seconds", "eyetrack_ratelimit_decisions_total",
		"eyetrack_ratelimit_tracked", "eyetrack_ratelimit_refused_total", "eyetrack_computations_running", "eyetrack_computations_queued", "eyetrack_computations_shed_total",
		"eyetrack_fit_duration_seconds", "eyetrack_calibrations_stored", "eyetrack_journal_backlog", "eyetrack_webhook_notices_total",
		"eyetrack_build_info", "go_goroutines", "go_memstats_heap_inuse_bytes", "eyetrack_http_requests_in_flight"} {
		if types[name] == "" {
			t.Errorf("no family %s", name)
		}
	}
	const calibs, batches, healths = 5, 4, 3
	for i := 0; i < calibs; i++ {
		s.do(calibRequestOf(t, exampleCalibFields(t)), "192.0.2.1:1")
	}
	batch := readTestdata(t, "api/batch_request.json")
	for i := 0; i < batches; i++ {
		s.do(batchRequestOf(batch), "192.0.2.1:1")
	}
	for i := 0; i < healths; i++ {
		s.do(httptest.NewRequest("GET", "/api/session/health", nil), "")
	}
	for i := 0; i < 50; i++ { // never limited: defaults would refuse the 51st in an hour
		if rec := s.do(httptest.NewRequest("GET", "/metrics", nil), "192.0.2.1:1"); rec.Code != 200 {
			t.Fatalf("scrape %d: %d", i, rec.Code)
		}
	}
	after, _ := scrape(t, s)
	delta := func(name string, labels map[string]string) float64 {
		return metricValue(after, name, labels) - metricValue(before, name, labels)
	}
	calibRoute := map[string]string{"route": "POST /api/session/calib_validation"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"eyetrack_http_requests_total", map[string]string{"route": "POST /api/session/calib_validation", "status": "200"}, 3},
		{"eyetrack_http_requests_total", map[string]string{"route": "POST /api/session/calib_validation", "status": "429"}, 2},
		{"eyetrack_http_requests_total", map[string]string{"route": "POST /api/session/batch_predict", "status": "200"}, batches},
		{"eyetrack_http_requests_total", map[string]string{"route": "GET /api/session/health"}, healths},
		{"eyetrack_http_request_duration_seconds_count", calibRoute, calibs},
		{"eyetrack_http_request_duration_seconds_count", map[string]string{"route": "POST /api/session/batch_predict"}, batches},
		{"eyetrack_ratelimit_decisions_total", map[string]string{"route": "POST /api/session/calib_validation", "outcome": "allowed"}, 3},
		{"eyetrack_ratelimit_decisions_total", map[string]string{"route": "POST /api/session/calib_validation", "outcome": "refused"}, 2},
		{"eyetrack_fit_duration_seconds_count", map[string]string{"model": "Linear Regression"}, 3},
	} {
		if got := delta(c.name, c.labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v := metricValue(after, "eyetrack_calibrations_stored", nil); v != 1 {
		t.Errorf("calibrations stored: %v, want 1 (one id)", v)
	}
	// One client, counted in the tables of calib_validation's and batch_predict's limits.
	if v := metricValue(after, "eyetrack_ratelimit_tracked", map[string]string{"level": "client"}); v != 2 {
		t.Errorf("tracked client windows: %v, want 2", v)
	}
	if v := delta("eyetrack_ratelimit_refused_total", map[string]string{"level": "client"}); v != 2 {
		t.Errorf("refusals by the client level moved by %v, want 2", v)
	}
	if math.IsNaN(metricValue(after, "eyetrack_http_request_duration_seconds_sum", calibRoute)) {
		t.Error("latency sum is NaN")
	}
}

// TestMetricsLabelEscaping: label values with quotes, backslashes and
// newlines come back as they went in.
func TestMetricsLabelEscaping(t *testing.T) {
	m := newMetricsRegistry()
	c := m.counter("test_total", "A test \\ counter\nwith two lines.", "v")
	odd := "a\"b\\c\nd"
	c.add(7, odd)
	var b strings.Builder
	if err := m.writeTo(&b); err != nil {
		t.Fatal(err)
	}
	samples, _ := parseExposition(t, b.String())
	if len(samples) != 1 || samples[0].labels["v"] != odd || samples[0].value != 7 {
		t.Fatalf("%+v from\n%s", samples, b.String())
	}
	defer func() {
		if recover() == nil {
			t.Error("a name registered twice did not panic")
		}
	}()
	m.counter("test_total", "again")
}
