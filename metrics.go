package main

// Metrics in the Prometheus text exposition format (version 0.0.4), written
// on the standard library: counters and histograms the server updates as it
// works, and values read from their owners at each scrape.

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// metricSample is one line of an exposition: a value under label pairs
// (name, value, name, value, …).
type metricSample struct {
	labels []string
	value  float64
}

// metricFamily is a named metric with its samples. collect returns the
// current samples (of a counter, a gauge, or a histogram's series).
type metricFamily struct {
	name, help, kind string // kind: counter, gauge or histogram
	collect          func() []metricSample
	histogram        *histogramVec // set for kind histogram instead of collect
}

// metricsRegistry holds every family in the order they are exposed.
type metricsRegistry struct {
	mu       sync.Mutex
	families []*metricFamily
}

func newMetricsRegistry() *metricsRegistry { return &metricsRegistry{} }

// register adds a family; a name registered twice panics (a programming
// error caught by the tests).
func (m *metricsRegistry) register(f *metricFamily) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.families {
		if g.name == f.name {
			panic("metric registered twice: " + f.name)
		}
	}
	m.families = append(m.families, f)
}

// gauge registers a value read at each scrape.
func (m *metricsRegistry) gauge(name, help string, read func() []metricSample) {
	m.register(&metricFamily{name: name, help: help, kind: "gauge", collect: read})
}

// counterFunc registers a counter kept by its owner and read at each scrape.
func (m *metricsRegistry) counterFunc(name, help string, read func() []metricSample) {
	m.register(&metricFamily{name: name, help: help, kind: "counter", collect: read})
}

// counter registers a counter with the given label names.
func (m *metricsRegistry) counter(name, help string, labels ...string) *counterVec {
	c := &counterVec{labels: labels, values: map[string]*atomic.Uint64{}}
	m.register(&metricFamily{name: name, help: help, kind: "counter", collect: c.samples})
	return c
}

// histogram registers a histogram with the given upper bounds (ascending)
// and label names.
func (m *metricsRegistry) histogram(name, help string, bounds []float64, labels ...string) *histogramVec {
	h := &histogramVec{bounds: bounds, labels: labels, series: map[string]*histogramSeries{}}
	m.register(&metricFamily{name: name, help: help, kind: "histogram", histogram: h})
	return h
}

// counterVec is a counter per combination of label values.
type counterVec struct {
	labels []string
	mu     sync.Mutex
	values map[string]*atomic.Uint64 // by the label values joined with \x00
}

// add adds n to the counter of the label values (one per label name).
func (c *counterVec) add(n uint64, values ...string) {
	key := strings.Join(values, "\x00")
	c.mu.Lock()
	v, ok := c.values[key]
	if !ok {
		v = new(atomic.Uint64)
		c.values[key] = v
	}
	c.mu.Unlock()
	v.Add(n)
}

func (c *counterVec) inc(values ...string) { c.add(1, values...) }

func (c *counterVec) samples() []metricSample {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]metricSample, 0, len(c.values))
	for key, v := range c.values {
		out = append(out, metricSample{labels: pairLabels(c.labels, strings.Split(key, "\x00")), value: float64(v.Load())})
	}
	return out
}

// pairLabels interleaves names and values: name, value, name, value, ….
func pairLabels(names, values []string) []string {
	out := make([]string, 0, 2*len(names))
	for i, n := range names {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		out = append(out, n, v)
	}
	return out
}

// histogramVec is a histogram per combination of label values.
type histogramVec struct {
	bounds []float64
	labels []string
	mu     sync.Mutex
	series map[string]*histogramSeries
}

// histogramSeries is one histogram: counts per bucket (not cumulative), the
// sum and the count of observations.
type histogramSeries struct {
	counts []uint64 // len(bounds)+1, the last for +Inf
	sum    float64
	count  uint64
}

// observe records v under the label values.
func (h *histogramVec) observe(v float64, values ...string) {
	key := strings.Join(values, "\x00")
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.series[key]
	if !ok {
		s = &histogramSeries{counts: make([]uint64, len(h.bounds)+1)}
		h.series[key] = s
	}
	i, _ := slices.BinarySearch(h.bounds, v) // first bound ≥ v: le is inclusive
	s.counts[i]++
	s.sum += v
	s.count++
}

// latencyBuckets are upper bounds in seconds for request and fit durations:
// from 1 ms (a batch_predict) to a minute (the longest fit allowed).
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// writeTo writes every family in the text exposition format.
func (m *metricsRegistry) writeTo(w io.Writer) error {
	m.mu.Lock()
	families := slices.Clone(m.families)
	m.mu.Unlock()
	b := bufio.NewWriter(w)
	for _, f := range families {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
		if f.histogram != nil {
			f.histogram.write(b, f.name)
			continue
		}
		samples := f.collect()
		slices.SortFunc(samples, func(a, c metricSample) int { return slices.Compare(a.labels, c.labels) })
		for _, s := range samples {
			writeSample(b, f.name, s.labels, s.value)
		}
	}
	return b.Flush()
}

func (h *histogramVec) write(b *bufio.Writer, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]string, 0, len(h.series))
	for k := range h.series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s, labels := h.series[k], pairLabels(h.labels, strings.Split(k, "\x00"))
		var cum uint64
		for i, bound := range h.bounds {
			cum += s.counts[i]
			writeSample(b, name+"_bucket", append(slices.Clone(labels), "le", formatFloat(bound)), float64(cum))
		}
		writeSample(b, name+"_bucket", append(slices.Clone(labels), "le", "+Inf"), float64(s.count))
		writeSample(b, name+"_sum", labels, s.sum)
		writeSample(b, name+"_count", labels, float64(s.count))
	}
}

// writeSample writes one sample line: name{a="x",b="y"} value.
func writeSample(b *bufio.Writer, name string, labels []string, v float64) {
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatFloat(v))
	b.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

// handleMetrics serves the exposition.
func handleMetrics(m *metricsRegistry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		m.writeTo(w)
	})
}

// registerRuntimeMetrics adds the build and Go runtime basics.
func registerRuntimeMetrics(m *metricsRegistry, version string) {
	m.gauge("eyetrack_build_info", "The build: its version and Go version (value 1).", func() []metricSample {
		return []metricSample{{labels: []string{"version", version, "goversion", runtime.Version()}, value: 1}}
	})
	m.gauge("go_goroutines", "Goroutines that currently exist.", func() []metricSample {
		return []metricSample{{value: float64(runtime.NumGoroutine())}}
	})
	var ms runtime.MemStats
	var msMu sync.Mutex
	read := func(f func(*runtime.MemStats) float64) func() []metricSample {
		return func() []metricSample {
			msMu.Lock()
			defer msMu.Unlock()
			runtime.ReadMemStats(&ms)
			return []metricSample{{value: f(&ms)}}
		}
	}
	m.gauge("go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", read(func(s *runtime.MemStats) float64 { return float64(s.HeapInuse) }))
	m.gauge("go_memstats_sys_bytes", "Bytes obtained from the system.", read(func(s *runtime.MemStats) float64 { return float64(s.Sys) }))
	m.counterFunc("go_gc_cycles_total", "Completed GC cycles.", read(func(s *runtime.MemStats) float64 { return float64(s.NumGC) }))
}
