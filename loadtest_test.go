//go:build loadtest

package main

// Tests of the load generator (built with -tags loadtest).

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadTestShort runs the load test for 3 s on 20 connections against
// an in-process server: no status outside 200/400/404/429/503, no
// transport error, and the limiter must have seen the clients apart (some
// 429s next to 200s on the limited routes).
func TestLoadTestShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3 s load test (skipped with -short)")
	}
	var out bytes.Buffer
	err := runLoadTest(t.Context(), []string{"-spawn", "-duration", "3s", "-connections", "20"}, &out)
	report := out.String()
	t.Logf("report:\n%s", report)
	if err != nil {
		t.Fatalf("loadtest: %v", err)
	}
	for _, want := range []string{"unexpected statuses: none", "transport errors: 0", "malformed 200 bodies: 0", "result:      PASS"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	statuses := map[int]int{}
	for _, line := range strings.Split(report, "\n") {
		rest, ok := strings.CutPrefix(line, "statuses:")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			code, n, _ := strings.Cut(kv, "=")
			c, err1 := strconv.Atoi(code)
			v, err2 := strconv.Atoi(n)
			if err1 != nil || err2 != nil {
				t.Fatalf("statuses line %q", line)
			}
			statuses[c] = v
		}
	}
	for code := range statuses {
		if code != 200 && code != 429 && code != 503 { // no deliberately bad requests by default
			t.Errorf("status %d in the report", code)
		}
	}
	if statuses[200] == 0 || statuses[429] == 0 {
		t.Errorf("statuses %v: want both 200s and 429s (clients told apart by X-Forwarded-For)", statuses)
	}
	batch := routeRow(t, report, loadBatch.String())
	if batch["200"] == 0 {
		t.Errorf("batch_predict: no 200 in %v", batch)
	}
}

// routeRow parses the report's table row of route: the counts by column.
func routeRow(t *testing.T, report, route string) map[string]int {
	t.Helper()
	cols := []string{"requests", "req/s", "200", "400", "404", "429", "503", "other", "errors", "p50", "p90", "p99", "max"}
	for _, line := range strings.Split(report, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), route)
		if !ok || name != "" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != len(cols) {
			t.Fatalf("row %q has %d columns", line, len(f))
		}
		row := map[string]int{}
		for i, c := range cols {
			if n, err := strconv.Atoi(f[i]); err == nil {
				row[c] = n
			}
		}
		return row
	}
	t.Fatalf("no row for %s in the report", route)
	return nil
}

// TestLoadTestRefusesRemoteTargets: the load generator accepts loopback
// targets only, before sending anything, and its dialer refuses any
// non-loopback address it is handed (checked before connect, so nothing
// leaves the machine).
func TestLoadTestRefusesRemoteTargets(t *testing.T) {
	for _, addr := range []string{
		"http://10.0.0.1:5000", "192.168.1.10:5000", "http://example.com", "http://[2001:db8::1]:5000",
		"http://127.0.0.1.example.com:5000", "https://127.0.0.1:5000", "http://0.0.0.0:5000",
	} {
		err := runLoadTest(t.Context(), []string{"-addr", addr, "-duration", "1s", "-connections", "1"}, io.Discard)
		if err == nil {
			t.Errorf("%s: accepted", addr)
		}
	}
	for _, addr := range []string{"http://127.0.0.1:5000", "127.0.0.2:8080", "http://[::1]:5000", "http://localhost:5000", "http://[::ffff:127.0.0.1]:80"} {
		if _, err := loopbackTarget(addr); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if err := runLoadTest(t.Context(), []string{"-spawn", "-addr", "http://127.0.0.1:5000"}, io.Discard); err == nil {
		t.Error("-spawn with -addr accepted")
	}
	var dials atomic.Int64
	dial := loopbackDialer(&dials)
	for _, addr := range []string{"192.0.2.1:80", "[2001:db8::1]:80"} {
		conn, err := dial(t.Context(), "tcp", addr)
		if err == nil {
			conn.Close()
			t.Errorf("the dialer connected to %s", addr)
		} else if !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("dialing %s: %v, want a loopback refusal", addr, err)
		}
	}
}

// TestLoadTestLatencyHistogram: quantiles are within the 1 % bucket width
// of the exact nearest-rank values.
func TestLoadTestLatencyHistogram(t *testing.T) {
	var h latencyHistogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * 100 * time.Microsecond) // 0.1 ms to 100 ms
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*1.0101 {
			t.Errorf("p%v = %v, want %v to +1%%", c.q*100, got, c.want)
		}
	}
	if time.Duration(h.max.Load()) != 100*time.Millisecond {
		t.Errorf("max %v", time.Duration(h.max.Load()))
	}
}

// TestCompareTwoBuilds: compare starts two server binaries (here the same
// build twice), sends every calibration and the batch to both, and prints
// a row per case with both medians and their ratio; bad arguments are
// refused with the usage.
func TestCompareTwoBuilds(t *testing.T) {
	bin := e2eBinary(t)
	var out bytes.Buffer
	if err := runCompare(t.Context(), []string{"-rounds", "2", "-batches", "1", bin, bin}, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(servedModels(modelSpecs()), "batch_predict") {
		found := false
		for _, line := range strings.Split(out.String(), "\n") {
			fields := strings.Fields(strings.TrimPrefix(line, name))
			if strings.HasPrefix(line, name+" ") && len(fields) == 3 {
				if _, err := strconv.ParseFloat(fields[2], 64); err == nil {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("no row for %s with two medians and a ratio in:\n%s", name, out.String())
		}
	}
	for _, args := range [][]string{{}, {bin}, {"-rounds", "0", bin, bin}} {
		if err := runCompare(t.Context(), args, io.Discard); err == nil {
			t.Errorf("compare %q: no error", args)
		}
	}
}
