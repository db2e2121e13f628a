package main

// Tests and benchmarks of a route's fixed-window table: counting order,
// sweeping, full levels (clients counted by network, networks sharing an
// overflow), wide keys, cost per client and per network.

import (
	"context"
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// testIdentity groups IPv4 clients by /24 and IPv6 ones by /64 in /48s.
var testIdentity = clientIdentity{ipv6Prefix: 64, ipv4NetPrefix: 24, ipv6NetPrefix: 48}

func keysOfText(s string) requestKeys { return testIdentity.keysOf(netip.MustParseAddr(s)) }

// ipv4Keys returns the keys of 10.a.b.c for i = a<<16|b<<8|c.
func ipv4Keys(first byte, i int) requestKeys {
	return testIdentity.keysOf(netip.AddrFrom4([4]byte{first, byte(i >> 16), byte(i >> 8), byte(i)}))
}

// ipv6Keys returns the keys of the i-th /64 of the /48 2001:db8:net::/48.
func ipv6Keys(net uint16, i int) requestKeys {
	var a [16]byte
	a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7] = 0x20, 0x01, 0x0d, 0xb8, byte(net>>8), byte(net), byte(i>>8), byte(i)
	a[15] = 1
	return testIdentity.keysOf(netip.AddrFrom16(a))
}

func perMinute(n uint32) []rateLimit {
	return []rateLimit{{count: n, multiple: 1, unit: "minute", window: time.Minute}}
}

func countOne[V windowArray](t *routeWindows[V], k requestKeys, nowMs int64) limitResult {
	res, err := t.count(context.Background(), k, nowMs)
	if err != nil {
		panic(err)
	}
	return res
}

// TestCountOrder: the checks are counted shortest window first, client
// before network; a refusal stops the count, and the checks after it are
// reported as they stand.
func TestCountOrder(t *testing.T) {
	set := routeLimitConfig{
		client:  []rateLimit{{count: 5, window: time.Hour}, {count: 2, window: time.Minute}},
		network: []rateLimit{{count: 3, window: time.Minute}, {count: 100, window: time.Hour}},
	}
	checks := newLimitChecks(set)
	var order []string
	for _, c := range checks {
		order = append(order, c.name)
	}
	if got := order; len(got) != 4 || got[0] != "2-per-60s" || got[1] != "network-3-per-60s" || got[2] != "5-per-3600s" || got[3] != "network-100-per-3600s" {
		t.Fatalf("order %v", got)
	}
	w := newRouteWindows[[2]windowState](checks, 100, 100)
	a, b := keysOfText("192.0.2.1"), keysOfText("192.0.2.2")
	now := int64(1_000_000)
	for i := 0; i < 2; i++ {
		if res := countOne(w, a, now); res.failed != -1 {
			t.Fatalf("hit %d of a refused by check %d", i+1, res.failed)
		}
	}
	res := countOne(w, a, now) // the client's minute limit refuses
	if res.failed != 0 || res.states[0].count() != 3 || res.states[1].count() != 2 || res.states[2].count() != 2 {
		t.Fatalf("third hit of a: failed %d, counts %d %d %d", res.failed, res.states[0].count(), res.states[1].count(), res.states[2].count())
	}
	// b shares the network: its first hit is the network's third, allowed;
	// its second the network's fourth, refused at the network level, and
	// its hour window is not counted.
	if res := countOne(w, b, now); res.failed != -1 {
		t.Fatalf("b's first hit refused by %d", res.failed)
	}
	res = countOne(w, b, now)
	if res.failed != 1 || res.states[1].count() != 4 || res.states[2].count() != 1 {
		t.Fatalf("b's second hit: failed %d, network count %d, hour count %d", res.failed, res.states[1].count(), res.states[2].count())
	}
	if s, ok := w.window(2, b[levelClient], b[levelNetwork], now); !ok || s.count() != 1 {
		t.Fatalf("b's hour window %v %v, want 1 hit: the refused request was not counted there", s.count(), ok)
	}
	// A minute later both minute windows begin again, nothing earlier.
	if res := countOne(w, a, now+time.Minute.Milliseconds()-1); res.failed != 0 {
		t.Fatal("a's window reset early")
	}
	if res := countOne(w, a, now+time.Minute.Milliseconds()); res.failed != -1 {
		t.Fatalf("a refused by %d after its window", res.failed)
	}
}

