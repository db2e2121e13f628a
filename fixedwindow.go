package main

// The fixed-window counters of one limit: a sharded, bounded, pointer-free
// table of (client key → window end and count).

import (
	"sync"
	"sync/atomic"
)

// windowState packs a client's window into 64 bits: the window's end in
// Unix milliseconds (upper 42 bits, good until 2109) and the hits counted
// in it (lower 22 bits, saturating).
type windowState uint64

const countBits = 22

func packWindow(endMs int64, count uint32) windowState {
	return windowState(uint64(endMs)<<countBits | uint64(count))
}

func (s windowState) endMs() int64 { return int64(s >> countBits) }

func (s windowState) count() uint32 { return uint32(s & (1<<countBits - 1)) }

func (s windowState) expired(now int64) bool { return now >= s.endMs() }

// windowShards is the number of independently locked parts of a table.
const windowShards = 64

// fixedWindow counts hits of one limit per client, Flask-Limiter's
// fixed-window strategy: a client's window starts at its first hit and
// lasts limit.window; every hit counts, allowed or not; the hit is allowed
// while the count is within the limit. Windows have millisecond resolution.
//
// Memory is bounded: the table holds at most maxClients clients, with 16
// bytes of key and state per client (24 for IPv6 prefixes longer than 64
// bits) and no pointers for the garbage collector to scan. Expired windows are swept incrementally (every
// sweepEvery-th new client of a shard inspects a few entries). A client that
// is over its limit is never evicted. When the table is full even after
// sweeping, a new client is counted in the shared overflow window of its
// shard (one more entry per shard at most): new clients then share one quota
// until entries expire, while every tracked client keeps its own count.
// Nobody's quota is ever reset early, and a flood of new addresses cannot
// push out the clients being limited.
type fixedWindow struct {
	limit      rateLimit
	windowMs   int64
	maxClients int64
	tracked    atomic.Int64 // entries over all shards
	shards     [windowShards]windowShard

	reclaiming  sync.Mutex // one reclaim pass at a time
	nextReclaim int        // the shard the next pass starts with; guarded by reclaiming
}

type windowShard struct {
	mu sync.Mutex
	// narrow holds the keys whose lo half is 0 (every IPv4 client and IPv6
	// clients grouped by a prefix of at most 64 bits) by their hi half: 16
	// bytes a slot and the runtime's fast uint64 map paths. wide holds the
	// rest (longer IPv6 prefixes, the overflow key).
	narrow  map[uint64]windowState
	wide    map[clientKey]windowState
	inserts uint32   // new clients seen, to pace the incremental sweep
	_       [36]byte // pads the shard to 64 bytes: neighbouring shards' locks are a cache line apart
}

func (sh *windowShard) get(k clientKey) (windowState, bool) {
	if k.lo == 0 {
		s, ok := sh.narrow[k.hi]
		return s, ok
	}
	s, ok := sh.wide[k]
	return s, ok
}

func (sh *windowShard) put(k clientKey, s windowState) {
	if k.lo == 0 {
		sh.narrow[k.hi] = s
	} else {
		sh.wide[k] = s
	}
}

func (sh *windowShard) len() int { return len(sh.narrow) + len(sh.wide) }

func newFixedWindow(limit rateLimit, maxClients int) *fixedWindow {
	w := &fixedWindow{limit: limit, windowMs: limit.window.Milliseconds()}
	w.maxClients = int64(max(1, maxClients))
	for i := range w.shards {
		w.shards[i].narrow = make(map[uint64]windowState)
		w.shards[i].wide = make(map[clientKey]windowState)
	}
	return w
}

