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
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // after the first signal, a second one ends the process at once
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "eyetrack:", err)
		os.Exit(1)
	}
}

// config is everything an operator can set, by flag or environment variable.
type config struct {
	addr            string
	storeDir        string
	functionsURL    string
	corsOrigins     string
	maxBodyBytes    int64
	logFormat       string
	shutdownTimeout time.Duration
	limits          inputLimits
	rateLimit       rateLimitConfig
	work            workConfig
}

// loadConfig reads flags, falling back to the environment, then to the
// defaults that make `go run .` work with nothing set. Flags win.
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
	fs.StringVar(&c.storeDir, "calibration-store", env("CALIBRATION_STORE", "./data"), "calibration folder (CALIBRATION_STORE)")
	fs.StringVar(&c.functionsURL, "functions-endpoint-url", env("FUNCTIONS_ENDPOINT_URL", ""), "RUXAILAB functions base URL for the webhook (FUNCTIONS_ENDPOINT_URL)")
	fs.StringVar(&c.corsOrigins, "cors-origins", env("CORS_ORIGINS", "*"), "comma-separated allowed origins (CORS_ORIGINS)")
	maxBody := fs.String("max-body-bytes", env("MAX_BODY_BYTES", strconv.Itoa(16<<20)), "request body limit in bytes (MAX_BODY_BYTES)")
	fs.StringVar(&c.logFormat, "log-format", env("LOG_FORMAT", "text"), "text or json (LOG_FORMAT)")
	shutdown := fs.String("shutdown-timeout", env("SHUTDOWN_TIMEOUT", "20s"), "how long in-flight requests may run on shutdown (SHUTDOWN_TIMEOUT)")
	maxSamples := fs.String("max-samples", env("MAX_SAMPLES", strconv.Itoa(c.limits.maxSamples)), "iris samples per batch_predict (MAX_SAMPLES)")
	maxRows := fs.String("max-calib-rows", env("MAX_CALIB_ROWS", strconv.Itoa(c.limits.maxCalibRows)), "samples per calib_validation array (MAX_CALIB_ROWS)")
	maxString := fs.String("max-string-length", env("MAX_STRING_LENGTH", strconv.Itoa(c.limits.maxStringLen)), "characters in file_name, calib_id, model, user_id and study_id (MAX_STRING_LENGTH)")
	maxScreen := fs.String("max-screen-px", env("MAX_SCREEN_PX", strconv.FormatFloat(c.limits.maxScreenPx, 'f', -1, 64)), "largest screen_width/screen_height accepted, in CSS pixels (MAX_SCREEN_PX)")
	rl := registerRateLimitFlags(fs, env)
	wf := registerWorkFlags(fs, env)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var usage strings.Builder
			usage.WriteString("Usage: eyetrack [flags]   (every flag falls back to the environment variable named in its text)\n")
			fs.SetOutput(&usage)
			fs.PrintDefaults()
			return c, &helpRequested{usage: usage.String()}
		}
		return c, fmt.Errorf("command line: %w", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("command line: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.maxBodyBytes, err = positiveInt(*maxBody, "MAX_BODY_BYTES"); err != nil {
		return c, err
	}
	var n int64
	if n, err = positiveInt(*maxSamples, "MAX_SAMPLES"); err != nil {
		return c, err
	}
	c.limits.maxSamples = int(n)
	if n, err = positiveInt(*maxRows, "MAX_CALIB_ROWS"); err != nil {
		return c, err
	}
	c.limits.maxCalibRows = int(n)
	if n, err = positiveInt(*maxString, "MAX_STRING_LENGTH"); err != nil {
		return c, err
	}
	c.limits.maxStringLen, c.limits.maxIDLength = int(n), int(n)
	if n, err = positiveInt(*maxScreen, "MAX_SCREEN_PX"); err != nil {
		return c, err
	}
	c.limits.maxScreenPx = float64(n)
	if c.shutdownTimeout, err = time.ParseDuration(*shutdown); err != nil || c.shutdownTimeout < 0 {
		return c, fmt.Errorf("SHUTDOWN_TIMEOUT %q is not a duration such as 20s", *shutdown)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return c, fmt.Errorf("LOG_FORMAT %q: want text or json", c.logFormat)
	}
	if strings.Contains(c.storeDir, "://") {
		return c, fmt.Errorf("CALIBRATION_STORE %q: this build stores calibrations in a folder; URLs are not supported", c.storeDir)
	}
	if c.rateLimit, err = rl.parse(); err != nil {
		return c, err
	}
	if c.work, err = wf.parse(); err != nil {
		return c, err
	}
	return c, nil
}

