package main

// The rate limiter: Flask-Limiter's fixed windows per route, client and
// network, as HTTP middleware with its headers and 429 answer, and its
// settings.

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// rateLimitConfig is the limiter's configuration (the RATELIMIT_* names).
type rateLimitConfig struct {
	enabled     bool
	dryRun      bool
	calib       routeLimitConfig
	predict     routeLimitConfig
	defaults    routeLimitConfig
	identity    clientIdentity
	maxClients  int // tracked clients per route
	maxNetworks int // tracked networks per route

	redis      *redisOptions // counters in Redis (RATELIMIT_STORAGE_URI); nil: in memory
	keyPrefix  string        // Redis keys start with it and a colon
	failClosed bool          // when the storage fails: refuse (503), else let requests through
}

// routeLimitConfig is one route's limits, per client and per network.
type routeLimitConfig struct {
	client, network []rateLimit
}

// defaultNetworkMultiplier: unless set, a network's limit is its client's
// limit times this, so that a network allows as much as this many clients
// each at their own limit (a classroom of 50 behind one /24, every
// participant calibrating and predicting at once, stays within half of it).
const defaultNetworkMultiplier = 100

// rateLimitFlags holds the raw flag values until parse.
type rateLimitFlags struct {
	enabled, dryRun, calib, predict, defaults, storage, trusted, ipv6, maxClients *string
	netCalib, netPredict, netDefaults, multiplier, ipv4Net, ipv6Net, maxNetworks  *string
	failure, keyPrefix                                                            *string
}

