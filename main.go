// Command eyetrack is the webcam eye-tracking calibration server: it fits
// per-user regression models on calibration recordings, reports their
// quality and maps later iris samples to screen points. It serves the HTTP
// API of the Python Flask + scikit-learn service it replaces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	// The live heap is small (tens of MB) and most requests allocate much
	// more than they keep: a GC cycle at 5× the live heap instead of 2×
	// costs a little memory and saves time on every calibration. The
	// standard GOGC and GOMEMLIMIT variables still decide when set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30) // a soft bound: the GC runs sooner as the heap nears it
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // after the first signal, a second one ends the process at once
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if jsonLogs(os.Args[1:], os.Getenv) {
			newLogger("json", os.Stderr).Error("eyetrack stopped", "err", err.Error())
		} else {
			fmt.Fprintln(os.Stderr, "eyetrack:", err)
		}
		os.Exit(1)
	}
}

// config is everything an operator can set, by flag or environment variable.
type config struct {
	addr            string
	storeDir        string        // a folder, or a Redis URL
	calibrationTTL  time.Duration // calibrations in Redis expire this long after their save (0: never)
	functionsURL    string
	corsOrigins     string
	maxBodyBytes    int64
	logFormat       string
	batchEstimator  string // batch_predict's estimator when a request names none
	shutdownTimeout time.Duration
	limits          inputLimits
	rateLimit       rateLimitConfig
	work            workConfig
	adminToken      string        // the admin routes' bearer token ("": no admin routes)
	retention       time.Duration // calibrations older than this expire (0: kept)
	protect         bool          // PROTECT_CALIBRATIONS
	metricsAddr     string        // serve /metrics (and pprof) there instead of on addr
	pprof           bool          // net/http/pprof on metricsAddr
	accessLog       accessLogConfig
}