// helpRequested is returned by loadConfig for -h; run prints the usage.
type helpRequested struct{ usage string }

func (h *helpRequested) Error() string { return "help requested" }

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
// shutdown timeout, webhooks drained).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "loadtest" {
		return runLoadTest(ctx, args[1:], stdout)
	}
	cfg, err := loadConfig(args, getenv)
	var help *helpRequested
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.usage)
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg.logFormat, stderr)
	store, err := newFileStore(cfg.storeDir, log)
	if err != nil {
		return err
	}
	defer store.Close() // on early returns; idempotent
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
	}
	go deps.limiter.runJanitor(ctx)
	srv := &http.Server{
		Handler:           newServer(cfg, deps),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "eyetrack listening on http://%s (calibrations in %s)\n", ln.Addr(), cfg.storeDir)
	log.Info("listening", "addr", ln.Addr().String(), "store", cfg.storeDir)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer hcancel()
		hook.Close(hctx)
		if cerr := store.Close(); cerr != nil {
			log.Error("calibration store", "err", cerr)
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if shutdownErr != nil {
		// Requests still running: their computations are cancelled, and
		// each answers 503 with Retry-After before its connection closes.
		log.Warn("shutdown timeout reached; cancelling running computations", "timeout", cfg.shutdownTimeout.String())
		stopWork(errShuttingDown)
		gctx, gcancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer gcancel()
		if err := srv.Shutdown(gctx); err == nil {
			shutdownErr = nil
		} else {
			srv.Close()
		}
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second) // webhooks get their own short deadline
	defer hcancel()
	if err := hook.Close(hctx); err != nil {
		log.Error("webhooks", "err", err)
	}
	if err := store.Close(); err != nil { // after the last request: writes what the journal holds
		log.Error("calibration store", "err", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	log.Info("stopped")
	return nil
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
}

// newServer builds the whole HTTP handler.
func newServer(cfg config, d serverDeps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, cfg, d)
	return withRecover(d.log, withCORS(newCORSPolicy(cfg.corsOrigins), mux))
}

// addRoutes lists every route with its middleware: the whole API at a glance.
func addRoutes(mux *http.ServeMux, cfg config, d serverDeps) {
	specs := modelSpecs()
	cache := newGazeModelCache(1024)
	cfg.limits.storeIDLength = d.store.MaxIDLength()
	store, hook, limiter, work, log := d.store, d.hook, d.limiter, d.work, d.log
	body := func(h http.Handler) http.Handler { return limitBody(cfg.maxBodyBytes, h) }

	const (
		health = "/api/session/health"
		calib  = "/api/session/calib_validation"
		batch  = "/api/session/batch_predict"
		models = "/api/session/models"
	)
	mux.Handle("GET "+health, handleHealth())
	mux.Handle("OPTIONS "+health, handlePreflight("GET, OPTIONS"))
	mux.Handle(health, handleMethodNotAllowed("GET, HEAD, OPTIONS"))

	mux.Handle("POST "+calib, limiter.limit("calib_validation", cfg.rateLimit.calib,
		body(handleCalibValidation(store, cache, hook, work, specs, cfg.limits, log))))
	mux.Handle("OPTIONS "+calib, handlePreflight("POST, OPTIONS"))
	mux.Handle(calib, handleMethodNotAllowed("POST, OPTIONS"))

	mux.Handle("POST "+batch, limiter.limit("batch_predict", cfg.rateLimit.predict,
		body(handleBatchPredict(store, cache, work, cfg.limits, log))))
	mux.Handle("OPTIONS "+batch, handlePreflight("POST, OPTIONS"))
	mux.Handle(batch, handleMethodNotAllowed("POST, OPTIONS"))

	mux.Handle("GET "+models, limiter.limit("models", cfg.rateLimit.defaults, handleModels(specs)))
	mux.Handle("OPTIONS "+models, handlePreflight("GET, OPTIONS"))
	mux.Handle(models, handleMethodNotAllowed("GET, HEAD, OPTIONS"))

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
