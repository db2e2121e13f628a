package main

// Tests of the limiter's storage interface and the in-memory store: check
// order and names, a table per route whatever its number of limits, and
// the store-wide reset, sweep and counts.

import (
	"context"
	"testing"
	"time"
)

func TestLimitChecks(t *testing.T) {
	client, err := parseRateLimits("200 per day;50 per hour")
	if err != nil {
		t.Fatal(err)
	}
	checks := newLimitChecks(routeLimitConfig{client: client, network: []rateLimit{{count: 5000, window: time.Hour}, {count: 20000, window: 24 * time.Hour}}})
	want := []struct {
		name  string
		level limitLevel
	}{{"50-per-3600s", levelClient}, {"network-5000-per-3600s", levelNetwork}, {"200-per-86400s", levelClient}, {"network-20000-per-86400s", levelNetwork}}
	if len(checks) != len(want) {
		t.Fatalf("%d checks", len(checks))
	}
	for i, w := range want {
		if checks[i].name != w.name || checks[i].level != w.level || checks[i].windowMs != checks[i].limit.window.Milliseconds() {
			t.Errorf("check %d: %+v, want %s at the %v level", i, checks[i], w.name, w.level)
		}
	}
}

// TestMemoryLimitStore: every route gets a table sized to its limits (one
// to four per level); reset, sweep and the tracked counts cover them all.
func TestMemoryLimitStore(t *testing.T) {
	m := newMemoryLimitStore(100, 100)
	var counters []limitCounter
	for n := 1; n <= maxRouteLimits; n++ {
		var limits []rateLimit
		for i := 0; i < n; i++ {
			limits = append(limits, rateLimit{count: 1, window: time.Duration(i+1) * time.Minute})
		}
		counters = append(counters, m.counter("route", newLimitChecks(routeLimitConfig{client: limits, network: limits})))
	}
	k := keysOfText("192.0.2.1")
	now := int64(1_000_000)
	for n, c := range counters {
		for hit, want := range []int{-1, 0} {
			res, err := c.count(context.Background(), k, now)
			if err != nil || res.failed != want {
				t.Fatalf("%d limits, hit %d: failed %d (%v), want %d", n+1, hit+1, res.failed, err, want)
			}
			if n == maxRouteLimits-1 && hit == 0 && res.states[2*maxRouteLimits-1].count() != 1 {
				t.Fatalf("the last check was not counted: %v", res.states)
			}
		}
	}
	if c, nets := m.tracked(); c != maxRouteLimits || nets != maxRouteLimits {
		t.Fatalf("tracked %d clients and %d networks, want %d each", c, nets, maxRouteLimits)
	}
	m.sweep(now + maxRouteLimits*time.Minute.Milliseconds())
	if c, nets := m.tracked(); c != 0 || nets != 0 {
		t.Fatalf("after the sweep: tracked %d and %d", c, nets)
	}
	counters[0].count(context.Background(), k, now)
	if err := m.reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, nets := m.tracked(); c != 0 || nets != 0 {
		t.Fatalf("after reset: tracked %d and %d", c, nets)
	}
	if res, _ := counters[0].count(context.Background(), k, now); res.failed != -1 {
		t.Fatal("still limited after reset")
	}
}
