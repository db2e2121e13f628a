package main

// Tests of the realtime validation's windows: the RMS over the last points,
// expiry of idle clients on an injected clock, and the bound on clients.

import (
	"math"
	"testing"
	"time"
)

func TestRealtimeWindowRMS(t *testing.T) {
	clock := newTestClock()
	ws := newRealtimeWindows(clock.Now, 10, time.Minute)
	a := clientKey{hi: 1}
	if p := ws.add(a, 0, 0); p.rmsPx != 0 || p.points != 1 {
		t.Fatalf("one point: %+v, want RMS 0 of 1 point", p)
	}
	ws.add(a, 3, 4) // step 5
	if p := ws.add(a, 3, 4); p.points != 3 || math.Abs(p.rmsPx-math.Sqrt(25.0/2)) > 1e-12 {
		t.Fatalf("steps 5 and 0: %+v, want RMS √(25/2)", p)
	}
	// Only the last 50 points count: after 60 points alternating by 1 px
	// then one 10 px jump, the window holds 49 steps of 1 px and the jump.
	b := clientKey{hi: 2}
	for i := 0; i < 60; i++ {
		ws.add(b, float64(i%2), 0)
	}
	p := ws.add(b, 10, 0) // the previous point is x = 1
	want := math.Sqrt((48*1 + 81) / 49.0)
	if p.points != realtimeWindowPoints || math.Abs(p.rmsPx-want) > 1e-12 {
		t.Fatalf("full window: %+v, want %d points, RMS %g", p, realtimeWindowPoints, want)
	}
}

func TestRealtimeWindowsExpireAndAreBounded(t *testing.T) {
	clock := newTestClock()
	ws := newRealtimeWindows(clock.Now, 3, time.Minute)
	k := func(i uint64) clientKey { return clientKey{hi: i} }
	ws.add(k(1), 0, 0)
	ws.add(k(1), 1, 0)
	clock.Advance(59 * time.Second)
	if p := ws.add(k(1), 2, 0); p.points != 3 {
		t.Fatalf("within the idle time: %d points, want 3", p.points)
	}
	clock.Advance(time.Minute)
	if p := ws.add(k(1), 5, 5); p.points != 1 || p.rmsPx != 0 {
		t.Fatalf("after a minute idle: %+v, want a fresh window", p)
	}
	// Three clients fill the table; a fourth drops the one idle longest.
	clock.Advance(time.Second)
	ws.add(k(2), 0, 0)
	clock.Advance(time.Second)
	ws.add(k(3), 0, 0)
	clock.Advance(time.Second)
	ws.add(k(1), 6, 6) // client 1 is now the most recent
	ws.add(k(4), 0, 0)
	if len(ws.clients) != 3 {
		t.Fatalf("%d clients held, the bound is 3", len(ws.clients))
	}
	if _, ok := ws.clients[k(2)]; ok {
		t.Fatal("the client idle the longest was kept")
	}
	if p := ws.add(k(1), 6, 6); p.points != 3 {
		t.Fatalf("a recent client lost its window: %d points", p.points)
	}
	// Once everyone is idle past the expiry, a new client sweeps them all.
	clock.Advance(2 * time.Minute)
	ws.add(k(5), 0, 0)
	if len(ws.clients) != 1 {
		t.Fatalf("%d clients after the sweep, want 1", len(ws.clients))
	}
	for i := uint64(10); i < 1000; i++ {
		ws.add(k(i), 0, 0)
		if len(ws.clients) > 3 {
			t.Fatalf("%d clients held, the bound is 3", len(ws.clients))
		}
	}
}
