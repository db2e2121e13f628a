package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// rateLimit is one limit in Flask-Limiter's sense: count requests per
// multiple × unit.
type rateLimit struct {
	count    uint32
	multiple int
	unit     string // second, minute, hour, day, month, year
	window   time.Duration
}

// String is the limit in Flask-Limiter's words: "10 per 1 minute".
func (l rateLimit) String() string {
	return fmt.Sprintf("%d per %d %s", l.count, l.multiple, l.unit)
}

// rateUnits are the granularities of the limits library (a month is 30
// days, a year 365).
var rateUnits = map[string]time.Duration{
	"second": time.Second, "minute": time.Minute, "hour": time.Hour,
	"day": 24 * time.Hour, "month": 30 * 24 * time.Hour, "year": 365 * 24 * time.Hour,
}

// rateLimitItem matches one limit: "10 per minute", "10/minute", "10 per 2 hours".
// It is matched against the ASCII-lowercased text (so "PER" works and no
// Unicode case folding turns "ſ" into "s").
var rateLimitItem = regexp.MustCompile(`^\s*([0-9]+)\s*(?:/|\s+per\s+)\s*([0-9]+)?\s*(second|minute|hour|day|month|year)s?\s*$`)

// maxWindow is the longest window a limit may have (time.Duration reaches
// about 292 years).
const maxWindow = 100 * 365 * 24 * time.Hour

// maxLimitCount is the largest count a limit may allow in one window (the
// packed window state keeps 22 bits of count).
const maxLimitCount = 1 << 20

// parseRateLimits parses Flask-Limiter's limit strings; several limits are
// separated by ";", "," or "|". An empty string means no limit.
func parseRateLimits(s string) ([]rateLimit, error) {
	var out []rateLimit
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == '|' }) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		m := rateLimitItem.FindStringSubmatch(asciiLower(part))
		if m == nil {
			return nil, fmt.Errorf("rate limit %q: want a form such as \"10 per minute\", \"10/minute\" or \"200 per day;50 per hour\"", strings.TrimSpace(part))
		}
		count, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil || count == 0 || count > maxLimitCount {
			return nil, fmt.Errorf("rate limit %q: the count must be from 1 to %d", strings.TrimSpace(part), maxLimitCount)
		}
		multiple := 1
		if m[2] != "" {
			if multiple, err = strconv.Atoi(m[2]); err != nil || multiple < 1 || multiple > 1000 {
				return nil, fmt.Errorf("rate limit %q: the window multiple must be from 1 to 1000", strings.TrimSpace(part))
			}
		}
		unit := m[3]
		if time.Duration(multiple) > maxWindow/rateUnits[unit] {
			return nil, fmt.Errorf("rate limit %q: the window is longer than 100 years", strings.TrimSpace(part))
		}
		out = append(out, rateLimit{count: uint32(count), multiple: multiple, unit: unit, window: time.Duration(multiple) * rateUnits[unit]})
	}
	return out, nil
}

// asciiLower lowercases A–Z only.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

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
	trusted    []netip.Prefix // proxies whose X-Forwarded-For is believed
	ipv6Prefix int            // IPv6 clients are grouped by this prefix length
}

