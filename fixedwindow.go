package main

// The in-memory fixed-window counters of one route: a sharded, bounded,
// pointer-free table of client → its windows and network → its windows.

import (
	"context"
	"sync"
	"sync/atomic"
)

// windowState packs a window into 64 bits: its end in Unix milliseconds
// (upper 42 bits, good until 2109) and the hits counted in it (lower 22
// bits, saturating). Zero is "no window".
type windowState uint64

const countBits = 22

func packWindow(endMs int64, count uint32) windowState {
	return windowState(uint64(endMs)<<countBits | uint64(count))
}

func (s windowState) endMs() int64 { return int64(s >> countBits) }

func (s windowState) count() uint32 { return uint32(s & (1<<countBits - 1)) }

func (s windowState) expired(now int64) bool { return now >= s.endMs() }

// windowArray is the windows of one key: one per limit of its level, in
// the route's check order.
type windowArray interface {
	[1]windowState | [2]windowState | [3]windowState | [4]windowState
}

// windowShards is the number of independently locked parts of a table.
const windowShards = 64

// routeWindows counts one route's requests, Flask-Limiter's fixed-window
// strategy: a key's window starts at its first hit and lasts its limit's
// window; every hit counts, allowed or not; the hit is allowed while the
// count is within the limit. Windows have millisecond resolution.
//
// A request is counted under its client's key and its network's; both
// entries live in the shard of the network, so one lock covers the whole
// count, and each entry holds all of its level's windows (one map lookup
// per level). The checks are counted in the route's order and a refusal
// stops the count.
//
// Memory is bounded: at most maxKeys[level] keys per level, each with 8
// bytes of key (16 for IPv6 prefixes longer than 64 bits) and 8 bytes per
// window, and no pointers for the garbage collector to scan. Expired
// entries are swept incrementally (every sweepEvery-th new key has a few
// entries of one shard inspected, the shards in turn), by the janitor, and
// when a level is full. A key that is over its limit is never evicted and
// nobody's quota is ever reset early, so a flood of new addresses cannot
// push out the keys being limited. When a level is full even after
// sweeping, a new client is not counted at the client level (its network's
// count alone limits it), and a new network is counted in the shared
// overflow entry of its shard (one more entry per shard at most: new
// networks then share one quota per shard until entries expire, while every
// tracked network keeps its own).
type routeWindows[V windowArray] struct {
	checks  []limitCheck
	index   []int // per check, its window's index in its level's entry
	maxKeys [levels]int64
	tracked [levels]atomic.Int64 // entries per level over all shards
	shards  [windowShards]windowShard[V]

	inserts   atomic.Uint32 // new keys, to pace the incremental sweep
	sweepNext atomic.Uint32 // the shard the incremental sweep visits next

	reclaiming  sync.Mutex // one reclaim pass at a time
	nextReclaim int        // the shard the next pass starts with; guarded by reclaiming
}

type windowShard[V windowArray] struct {
	mu sync.Mutex
	// narrow holds the keys whose lo half is 0 (every IPv4 key and IPv6
	// prefixes of at most 64 bits) by their hi half: the runtime's fast
	// uint64 map paths. wide holds the rest (longer IPv6 prefixes, the
	// overflow key).
	narrow [levels]map[uint64]V
	wide   [levels]map[clientKey]V
	_      [24]byte // pads the shard to 64 bytes: neighbouring shards' locks are a cache line apart
}

func (sh *windowShard[V]) get(lv limitLevel, k clientKey) (V, bool) {
	if k.lo == 0 {
		v, ok := sh.narrow[lv][k.hi]
		return v, ok
	}
	v, ok := sh.wide[lv][k]
	return v, ok
}

func (sh *windowShard[V]) put(lv limitLevel, k clientKey, v V) {
	if k.lo == 0 {
		sh.narrow[lv][k.hi] = v
	} else {
		sh.wide[lv][k] = v
	}
}

func (sh *windowShard[V]) len(lv limitLevel) int { return len(sh.narrow[lv]) + len(sh.wide[lv]) }