func TestSweepRemovesExpiredWindows(t *testing.T) {
	w := newRouteWindows[[1]windowState](newLimitChecks(routeLimitConfig{client: perMinute(5), network: perMinute(500)}), 10000, 10000)
	now := int64(1_000_000)
	for i := 0; i < 500; i++ { // 500 clients, each in a /24 of its own
		countOne(w, ipv4Keys(10, i<<8), now)
	}
	if w.size(levelClient) != 500 || w.size(levelNetwork) != 500 {
		t.Fatalf("%d clients and %d networks, want 500 and 500", w.size(levelClient), w.size(levelNetwork))
	}
	// Incremental: new clients after the windows expired sweep a few old
	// entries each, so the table shrinks without a full pass.
	later := now + time.Minute.Milliseconds()
	for i := 0; i < 3000; i++ { // in 12 /24s
		countOne(w, ipv4Keys(11, i), later)
	}
	if n := w.size(levelClient); n > 3000+250 {
		t.Fatalf("incremental sweep left %d clients, want most of the 500 expired ones gone", n)
	}
	if n := w.size(levelNetwork); n > 12+250 {
		t.Fatalf("incremental sweep left %d networks, want most of the 500 expired ones gone", n)
	}
	w.sweep(later)
	if n, nets := w.size(levelClient), w.size(levelNetwork); n != 3000 || nets != 12 {
		t.Fatalf("after a full sweep %d clients and %d networks, want the 3000 and 12 live ones", n, nets)
	}
	if c, n := w.trackedKeys(); c != 3000 || n != 12 {
		t.Fatalf("tracked %d and %d, want 3000 and 12", c, n)
	}
}

// TestFullClientLevel: when the client level is full, tracked clients
// keep their own counts (an over-limit client is never evicted), and a new
// client is counted by its network alone, so that a flood of clients from
// one network refuses that network and no other.
func TestFullClientLevel(t *testing.T) {
	const capacity = 64
	w := newRouteWindows[[1]windowState](newLimitChecks(routeLimitConfig{client: perMinute(3), network: perMinute(1000)}), capacity, 1000)
	now := int64(5_000_000)
	limited := ipv6Keys(1, 0)
	for i := 0; i < 5; i++ {
		countOne(w, limited, now)
	}
	for i := 1; i < 5000; i++ { // a flood from 2001:db8:2::/48
		res := countOne(w, ipv6Keys(2, i), now)
		if i > 1000 && res.failed != 1 {
			t.Fatalf("flood request %d: failed %d, want the network level to refuse", i, res.failed)
		}
	}
	if n := w.size(levelClient); n > capacity {
		t.Fatalf("client level holds %d entries, cap %d", n, capacity)
	}
	if s, ok := w.window(0, limited[levelClient], limited[levelNetwork], now); !ok || s.count() != 5 {
		t.Fatalf("the over-limit client lost its count: %d %v", s.count(), ok)
	}
	if res := countOne(w, limited, now); res.failed != 0 {
		t.Fatal("the over-limit client was let through after the flood")
	}
	// New clients of other networks: not tracked, counted by their network.
	for _, k := range []requestKeys{ipv6Keys(3, 7), keysOfText("198.51.100.7")} {
		for i := 0; i < 5; i++ {
			res := countOne(w, k, now)
			if res.failed != -1 || res.states[0] != 0 || res.states[1].count() != uint32(i+1) {
				t.Fatalf("new client %x after the flood, hit %d: failed %d, states %v", k, i+1, res.failed, res.states[:2])
			}
		}
	}
	// Once windows expire, new clients get entries of their own again.
	later := now + time.Minute.Milliseconds()
	k := keysOfText("203.0.113.9")
	if res := countOne(w, k, later); res.states[0].count() != 1 {
		t.Fatalf("a new client after expiry was not tracked: %v", res.states[:2])
	}
}

// TestFullNetworkLevel: when the network level is full too, tracked
// networks keep their own counts and new networks share the overflow entry
// of their shard.
func TestFullNetworkLevel(t *testing.T) {
	const capacity = 64
	w := newRouteWindows[[1]windowState](newLimitChecks(routeLimitConfig{client: perMinute(3), network: perMinute(4)}), capacity, capacity)
	now := int64(5_000_000)
	first := ipv4Keys(192, 0)
	for i := 0; i < 6; i++ {
		countOne(w, first, now)
	}
	for i := 1; i < 5000; i++ { // 5000 networks
		countOne(w, ipv4Keys(192, i<<8), now)
	}
	if n := w.size(levelNetwork); n > capacity+windowShards {
		t.Fatalf("network level holds %d entries, cap %d (+1 overflow per shard)", n, capacity)
	}
	if s, ok := w.window(1, first[levelNetwork], first[levelNetwork], now); !ok || s.count() != 3 { // the client level refused the last three
		t.Fatalf("the first network lost its count: %d %v", s.count(), ok)
	}
	// New networks in the first network's shard share its overflow quota.
	sh := w.shard(first[levelNetwork])
	refused := false
	for i, n := 0, 0; i < 1<<16 && n < 6; i++ {
		k := ipv4Keys(100, i<<8)
		if w.shard(k[levelNetwork]) != sh {
			continue
		}
		n++
		refused = countOne(w, k, now+1).failed == 1
	}
	if !refused {
		t.Fatal("new networks of a full level were not sharing the overflow quota")
	}
}