// keyOf returns the key of addr (IPv4-mapped IPv6 counts as IPv4).
func (c clientIdentity) keyOf(addr netip.Addr) clientKey {
	addr = addr.Unmap()
	if addr.Is4() {
		b := addr.As4()
		return clientKey{hi: 0xffffffff_00000000 | uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := addr.As16()
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	switch p := c.ipv6Prefix; {
	case p <= 0:
		hi, lo = 0, 0
	case p < 64:
		hi &= ^uint64(0) << (64 - p)
		lo = 0
	case p < 128:
		lo &= ^uint64(0) << (128 - p)
	}
	return clientKey{hi, lo}
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

// windowState packs a client's window into 64 bits: the window's end in
// Unix milliseconds (upper 42 bits, good until 2109) and the hits counted
// in it (lower 22 bits, saturating).
type windowState uint64

const countBits = 22

func packWindow(endMs int64, count uint32) windowState {
	return windowState(uint64(endMs)<<countBits | uint64(count))
}

func (s windowState) endMs() int64           { return int64(s >> countBits) }
func (s windowState) count() uint32          { return uint32(s & (1<<countBits - 1)) }
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
	_       [28]byte // keep shards on separate cache lines
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

// rateLimitConfig is the limiter's configuration (the RATELIMIT_* names).
type rateLimitConfig struct {
	enabled    bool
	dryRun     bool
	calib      []rateLimit
	predict    []rateLimit
	defaults   []rateLimit
	identity   clientIdentity
	maxClients int
}

// rateLimitFlags holds the raw flag values until parse.
type rateLimitFlags struct {
	enabled, dryRun, calib, predict, defaults, storage, trusted, ipv6, maxClients *string
}

func registerRateLimitFlags(fs *flag.FlagSet, env func(name, def string) string) *rateLimitFlags {
	return &rateLimitFlags{
		enabled:    fs.String("ratelimit-enabled", env("RATELIMIT_ENABLED", "true"), "switch rate limiting on or off (RATELIMIT_ENABLED)"),
		dryRun:     fs.String("ratelimit-dry-run", env("RATELIMIT_DRY_RUN", "false"), "count and log, never block (RATELIMIT_DRY_RUN)"),
		calib:      fs.String("ratelimit-calib", env("RATELIMIT_CALIB", "10 per minute"), "calib_validation limit (RATELIMIT_CALIB)"),
		predict:    fs.String("ratelimit-predict", env("RATELIMIT_PREDICT", "30 per minute"), "batch_predict limit (RATELIMIT_PREDICT)"),
		defaults:   fs.String("ratelimit-default", env("RATELIMIT_DEFAULT", "200 per day;50 per hour"), "limit of every other limited route (RATELIMIT_DEFAULT)"),
		storage:    fs.String("ratelimit-storage-uri", env("RATELIMIT_STORAGE_URI", "memory://"), "counter storage (RATELIMIT_STORAGE_URI)"),
		trusted:    fs.String("ratelimit-trusted-proxies", env("RATELIMIT_TRUSTED_PROXIES", ""), "comma-separated proxy CIDRs whose X-Forwarded-For is believed (RATELIMIT_TRUSTED_PROXIES)"),
		ipv6:       fs.String("ratelimit-ipv6-prefix", env("RATELIMIT_IPV6_PREFIX", "64"), "IPv6 clients are grouped by this prefix length (RATELIMIT_IPV6_PREFIX)"),
		maxClients: fs.String("ratelimit-max-clients", env("RATELIMIT_MAX_CLIENTS", "1000000"), "tracked clients per limit (RATELIMIT_MAX_CLIENTS)"),
	}
}

// parseBool accepts the spellings operators use for booleans.
func parseBool(name, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes", "on":
		return true, nil
	case "0", "f", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%s %q: want true or false", name, s)
}

func (f *rateLimitFlags) parse() (rateLimitConfig, error) {
	var c rateLimitConfig
	var err error
	if c.enabled, err = parseBool("RATELIMIT_ENABLED", *f.enabled); err != nil {
		return c, err
	}
	if c.dryRun, err = parseBool("RATELIMIT_DRY_RUN", *f.dryRun); err != nil {
		return c, err
	}
	for _, l := range []struct {
		name string
		raw  string
		dst  *[]rateLimit
	}{{"RATELIMIT_CALIB", *f.calib, &c.calib}, {"RATELIMIT_PREDICT", *f.predict, &c.predict}, {"RATELIMIT_DEFAULT", *f.defaults, &c.defaults}} {
		if *l.dst, err = parseRateLimits(l.raw); err != nil {
			return c, fmt.Errorf("%s: %w", l.name, err)
		}
	}
	if s := strings.TrimSpace(*f.storage); s != "memory://" && s != "" {
		return c, fmt.Errorf("RATELIMIT_STORAGE_URI %q: this build keeps counters in memory only (memory://)", s)
	}
	for _, cidr := range strings.Split(*f.trusted, ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			a, aerr := netip.ParseAddr(cidr)
			if aerr != nil {
				return c, fmt.Errorf("RATELIMIT_TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", cidr)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.identity.trusted = append(c.identity.trusted, p.Masked())
	}
	if c.identity.ipv6Prefix, err = strconv.Atoi(strings.TrimSpace(*f.ipv6)); err != nil || c.identity.ipv6Prefix < 0 || c.identity.ipv6Prefix > 128 {
		return c, fmt.Errorf("RATELIMIT_IPV6_PREFIX %q: want a prefix length from 0 to 128", *f.ipv6)
	}
	if c.maxClients, err = strconv.Atoi(strings.TrimSpace(*f.maxClients)); err != nil || c.maxClients < 1 {
		return c, fmt.Errorf("RATELIMIT_MAX_CLIENTS %q: want a positive whole number", *f.maxClients)
	}
	return c, nil
}

// rateLimiter applies the configured limits per route and client. The
// clock is injected: now returns the current time (tests pass their own).
type rateLimiter struct {
	cfg rateLimitConfig
	now func() time.Time
	log *slog.Logger

	mu     sync.Mutex
	tables []*fixedWindow // every table made by limit, for reset and sweep
}

// newRateLimiter returns a limiter using now as its clock (time.Now when nil).
func newRateLimiter(cfg rateLimitConfig, now func() time.Time, log *slog.Logger) *rateLimiter {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &rateLimiter{cfg: cfg, now: now, log: log}
}

// Reset forgets every count.
func (l *rateLimiter) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.tables {
		t.reset()
	}
}

// Sweep removes every expired window now (the incremental sweep does this
// a little at a time; a janitor can call Sweep periodically).
func (l *rateLimiter) Sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.tables {
		t.sweep(l.now().UnixMilli())
	}
}

// janitorInterval is how often runJanitor sweeps expired windows.
const janitorInterval = time.Minute

// runJanitor sweeps every table once per janitorInterval until ctx ends, so
// that memory held by clients that went away is returned even when no new
// clients arrive to sweep incrementally.
func (l *rateLimiter) runJanitor(ctx context.Context) {
	t := time.NewTicker(janitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Sweep()
		}
	}
}

// routeLimits is the limiting of one route: its tables, shortest window
// first, and the header values that never change.
type routeLimits struct {
	route    string
	tables   []*fixedWindow
	limitHdr []string // X-RateLimit-Limit values per table
	policy   []string // RateLimit-Policy
	names    []string // policy names per table
}

// limit wraps next with the route's limits. Every request counts, whatever
// its outcome; with several limits the shortest window is checked first
// and a refusal stops the check (Flask-Limiter's order). With limiting
// disabled or no limits, next is returned unchanged.
func (l *rateLimiter) limit(route string, limits []rateLimit, next http.Handler) http.Handler {
	if !l.cfg.enabled || len(limits) == 0 {
		return next
	}
	sorted := append([]rateLimit(nil), limits...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].window < sorted[j].window })
	rl := &routeLimits{route: route}
	var policy []string
	for _, lim := range sorted {
		t := newFixedWindow(lim, l.cfg.maxClients)
		rl.tables = append(rl.tables, t)
		name := fmt.Sprintf("%d-per-%ds", lim.count, int64(lim.window/time.Second))
		rl.names = append(rl.names, name)
		rl.limitHdr = append(rl.limitHdr, strconv.FormatUint(uint64(lim.count), 10))
		policy = append(policy, fmt.Sprintf("%q;q=%d;w=%d", name, lim.count, int64(lim.window/time.Second)))
	}
	rl.policy = []string{strings.Join(policy, ", ")}
	l.mu.Lock()
	l.tables = append(l.tables, rl.tables...)
	l.mu.Unlock()

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := l.now()
		nowMs := now.UnixMilli()
		key := l.cfg.identity.keyOf(l.cfg.identity.clientAddr(r))
		var states [4]windowState
		st := states[:0]
		if len(rl.tables) > len(states) {
			st = make([]windowState, 0, len(rl.tables))
		}
		failed := -1
		for i, t := range rl.tables {
			s, ok := t.hit(key, nowMs)
			st = append(st, s)
			if !ok {
				failed = i
				break
			}
		}
		for i := len(st); i < len(rl.tables); i++ { // not counted after a refusal: report as they stand
			s, ok := rl.tables[i].peek(key, nowMs)
			if !ok {
				s = packWindow(nowMs+rl.tables[i].windowMs, 0)
			}
			st = append(st, s)
		}
		current := failed
		if current < 0 {
			current = 0
			for i := range st {
				if remaining(rl.tables[i], st[i]) < remaining(rl.tables[current], st[current]) {
					current = i
				}
			}
		}
		setRateHeaders(w.Header(), rl, st, current, nowMs)
		if failed < 0 {
			next.ServeHTTP(w, r)
			return
		}
		lim := rl.tables[failed].limit
		if l.cfg.dryRun {
			if st[failed].count() == lim.count+1 {
				l.log.Warn("rate limit exceeded (dry run, not blocked)", "route", route, "client", l.cfg.identity.clientAddr(r).String(), "limit", lim.String())
			}
			next.ServeHTTP(w, r)
			return
		}
		retry := max(1, (st[failed].endMs()-nowMs+999)/1000)
		h := w.Header()
		h.Set("Retry-After", strconv.FormatInt(retry, 10))
		h.Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusTooManyRequests, tooManyRequestsBody{
			Error:      fmt.Sprintf("Too Many Requests: rate limit exceeded (%s)", lim),
			Limit:      lim.String(),
			RetryAfter: retry,
		})
	})
}

