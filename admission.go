package main

// Admission of computations by their estimated cost: two lanes of
// computation slots (light and heavy), one heavy calibration per client,
// a budget beyond which a calibration is refused at once, and the deadline
// and cancellation every fit runs under.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// workConfig is how much computation the server admits (MAX_CONCURRENT_WORK
// and the other settings of registerWorkFlags).
type workConfig struct {
	lightSlots int           // light computations at once
	lightWait  time.Duration // how long light work may wait for a slot
	heavySlots int           // heavy calibrations at once
	heavyWait  time.Duration // how long a heavy calibration may wait for a slot
	heavyCost  time.Duration // estimated cost above which a calibration is heavy
	budget     time.Duration // estimated cost above which a calibration is refused
	fitTimeout time.Duration // deadline of one calibration's computation
}

// workFlags holds the raw flag values until parse.
type workFlags struct {
	slots, wait, heavySlots, heavyWait, heavyCost, budget, timeout *string
}

func registerWorkFlags(fs *flag.FlagSet, env func(name, def string) string) *workFlags {
	cpus := runtime.NumCPU()
	return &workFlags{
		slots:      fs.String("max-concurrent-work", env("MAX_CONCURRENT_WORK", strconv.Itoa(cpus)), "light computations (batch_predict, cheap calibrations) at once (MAX_CONCURRENT_WORK)"),
		wait:       fs.String("work-wait", env("WORK_WAIT", "250ms"), "how long light work may wait for a free slot before 503 (WORK_WAIT)"),
		heavySlots: fs.String("max-heavy-work", env("MAX_HEAVY_WORK", strconv.Itoa(max(1, cpus/2))), "heavy calibrations at once, in slots of their own (MAX_HEAVY_WORK)"),
		heavyWait:  fs.String("heavy-work-wait", env("HEAVY_WORK_WAIT", "20s"), "how long a heavy calibration may wait for a heavy slot before 503 (HEAVY_WORK_WAIT)"),
		heavyCost:  fs.String("heavy-fit-cost", env("HEAVY_FIT_COST", "250ms"), "estimated single-core time above which a calibration is heavy (HEAVY_FIT_COST)"),
		budget:     fs.String("fit-budget", env("FIT_BUDGET", "40s"), "estimated single-core time above which a calibration is refused with 413 (FIT_BUDGET)"),
		timeout:    fs.String("fit-timeout", env("FIT_TIMEOUT", "50s"), "deadline of one calibration's computation; past it 503 (FIT_TIMEOUT)"),
	}
}

func (f *workFlags) parse() (workConfig, error) {
	var c workConfig
	var err error
	for _, n := range []struct {
		name, raw string
		dst       *int
	}{{"MAX_CONCURRENT_WORK", *f.slots, &c.lightSlots}, {"MAX_HEAVY_WORK", *f.heavySlots, &c.heavySlots}} {
		if *n.dst, err = strconv.Atoi(strings.TrimSpace(n.raw)); err != nil || *n.dst < 1 {
			return c, fmt.Errorf("%s %q: want a positive whole number", n.name, n.raw)
		}
	}
	for _, d := range []struct {
		name, raw string
		dst       *time.Duration
		positive  bool
	}{
		{"WORK_WAIT", *f.wait, &c.lightWait, false}, {"HEAVY_WORK_WAIT", *f.heavyWait, &c.heavyWait, false},
		{"HEAVY_FIT_COST", *f.heavyCost, &c.heavyCost, false}, {"FIT_BUDGET", *f.budget, &c.budget, true},
		{"FIT_TIMEOUT", *f.timeout, &c.fitTimeout, true},
	} {
		v, err := time.ParseDuration(strings.TrimSpace(d.raw))
		if err != nil || v < 0 || (d.positive && v == 0) {
			return c, fmt.Errorf("%s %q: want a duration such as 250ms or 40s", d.name, d.raw)
		}
		*d.dst = v
	}
	return c, nil
}

// Causes a computation's context ends with, besides the client leaving
// (context.Canceled).
var (
	errFitDeadline  = errors.New("the computation reached its deadline (FIT_TIMEOUT)")
	errShuttingDown = errors.New("the server is shutting down")
)

// workShedder is one lane of computation slots. A computation waits at
// most wait for a slot, and at most maxWaiting wait at once; beyond either
// it is shed with 503 and Retry-After, so many clients each under their own
// rate limit cannot queue unbounded CPU work.
type workShedder struct {
	slots   chan struct{}
	waiting chan struct{}
	wait    time.Duration
	shed    atomic.Uint64 // computations refused for want of a slot
}