func registerRateLimitFlags(fs *flag.FlagSet, env func(name, def string) string) *rateLimitFlags {
	return &rateLimitFlags{
		enabled:     boolFlag(fs, "ratelimit-enabled", env("RATELIMIT_ENABLED", "true"), "switch rate limiting on or off (RATELIMIT_ENABLED)"),
		dryRun:      boolFlag(fs, "ratelimit-dry-run", env("RATELIMIT_DRY_RUN", "false"), "count and log, never block (RATELIMIT_DRY_RUN)"),
		calib:       fs.String("ratelimit-calib", env("RATELIMIT_CALIB", "10 per minute"), "calib_validation limit per client (RATELIMIT_CALIB)"),
		predict:     fs.String("ratelimit-predict", env("RATELIMIT_PREDICT", "30 per minute"), "batch_predict limit per client (RATELIMIT_PREDICT)"),
		defaults:    fs.String("ratelimit-default", env("RATELIMIT_DEFAULT", "200 per day;50 per hour"), "limit per client of every other limited route (RATELIMIT_DEFAULT)"),
		netCalib:    fs.String("ratelimit-network-calib", env("RATELIMIT_NETWORK_CALIB", ""), "calib_validation limit per network; empty: the client's limit times RATELIMIT_NETWORK_MULTIPLIER (RATELIMIT_NETWORK_CALIB)"),
		netPredict:  fs.String("ratelimit-network-predict", env("RATELIMIT_NETWORK_PREDICT", ""), "batch_predict limit per network; empty: the client's limit times RATELIMIT_NETWORK_MULTIPLIER (RATELIMIT_NETWORK_PREDICT)"),
		netDefaults: fs.String("ratelimit-network-default", env("RATELIMIT_NETWORK_DEFAULT", ""), "limit per network of every other limited route; empty: the client's limits times RATELIMIT_NETWORK_MULTIPLIER (RATELIMIT_NETWORK_DEFAULT)"),
		multiplier:  fs.String("ratelimit-network-multiplier", env("RATELIMIT_NETWORK_MULTIPLIER", strconv.Itoa(defaultNetworkMultiplier)), "a network's limits, unless set, are its client's times this (RATELIMIT_NETWORK_MULTIPLIER)"),
		storage:     fs.String("ratelimit-storage-uri", env("RATELIMIT_STORAGE_URI", "memory://"), "counter storage: memory:// or redis[s]://[:password@]host:port/db, shared by every instance (RATELIMIT_STORAGE_URI)"),
		failure:     fs.String("ratelimit-storage-failure", env("RATELIMIT_STORAGE_FAILURE", "fail-open"), "when the counter storage fails: fail-open (let requests through) or fail-closed (503) (RATELIMIT_STORAGE_FAILURE)"),
		keyPrefix:   fs.String("ratelimit-key-prefix", env("RATELIMIT_KEY_PREFIX", "eyetrack:ratelimit"), "prefix of the limiter's Redis keys (RATELIMIT_KEY_PREFIX)"),
		trusted:     fs.String("ratelimit-trusted-proxies", env("RATELIMIT_TRUSTED_PROXIES", ""), "comma-separated proxy CIDRs whose X-Forwarded-For is believed (RATELIMIT_TRUSTED_PROXIES)"),
		ipv6:        fs.String("ratelimit-ipv6-prefix", env("RATELIMIT_IPV6_PREFIX", "64"), "IPv6 clients are grouped by this prefix length (RATELIMIT_IPV6_PREFIX)"),
		ipv4Net:     fs.String("ratelimit-ipv4-network-prefix", env("RATELIMIT_IPV4_NETWORK_PREFIX", "24"), "IPv4 clients' network: this prefix length (RATELIMIT_IPV4_NETWORK_PREFIX)"),
		ipv6Net:     fs.String("ratelimit-ipv6-network-prefix", env("RATELIMIT_IPV6_NETWORK_PREFIX", "48"), "IPv6 clients' network: this prefix length (RATELIMIT_IPV6_NETWORK_PREFIX)"),
		maxClients:  fs.String("ratelimit-max-clients", env("RATELIMIT_MAX_CLIENTS", "1000000"), "tracked clients per limit (RATELIMIT_MAX_CLIENTS)"),
		maxNetworks: fs.String("ratelimit-max-networks", env("RATELIMIT_MAX_NETWORKS", "250000"), "tracked networks per limit (RATELIMIT_MAX_NETWORKS)"),
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
	multiplier, err := strconv.Atoi(strings.TrimSpace(*f.multiplier))
	if err != nil || multiplier < 1 || multiplier > maxLimitCount {
		return c, fmt.Errorf("RATELIMIT_NETWORK_MULTIPLIER %q: want a whole number from 1 to %d", *f.multiplier, maxLimitCount)
	}
	for _, l := range []struct {
		name, raw, netRaw string
		dst               *routeLimitConfig
	}{
		{"CALIB", *f.calib, *f.netCalib, &c.calib}, {"PREDICT", *f.predict, *f.netPredict, &c.predict}, {"DEFAULT", *f.defaults, *f.netDefaults, &c.defaults},
	} {
		if *l.dst, err = parseRouteLimits(l.name, l.raw, l.netRaw, multiplier); err != nil {
			return c, err
		}
	}
	if err := f.parseStorage(&c); err != nil {
		return c, err
	}
	if c.identity, err = f.parseIdentity(); err != nil {
		return c, err
	}
	if c.maxClients, err = strconv.Atoi(strings.TrimSpace(*f.maxClients)); err != nil || c.maxClients < 1 {
		return c, fmt.Errorf("RATELIMIT_MAX_CLIENTS %q: want a positive whole number", *f.maxClients)
	}
	if c.maxNetworks, err = strconv.Atoi(strings.TrimSpace(*f.maxNetworks)); err != nil || c.maxNetworks < 1 {
		return c, fmt.Errorf("RATELIMIT_MAX_NETWORKS %q: want a positive whole number", *f.maxNetworks)
	}
	return c, nil
}

// failurePolicy says what happens to requests when the storage fails.
func (c rateLimitConfig) failurePolicy() string {
	if c.failClosed {
		return "fail-closed: requests are refused with 503"
	}
	return "fail-open: requests are let through unlimited"
}

// parseStorage parses where the counters live and what happens when that
// fails.
func (f *rateLimitFlags) parseStorage(c *rateLimitConfig) error {
	switch s := strings.TrimSpace(*f.storage); {
	case s == "" || s == "memory://":
	case isRedisURL(s):
		o, err := parseRedisURL(s)
		if err != nil {
			return fmt.Errorf("RATELIMIT_STORAGE_URI: %w", err)
		}
		c.redis = &o
	default:
		return fmt.Errorf("RATELIMIT_STORAGE_URI %q: want memory:// or a redis:// or rediss:// URL", redactURL(s))
	}
	switch p := strings.ToLower(strings.TrimSpace(*f.failure)); p {
	case "fail-open", "fail-closed":
		c.failClosed = p == "fail-closed"
	default:
		return fmt.Errorf("RATELIMIT_STORAGE_FAILURE %q: want fail-open or fail-closed", *f.failure)
	}
	if c.keyPrefix = strings.TrimSpace(*f.keyPrefix); c.keyPrefix == "" {
		return fmt.Errorf("RATELIMIT_KEY_PREFIX: must not be empty")
	}
	return nil
}

// parseRouteLimits parses RATELIMIT_<name> and RATELIMIT_NETWORK_<name>;
// an empty network setting is the client's limits times multiplier (at
// most maxLimitCount).
func parseRouteLimits(name, raw, netRaw string, multiplier int) (routeLimitConfig, error) {
	var rc routeLimitConfig
	var err error
	if rc.client, err = parseRateLimits(raw); err != nil {
		return rc, fmt.Errorf("RATELIMIT_%s: %w", name, err)
	}
	if strings.TrimSpace(netRaw) == "" {
		for _, l := range rc.client {
			l.count = uint32(min(int64(l.count)*int64(multiplier), maxLimitCount))
			rc.network = append(rc.network, l)
		}
	} else if rc.network, err = parseRateLimits(netRaw); err != nil {
		return rc, fmt.Errorf("RATELIMIT_NETWORK_%s: %w", name, err)
	}
	if len(rc.client) > maxRouteLimits || len(rc.network) > maxRouteLimits {
		return rc, fmt.Errorf("RATELIMIT_%s / RATELIMIT_NETWORK_%s: at most %d limits each", name, name, maxRouteLimits)
	}
	return rc, nil
}

// parseIdentity parses the settings that say who is counted: the trusted
// proxies and the prefix lengths of clients and networks.
func (f *rateLimitFlags) parseIdentity() (clientIdentity, error) {
	var id clientIdentity
	for _, cidr := range strings.Split(*f.trusted, ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			a, aerr := netip.ParseAddr(cidr)
			if aerr != nil {
				return id, fmt.Errorf("RATELIMIT_TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", cidr)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		id.trusted = append(id.trusted, p.Masked())
	}
	var err error
	if id.ipv6Prefix, err = strconv.Atoi(strings.TrimSpace(*f.ipv6)); err != nil || id.ipv6Prefix < 0 || id.ipv6Prefix > 128 {
		return id, fmt.Errorf("RATELIMIT_IPV6_PREFIX %q: want a prefix length from 0 to 128", *f.ipv6)
	}
	if id.ipv4NetPrefix, err = strconv.Atoi(strings.TrimSpace(*f.ipv4Net)); err != nil || id.ipv4NetPrefix < 0 || id.ipv4NetPrefix > 32 {
		return id, fmt.Errorf("RATELIMIT_IPV4_NETWORK_PREFIX %q: want a prefix length from 0 to 32", *f.ipv4Net)
	}
	if id.ipv6NetPrefix, err = strconv.Atoi(strings.TrimSpace(*f.ipv6Net)); err != nil || id.ipv6NetPrefix < 0 || id.ipv6NetPrefix > id.ipv6Prefix {
		return id, fmt.Errorf("RATELIMIT_IPV6_NETWORK_PREFIX %q: want a prefix length from 0 to RATELIMIT_IPV6_PREFIX (%d)", *f.ipv6Net, id.ipv6Prefix)
	}
	return id, nil
}

// rateLimiter applies the configured limits per route, client and
// network. The clock is injected: now returns the current time (tests pass
// their own).
type rateLimiter struct {
	cfg   rateLimitConfig
	now   func() time.Time
	log   *slog.Logger
	store limitStore

	refused   [levels]atomic.Int64 // requests refused (or, in dry run, that would have been) by level
	smallInts [][]string           // header values of small numbers, shared by the routes

	storageFailures atomic.Int64 // requests whose counters could not be reached
	failing         atomic.Bool  // the last count failed
	failureLogged   atomic.Int64 // when the last failure was logged (Unix ms)
}

// newRateLimiter returns a limiter using now as its clock (time.Now when nil).
func newRateLimiter(cfg rateLimitConfig, now func() time.Time, log *slog.Logger) *rateLimiter {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &rateLimiter{cfg: cfg, now: now, log: log, smallInts: smallIntValues(1024)}
	if cfg.redis != nil {
		l.store = newRedisLimitStore(*cfg.redis, cfg.keyPrefix, cfg.identity)
		log.Info("rate limit counters in Redis", "addr", cfg.redis.addr, "db", cfg.redis.db, "prefix", cfg.keyPrefix, "on_failure", cfg.failurePolicy())
	} else {
		l.store = newMemoryLimitStore(cfg.maxClients, cfg.maxNetworks)
	}
	return l
}

// Reset forgets every count.
func (l *rateLimiter) Reset() error {
	return l.store.reset(context.Background())
}

// Sweep removes every expired window now (the incremental sweep does this
// a little at a time; a janitor can call Sweep periodically).
func (l *rateLimiter) Sweep() {
	l.store.sweep(l.now().UnixMilli())
}

// Close releases the store's connections.
func (l *rateLimiter) Close() error { return l.store.Close() }

// rateLimitStats are the limiter's figures for monitoring.
type rateLimitStats struct {
	trackedClients, trackedNetworks int64 // keys held in memory, over every route's table (0 with Redis)
	refusedClient, refusedNetwork   int64 // 429s by the level that refused (dry run: would have)
	storageFailures                 int64 // requests whose counters could not be reached
}

// stats returns the limiter's figures now.
func (l *rateLimiter) stats() rateLimitStats {
	var st rateLimitStats
	st.trackedClients, st.trackedNetworks = l.store.tracked()
	st.refusedClient, st.refusedNetwork = l.refused[levelClient].Load(), l.refused[levelNetwork].Load()
	st.storageFailures = l.storageFailures.Load()
	return st
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

// routeLimits is the limiting of one route: its checks in order, their
// counter, and the header values that never change.
type routeLimits struct {
	route     string
	checks    []limitCheck
	counter   limitCounter
	partner   []int      // per check, the other level's check of the same window (−1: none)
	limitHdr  [][]string // X-RateLimit-Limit value per check
	policy    []string   // RateLimit-Policy
	items     []string   // per check, the start of its RateLimit item: "name";r=
	smallInts [][]string // header values of the numbers 0 to len−1, shared by the routes
	numbers   numberCache
	texts     textSlab
}

// limit wraps next with the route's limits. Every request counts, whatever
// its outcome; the checks are counted shortest window first, a client's
// before its network's, and a refusal stops the count (Flask-Limiter's
// order). With limiting disabled or no limits, next is returned unchanged.
func (l *rateLimiter) limit(route string, set routeLimitConfig, next http.Handler) http.Handler {
	if !l.cfg.enabled || len(set.client)+len(set.network) == 0 {
		return next
	}
	rl := newRouteLimits(route, newLimitChecks(set), l.smallInts)
	rl.counter = l.store.counter(route, rl.checks)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nowMs := l.now().UnixMilli()
		keys := l.cfg.identity.keysOf(l.cfg.identity.clientAddr(r))
		res, err := rl.counter.count(r.Context(), keys, nowMs)
		if err != nil {
			l.storageFailed(w, r, rl, err, next)
			return
		}
		if l.failing.Load() && l.failing.CompareAndSwap(true, false) {
			l.log.Info("rate limit storage reachable again", "failed_requests", l.storageFailures.Load())
		}
		setRateHeaders(w.Header(), rl, &res, nowMs)
		if res.failed < 0 {
			noteLimiterOutcome(r, "allowed")
			next.ServeHTTP(w, r)
			return
		}
		l.refuse(w, r, rl, &res, nowMs, next)
	})
}

// failureLogEvery paces the log lines of a failing storage.
const failureLogEvery = 10 * time.Second

// storageFailed answers a request whose counters could not be reached, by
// the configured policy: fail-open lets it through (without rate-limit
// headers), fail-closed answers 503 with Retry-After. Failures are counted
// and logged, at most once per failureLogEvery.
func (l *rateLimiter) storageFailed(w http.ResponseWriter, r *http.Request, rl *routeLimits, err error, next http.Handler) {
	n := l.storageFailures.Add(1)
	l.failing.Store(true)
	now := time.Now().UnixMilli()
	if last := l.failureLogged.Load(); now-last >= failureLogEvery.Milliseconds() && l.failureLogged.CompareAndSwap(last, now) {
		l.log.Error("rate limit storage unavailable", "route", rl.route, "policy", l.cfg.failurePolicy(), "failed_requests", n, "err", err)
	}
	if !l.cfg.failClosed || l.cfg.dryRun { // a dry run never blocks
		next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Retry-After", "5")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "rate limiting is unavailable right now; retry shortly"})
}

// newRouteLimits returns the route's limiting with the header values that
// never change.
func newRouteLimits(route string, checks []limitCheck, smallInts [][]string) *routeLimits {
	rl := &routeLimits{route: route, checks: checks, smallInts: smallInts}
	var policy []string
	for i, c := range checks {
		rl.partner = append(rl.partner, -1)
		for j, o := range checks {
			if o.level != c.level && o.windowMs == c.windowMs && rl.partner[i] < 0 {
				rl.partner[i] = j
			}
		}
		rl.limitHdr = append(rl.limitHdr, []string{strconv.FormatUint(uint64(c.limit.count), 10)})
		rl.items = append(rl.items, `"`+c.name+`";r=`)
		policy = append(policy, fmt.Sprintf("%q;q=%d;w=%d", c.name, c.limit.count, c.windowMs/1000))
	}
	rl.policy = []string{strings.Join(policy, ", ")}
	return rl
}

// refuse answers a request over a limit: 429 with Retry-After, naming the
// limit and the level (client or network) that refused it, or, in dry-run
// mode, a log line (once per window) and next. A network's first refusal
// in a window is logged too.
func (l *rateLimiter) refuse(w http.ResponseWriter, r *http.Request, rl *routeLimits, res *limitResult, nowMs int64, next http.Handler) {
	c, s := &rl.checks[res.failed], res.states[res.failed]
	l.refused[c.level].Add(1)
	if s.count() == c.limit.count+1 && (l.cfg.dryRun || c.level == levelNetwork) { // once per window
		addr := l.cfg.identity.clientAddr(r)
		msg := "a network is over its rate limit; its clients are refused until the window ends"
		if l.cfg.dryRun {
			msg = "rate limit exceeded (dry run, not blocked)"
		}
		l.log.Warn(msg, "route", rl.route, "client", addr.String(), "level", c.level.String(),
			"counted_as", l.cfg.identity.prefixOf(addr, c.level), "limit", c.limit.String())
	}
	if l.cfg.dryRun {
		noteLimiterOutcome(r, "dry_run")
		next.ServeHTTP(w, r)
		return
	}
	noteLimiterOutcome(r, "refused")
	retry := max(1, (s.endMs()-nowMs+999)/1000)
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(retry, 10))
	h.Set("Cache-Control", "no-store")
	msg := fmt.Sprintf("Too Many Requests: rate limit exceeded (%s per client)", c.limit)
	if c.level == levelNetwork {
		msg = fmt.Sprintf("Too Many Requests: rate limit exceeded (%s for the network %s, shared by all its clients)",
			c.limit, l.cfg.identity.prefixOf(l.cfg.identity.clientAddr(r), levelNetwork))
	}
	writeJSON(w, http.StatusTooManyRequests, tooManyRequestsBody{Error: msg, Limit: c.limit.String(), Level: c.level.String(), RetryAfter: retry})
}

// tooManyRequestsBody is the JSON of a 429.
type tooManyRequestsBody struct {
	Error      string `json:"error"`
	Limit      string `json:"limit"`
	Level      string `json:"level"` // client or network
	RetryAfter int64  `json:"retry_after"`
}

// noteLimiterOutcome tells the access log what the limiter decided; it
// does nothing (and allocates nothing) outside withAccessLog.
func noteLimiterOutcome(r *http.Request, outcome string) {
	if rec, ok := r.Context().Value(recordKey{}).(*requestRecord); ok {
		rec.limiter = outcome
	}
}

// registerMetrics exposes the windows the limiter tracks and its refusals
// by level.
func (l *rateLimiter) registerMetrics(m *metricsRegistry) {
	m.gauge("eyetrack_ratelimit_tracked", "Windows the limiter holds, over every limit, by level (client or network).", func() []metricSample {
		st := l.stats()
		return []metricSample{{labels: []string{"level", "client"}, value: float64(st.trackedClients)}, {labels: []string{"level", "network"}, value: float64(st.trackedNetworks)}}
	})
	m.counterFunc("eyetrack_ratelimit_refused_total", "Requests refused with 429 (in dry run: that would have been), by the level that refused them.", func() []metricSample {
		st := l.stats()
		return []metricSample{{labels: []string{"level", "client"}, value: float64(st.refusedClient)}, {labels: []string{"level", "network"}, value: float64(st.refusedNetwork)}}
	})
	m.counterFunc("eyetrack_ratelimit_storage_failures_total", "Requests whose counters could not be reached (Redis down); RATELIMIT_STORAGE_FAILURE says what they got.", func() []metricSample {
		return []metricSample{{value: float64(l.stats().storageFailures)}}
	})
}