// tooManyRequestsBody is the JSON of a 429.
type tooManyRequestsBody struct {
	Error      string `json:"error"`
	Limit      string `json:"limit"`
	RetryAfter int64  `json:"retry_after"`
}

func remaining(t *fixedWindow, s windowState) int64 {
	return max(0, int64(t.limit.count)-int64(s.count()))
}

// rateHeaderValues holds one response's variable rate-limit header values
// in a single allocation: the strings point into buf.
type rateHeaderValues struct {
	vals [3]string
	buf  [112]byte
}

// setRateHeaders sets X-RateLimit-Limit/-Remaining/-Reset for the current
// limit (Reset in Unix seconds, rounded up, as Flask-Limiter sends it) and
// the IETF draft-10 RateLimit-Policy and RateLimit fields for all of them.
// It allocates once.
func setRateHeaders(h http.Header, rl *routeLimits, st []windowState, current int, nowMs int64) {
	hv := new(rateHeaderValues)
	b := hv.buf[:0]
	mark := func(i, start int) {
		if len(b) > len(hv.buf) { // grew past buf: fall back to a copy
			hv.vals[i] = string(b[start:])
			return
		}
		hv.vals[i] = unsafe.String(&hv.buf[start], len(b)-start)
	}
	start := len(b)
	b = strconv.AppendInt(b, remaining(rl.tables[current], st[current]), 10)
	mark(0, start)
	start = len(b)
	b = strconv.AppendInt(b, (st[current].endMs()+999)/1000, 10)
	mark(1, start)
	start = len(b)
	for i, s := range st {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, rl.names[i]...)
		b = append(b, `";r=`...)
		b = strconv.AppendInt(b, remaining(rl.tables[i], s), 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, max(0, (s.endMs()-nowMs+999)/1000), 10)
	}
	mark(2, start)
	h["X-Ratelimit-Limit"] = rl.limitHdr[current : current+1 : current+1]
	h["X-Ratelimit-Remaining"] = hv.vals[0:1:1]
	h["X-Ratelimit-Reset"] = hv.vals[1:2:2]
	h["Ratelimit-Policy"] = rl.policy
	h["Ratelimit"] = hv.vals[2:3:3]
}