func newWorkShedder(concurrent, maxWaiting int, wait time.Duration) *workShedder {
	return &workShedder{slots: make(chan struct{}, concurrent), waiting: make(chan struct{}, max(maxWaiting, 0)+1), wait: wait}
}

// errOverloaded is the 503 a shed light computation gets.
var errOverloaded = &apiError{Status: http.StatusServiceUnavailable, Message: "the server is busy with other calibrations; retry shortly", RetryAfter: 1}

// errLaneFull is what acquire returns when no slot was free in time.
var errLaneFull = errors.New("no computation slot was free in time")

// acquire takes a slot, waiting at most the lane's wait; release it when the
// work is done. It returns errLaneFull when no slot freed in time (or too
// many wait already), and stopCause(ctx) when ctx ended first.
func (s *workShedder) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.slots <- struct{}{}:
		return s.release, nil
	default:
	}
	select {
	case s.waiting <- struct{}{}:
	default:
		s.shed.Add(1)
		return nil, errLaneFull
	}
	defer func() { <-s.waiting }()
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return s.release, nil
	case <-t.C:
		s.shed.Add(1)
		return nil, errLaneFull
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (s *workShedder) release() { <-s.slots }

// borrow takes a free slot without waiting, for a computation that already
// holds one and could use another core (a borrower).
func (s *workShedder) borrow() (func(), bool) {
	select {
	case s.slots <- struct{}{}:
		return s.release, true
	default:
		return nil, false
	}
}

// admission admits the server's computations by their estimated cost.
//
// Light work (every batch_predict, and calibrations estimated at most
// heavyCost) runs in the light lane. Heavy calibrations run in a lane of
// their own and never take a light slot, so light work is never refused or
// delayed because heavy fits are running. A client holds at most one heavy
// calibration at a time (running or waiting); a second is 429. A heavy
// calibration that would wait longer than the lane's wait, by the
// estimates of those ahead of it, is refused at once with 503 and the
// expected wait as Retry-After. Calibrations estimated above the budget are
// refused before any of this (checkBudget).
//
// Every admitted computation runs under a job context that ends when the
// client leaves, at the fit deadline, or when the server stops waiting
// for running work at shutdown (stopping ends).
type admission struct {
	cfg          workConfig
	light, heavy *workShedder
	identity     clientIdentity
	stopping     context.Context // ends, with cause errShuttingDown, when running fits must stop
	now          func() time.Time

	mu          sync.Mutex
	heavyJobs   map[clientKey]*heavyJob // admitted heavy calibrations by client
	heavyQueued int                     // of those, still waiting for a slot

	refusedClient, refusedWait atomic.Uint64 // heavy calibrations refused before waiting

	lastWork atomic.Int64 // when a computation last started or ended, in Unix nanoseconds
}

// heavyJob is an admitted heavy calibration: its estimated cost and when it
// got its slot (zero while it waits).
type heavyJob struct {
	cost    time.Duration
	started time.Time
}

// newAdmission returns the admission of cfg; stopping ends when running
// computations must be cancelled (nil: never). Clients are told apart by
// identity.
func newAdmission(cfg workConfig, identity clientIdentity, stopping context.Context) *admission {
	if stopping == nil {
		stopping = context.Background()
	}
	return &admission{
		cfg:       cfg,
		light:     newWorkShedder(cfg.lightSlots, 4*cfg.lightSlots, cfg.lightWait),
		heavy:     newWorkShedder(cfg.heavySlots, 4*cfg.heavySlots, cfg.heavyWait),
		identity:  identity,
		stopping:  stopping,
		now:       time.Now,
		heavyJobs: map[clientKey]*heavyJob{},
	}
}

// job is an admitted computation.
type job struct {
	ctx    context.Context // ends when the client leaves, at the deadline, or at shutdown
	borrow borrower        // lends idle slots of the job's own lane for parallel fitting
	heavy  bool
	done   func() // releases the slot; call once, when the computation ends
}