// loadConfig reads flags, falling back to the environment, then to the
// defaults that make `go run .` work with nothing set. Flags win. For -h
// and -version it returns a *printAndExit with the text to print.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	defAddr := "127.0.0.1:5000"
	if p := getenv("PORT"); p != "" && getenv("ADDR") == "" {
		defAddr = ":" + p
	}
	fs := flag.NewFlagSet("eyetrack", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c config
	c.limits = defaultInputLimits()
	fs.StringVar(&c.addr, "addr", env("ADDR", defAddr), "listen address (ADDR; PORT alone listens on :PORT)")
	fs.StringVar(&c.storeDir, "calibration-store", env("CALIBRATION_STORE", "./data"), "calibration folder, or a redis[s]:// URL shared by every instance (CALIBRATION_STORE)")
	ttl := fs.String("calibration-ttl", env("CALIBRATION_TTL", "0"), "with a Redis store: calibrations expire this long after their save; 0 keeps them (CALIBRATION_TTL)")
	fs.StringVar(&c.functionsURL, "functions-endpoint-url", env("FUNCTIONS_ENDPOINT_URL", ""), "RUXAILAB functions base URL for the webhook (FUNCTIONS_ENDPOINT_URL)")
	fs.StringVar(&c.corsOrigins, "cors-origins", env("CORS_ORIGINS", "*"), "comma-separated allowed origins (CORS_ORIGINS)")
	maxBody := fs.String("max-body-bytes", env("MAX_BODY_BYTES", strconv.Itoa(16<<20)), "request body limit in bytes (MAX_BODY_BYTES)")
	fs.StringVar(&c.logFormat, "log-format", env("LOG_FORMAT", "text"), "text or json (LOG_FORMAT)")
	fs.StringVar(&c.batchEstimator, "batch-estimator", env("BATCH_ESTIMATOR", estimatorWebGazer), "batch_predict's estimator when a request names none: "+strings.Join(batchEstimatorNames(), " or ")+" (BATCH_ESTIMATOR)")
	shutdown := fs.String("shutdown-timeout", env("SHUTDOWN_TIMEOUT", "20s"), "how long in-flight requests may run on shutdown (SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.adminToken, "admin-token", env("ADMIN_TOKEN", ""), "bearer token of the admin routes (deletion, listing); unset: no admin routes (ADMIN_TOKEN)")
	retention := fs.String("calibration-retention", env("CALIBRATION_RETENTION", ""), "calibrations older than this are no longer served and are deleted, e.g. 720h; unset: kept (CALIBRATION_RETENTION)")
	protect := boolFlag(fs, "protect-calibrations", env("PROTECT_CALIBRATIONS", "false"), "an existing calibration id cannot be replaced from another client network (PROTECT_CALIBRATIONS)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("METRICS_ADDR", ""), "serve /metrics (and pprof when enabled) on this address instead of the main one (METRICS_ADDR)")
	pprof := boolFlag(fs, "pprof", env("PPROF", "false"), "serve net/http/pprof on METRICS_ADDR (PPROF)")
	healthEvery := fs.String("log-health-every", env("LOG_HEALTH_EVERY", "1"), "log one of every N health checks answered 200 (0: none) (LOG_HEALTH_EVERY)")
	lf := registerLimitFlags(fs, env, c.limits)
	rl := registerRateLimitFlags(fs, env)
	wf := registerWorkFlags(fs, env)
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, &printAndExit{text: usage(fs)}
		}
		return c, fmt.Errorf("command line: %w", err)
	}
	if *version {
		return c, &printAndExit{text: versionText() + "\n"}
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("command line: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.maxBodyBytes, err = positiveInt(*maxBody, "MAX_BODY_BYTES"); err != nil {
		return c, err
	}
	if c.shutdownTimeout, err = time.ParseDuration(*shutdown); err != nil || c.shutdownTimeout < 0 {
		return c, fmt.Errorf("SHUTDOWN_TIMEOUT %q is not a duration such as 20s", *shutdown)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return c, fmt.Errorf("LOG_FORMAT %q: want text or json", c.logFormat)
	}
	if c.pprof, err = parseBool("PPROF", *pprof); err != nil {
		return c, err
	}
	if c.protect, err = parseBool("PROTECT_CALIBRATIONS", *protect); err != nil {
		return c, err
	}
	if v := strings.TrimSpace(*retention); v != "" {
		if c.retention, err = time.ParseDuration(v); err != nil || c.retention <= 0 {
			return c, fmt.Errorf("CALIBRATION_RETENTION %q: want a positive duration such as 720h", *retention)
		}
	}
	if c.pprof && c.metricsAddr == "" {
		return c, errors.New("PPROF needs METRICS_ADDR: profiles are served only on the private metrics listener")
	}
	if c.accessLog.healthEvery, err = strconv.Atoi(strings.TrimSpace(*healthEvery)); err != nil || c.accessLog.healthEvery < 0 {
		return c, fmt.Errorf("LOG_HEALTH_EVERY %q: want a whole number, 0 or more", *healthEvery)
	}
	if !validEstimator(c.batchEstimator) {
		return c, fmt.Errorf("BATCH_ESTIMATOR %q: want one of %s", c.batchEstimator, estimatorChoices())
	}
	if err := parseStoreSettings(&c, *ttl); err != nil {
		return c, err
	}
	if c.limits, err = lf.parse(c.limits); err != nil {
		return c, err
	}
	if c.rateLimit, err = rl.parse(); err != nil {
		return c, err
	}
	c.work, err = wf.parse()
	return c, err
}

// usage is the -h text: the subcommands, then every flag.
func usage(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString(`Usage:
  eyetrack [flags]            serve the API
  eyetrack eval [flags] FILES...
                              compare the batch estimators on labelled recordings (*_fixed_train_data.csv; -h for its flags)
  eyetrack healthcheck        exit 0 when the server on this machine is ready (for container health checks)
  eyetrack loadtest [flags]   load-test a server on loopback (a build with -tags loadtest; -h for its flags)
  eyetrack compare [flags] OLD NEW
                              two server binaries' latency side by side, every route (a build with -tags loadtest)

Every flag falls back to the environment variable named in its text; flags win.
Boolean flags may stand alone (-ratelimit-dry-run) or take a value (-ratelimit-enabled=false).

Flags:
`)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

// versionText is the module version and VCS revision the binary was built
// from, as the Go toolchain recorded them.
func versionText() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "eyetrack (no build information)"
	}
	text := "eyetrack " + info.Main.Version
	var rev, when, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", with uncommitted changes"
			}
		}
	}
	if rev != "" {
		text += fmt.Sprintf(", revision %s (%s%s)", rev, when, modified)
	}
	return text + ", " + info.GoVersion
}

// buildVersion is the module version and the VCS revision, short.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

// printAndExit is returned by loadConfig for -h and -version: run prints
// text and exits successfully.
type printAndExit struct{ text string }

func (p *printAndExit) Error() string { return "nothing to serve: " + strings.TrimSpace(p.text) }

// boolText is a boolean setting kept as text until it is parsed (so that
// the environment's spellings, "yes" or "on", work too); on the command
// line it may stand alone, as a bool flag: -ratelimit-dry-run means true.
type boolText struct{ s *string }

func (b boolText) String() string {
	if b.s == nil {
		return ""
	}
	return *b.s
}
func (b boolText) Set(v string) error { *b.s = v; return nil }
func (b boolText) IsBoolFlag() bool   { return true }

// boolFlag registers a boolText flag with value as its default.
func boolFlag(fs *flag.FlagSet, name, value, usage string) *string {
	s := value
	fs.Var(boolText{&s}, name, usage)
	return &s
}