// newRouteWindows returns the table of checks (ordered as newLimitChecks
// orders them, at most len(V) per level).
func newRouteWindows[V windowArray](checks []limitCheck, maxClients, maxNetworks int) *routeWindows[V] {
	t := &routeWindows[V]{checks: checks}
	t.maxKeys[levelClient], t.maxKeys[levelNetwork] = int64(max(1, maxClients)), int64(max(1, maxNetworks))
	var next [levels]int
	for _, c := range checks {
		t.index = append(t.index, next[c.level])
		next[c.level]++
	}
	for i := range t.shards {
		for lv := range levels {
			t.shards[i].narrow[lv] = make(map[uint64]V)
			t.shards[i].wide[lv] = make(map[clientKey]V)
		}
	}
	return t
}

// shard returns the shard of a network key.
func (t *routeWindows[V]) shard(network clientKey) *windowShard[V] {
	h := (network.hi ^ network.lo*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	return &t.shards[h>>(64-6)]
}

// Incremental sweeping: every sweepEvery-th new key has sweepBudget entries
// of each level of one shard (the next in turn) inspected and the expired
// ones deleted; a new key that finds its level full first has up to
// fullSweepBudget entries inspected.
const (
	sweepEvery      = 32
	sweepBudget     = 32
	fullSweepBudget = 256
)

// count counts one request under keys (see limitCounter).
func (t *routeWindows[V]) count(_ context.Context, keys requestKeys, nowMs int64) (limitResult, error) {
	res := limitResult{failed: -1}
	sh := t.shard(keys[levelNetwork])
	sh.mu.Lock()
	var ent [levels]V
	var have, counted [levels]bool
	ent[levelClient], have[levelClient] = sh.get(levelClient, keys[levelClient])
	ent[levelNetwork], have[levelNetwork] = sh.get(levelNetwork, keys[levelNetwork])
	if (!have[levelClient] && t.full(levelClient)) || (!have[levelNetwork] && t.full(levelNetwork)) {
		sh.mu.Unlock()
		t.reclaim(nowMs)
		sh.mu.Lock()
		ent[levelClient], have[levelClient] = sh.get(levelClient, keys[levelClient])
		ent[levelNetwork], have[levelNetwork] = sh.get(levelNetwork, keys[levelNetwork])
	}
	untracked := !have[levelClient] && t.full(levelClient)
	if !have[levelNetwork] && t.full(levelNetwork) {
		keys[levelNetwork] = overflowKey
		ent[levelNetwork], have[levelNetwork] = sh.get(levelNetwork, overflowKey)
	}
	i := 0
	for ; i < len(t.checks) && res.failed < 0; i++ {
		c := &t.checks[i]
		if c.level == levelClient && untracked {
			continue // state 0: not counted at this level
		}
		s := ent[c.level][t.index[i]]
		switch {
		case s == 0 || s.expired(nowMs):
			s = packWindow(nowMs+c.windowMs, 1)
		case s.count() < 1<<countBits-1:
			s = packWindow(s.endMs(), s.count()+1)
		}
		ent[c.level][t.index[i]] = s
		counted[c.level] = true
		res.states[i] = s
		if s.count() > c.limit.count {
			res.failed = i
		}
	}
	for ; i < len(t.checks); i++ { // after a refusal: the windows as they stand
		c := &t.checks[i]
		if s := ent[c.level][t.index[i]]; c.level == levelNetwork || !untracked {
			if s == 0 || s.expired(nowMs) {
				s = packWindow(nowMs+c.windowMs, 0)
			}
			res.states[i] = s
		}
	}
	sweepDue := false
	for lv := range levels {
		if counted[lv] {
			sh.put(lv, keys[lv], ent[lv])
			if !have[lv] && t.inserted(lv) {
				sweepDue = true
			}
		}
	}
	sh.mu.Unlock()
	if sweepDue {
		t.sweepSome(nowMs)
	}
	return res, nil
}

// full reports whether level lv holds its most keys.
func (t *routeWindows[V]) full(lv limitLevel) bool { return t.tracked[lv].Load() >= t.maxKeys[lv] }

// inserted accounts for a new key of level lv (its shard locked), and
// reports whether the incremental sweep is due: every sweepEvery-th new key.
func (t *routeWindows[V]) inserted(lv limitLevel) (sweepDue bool) {
	t.tracked[lv].Add(1)
	return t.inserts.Add(1)%sweepEvery == 0
}

// sweepSome sweeps sweepBudget entries of each level of the next shard in
// turn (unless that shard is busy), so that the memory of clients that
// left is returned as new ones come, whichever shards they use.
func (t *routeWindows[V]) sweepSome(nowMs int64) {
	sh := &t.shards[t.sweepNext.Add(1)%windowShards]
	if !sh.mu.TryLock() {
		return
	}
	for lv := range levels {
		t.sweepShard(sh, lv, nowMs, sweepBudget)
	}
	sh.mu.Unlock()
}

// reclaim sweeps expired entries across the shards, at most
// fullSweepBudget of them, while a level is full. One caller reclaims at a
// time; the others go on (and find the level full).
func (t *routeWindows[V]) reclaim(nowMs int64) {
	if !t.reclaiming.TryLock() {
		return
	}
	defer t.reclaiming.Unlock()
	budget := fullSweepBudget
	for i := 0; i < windowShards && budget > 0 && (t.full(levelClient) || t.full(levelNetwork)); i++ {
		sh := &t.shards[t.nextReclaim%windowShards]
		t.nextReclaim++
		sh.mu.Lock()
		for lv := range levels {
			if t.full(lv) {
				n := min(budget, sh.len(lv))
				t.sweepShard(sh, lv, nowMs, n)
				budget -= max(n, 1)
			}
		}
		sh.mu.Unlock()
	}
}

// sweepShard deletes the expired entries of level lv among at most budget
// entries of sh (all of them when budget < 0). The caller holds sh.mu.
func (t *routeWindows[V]) sweepShard(sh *windowShard[V], lv limitLevel, nowMs int64, budget int) {
	removed, budget := sweepExpired(sh.narrow[lv], nowMs, budget)
	more, _ := sweepExpired(sh.wide[lv], nowMs, budget)
	t.tracked[lv].Add(int64(-removed - more))
}

// sweepExpired deletes the entries of m whose windows are all over, among
// at most budget entries (all when budget < 0); it returns how many it
// deleted and the budget left.
func sweepExpired[K comparable, V windowArray](m map[K]V, nowMs int64, budget int) (removed, left int) {
	for key, v := range m {
		if budget == 0 {
			break
		}
		budget--
		if allExpired(v, nowMs) {
			delete(m, key)
			removed++
		}
	}
	return removed, budget
}

// allExpired reports whether every window of v is over (or never began).
func allExpired[V windowArray](v V, nowMs int64) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != 0 && !v[i].expired(nowMs) {
			return false
		}
	}
	return true
}