// maxRowsWithin returns the largest number of rows whose estimated cost
// with model and k is within budget (0 when none is).
func maxRowsWithin(model string, k int, budget time.Duration) int {
	lo, hi := 0, 1
	for estimateFitCost(model, hi, k) <= budget && hi < 1<<30 {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if estimateFitCost(model, mid, k) <= budget {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// checkBudget refuses, with 413 naming the model, rows and limit, a
// calibration estimated above the budget.
func (a *admission) checkBudget(model string, rows, k int, cost time.Duration) error {
	if cost <= a.cfg.budget {
		return nil
	}
	advice := "choose a lighter model"
	if most := maxRowsWithin(model, k, a.cfg.budget); most > 0 {
		advice = fmt.Sprintf("send at most %d rows with this model and k, or choose a lighter model", most)
	}
	return &apiError{
		Status: http.StatusRequestEntityTooLarge, Field: "fixed_circle_iris_points",
		Message: fmt.Sprintf("model %q on %d rows with k=%d is estimated at %s of computation; this server fits at most %s per calibration (FIT_BUDGET): %s",
			model, rows, k, roundDuration(cost), roundDuration(a.cfg.budget), advice),
	}
}

// roundDuration rounds d for a message: to the millisecond below a second,
// to the second above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// admit admits a computation of estimated cost for request r: a
// batch_predict or a calibration (cost 0 is light). It returns the job, or
// an *apiError (429, 503) or stopCause of the job's context when the
// client left or the server stopped while it waited.
func (a *admission) admit(r *http.Request, cost time.Duration) (*job, error) {
	ctx, cancel := a.jobContext(r.Context())
	if cost <= a.cfg.heavyCost {
		release, err := a.light.acquire(ctx)
		if err != nil {
			cancel()
			if errors.Is(err, errLaneFull) {
				return nil, errOverloaded
			}
			return nil, err
		}
		a.worked()
		return &job{ctx: ctx, borrow: a.light.borrow, done: func() { a.worked(); release(); cancel() }}, nil
	}
	key := a.identity.keyOf(a.identity.clientAddr(r))
	hj, err := a.queueHeavy(key, cost)
	if err != nil {
		cancel()
		return nil, err
	}
	release, err := a.heavy.acquire(ctx)
	if err != nil {
		a.finishHeavy(key)
		cancel()
		if errors.Is(err, errLaneFull) {
			return nil, a.heavyBusy(a.cfg.heavyWait)
		}
		return nil, err
	}
	a.mu.Lock()
	hj.started = a.now()
	a.heavyQueued--
	a.mu.Unlock()
	a.worked()
	var once sync.Once
	return &job{ctx: ctx, borrow: a.heavy.borrow, heavy: true, done: func() {
		once.Do(func() { a.worked(); release(); a.finishHeavy(key); cancel() })
	}}, nil
}

// quietGap is how long after its last computation the server counts as
// idle (computing): long enough that requests arriving back to back keep
// it busy.
const quietGap = 5 * time.Millisecond

// computing reports whether an admitted computation is running or one
// started or ended within quietGap.
func (a *admission) computing() bool {
	return len(a.light.slots) > 0 || len(a.heavy.slots) > 0 || a.now().UnixNano()-a.lastWork.Load() < int64(quietGap)
}

// worked records that a computation started or ended now.
func (a *admission) worked() { a.lastWork.Store(a.now().UnixNano()) }

// extendWriteDeadline lets a calibration's answer be written after the
// longest wait and fit the server allows (the server's WriteTimeout is
// shorter). Writers that cannot set deadlines are left as they are.
func (a *admission) extendWriteDeadline(w http.ResponseWriter) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(a.cfg.heavyWait + a.cfg.fitTimeout + 10*time.Second))
}

// jobContext derives a computation's context from the request's: it also
// ends at the fit deadline (cause errFitDeadline) and when the server stops
// running work (cause errShuttingDown).
func (a *admission) jobContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancelCause := context.WithCancelCause(parent)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, a.cfg.fitTimeout, errFitDeadline)
	unhook := context.AfterFunc(a.stopping, func() { cancelCause(errShuttingDown) })
	return ctx, func() {
		unhook()
		cancelTimeout()
		cancelCause(nil)
	}
}