func positiveInt(s, name string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive whole number", name, s)
	}
	return n, nil
}

// newLogger returns a text or JSON slog logger on w.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// run is the whole program: it serves until ctx ends, then shuts down
// gracefully (listener closed, in-flight requests finished within the
// shutdown timeout, then running computations cancelled, webhooks drained,
// the store closed).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "loadtest":
			return runLoadTest(ctx, args[1:], stdout)
		case "compare":
			return runCompare(ctx, args[1:], stdout)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], getenv, stdout)
		}
	}
	if len(args) > 0 && args[0] == "eval" {
		return runEval(ctx, args[1:], stdout)
	}
	cfg, err := loadConfig(args, getenv)
	var pe *printAndExit
	if errors.As(err, &pe) {
		fmt.Fprint(stdout, pe.text)
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg.logFormat, stderr)
	store, err := openCalibrationStore(cfg.storeDir, redisTTL(cfg), log)
	if err != nil {
		return err
	}
	defer store.Close()                       // on early returns; idempotent
	if folder, ok := store.(*fileStore); ok { // a Redis store expires keys itself
		folder.retention = cfg.retention
		go folder.runRetention(ctx)
	}
	hook := newWebhookNotifier(cfg.functionsURL, log)
	// stopping ends when shutdown stops waiting for running computations.
	stopping, stopWork := context.WithCancelCause(context.Background())
	defer stopWork(nil)
	deps := serverDeps{
		store:   store,
		hook:    hook,
		limiter: newRateLimiter(cfg.rateLimit, nil, log),
		work:    newAdmission(cfg.work, cfg.rateLimit.identity, stopping),
		log:     log,
		metrics: newMetricsRegistry(),
	}
	if folder, ok := store.(*fileStore); ok {
		folder.deferWritesWhile(deps.work.computing) // files are written between computations
	}
	defer deps.limiter.Close()
	go deps.limiter.runJanitor(ctx)
	srv := newHTTPServer(newServer(cfg, deps), log)
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	metricsSrv, err := startMetricsListener(cfg, deps.metrics, log)
	if err != nil {
		ln.Close()
		return err
	}
	if metricsSrv != nil {
		defer metricsSrv.Close()
	}
	announce(stdout, cfg, ln.Addr().String(), store, log)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		closeBackground(hook, store, log)
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownErr := shutdown(srv, cfg.shutdownTimeout, stopWork, log)
	closeBackground(hook, store, log)
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	log.Info("stopped")
	return nil
}

