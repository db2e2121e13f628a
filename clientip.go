package main

// Who a request is counted against: the client's address (the socket peer, or
// X-Forwarded-For from trusted proxies) reduced to compact keys, one for the
// client and one for its network.

import (
	"encoding/binary"
	"math"
	"net/http"
	"net/netip"
	"strings"
)

// clientKey identifies a client: an IPv4 address, or an IPv6 address
// masked to the configured prefix. It is pointer-free and 16 bytes.
//
// IPv4 a.b.c.d is stored as hi = 0xffffffff_00000000 | a.b.c.d, lo = 0:
// that /64 lies in IPv6 multicast (ff00::/8), which is never a source
// address and which parseHostAddr refuses, so no IPv6 client can share a
// key with an IPv4 one.
type clientKey struct{ hi, lo uint64 }

// overflowKey is the shared key of clients that find a full table (see
// fixedWindow); no address maps to it.
var overflowKey = clientKey{hi: math.MaxUint64, lo: math.MaxUint64}

// clientIdentity derives client keys from requests.
type clientIdentity struct {
	trusted       []netip.Prefix // proxies whose X-Forwarded-For is believed
	ipv6Prefix    int            // IPv6 clients are grouped by this prefix length
	ipv4NetPrefix int            // IPv4 networks: addresses grouped by this prefix length
	ipv6NetPrefix int            // IPv6 networks (at most ipv6Prefix)
}

// requestKeys are the keys a request is counted under, by level: the
// client's and its network's.
type requestKeys [levels]clientKey

// keysOf returns the client and network keys of addr. A network key is the
// client key masked to the network prefix, in the same encoding.
func (c clientIdentity) keysOf(addr netip.Addr) requestKeys {
	k := c.keyOf(addr)
	n := k
	if k.hi>>32 == 0xffffffff { // IPv4
		n.hi &= ^uint64(0) << (32 - min(32, max(0, c.ipv4NetPrefix)))
		n.hi |= 0xffffffff_00000000
	} else {
		n = maskKey(k, c.ipv6NetPrefix)
	}
	return requestKeys{levelClient: k, levelNetwork: n}
}

// maskKey keeps the first bits of an IPv6 key.
func maskKey(k clientKey, bits int) clientKey {
	switch {
	case bits <= 0:
		return clientKey{}
	case bits < 64:
		return clientKey{hi: k.hi & (^uint64(0) << (64 - bits))}
	case bits < 128:
		return clientKey{hi: k.hi, lo: k.lo & (^uint64(0) << (128 - bits))}
	}
	return k
}

// prefixOf returns the client or network of addr at level, as text for
// messages and Redis keys: "192.0.2.7", "192.0.2.0/24", "2001:db8:1:2::/64".
func (c clientIdentity) prefixOf(addr netip.Addr, level limitLevel) string {
	if !addr.IsValid() { // an unparsable peer
		return "unknown"
	}
	addr = addr.Unmap()
	bits := c.ipv6Prefix
	switch {
	case addr.Is4() && level == levelClient:
		return addr.String()
	case addr.Is4():
		bits = c.ipv4NetPrefix
	case level == levelNetwork:
		bits = c.ipv6NetPrefix
	}
	p, _ := addr.Prefix(min(max(bits, 0), addr.BitLen())) // bits is within range
	return p.String()
}

// keyOf returns the key of addr (IPv4-mapped IPv6 counts as IPv4).
func (c clientIdentity) keyOf(addr netip.Addr) clientKey {
	addr = addr.Unmap()
	if addr.Is4() {
		b := addr.As4()
		return clientKey{hi: 0xffffffff_00000000 | uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := addr.As16()
	return maskKey(clientKey{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}, c.ipv6Prefix)
}

func (c clientIdentity) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr parses "ip", "ip:port" or "[ip]:port". Multicast and
// unspecified addresses are refused: they are never a client's source. It
// does not allocate for well-formed input, nor for text with characters no
// address has (netip's parse errors allocate, so those are caught first).
func parseHostAddr(s string) (netip.Addr, bool) {
	if a, ok := parseIPv4Port(s); ok { // the common peer address, without netip's general parser
		return a, !a.IsMulticast() && !a.IsUnspecified()
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F', c == '.', c == ':', c == '[', c == ']', c == '%':
		default:
			if !(c > ' ' && c < 0x7f && strings.IndexByte(s[:i], '%') >= 0) { // zone names may hold other characters
				return netip.Addr{}, false
			}
		}
	}
	withPort := s[0] == '['
	if !withPort {
		if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
			withPort = true // exactly one colon: IPv4 with a port
		}
	}
	var a netip.Addr
	if withPort {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	} else {
		var err error
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, false
		}
	}
	a = a.Unmap()
	if a.IsMulticast() || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a, true
}

// parseIPv4Port parses "a.b.c.d:port" as netip.ParseAddrPort would, or
// declines (ok false) and leaves the text to it: fields of one to three
// digits without leading zeros, each at most 255, and a port of one to
// five digits, at most 65535.
func parseIPv4Port(s string) (a netip.Addr, ok bool) {
	var ip [4]byte
	i := 0
	for f := 0; f < 4; f++ {
		if i >= len(s) || s[i]-'0' > 9 {
			return netip.Addr{}, false
		}
		v := uint(s[i] - '0')
		i++
		for n := 1; n < 3 && i < len(s) && s[i]-'0' <= 9; n++ {
			if v == 0 { // a leading zero
				return netip.Addr{}, false
			}
			v = v*10 + uint(s[i]-'0')
			i++
		}
		sep := byte('.')
		if f == 3 {
			sep = ':'
		}
		if v > 255 || i >= len(s) || s[i] != sep {
			return netip.Addr{}, false
		}
		ip[f] = byte(v)
		i++
	}
	if n := len(s) - i; n < 1 || n > 5 {
		return netip.Addr{}, false
	}
	port := uint(0)
	for ; i < len(s); i++ {
		if s[i]-'0' > 9 {
			return netip.Addr{}, false
		}
		port = port*10 + uint(s[i]-'0')
	}
	return netip.AddrFrom4(ip), port <= 65535
}

// clientAddr returns the address a request is counted against: the socket
// peer, unless the peer is a trusted proxy; then X-Forwarded-For is walked
// from the right, skipping trusted hops, and the first untrusted address is
// the client. If every hop is trusted the leftmost one is used; an
// unparsable entry stops the walk at the last good hop (a trusted proxy
// wrote it, so nothing to its left can be believed). It does not allocate.
func (c clientIdentity) clientAddr(r *http.Request) netip.Addr {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if len(c.trusted) == 0 || !c.isTrusted(peer) {
		return peer
	}
	client := peer
	values := r.Header["X-Forwarded-For"]
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for end := len(v); end > 0; {
			start := strings.LastIndexByte(v[:end], ',') + 1
			hop := strings.TrimSpace(v[start:end])
			end = start - 1
			if hop == "" {
				continue
			}
			a, ok := parseHostAddr(hop)
			if !ok {
				return client
			}
			client = a
			if !c.isTrusted(a) {
				return a
			}
		}
	}
	return client
}
