package main

// Tests and benchmarks of the fixed-window table: sweeping, the full-table
// policy, wide keys, cost per client.

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

func TestSweepRemovesExpiredWindows(t *testing.T) {
	w := newFixedWindow(rateLimit{count: 5, window: time.Minute}, 10000)
	id := clientIdentity{ipv6Prefix: 64}
	now := int64(1_000_000)
	for i := 0; i < 500; i++ {
		w.hit(id.keyOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), now)
	}
	if w.size() != 500 {
		t.Fatalf("%d entries, want 500", w.size())
	}
	// Incremental: new clients after the windows expired sweep a few old
	// entries each, so the table shrinks without a full pass.
	later := now + time.Minute.Milliseconds()
	for i := 0; i < 3000; i++ {
		w.hit(id.keyOf(netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)})), later)
	}
	if n := w.size(); n > 3000+250 {
		t.Fatalf("incremental sweep left %d entries, want most of the 500 expired ones gone", n)
	}
	w.sweep(later)
	if n := w.size(); n != 3000 {
		t.Fatalf("after a full sweep %d entries, want the 3000 live ones", n)
	}
}

// TestFullTable: when the table is full, tracked clients keep their own
// counts (an over-limit client is never evicted), and new clients share
// one overflow quota until windows expire.
func TestFullTable(t *testing.T) {
	const capacity = 64
	w := newFixedWindow(rateLimit{count: 3, window: time.Minute}, capacity)
	id := clientIdentity{ipv6Prefix: 64}
	now := int64(5_000_000)
	var tracked []clientKey
	for i := 0; len(tracked) < 2000 && i < 100000; i++ {
		k := id.keyOf(netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)}))
		tracked = append(tracked, k)
		w.hit(k, now)
	}
	if n := w.size(); n > capacity+windowShards {
		t.Fatalf("table holds %d entries, cap %d (+1 overflow per shard)", n, capacity)
	}
	// Pick a client that was tracked (inserted first into its shard) and
	// push it over its limit.
	first := tracked[0]
	for i := 0; i < 5; i++ {
		w.hit(first, now)
	}
	if _, ok := w.hit(first, now); ok {
		t.Fatal("over-limit client allowed")
	}
	// Many new clients: the over-limit one is never evicted.
	for i := 0; i < 5000; i++ {
		w.hit(id.keyOf(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})), now)
	}
	if s, ok := w.peek(first, now); !ok || s.count() < 7 {
		t.Fatalf("over-limit client lost its count: %v %v", s.count(), ok)
	}
	// New clients in a full shard share the overflow window: the 4th new
	// client of that shard is refused.
	sh := w.shard(first)
	refused := false
	for i, n := 0, 0; i < 100000 && n < 4; i++ {
		k := id.keyOf(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}))
		if w.shard(k) != sh {
			continue
		}
		n++
		_, ok := w.hit(k, now+1)
		refused = !ok
	}
	if !refused {
		t.Fatal("new clients of a full shard were not sharing the overflow quota")
	}
	// Once windows expire, new clients get entries of their own again.
	later := now + time.Minute.Milliseconds()
	k := id.keyOf(netip.MustParseAddr("100.100.100.100"))
	if _, ok := w.hit(k, later); !ok {
		t.Fatal("a new client after expiry was refused")
	}
	if _, ok := w.peek(k, later); !ok {
		t.Fatal("a new client after expiry was not tracked")
	}
}

func BenchmarkFixedWindowExistingClient(b *testing.B) {
	w := newFixedWindow(rateLimit{count: maxLimitCount, window: time.Hour}, 1_000_000)
	k := clientIdentity{ipv6Prefix: 64}.keyOf(netip.MustParseAddr("192.0.2.1"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.hit(k, 1_000_000)
	}
}

// BenchmarkFixedWindowDistinctClients inserts up to 1,000,000 distinct
// clients (run with -benchtime=1000000x) and reports the heap each tracked
// client costs.
func BenchmarkFixedWindowDistinctClients(b *testing.B) {
	const clients = 1_000_000
	keys := make([]clientKey, clients)
	id := clientIdentity{ipv6Prefix: 64}
	for i := range keys {
		if i%2 == 0 {
			keys[i] = id.keyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		} else {
			var a [16]byte
			a[0], a[1], a[4], a[5], a[6], a[7] = 0x20, 0x01, byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
			keys[i] = id.keyOf(netip.AddrFrom16(a))
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := newFixedWindow(rateLimit{count: 10, window: time.Hour}, clients)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.hit(keys[i%clients], 1_000_000)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := w.size(); n > 0 {
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/client")
		b.ReportMetric(float64(n), "clients")
	}
	runtime.KeepAlive(w)
}

// TestWideKeysCountAndSweep: clients keyed by more than 64 bits (IPv6
// prefixes over /64) are counted and swept like the others.
func TestWideKeysCountAndSweep(t *testing.T) {
	id := clientIdentity{ipv6Prefix: 128}
	w := newFixedWindow(rateLimit{count: 2, window: time.Minute}, 1000)
	a, b := id.keyOf(netip.MustParseAddr("2001:db8::1")), id.keyOf(netip.MustParseAddr("2001:db8::2"))
	if a.lo == 0 || b.lo == 0 {
		t.Fatal("test keys are not wide")
	}
	for i, want := range []bool{true, true, false} {
		if _, ok := w.hit(a, 1000); ok != want {
			t.Fatalf("hit %d of a: allowed %v", i+1, ok)
		}
	}
	if _, ok := w.hit(b, 1000); !ok {
		t.Fatal("b limited by a's count")
	}
	if w.size() != 2 {
		t.Fatalf("%d entries, want 2", w.size())
	}
	w.sweep(1000 + time.Minute.Milliseconds())
	if w.size() != 0 || w.tracked.Load() != 0 {
		t.Fatalf("after the sweep: %d entries, tracked %d", w.size(), w.tracked.Load())
	}
}

// TestShardIsOneCacheLine: a shard is padded to 64 bytes, so neighbouring
// shards' locks never share a cache line.
func TestShardIsOneCacheLine(t *testing.T) {
	if n := unsafe.Sizeof(windowShard{}); n != 64 {
		t.Errorf("windowShard is %d bytes, want 64", n)
	}
}
