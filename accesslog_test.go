package main

// Tests of the access log: one line per request with the id its answer
// echoed, levels by status, health sampling, JSON lines.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// loggedServer is a test server whose log goes to a buffer, as JSON.
func loggedServer(t *testing.T, env map[string]string) (*testServer, *e2eLog) {
	t.Helper()
	s := newTestServer(t, env)
	logs := &e2eLog{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	d := serverDeps{store: s.store, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
	s.handler = newServer(s.cfg, d)
	return s, logs
}

// accessLines returns the access-log lines of logs, by request id.
func accessLines(t *testing.T, logs string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if v["msg"] == "request" {
			id, _ := v["request_id"].(string)
			out[id] = append(out[id], v)
		}
	}
	return out
}

// TestAccessLog: every request appears once, under the id its answer
// echoed (the client's when sane); 429 and 503 at WARN, 4xx at INFO; a
// calibration names its model and rows and the limiter's decision.
func TestAccessLog(t *testing.T) {
	s, logs := loggedServer(t, map[string]string{"RATELIMIT_CALIB": "1 per minute"})
	type sent struct {
		id, level string
		status    int
	}
	var all []sent
	do := func(reqID string, build func() *http.Request) {
		req := build()
		if reqID != "" {
			req.Header.Set("X-Request-Id", reqID)
		}
		rec := s.do(req, "192.0.2.1:1")
		got := rec.Header().Get("X-Request-Id")
		if got == "" || (reqID != "" && len(reqID) <= 64 && !strings.ContainsAny(reqID, " /") && got != reqID) {
			t.Errorf("X-Request-Id %q for a request sent with %q", got, reqID)
		}
		level := "INFO"
		if rec.Code == 429 || rec.Code == 503 {
			level = "WARN"
		}
		all = append(all, sent{got, level, rec.Code})
	}
	do("client-id-1", func() *http.Request { return calibRequestOf(t, exampleCalibFields(t)) })
	do("", func() *http.Request { return calibRequestOf(t, exampleCalibFields(t)) }) // 429
	do("bad id with spaces", func() *http.Request { return httptest.NewRequest("GET", "/api/session/health", nil) })
	do(strings.Repeat("x", 65), func() *http.Request { return httptest.NewRequest("GET", "/nowhere", nil) })
	do("", func() *http.Request {
		return batchRequestOf(`{"calib_id": "missing", "screen_width": 10, "screen_height": 10, "iris_tracking_data": [{"left_iris_x":1,"left_iris_y":1,"right_iris_x":1,"right_iris_y":1}]}`)
	})
	lines := accessLines(t, logs.String())
	for _, r := range all {
		got := lines[r.id]
		if len(got) != 1 {
			t.Errorf("request %s logged %d times", r.id, len(got))
			continue
		}
		if got[0]["level"] != r.level || int(got[0]["status"].(float64)) != r.status {
			t.Errorf("request %s: %v", r.id, got[0])
		}
	}
	first := lines["client-id-1"]
	if len(first) == 1 && (first[0]["model"] != "Linear Regression" || first[0]["rows"] == nil || first[0]["ratelimit"] != "allowed" ||
		first[0]["route"] != "POST /api/session/calib_validation" || first[0]["bytes_in"].(float64) == 0 || first[0]["bytes_out"].(float64) == 0) {
		t.Errorf("calibration line: %v", first[0])
	}
	if n := len(lines); n != len(all) {
		t.Errorf("%d request ids logged, %d requests sent", n, len(all))
	}
}

// TestAccessLogHealthSampling: LOG_HEALTH_EVERY=0 silences the health
// checks' INFO lines, =3 keeps one in three.
func TestAccessLogHealthSampling(t *testing.T) {
	for every, want := range map[string]int{"0": 0, "3": 4, "1": 10} {
		s, logs := loggedServer(t, map[string]string{"LOG_HEALTH_EVERY": every})
		for i := 0; i < 10; i++ {
			s.do(httptest.NewRequest("GET", "/api/session/health", nil), "")
		}
		if got := strings.Count(logs.String(), `"route":"GET /api/session/health"`); got != want {
			t.Errorf("LOG_HEALTH_EVERY=%s: %d lines, want %d", every, got, want)
		}
	}
}

// TestAccessLogErrorLevel: a 5xx other than 503 is logged at ERROR.
func TestAccessLogErrorLevel(t *testing.T) {
	s := newTestServer(t, nil)
	logs := &e2eLog{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	d := serverDeps{store: failingStore{s.store, errNoSpace()}, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
	rec := httptest.NewRecorder()
	newServer(s.cfg, d).ServeHTTP(rec, calibRequestOf(t, exampleCalibFields(t)))
	lines := accessLines(t, logs.String())[rec.Header().Get("X-Request-Id")]
	if rec.Code != 507 || len(lines) != 1 || lines[0]["level"] != "ERROR" {
		t.Errorf("%d: %v", rec.Code, lines)
	}
}

// gatedLog is a slog handler whose "request" lines wait until open is
// closed: a server that logged before sending would hold its answers back.
type gatedLog struct {
	slog.Handler
	open <-chan struct{}
}

func (g gatedLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "request" {
		<-g.open
	}
	return g.Handler.Handle(ctx, r)
}

// TestAnswerSentBeforeTheAccessLog: over a real connection the whole answer
// — a calibration's, a batch's larger than net/http's buffers, an error —
// reaches the client while the access-log line is still being written.
func TestAnswerSentBeforeTheAccessLog(t *testing.T) {
	s := newTestServer(t, nil)
	open := make(chan struct{})
	logs := &e2eLog{}
	log := slog.New(gatedLog{slog.NewJSONHandler(logs, nil), open})
	d := serverDeps{store: s.store, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
	srv := httptest.NewServer(newServer(s.cfg, d))
	defer srv.Close()
	defer close(open) // first: the handlers still in their log lines end
	// A connection of its own per request: a keep-alive connection's next
	// request is read only once the handler (its log line included) ends.
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	fields := exampleCalibFields(t)
	calib := calibRequestOf(t, fields)
	batch := batchRequestOf(readTestdata(t, "api/batch_request.json"))
	missing := batchRequestOf(`{"calib_id": "missing", "screen_width": 10, "screen_height": 10, "iris_tracking_data": [{"left_iris_x":1,"left_iris_y":1,"right_iris_x":1,"right_iris_y":1}]}`)
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"calibration", calib, 200},
		{"batch", batch, 200},
		{"error", missing, 404},
	} {
		req, err := http.NewRequest(c.req.Method, srv.URL+c.req.URL.Path, c.req.Body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = c.req.Header
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v (the answer waited for the log line)", c.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != c.status || int64(len(body)) != resp.ContentLength {
			t.Fatalf("%s: status %d, %d of %d bytes, %v", c.name, resp.StatusCode, len(body), resp.ContentLength, err)
		}
		if strings.Contains(logs.String(), `"msg":"request"`) {
			t.Fatalf("%s: the log line was written before the gate opened", c.name)
		}
	}
}
