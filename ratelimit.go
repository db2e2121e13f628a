package main

// The rate limiter: Flask-Limiter's fixed windows per client and route, as
// HTTP middleware with its headers and 429 answer, and its settings.

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

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
		enabled:    boolFlag(fs, "ratelimit-enabled", env("RATELIMIT_ENABLED", "true"), "switch rate limiting on or off (RATELIMIT_ENABLED)"),
		dryRun:     boolFlag(fs, "ratelimit-dry-run", env("RATELIMIT_DRY_RUN", "false"), "count and log, never block (RATELIMIT_DRY_RUN)"),
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
	routes []*routeLimits // every limited route, for the metrics
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
	rl := newRouteLimits(route, limits, l.cfg.maxClients)
	l.mu.Lock()
	l.tables = append(l.tables, rl.tables...)
	l.routes = append(l.routes, rl)
	l.mu.Unlock()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nowMs := l.now().UnixMilli()
		key := l.cfg.identity.keyOf(l.cfg.identity.clientAddr(r))
		var buf [4]windowState
		st, failed, current := rl.count(key, nowMs, buf[:0])
		setRateHeaders(w.Header(), rl, st, current, nowMs)
		if failed < 0 {
			noteLimiterOutcome(r, "allowed")
			next.ServeHTTP(w, r)
			return
		}
		l.refuse(w, r, rl.route, rl.tables[failed].limit, st[failed], nowMs, next)
	})
}

// newRouteLimits builds the tables of a route's limits, shortest window
// first, and the header values that never change.
func newRouteLimits(route string, limits []rateLimit, maxClients int) *routeLimits {
	sorted := append([]rateLimit(nil), limits...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].window < sorted[j].window })
	rl := &routeLimits{route: route}
	var policy []string
	for _, lim := range sorted {
		rl.tables = append(rl.tables, newFixedWindow(lim, maxClients))
		name := fmt.Sprintf("%d-per-%ds", lim.count, int64(lim.window/time.Second))
		rl.names = append(rl.names, name)
		rl.limitHdr = append(rl.limitHdr, strconv.FormatUint(uint64(lim.count), 10))
		policy = append(policy, fmt.Sprintf("%q;q=%d;w=%d", name, lim.count, int64(lim.window/time.Second)))
	}
	rl.policy = []string{strings.Join(policy, ", ")}
	return rl
}

// count counts one request of key at nowMs against the route's limits in
// order, stopping at the first refusal, and returns every limit's window
// (appended to st; those after a refusal as they stand, uncounted), the
// index of the refusing limit (−1 when allowed) and the limit the
// X-RateLimit headers report: the refusing one, else the one with the
// fewest requests left.
func (rl *routeLimits) count(key clientKey, nowMs int64, st []windowState) (states []windowState, failed, current int) {
	failed = -1
	for i, t := range rl.tables {
		s, ok := t.hit(key, nowMs)
		st = append(st, s)
		if !ok {
			failed = i
			break
		}
	}
	for i := len(st); i < len(rl.tables); i++ {
		s, ok := rl.tables[i].peek(key, nowMs)
		if !ok {
			s = packWindow(nowMs+rl.tables[i].windowMs, 0)
		}
		st = append(st, s)
	}
	if failed >= 0 {
		return st, failed, failed
	}
	current = 0
	for i := range st {
		if remaining(rl.tables[i], st[i]) < remaining(rl.tables[current], st[current]) {
			current = i
		}
	}
	return st, failed, current
}

// refuse answers a request over lim: 429 with Retry-After, or, in dry-run
// mode, a log line (once per window) and next.
func (l *rateLimiter) refuse(w http.ResponseWriter, r *http.Request, route string, lim rateLimit, s windowState, nowMs int64, next http.Handler) {
	if l.cfg.dryRun {
		noteLimiterOutcome(r, "dry_run")
		if s.count() == lim.count+1 {
			l.log.Warn("rate limit exceeded (dry run, not blocked)", "route", route, "client", l.cfg.identity.clientAddr(r).String(), "limit", lim.String())
		}
		next.ServeHTTP(w, r)
		return
	}
	noteLimiterOutcome(r, "refused")
	retry := max(1, (s.endMs()-nowMs+999)/1000)
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(retry, 10))
	h.Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusTooManyRequests, tooManyRequestsBody{
		Error:      fmt.Sprintf("Too Many Requests: rate limit exceeded (%s)", lim),
		Limit:      lim.String(),
		RetryAfter: retry,
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

// noteLimiterOutcome tells the access log what the limiter decided; it
// does nothing (and allocates nothing) outside withAccessLog.
func noteLimiterOutcome(r *http.Request, outcome string) {
	if rec, ok := r.Context().Value(recordKey{}).(*requestRecord); ok {
		rec.limiter = outcome
	}
}

// registerMetrics exposes the clients tracked per route and limit.
func (l *rateLimiter) registerMetrics(m *metricsRegistry) {
	m.gauge("eyetrack_ratelimit_tracked_clients", "Clients with a window in the limiter's table, by route and limit.", func() []metricSample {
		l.mu.Lock()
		defer l.mu.Unlock()
		var out []metricSample
		for _, rl := range l.routes {
			for _, t := range rl.tables {
				out = append(out, metricSample{labels: []string{"route", rl.route, "limit", t.limit.String()}, value: float64(t.tracked.Load())})
			}
		}
		return out
	})
}