func (w *fixedWindow) shard(k clientKey) *windowShard {
	h := (k.hi ^ k.lo*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	return &w.shards[h>>(64-6)]
}

// Incremental sweeping: every sweepEvery-th new client of a shard inspects
// sweepBudget entries and deletes the expired ones; a new client that finds
// the table full first has up to fullSweepBudget entries inspected.
const (
	sweepEvery      = 32
	sweepBudget     = 32
	fullSweepBudget = 256
)

// hit counts one request of k at nowMs and returns the window's state
// after it. allowed is whether the count is within the limit.
func (w *fixedWindow) hit(k clientKey, nowMs int64) (s windowState, allowed bool) {
	sh := w.shard(k)
	sh.mu.Lock()
	s, ok := sh.get(k)
	if !ok && w.tracked.Load() >= w.maxClients {
		sh.mu.Unlock()
		w.reclaim(nowMs)
		sh.mu.Lock()
		s, ok = sh.get(k)
	}
	if !ok {
		sh.inserts++
		if sh.inserts%sweepEvery == 0 {
			w.sweepShard(sh, nowMs, sweepBudget)
		}
		if w.tracked.Load() >= w.maxClients {
			k = overflowKey
			s, ok = sh.get(k)
		}
		if !ok {
			w.tracked.Add(1)
		}
	}
	switch {
	case ok && !s.expired(nowMs):
		if c := s.count(); c < 1<<countBits-1 {
			s = packWindow(s.endMs(), c+1)
		}
	default:
		s = packWindow(nowMs+w.windowMs, 1)
	}
	sh.put(k, s)
	sh.mu.Unlock()
	return s, s.count() <= w.limit.count
}

// reclaim sweeps expired entries across the shards, at most
// fullSweepBudget of them, while the table is full. One caller reclaims at
// a time; the others go on (and count new clients as overflow).
func (w *fixedWindow) reclaim(nowMs int64) {
	if !w.reclaiming.TryLock() {
		return
	}
	defer w.reclaiming.Unlock()
	budget := fullSweepBudget
	for i := 0; i < windowShards && budget > 0 && w.tracked.Load() >= w.maxClients; i++ {
		sh := &w.shards[w.nextReclaim%windowShards]
		w.nextReclaim++
		sh.mu.Lock()
		n := min(budget, sh.len())
		w.sweepShard(sh, nowMs, n)
		sh.mu.Unlock()
		budget -= max(n, 1)
	}
}

// sweepShard deletes the expired entries among at most budget entries of
// sh (all of them when budget < 0). The caller holds sh.mu.
func (w *fixedWindow) sweepShard(sh *windowShard, nowMs int64, budget int) {
	removed, budget := sweepExpired(sh.narrow, nowMs, budget)
	more, _ := sweepExpired(sh.wide, nowMs, budget)
	w.tracked.Add(int64(-removed - more))
}

// sweepExpired deletes the expired windows among at most budget entries of
// m (all when budget < 0); it returns how many it deleted and the budget left.
func sweepExpired[K comparable](m map[K]windowState, nowMs int64, budget int) (removed, left int) {
	for key, s := range m {
		if budget == 0 {
			break
		}
		budget--
		if s.expired(nowMs) {
			delete(m, key)
			removed++
		}
	}
	return removed, budget
}

// peek returns k's current window without counting a hit.
func (w *fixedWindow) peek(k clientKey, nowMs int64) (windowState, bool) {
	sh := w.shard(k)
	sh.mu.Lock()
	s, ok := sh.get(k)
	sh.mu.Unlock()
	if !ok || s.expired(nowMs) {
		return 0, false
	}
	return s, true
}

// size returns the number of tracked entries.
func (w *fixedWindow) size() int {
	n := 0
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		n += sh.len()
		sh.mu.Unlock()
	}
	return n
}

// sweep removes every expired window; the limiter's janitor calls it.
func (w *fixedWindow) sweep(nowMs int64) {
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		w.sweepShard(sh, nowMs, -1)
		sh.mu.Unlock()
	}
}

func (w *fixedWindow) reset() {
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		w.tracked.Add(int64(-sh.len()))
		clear(sh.narrow)
		clear(sh.wide)
		sh.mu.Unlock()
	}
}