// queueHeavy registers a heavy calibration of key, refusing a client that
// already has one (429) and one whose estimated wait exceeds the lane's
// wait (503).
func (a *admission) queueHeavy(key clientKey, cost time.Duration) (*heavyJob, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if other, ok := a.heavyJobs[key]; ok {
		left := other.cost
		if !other.started.IsZero() {
			left -= now.Sub(other.started)
		}
		a.refusedClient.Add(1)
		return nil, &apiError{
			Status: http.StatusTooManyRequests, Field: "model", RetryAfter: retrySeconds(left),
			Message: "Too Many Requests: this client already has a heavy calibration running; one at a time per client (retry once it has answered, or choose a lighter model)",
		}
	}
	if wait := a.expectedHeavyWait(now); wait > a.cfg.heavyWait {
		a.refusedWait.Add(1)
		return nil, a.heavyBusy(wait)
	}
	hj := &heavyJob{cost: cost}
	a.heavyJobs[key] = hj
	a.heavyQueued++
	return hj, nil
}

// expectedHeavyWait estimates how long a heavy calibration arriving now
// would wait for a slot: the estimated work left of those admitted before
// it, spread over the slots. a.mu is held.
func (a *admission) expectedHeavyWait(now time.Time) time.Duration {
	if len(a.heavyJobs)-a.heavyQueued < a.cfg.heavySlots && a.heavyQueued == 0 {
		return 0
	}
	var ahead time.Duration
	for _, j := range a.heavyJobs {
		left := j.cost
		if !j.started.IsZero() {
			left = max(0, left-now.Sub(j.started))
		}
		ahead += left
	}
	return ahead / time.Duration(a.cfg.heavySlots)
}

// heavyBusy is the 503 of a heavy calibration that would wait too long.
func (a *admission) heavyBusy(wait time.Duration) *apiError {
	return &apiError{
		Status: http.StatusServiceUnavailable, RetryAfter: retrySeconds(wait),
		Message: fmt.Sprintf("the server is busy with other heavy calibrations (MAX_HEAVY_WORK=%d at once, waits up to HEAVY_WORK_WAIT=%s); retry later or choose a lighter model",
			a.cfg.heavySlots, a.cfg.heavyWait),
	}
}

func (a *admission) finishHeavy(key clientKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if j, ok := a.heavyJobs[key]; ok {
		if j.started.IsZero() {
			a.heavyQueued--
		}
		delete(a.heavyJobs, key)
	}
}

// retrySeconds is d as a Retry-After value: whole seconds, rounded up, at
// least 1.
func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// stopError turns the cause that ended a computation into the answer: a
// fit deadline or a shutdown is 503 with Retry-After; a client that left
// gets a 503 it will not read. Other errors pass through.
func (a *admission) stopError(err error, what string) error {
	switch {
	case errors.Is(err, errFitDeadline):
		return &apiError{
			Status: http.StatusServiceUnavailable, RetryAfter: 30, Cause: err,
			Message: fmt.Sprintf("%s did not finish within the server's deadline of %s (FIT_TIMEOUT); retry later, with fewer rows or a lighter model", what, a.cfg.fitTimeout),
		}
	case errors.Is(err, errShuttingDown):
		return &apiError{Status: http.StatusServiceUnavailable, RetryAfter: 5, Message: "the server is shutting down; retry in a few seconds", Cause: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusServiceUnavailable, RetryAfter: 1, Message: "the request was cancelled", Cause: err}
	}
	return err
}

// registerMetrics exposes the lanes: computations running, waiting and
// shed, and heavy calibrations refused before waiting (429, 503).
func (a *admission) registerMetrics(m *metricsRegistry) {
	lanes := func(f func(*workShedder) float64) func() []metricSample {
		return func() []metricSample {
			return []metricSample{{labels: []string{"lane", "light"}, value: f(a.light)}, {labels: []string{"lane", "heavy"}, value: f(a.heavy)}}
		}
	}
	m.gauge("eyetrack_computations_running", "Computations holding a slot, by lane.", lanes(func(s *workShedder) float64 { return float64(len(s.slots)) }))
	m.gauge("eyetrack_computations_queued", "Computations waiting for a slot, by lane.", lanes(func(s *workShedder) float64 { return float64(len(s.waiting)) }))
	m.counterFunc("eyetrack_computations_shed_total", "Computations refused with 503 for want of a slot, by lane.", lanes(func(s *workShedder) float64 { return float64(s.shed.Load()) }))
	m.counterFunc("eyetrack_heavy_refused_total", "Heavy calibrations refused before waiting: one per client (429) or the expected wait too long (503).", func() []metricSample {
		return []metricSample{{labels: []string{"reason", "client_busy"}, value: float64(a.refusedClient.Load())}, {labels: []string{"reason", "wait_too_long"}, value: float64(a.refusedWait.Load())}}
	})
}
