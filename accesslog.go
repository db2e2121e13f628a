package main

// The access log and the request metrics: one log line per request (with
// its request id, echoed in X-Request-Id), and the counters and latency
// histograms by route and status.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// requestRecord is what the handlers tell the access log about a request.
// The access log puts one in the request's context; the handler of the
// request (one goroutine) fills it in.
type requestRecord struct {
	id      string
	limiter string // the rate limiter's outcome: allowed, refused, dry_run ("" when not limited)
	model   string // calib_validation's model
	rows    int    // calib_validation's labelled rows, batch_predict's samples
	fitTime time.Duration
}

type recordKey struct{}

// requestRecordOf returns the request's record, or a throwaway one for requests
// that did not come through withAccessLog (handler tests).
func requestRecordOf(r *http.Request) *requestRecord {
	if rec, ok := r.Context().Value(recordKey{}).(*requestRecord); ok {
		return rec
	}
	return &requestRecord{}
}

// accessLogConfig is how the access log behaves.
type accessLogConfig struct {
	healthEvery int // log one of every healthEvery INFO lines of the health route (0: none)
}

// requestMetrics are the per-request counters and histograms.
type requestMetrics struct {
	requests *counterVec   // by route, method, status
	latency  *histogramVec // by route
	limiter  *counterVec   // by route, outcome
	fits     *histogramVec // by model
	inFlight atomic.Int64
}

func newRequestMetrics(m *metricsRegistry) *requestMetrics {
	rm := &requestMetrics{
		requests: m.counter("eyetrack_http_requests_total", "HTTP requests answered, by route pattern, method and status.", "route", "method", "status"),
		latency:  m.histogram("eyetrack_http_request_duration_seconds", "Time from the request's arrival to its last byte written, by route.", latencyBuckets, "route"),
		limiter:  m.counter("eyetrack_ratelimit_decisions_total", "Rate limiter decisions, by route and outcome (allowed, refused, dry_run).", "route", "outcome"),
		fits:     m.histogram("eyetrack_fit_duration_seconds", "Wall time of calibration fits (split, both axes, grid search, k-means), by model.", latencyBuckets, "model"),
	}
	m.gauge("eyetrack_http_requests_in_flight", "Requests being served.", func() []metricSample {
		return []metricSample{{value: float64(rm.inFlight.Load())}}
	})
	return rm
}

// statusWriter records the status and the bytes of an answer, and calls
// onStatus once, as the status is written (before the client can have the
// answer, so that a scrape after it counts it).
type statusWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	onStatus func(status int)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.onStatus(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the bytes a handler reads from the request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// requestID returns the client's X-Request-Id when it is sane (1 to 64
// characters of letters, digits, '.', '_', '-'), else a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); len(id) > 0 && len(id) <= 64 {
		ok := true
		for i := 0; i < len(id) && ok; i++ {
			c := id[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		}
		if ok {
			return id
		}
	}
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withAccessLog logs every request once, after its answer: method, route
// pattern, status, duration, bytes in and out, client, limiter outcome,
// model and rows, request id; 5xx at ERROR, 429 and 503 at WARN, the rest at
// INFO. It echoes the request id in X-Request-Id and feeds the request
// metrics. identity names the client as the limiter counts it.
func withAccessLog(log *slog.Logger, cfg accessLogConfig, identity clientIdentity, rm *requestMetrics, next http.Handler) http.Handler {
	var healthSeen atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rm.inFlight.Add(1)
		defer rm.inFlight.Add(-1)
		rec := &requestRecord{id: requestID(r)}
		w.Header().Set("X-Request-Id", rec.id)
		body := &countingBody{ReadCloser: r.Body}
		r = r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
		r.Body = body
		sw := &statusWriter{ResponseWriter: w, onStatus: func(code int) {
			rm.requests.inc(routeLabel(r.Pattern), r.Method, strconv.Itoa(code))
		}}
		defer func() {
			// Runs after a panic too (withRecover, inside, has answered 500).
			elapsed := time.Since(start)
			route := routeLabel(r.Pattern)
			if sw.status == 0 { // nothing written: net/http answers 200 after the handler
				sw.WriteHeader(http.StatusOK)
			}
			status := sw.status
			rm.latency.observe(elapsed.Seconds(), route)
			if rec.limiter != "" {
				rm.limiter.inc(route, rec.limiter)
			}
			if rec.fitTime > 0 {
				rm.fits.observe(rec.fitTime.Seconds(), rec.model)
			}
			// The answer is complete (every handler inside has returned), and
			// counted: send what net/http still holds of it before the log
			// line is written, which the client would otherwise wait for.
			// Only a body of declared length, which a flush leaves as it is
			// (one without would switch to chunked encoding).
			if w.Header().Get("Content-Length") != "" {
				http.NewResponseController(w).Flush()
			}
			level := logLevel(status)
			if level == slog.LevelInfo && r.Pattern == "GET /api/session/health" &&
				(cfg.healthEvery <= 0 || (healthSeen.Add(1)-1)%uint64(cfg.healthEvery) != 0) {
				return
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.Int64("bytes_in", body.n), slog.Int64("bytes_out", sw.bytes),
				slog.String("client", identity.clientAddr(r).String()), slog.String("request_id", rec.id),
			}
			if rec.limiter != "" {
				attrs = append(attrs, slog.String("ratelimit", rec.limiter))
			}
			if rec.model != "" {
				attrs = append(attrs, slog.String("model", rec.model))
			}
			if rec.rows > 0 {
				attrs = append(attrs, slog.Int("rows", rec.rows))
			}
			log.LogAttrs(r.Context(), level, "request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// routeLabel is the route pattern as a metric label ("other" for paths no
// route matched).
func routeLabel(pattern string) string {
	if pattern == "" || pattern == "/" {
		return "other"
	}
	return pattern
}

// logLevel is the access log's level for a status: 5xx ERROR, 429 and 503
// WARN, the rest INFO.
func logLevel(status int) slog.Level {
	switch {
	case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests:
		return slog.LevelWarn
	case status >= 500:
		return slog.LevelError
	}
	return slog.LevelInfo
}