// TestWideKeysCountAndSweep: clients keyed by more than 64 bits (IPv6
// prefixes over /64) are counted and swept like the others.
func TestWideKeysCountAndSweep(t *testing.T) {
	id := clientIdentity{ipv6Prefix: 128, ipv6NetPrefix: 128}
	w := newRouteWindows[[1]windowState](newLimitChecks(routeLimitConfig{client: perMinute(2), network: perMinute(2)}), 1000, 1000)
	a, b := id.keysOf(netip.MustParseAddr("2001:db8::1")), id.keysOf(netip.MustParseAddr("2001:db8::2"))
	if a[levelClient].lo == 0 || b[levelNetwork].lo == 0 {
		t.Fatal("test keys are not wide")
	}
	for i, want := range []int{-1, -1, 0} {
		if res := countOne(w, a, 1000); res.failed != want {
			t.Fatalf("hit %d of a: failed %d", i+1, res.failed)
		}
	}
	if res := countOne(w, b, 1000); res.failed != -1 {
		t.Fatal("b limited by a's count")
	}
	if w.size(levelClient) != 2 || w.size(levelNetwork) != 2 {
		t.Fatalf("%d clients, %d networks, want 2 and 2", w.size(levelClient), w.size(levelNetwork))
	}
	w.sweep(1000 + time.Minute.Milliseconds())
	if c, n := w.trackedKeys(); w.size(levelClient) != 0 || c != 0 || n != 0 {
		t.Fatalf("after the sweep: %d entries, tracked %d and %d", w.size(levelClient), c, n)
	}
}

// TestShardIsOneCacheLine: a shard is padded to 64 bytes, so neighbouring
// shards' locks never share a cache line.
func TestShardIsOneCacheLine(t *testing.T) {
	if n := unsafe.Sizeof(windowShard[[2]windowState]{}); n != 64 {
		t.Errorf("windowShard is %d bytes, want 64", n)
	}
}

func BenchmarkRouteWindowsExistingClient(b *testing.B) {
	w := newRouteWindows[[2]windowState](newLimitChecks(routeLimitConfig{
		client:  []rateLimit{{count: maxLimitCount, window: time.Hour}, {count: maxLimitCount, window: 24 * time.Hour}},
		network: []rateLimit{{count: maxLimitCount, window: time.Hour}, {count: maxLimitCount, window: 24 * time.Hour}},
	}), 1_000_000, 1_000_000)
	k := keysOfText("192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.count(context.Background(), k, 1_000_000)
	}
}

// BenchmarkRouteWindowsDistinctClients counts up to 1,000,000 distinct
// clients (run with -benchtime=1000000x) of a route with two limits (the
// default's) and reports the heap per tracked key: with every client in a
// network of its own, half IPv4 /24s, half IPv6 /48s (bytes per client and
// its network), and with 1,000,000 IPv6 /64s in 256 /48s (bytes per
// client: the networks' share is negligible).
func BenchmarkRouteWindowsDistinctClients(b *testing.B) {
	const clients = 1_000_000
	two := []rateLimit{{count: 10, window: time.Hour}, {count: 100, window: 24 * time.Hour}}
	ipv6 := func(hi uint64) requestKeys {
		var a [16]byte
		binary.BigEndian.PutUint64(a[:8], hi)
		a[15] = 1
		return testIdentity.keysOf(netip.AddrFrom16(a))
	}
	for _, tc := range []struct {
		name, metric string
		keyOf        func(i int) requestKeys
	}{
		{"own-networks", "bytes/client+network", func(i int) requestKeys {
			if i%2 == 0 {
				return testIdentity.keysOf(netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, 0x0a000001+uint32(i)<<8))))
			}
			return ipv6(0x20010db8_0000_0000 + uint64(i)<<16)
		}},
		{"shared-networks", "bytes/client", func(i int) requestKeys {
			return ipv6(0x20010db8_0000_0000 | uint64(i%256)<<16 | uint64(i/256))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			keys := make([]requestKeys, clients)
			for i := range keys {
				keys[i] = tc.keyOf(i)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			w := newRouteWindows[[2]windowState](newLimitChecks(routeLimitConfig{client: two, network: two}), clients, clients)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.count(context.Background(), keys[i%clients], 1_000_000)
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			if c, n := w.trackedKeys(); c > 0 {
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(c), tc.metric)
				b.ReportMetric(float64(c), "clients")
				b.ReportMetric(float64(n), "networks")
			}
			runtime.KeepAlive(w)
			runtime.KeepAlive(keys)
		})
	}
}