// window returns the window of check i for key (the level's key) as it
// stands, without counting; ok is false when there is none.
func (t *routeWindows[V]) window(i int, key, network clientKey, nowMs int64) (s windowState, ok bool) {
	sh := t.shard(network)
	sh.mu.Lock()
	v, found := sh.get(t.checks[i].level, key)
	sh.mu.Unlock()
	if s = v[t.index[i]]; !found || s == 0 || s.expired(nowMs) {
		return 0, false
	}
	return s, true
}

// size returns the number of entries of level lv.
func (t *routeWindows[V]) size(lv limitLevel) int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += sh.len(lv)
		sh.mu.Unlock()
	}
	return n
}

// sweep removes every expired entry; the limiter's janitor calls it.
func (t *routeWindows[V]) sweep(nowMs int64) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for lv := range levels {
			t.sweepShard(sh, lv, nowMs, -1)
		}
		sh.mu.Unlock()
	}
}

func (t *routeWindows[V]) reset() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for lv := range levels {
			t.tracked[lv].Add(int64(-sh.len(lv)))
			clear(sh.narrow[lv])
			clear(sh.wide[lv])
		}
		sh.mu.Unlock()
	}
}

func (t *routeWindows[V]) trackedKeys() (clients, networks int64) {
	return t.tracked[levelClient].Load(), t.tracked[levelNetwork].Load()
}