// newHTTPServer is the server's http.Server: timeouts that bound slow
// clients, and net/http's own errors in the log.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // calibrations extend theirs (admission.extendWriteDeadline)
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// shutdown closes the listener and waits up to timeout for the requests in
// flight. Past it, running computations are cancelled (stopWork) and each
// answers 503 with Retry-After within shutdownGrace before the remaining
// connections are closed.
func shutdown(srv *http.Server, timeout time.Duration, stopWork context.CancelCauseFunc, log *slog.Logger) error {
	log.Info("shutting down", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err == nil {
		return nil
	}
	log.Warn("shutdown timeout reached; cancelling running computations", "timeout", timeout.String())
	stopWork(errShuttingDown)
	gctx, gcancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer gcancel()
	if err = srv.Shutdown(gctx); err != nil {
		srv.Close()
	}
	return err
}

// closeBackground drains the webhooks (with a short deadline of their own)
// and closes the store, which writes what its journal holds.
func closeBackground(hook *webhookNotifier, store io.Closer, log *slog.Logger) {
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	if err := hook.Close(hctx); err != nil {
		log.Error("webhooks", "err", err)
	}
	if err := store.Close(); err != nil {
		log.Error("calibration store", "err", err)
	}
}

// shutdownGrace is how long cancelled computations get to write their 503
// after SHUTDOWN_TIMEOUT, before the remaining connections are closed.
const shutdownGrace = 5 * time.Second

// serverDeps are the long-lived parts the handlers share.
type serverDeps struct {
	store   calibrationStore
	hook    *webhookNotifier
	limiter *rateLimiter
	work    *admission
	log     *slog.Logger
	metrics *metricsRegistry // nil: newServer makes its own
	now     func() time.Time // the realtime validation's clock; nil is time.Now
}

// newServer builds the whole HTTP handler: the routes inside the shared
// middleware (access log and request metrics outermost, then panic
// recovery, gzip and CORS).
func newServer(cfg config, d serverDeps) http.Handler {
	if d.metrics == nil {
		d.metrics = newMetricsRegistry()
	}
	registerServerMetrics(d.metrics, d)
	requests := newRequestMetrics(d.metrics)
	mux := http.NewServeMux()
	addRoutes(mux, cfg, d)
	h := withRecover(d.log, withGzip(gzipMinBytes, withCORS(newCORSPolicy(cfg.corsOrigins), mux)))
	return withAccessLog(d.log, cfg.accessLog, cfg.rateLimit.identity, requests, h)
}

// routeTable is where addRoutes registers routes (an *http.ServeMux).
type routeTable interface {
	Handle(pattern string, h http.Handler)
}

// addRoutes lists every route with its middleware: the whole API at a glance.
func addRoutes(mux routeTable, cfg config, d serverDeps) {
	specs := modelSpecs()
	cache := newGazeModelCache(1024)
	cfg.limits.storeIDLength = d.store.MaxIDLength()
	store, hook, limiter, work, log := d.store, d.hook, d.limiter, d.work, d.log
	body := func(h http.Handler) http.Handler { return limitBody(cfg.maxBodyBytes, h) }

	const (
		health    = "/api/session/health"
		ready     = "/api/session/ready"
		calib     = "/api/session/calib_validation"
		batch     = "/api/session/batch_predict"
		models    = "/api/session/models"
		benchmark = "/api/session/benchmark"
		realtime  = "/api/realtime-validation"
	)
	mux.Handle("GET "+health, handleHealth())
	mux.Handle("OPTIONS "+health, handlePreflight("GET, OPTIONS"))
	mux.Handle(health, handleMethodNotAllowed("GET, HEAD, OPTIONS"))

	mux.Handle("GET "+ready, handleReady(store, log))
	mux.Handle(ready, handleMethodNotAllowed("GET, HEAD"))

	guard := &overwriteGuard{protect: cfg.protect, identity: cfg.rateLimit.identity}
	mux.Handle("POST "+calib, limiter.limit("calib_validation", cfg.rateLimit.calib,
		body(handleCalibValidation(store, cache, hook, work, guard, specs, cfg.limits, log))))
	mux.Handle("OPTIONS "+calib, handlePreflight("POST, OPTIONS"))
	mux.Handle(calib, handleMethodNotAllowed("POST, OPTIONS"))

	mux.Handle("POST "+batch, limiter.limit("batch_predict", cfg.rateLimit.predict,
		body(handleBatchPredict(store, cache, work, cfg.limits, cfg.batchEstimator, log))))
	mux.Handle("OPTIONS "+batch, handlePreflight("POST, OPTIONS"))
	mux.Handle(batch, handleMethodNotAllowed("POST, OPTIONS"))

	mux.Handle("GET "+models, limiter.limit("models", cfg.rateLimit.defaults, handleModels(specs)))
	mux.Handle("OPTIONS "+models, handlePreflight("GET, OPTIONS"))
	mux.Handle(models, handleMethodNotAllowed("GET, HEAD, OPTIONS"))

	mux.Handle("POST "+benchmark, limiter.limit("benchmark", cfg.rateLimit.defaults,
		body(handleBenchmark(work, cfg.limits, log))))
	mux.Handle("OPTIONS "+benchmark, handlePreflight("POST, OPTIONS"))
	mux.Handle(benchmark, handleMethodNotAllowed("POST, OPTIONS"))

	windows := newRealtimeWindows(d.now, realtimeMaxClients, realtimeIdleExpiry)
	mux.Handle("POST "+realtime, limiter.limit("realtime_validation", cfg.rateLimit.defaults,
		body(handleRealtimeValidation(windows, cfg.rateLimit.identity, log))))
	mux.Handle("OPTIONS "+realtime, handlePreflight("POST, OPTIONS"))
	mux.Handle(realtime, handleMethodNotAllowed("POST, OPTIONS"))

	if cfg.adminToken != "" { // else these routes do not exist
		admin := func(h http.Handler) http.Handler { return requireAdmin(cfg.adminToken, h) }
		mux.Handle("DELETE /api/session/calibration/{id}", admin(handleDeleteCalibration(store, cache, cfg.limits, log)))
		mux.Handle("DELETE /api/session/calibrations", admin(handleDeleteUser(store, cache, log)))
		mux.Handle("GET /api/session/calibrations", admin(handleListCalibrations(store, log)))
	}

	mux.Handle("GET /api/openapi.json", handleOpenAPI())
	if cfg.metricsAddr == "" { // else on its own listener (startMetricsListener)
		mux.Handle("GET /metrics", handleMetrics(d.metrics))
	}

	mux.Handle("/", handleNotFound())
}

// handleHealth serves GET /api/session/health.
func handleHealth() http.Handler {
	body := []byte(`{"status":"ok"}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONBytes(w, http.StatusOK, body)
	})
}

// handleModels serves GET /api/session/models: the model names this server fits.
func handleModels(specs map[string]modelSpec) http.Handler {
	names := servedModels(specs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"models": names})
	})
}
