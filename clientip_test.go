package main

// Tests of client identity: address parsing, X-Forwarded-For from trusted
// proxies, IPv6 grouping, no allocation, fuzzing.

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// fuzzIdentity trusts the proxies of the rate-limit tests.
func fuzzIdentity(ipv6Prefix int) clientIdentity {
	return clientIdentity{ipv6Prefix: ipv6Prefix, trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
}

// addressesIn returns every address text s could denote: s parsed as an
// address or as address:port, IPv4-mapped addresses unmapped.
func addressesIn(s string) []netip.Addr {
	s = strings.TrimSpace(s)
	var out []netip.Addr
	if a, err := netip.ParseAddr(s); err == nil {
		out = append(out, a.Unmap())
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		out = append(out, ap.Addr().Unmap())
	}
	return out
}

func FuzzClientAddr(f *testing.F) {
	f.Fuzz(func(t *testing.T, remote, xff string, ipv6Prefix byte) {
		id := fuzzIdentity(int(ipv6Prefix) % 129)
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var values []string
		if xff != "" {
			values = strings.Split(xff, "\n") // one header value per line
			r.Header["X-Forwarded-For"] = values
		}
		got := id.clientAddr(r)

		if a, ok := parseIPv4Port(remote); ok { // the fast path accepts only what netip does, as netip does
			if ap, err := netip.ParseAddrPort(remote); err != nil || ap.Addr() != a {
				t.Fatalf("parseIPv4Port(%q) = %v; netip: %v, %v", remote, a, ap, err)
			}
		}

		key := id.keyOf(got)
		if key == overflowKey {
			t.Fatalf("keyOf(%v) with /%d is the overflow key", got, id.ipv6Prefix)
		}
		if got.IsValid() && !got.Unmap().Is4() && key.hi>>32 == 0xffffffff {
			t.Fatalf("IPv6 client %v has key %x, in the IPv4 key space (e.g. %v)", got, key, netip.AddrFrom4([4]byte{byte(key.hi >> 24), byte(key.hi >> 16), byte(key.hi >> 8), byte(key.hi)}))
		}

		peer, peerOK := parseHostAddr(remote)
		if !peerOK {
			if got.IsValid() {
				t.Fatalf("unparsable peer %q gave client %v", remote, got)
			}
			return
		}
		if !got.IsValid() {
			t.Fatalf("peer %q parsed as %v but the client is invalid", remote, peer)
		}
		peerTrusted := false
		for _, p := range id.trusted {
			peerTrusted = peerTrusted || p.Contains(peer)
		}
		if !peerTrusted && got != peer {
			t.Fatalf("untrusted peer %v: client %v taken from X-Forwarded-For %q", peer, got, xff)
		}
		candidates := addressesIn(remote)
		for _, v := range values {
			for _, hop := range strings.Split(v, ",") {
				candidates = append(candidates, addressesIn(hop)...)
			}
		}
		found := false
		for _, c := range candidates {
			found = found || c == got
		}
		if !found {
			t.Fatalf("client %v appears neither as the peer %q nor in X-Forwarded-For %q", got, remote, xff)
		}
	})
}

// TestClientAddrDoesNotAllocate holds clientAddr to its doc comment: the
// rate limiter calls it on every request and it does not allocate.
func TestClientAddrDoesNotAllocate(t *testing.T) {
	id := fuzzIdentity(64)
	tests := []struct{ name, remote, xff string }{
		{"untrusted IPv4 peer", "192.0.2.1:51234", "203.0.113.9"},
		{"IPv6 peer", "[2001:db8::1]:443", ""},
		{"trusted chain", "10.0.0.1:80", "198.51.100.7, 203.0.113.1:5555 , 10.9.9.9"},
		{"trusted IPv6 proxy, mapped hop", "[fd00::1]:80", "::ffff:203.0.113.1"},
		{"all hops trusted", "10.0.0.1:80", "10.0.0.2, 10.9.9.9"},
		{"garbage hop", "10.0.0.1:80", "203.0.113.1, garbage"},
		{"unparsable peer", "not-an-address", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if n := testing.AllocsPerRun(200, func() { id.clientAddr(r) }); n != 0 {
				t.Errorf("clientAddr(%q, %q) allocates %v times per call", tc.remote, tc.xff, n)
			}
		})
	}
}

