package main

// Where the limiter's counters live: the interface that counts one request
// against all of a route's (level, limit) checks at once, and the
// in-memory store behind it (one bounded table per route).

import (
	"context"
	"sort"
	"strconv"
	"sync"
)

// limitLevel is what a check counts: the client or its network.
type limitLevel uint8

const (
	levelClient limitLevel = iota
	levelNetwork
	levels // the number of levels
)

func (l limitLevel) String() string {
	if l == levelNetwork {
		return "network"
	}
	return "client"
}

// maxRouteLimits is how many limits one route may have; each is checked
// at both levels.
const maxRouteLimits = 4

// maxChecks bounds the (level, limit) checks of a route.
const maxChecks = maxRouteLimits * int(levels)

// limitCheck is one (level, limit) pair of a route.
type limitCheck struct {
	level    limitLevel
	limit    rateLimit
	windowMs int64
	name     string // the policy name in the RateLimit headers: "10-per-60s", "network-1000-per-60s"
}

// newLimitChecks orders a route's checks as they are counted: shortest
// window first, a client's limit before its network's of the same window.
func newLimitChecks(set routeLimitConfig) []limitCheck {
	var checks []limitCheck
	for level, limits := range [levels][]rateLimit{levelClient: set.client, levelNetwork: set.network} {
		for _, lim := range limits {
			c := limitCheck{level: limitLevel(level), limit: lim, windowMs: lim.window.Milliseconds()}
			c.name = strconv.FormatUint(uint64(lim.count), 10) + "-per-" + strconv.FormatInt(c.windowMs/1000, 10) + "s"
			if c.level == levelNetwork {
				c.name = "network-" + c.name
			}
			checks = append(checks, c)
		}
	}
	sort.SliceStable(checks, func(i, j int) bool { return checks[i].windowMs < checks[j].windowMs })
	return checks
}

// limitResult is the outcome of counting one request: the window of each
// check after it, and which check refused the request.
type limitResult struct {
	// states holds each check's window after the request: counted up to
	// and including a refusal, as they stand after it. A zero state means
	// the request was not counted at that check's level (a new client
	// that found the client table full is counted by its network only).
	states [maxChecks]windowState
	failed int // the refusing check, −1 when every check allowed the request
}

// limitStore keeps the counters of every route.
type limitStore interface {
	// counter returns the counter of one route's checks (in the order
	// newLimitChecks gives, at most maxChecks); it is called once per
	// route, at start-up.
	counter(route string, checks []limitCheck) limitCounter
	// reset forgets every count; sweep drops the windows over by nowMs.
	reset(ctx context.Context) error
	sweep(nowMs int64)
	// tracked returns how many clients and networks have a window.
	tracked() (clients, networks int64)
	Close() error
}

// limitCounter counts the requests of one route.
type limitCounter interface {
	// count counts one request under keys against the route's checks in
	// order, stopping at the first refusal (the checks after it are not
	// counted), and returns every check's window. An error means the
	// counters could not be reached; nothing is known about the request.
	count(ctx context.Context, keys requestKeys, nowMs int64) (limitResult, error)
}

// memoryLimitStore keeps the counters in this process: a bounded table
// per route (see routeWindows for what happens when one is full).
type memoryLimitStore struct {
	maxClients, maxNetworks int

	mu     sync.Mutex
	tables []memoryTable // every route's, for reset, sweep and tracked
}

// memoryTable is a route's table as the store sees it.
type memoryTable interface {
	limitCounter
	reset()
	sweep(nowMs int64)
	trackedKeys() (clients, networks int64)
}

func newMemoryLimitStore(maxClients, maxNetworks int) *memoryLimitStore {
	return &memoryLimitStore{maxClients: maxClients, maxNetworks: maxNetworks}
}

func (m *memoryLimitStore) counter(_ string, checks []limitCheck) limitCounter {
	var per [levels]int
	for _, c := range checks {
		per[c.level]++
	}
	var t memoryTable
	switch max(per[levelClient], per[levelNetwork]) {
	case 0, 1:
		t = newRouteWindows[[1]windowState](checks, m.maxClients, m.maxNetworks)
	case 2:
		t = newRouteWindows[[2]windowState](checks, m.maxClients, m.maxNetworks)
	case 3:
		t = newRouteWindows[[3]windowState](checks, m.maxClients, m.maxNetworks)
	default:
		t = newRouteWindows[[maxRouteLimits]windowState](checks, m.maxClients, m.maxNetworks)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tables = append(m.tables, t)
	return t
}

func (m *memoryLimitStore) reset(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tables {
		t.reset()
	}
	return nil
}

func (m *memoryLimitStore) sweep(nowMs int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tables {
		t.sweep(nowMs)
	}
}

func (m *memoryLimitStore) tracked() (clients, networks int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tables {
		c, n := t.trackedKeys()
		clients += c
		networks += n
	}
	return clients, networks
}

func (m *memoryLimitStore) Close() error { return nil }
