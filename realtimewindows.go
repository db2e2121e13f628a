package main

// The realtime validation's memory: the last points of each client, in a
// table bounded in size, whose idle clients expire.

import (
	"math"
	"sync"
	"time"
)

// Bounds of the realtime validation's memory. A window holds
// realtimeWindowPoints points (16 bytes each); at most realtimeMaxClients
// windows are kept, about 1 KB each with the map's overhead, so the table
// never exceeds about 10 MB. A client that sends no point for
// realtimeIdleExpiry loses its window.
const (
	realtimeWindowPoints = 50
	realtimeMaxClients   = 10_000
	realtimeIdleExpiry   = 10 * time.Minute
)

// realtimeWindow is one client's last points, a ring buffer.
type realtimeWindow struct {
	points [realtimeWindowPoints][2]float64
	n      int // points held, up to realtimeWindowPoints
	next   int // where the next point goes
	last   time.Time
}

// realtimeWindows is the table of windows by client. When it is full, a
// new client first sweeps out the expired windows; if none has expired,
// the window idle the longest is dropped.
type realtimeWindows struct {
	mu      sync.Mutex
	now     func() time.Time
	max     int
	idle    time.Duration
	clients map[clientKey]*realtimeWindow
}

func newRealtimeWindows(now func() time.Time, max int, idle time.Duration) *realtimeWindows {
	if now == nil {
		now = time.Now
	}
	return &realtimeWindows{now: now, max: max, idle: idle, clients: make(map[clientKey]*realtimeWindow)}
}

// realtimePrecision is a client's window after a point was added.
type realtimePrecision struct {
	rmsPx  float64 // RMS of the sample-to-sample distances (0 with one point)
	points int
}

// add appends a point to the client's window (a fresh one when the client
// is new or its window expired) and returns the window's precision.
func (t *realtimeWindows) add(key clientKey, x, y float64) realtimePrecision {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	w, ok := t.clients[key]
	if ok && now.Sub(w.last) >= t.idle {
		*w = realtimeWindow{}
	}
	if !ok {
		if len(t.clients) >= t.max {
			t.evict(now)
		}
		w = &realtimeWindow{}
		t.clients[key] = w
	}
	w.points[w.next] = [2]float64{x, y}
	w.next = (w.next + 1) % realtimeWindowPoints
	w.n = min(w.n+1, realtimeWindowPoints)
	w.last = now
	return realtimePrecision{rmsPx: w.rms(), points: w.n}
}

// evict makes room for one client: every expired window goes; if none
// has, the one idle the longest.
func (t *realtimeWindows) evict(now time.Time) {
	var oldest clientKey
	var oldestAt time.Time
	first := true
	for k, w := range t.clients {
		if now.Sub(w.last) >= t.idle {
			delete(t.clients, k)
			continue
		}
		if first || w.last.Before(oldestAt) {
			oldest, oldestAt, first = k, w.last, false
		}
	}
	if len(t.clients) >= t.max {
		delete(t.clients, oldest)
	}
}

// rms is the root mean square of the distances between consecutive points,
// oldest to newest.
func (w *realtimeWindow) rms() float64 {
	if w.n < 2 {
		return 0
	}
	start := (w.next - w.n + realtimeWindowPoints) % realtimeWindowPoints
	var ss float64
	prev := w.points[start]
	for i := 1; i < w.n; i++ {
		p := w.points[(start+i)%realtimeWindowPoints]
		dx, dy := p[0]-prev[0], p[1]-prev[1]
		ss += dx*dx + dy*dy
		prev = p
	}
	return math.Sqrt(ss / float64(w.n-1))
}