func TestClientAddressParsing(t *testing.T) {
	id := clientIdentity{ipv6Prefix: 64, trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	tests := []struct {
		remote string
		xff    string
		want   string
	}{
		{"192.0.2.1:80", "", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "", "192.0.2.1"},
		{"[2001:db8::1]:80", "", "2001:db8::1"},
		{"192.0.2.1:80", "203.0.113.1", "192.0.2.1"},
		{"10.0.0.1:80", "203.0.113.1", "203.0.113.1"},
		{"10.0.0.1:80", "203.0.113.1, 10.9.9.9", "203.0.113.1"},
		{"10.0.0.1:80", "10.0.0.2, 10.9.9.9", "10.0.0.2"},
		{"10.0.0.1:80", "garbage, 203.0.113.1", "203.0.113.1"},
		{"10.0.0.1:80", "203.0.113.1, garbage", "10.0.0.1"},
		{"10.0.0.1:80", " , 203.0.113.1:5555 ,", "203.0.113.1"},
		{"[fd00::1]:80", "[2001:db8::7]:443", "2001:db8::7"},
		{"10.0.0.1:80", "::ffff:203.0.113.1", "203.0.113.1"},
		{"not-an-address", "", "invalid IP"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := id.clientAddr(r).String(); got != tc.want {
			t.Errorf("%s / %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// TestParseIPv4Port: the fast path for "a.b.c.d:port" agrees with netip on
// the edge cases (and declines what it does not take).
func TestParseIPv4Port(t *testing.T) {
	for _, s := range []string{
		"1.2.3.4:80", "0.0.0.0:0", "255.255.255.255:65535", "1.2.3.4:65536", "1.2.3.4:", "1.2.3.4", "01.2.3.4:1",
		"1.2.3.04:1", "256.1.1.1:1", "1.2.3:4", "1.2.3.4.5:6", "1.2.3.4:+1", "1.2.3.4:00080", "1.2.3.4:1a", "1.2.3.4567:8", " 1.2.3.4:1",
	} {
		a, ok := parseIPv4Port(s)
		ap, err := netip.ParseAddrPort(s)
		if ok && (err != nil || ap.Addr() != a) {
			t.Errorf("%q: fast path %v, netip %v %v", s, a, ap, err)
		}
		if !ok && err == nil && len(s)-strings.LastIndexByte(s, ':') <= 6 && ap.Addr().Is4() && s[0] != ' ' {
			t.Errorf("%q: declined a plain IPv4 address and port that netip takes", s)
		}
	}
}

func TestIPv6GroupingAndMappedIPv4(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_CALIB": "2 per minute"})
	s.do(cheapCalib(), "[2001:db8:1:2::1]:5000")
	s.do(cheapCalib(), "[2001:db8:1:2:ffff::9]:5000")
	if rec := s.do(cheapCalib(), "[2001:db8:1:2:abcd::]:5000"); rec.Code != 429 {
		t.Fatalf("third address of one /64: %d, want 429", rec.Code)
	}
	if rec := s.do(cheapCalib(), "[2001:db8:1:3::1]:5000"); rec.Code == 429 {
		t.Fatal("the next /64 was limited")
	}
	s.do(cheapCalib(), "192.0.2.50:1")
	s.do(cheapCalib(), "[::ffff:192.0.2.50]:1")
	if rec := s.do(cheapCalib(), "192.0.2.50:2"); rec.Code != 429 {
		t.Fatalf("IPv4 and IPv4-mapped IPv6 counted apart: %d", rec.Code)
	}

	id := clientIdentity{ipv6Prefix: 48}
	a := id.keyOf(netip.MustParseAddr("2001:db8:1:2::1"))
	b := id.keyOf(netip.MustParseAddr("2001:db8:1:ffff::1"))
	c := id.keyOf(netip.MustParseAddr("2001:db8:2::1"))
	if a != b || a == c {
		t.Errorf("/48 grouping: %v %v %v", a, b, c)
	}
	full := clientIdentity{ipv6Prefix: 128}
	if full.keyOf(netip.MustParseAddr("2001:db8::1")) == full.keyOf(netip.MustParseAddr("2001:db8::2")) {
		t.Error("/128 grouped two addresses")
	}
	if id.keyOf(netip.MustParseAddr("255.255.255.255")) == overflowKey {
		t.Error("an address maps to the overflow key")
	}
}

// TestNetworkKeys: clients are grouped into networks by the network
// prefixes, IPv4 and IPv6 apart, and prefixOf names both levels.
func TestNetworkKeys(t *testing.T) {
	id := clientIdentity{ipv6Prefix: 64, ipv4NetPrefix: 24, ipv6NetPrefix: 48}
	keys := func(s string) requestKeys { return id.keysOf(netip.MustParseAddr(s)) }
	a, b, c := keys("192.0.2.1"), keys("192.0.2.254"), keys("192.0.3.1")
	if a[levelClient] == b[levelClient] || a[levelNetwork] != b[levelNetwork] || a[levelNetwork] == c[levelNetwork] {
		t.Errorf("IPv4 /24 grouping: %x %x %x", a, b, c)
	}
	d, e, f := keys("2001:db8:1:2::1"), keys("2001:db8:1:ffff::1"), keys("2001:db8:2::1")
	if d[levelClient] == e[levelClient] || d[levelNetwork] != e[levelNetwork] || d[levelNetwork] == f[levelNetwork] {
		t.Errorf("IPv6 /48 grouping: %x %x %x", d, e, f)
	}
	if keys("0.0.0.0")[levelNetwork] == keys("::")[levelNetwork] {
		t.Error("an IPv4 and an IPv6 network share a key")
	}
	for _, tc := range []struct {
		addr  string
		level limitLevel
		want  string
	}{
		{"192.0.2.7", levelClient, "192.0.2.7"}, {"192.0.2.7", levelNetwork, "192.0.2.0/24"},
		{"::ffff:192.0.2.7", levelNetwork, "192.0.2.0/24"},
		{"2001:db8:1:2::7", levelClient, "2001:db8:1:2::/64"}, {"2001:db8:1:2::7", levelNetwork, "2001:db8:1::/48"},
	} {
		if got := id.prefixOf(netip.MustParseAddr(tc.addr), tc.level); got != tc.want {
			t.Errorf("prefixOf(%s, %v) = %s, want %s", tc.addr, tc.level, got, tc.want)
		}
	}
	if got := id.prefixOf(netip.Addr{}, levelNetwork); got != "unknown" {
		t.Errorf("prefixOf(zero) = %q", got)
	}
}
