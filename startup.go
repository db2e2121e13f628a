package main

// What the server says and opens as it starts: the start-up summary, the
// "listening" line, the metric sources, and the private metrics listener.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
)

// announce prints the line tools wait for ("eyetrack listening on
// http://ADDR (calibrations in DIR)", as JSON with LOG_FORMAT=json) and logs
// the settings in effect.
func announce(stdout io.Writer, cfg config, addr string, store calibrationStore, log *slog.Logger) {
	where := redactURL(cfg.storeDir)
	line := fmt.Sprintf("eyetrack listening on http://%s (calibrations in %s)", addr, where)
	if cfg.logFormat == "json" {
		newLogger("json", stdout).Info(line, "url", "http://"+addr, "store", where)
	} else {
		fmt.Fprintln(stdout, line)
	}
	stored := "unknown"
	if counter, ok := store.(interface{ Count() (int, error) }); ok {
		if n, err := counter.Count(); err == nil {
			stored = fmt.Sprint(n)
		}
	}
	limits := "rate limiting off"
	if cfg.rateLimit.enabled {
		limits = fmt.Sprintf("calib_validation %s; batch_predict %s; other routes %s",
			limitsText(cfg.rateLimit.calib), limitsText(cfg.rateLimit.predict), limitsText(cfg.rateLimit.defaults))
		if cfg.rateLimit.dryRun {
			limits += " (dry run: logged, never refused)"
		}
	}
	proxies := "none"
	if len(cfg.rateLimit.identity.trusted) > 0 {
		var ps []string
		for _, p := range cfg.rateLimit.identity.trusted {
			ps = append(ps, p.String())
		}
		proxies = strings.Join(ps, ",")
	}
	webhook, metrics := "off", "on the main listener at /metrics"
	if cfg.functionsURL != "" {
		webhook = "on"
	}
	if cfg.metricsAddr != "" {
		metrics = "on " + cfg.metricsAddr
	}
	log.Info("eyetrack started", "version", buildVersion(), "addr", addr, "store", where, "calibrations", stored, "retention", cfg.retention.String(),
		"rate_limits", limits, "trusted_proxies", proxies, "cors_origins", cfg.corsOrigins,
		"work", fmt.Sprintf("%d light slots, %d heavy slots, heavy above %s, budget %s, fit deadline %s",
			cfg.work.lightSlots, cfg.work.heavySlots, cfg.work.heavyCost, cfg.work.budget, cfg.work.fitTimeout),
		"webhook", webhook, "metrics", metrics, "pprof", cfg.pprof)
}

// limitsText is a route's limits in Flask-Limiter's words, per client and
// per network ("none" without).
func limitsText(set routeLimitConfig) string {
	var out []string
	for _, l := range set.client {
		out = append(out, l.String()+" per client")
	}
	for _, l := range set.network {
		out = append(out, l.String()+" per network")
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// listeningAddr parses the announce line, as text or as JSON.
func listeningAddr(line string) (string, bool) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "{") {
		var v struct{ Msg string }
		if json.Unmarshal([]byte(line), &v) != nil {
			return "", false
		}
		line = v.Msg
	}
	rest, ok := strings.CutPrefix(line, "eyetrack listening on http://")
	if !ok {
		return "", false
	}
	addr, _, _ := strings.Cut(rest, " ")
	return addr, addr != ""
}

// registerServerMetrics adds the metric sources of the server's parts.
func registerServerMetrics(m *metricsRegistry, d serverDeps) {
	registerRuntimeMetrics(m, buildVersion())
	d.work.registerMetrics(m)
	d.limiter.registerMetrics(m)
	d.hook.registerMetrics(m)
	if s, ok := d.store.(interface{ registerMetrics(*metricsRegistry) }); ok {
		s.registerMetrics(m)
	}
}

// startMetricsListener serves /metrics, and pprof when enabled, on
// METRICS_ADDR (nil without one). It is never rate limited.
func startMetricsListener(cfg config, m *metricsRegistry, log *slog.Logger) (*http.Server, error) {
	if cfg.metricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.metricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", handleMetrics(m))
	if cfg.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := newHTTPServer(mux, log)
	srv.WriteTimeout = 0 // a CPU profile streams for its duration
	go srv.Serve(ln)
	log.Info("metrics listening", "addr", ln.Addr().String(), "pprof", cfg.pprof)
	return srv, nil
}

// jsonLogs reports whether the command line or the environment asks for
// JSON logs (for errors that end the program before its logger exists).
func jsonLogs(args []string, getenv func(string) string) bool {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == "log-format=json" || (a == "log-format" && i+1 < len(args) && args[i+1] == "json") {
			return true
		}
	}
	return getenv("LOG_FORMAT") == "json"
}
