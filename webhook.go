package main

// The RUXAILAB webhook: notices posted in the background with retries.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// calibrationNotice is the JSON RUXAILAB's receiveCalibration function expects.
type calibrationNotice struct {
	SessionID    string          `json:"session_id"`
	UserID       json.RawMessage `json:"user_id"`
	StudyID      json.RawMessage `json:"study_id"`
	Model        string          `json:"model"`
	ScreenHeight float64         `json:"screen_height"`
	ScreenWidth  float64         `json:"screen_width"`
	K            int             `json:"k"`
}

// webhookNotifier posts calibration notices to RUXAILAB in the background:
// a bounded queue, one worker, a timeout per attempt and a few retries with
// growing pauses. Notices never delay a response; a full queue drops the
// notice with a log line. Close drains the queue.
type webhookNotifier struct {
	url      string // FUNCTIONS_ENDPOINT_URL + "/receiveCalibration"; "" = no webhook
	client   *http.Client
	log      *slog.Logger
	attempts int
	backoff  time.Duration
	queue    chan calibrationNotice
	done     chan struct{}

	mu     sync.Mutex // guards closed and sending on queue
	closed bool

	warnOff sync.Once // the "asked for but not configured" warning, logged once

	outcomes *counterVec // notices by outcome: sent, failed, dropped; nil without metrics
}

// newWebhookNotifier starts the worker. With an empty base URL, notify does nothing.
func newWebhookNotifier(baseURL string, log *slog.Logger) *webhookNotifier {
	n := &webhookNotifier{
		client:   &http.Client{Timeout: 5 * time.Second},
		log:      log,
		attempts: 3,
		backoff:  500 * time.Millisecond,
		queue:    make(chan calibrationNotice, 256),
		done:     make(chan struct{}),
	}
	if baseURL != "" {
		n.url = baseURL + "/receiveCalibration"
	}
	go n.work()
	return n
}

// warnIfOff logs, once, that a calibration asked for the RUXAILAB webhook
// while FUNCTIONS_ENDPOINT_URL is not set.
func (n *webhookNotifier) warnIfOff() {
	if n.url != "" {
		return
	}
	n.warnOff.Do(func() {
		n.log.Warn("a calibration asked for the RUXAILAB webhook (from_ruxailab: true) but FUNCTIONS_ENDPOINT_URL is not set; no notice is sent (logged once)")
	})
}

// notify queues a notice without blocking.
func (n *webhookNotifier) notify(c calibrationNotice) {
	if n.url == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.log.Error("webhook after shutdown; notice dropped", "session_id", c.SessionID)
		n.count("dropped")
		return
	}
	select {
	case n.queue <- c:
	default:
		n.log.Error("webhook queue full; notice dropped", "session_id", c.SessionID)
		n.count("dropped")
	}
}

func (n *webhookNotifier) work() {
	defer close(n.done)
	for c := range n.queue {
		if err := n.send(c); err != nil {
			n.log.Error("webhook failed", "session_id", c.SessionID, "url", n.url, "err", err)
			n.count("failed")
			continue
		}
		n.count("sent")
	}
}

// send posts one notice, retrying on transport errors and 5xx answers.
func (n *webhookNotifier) send(c calibrationNotice) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var last error
	for attempt := 0; attempt < n.attempts; attempt++ {
		if attempt > 0 {
			time.Sleep(n.backoff << (attempt - 1))
		}
		resp, err := n.client.Post(n.url, "application/json", bytes.NewReader(body))
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode < 300 {
			return nil
		}
		last = fmt.Errorf("status %s", resp.Status)
		if resp.StatusCode < 500 {
			return last // the receiver refused it; retrying will not help
		}
	}
	return fmt.Errorf("after %d attempts: %w", n.attempts, last)
}

// Close stops taking notices and waits for the queued ones to be sent, or
// for ctx to end.
func (n *webhookNotifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	select {
	case <-n.done: // drained already: an expired ctx does not matter
		return nil
	default:
	}
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webhooks not drained: %w", ctx.Err())
	}
}

// registerMetrics counts the notices by outcome from now on. Call it
// before the first notice.
func (n *webhookNotifier) registerMetrics(m *metricsRegistry) {
	n.outcomes = m.counter("eyetrack_webhook_notices_total", "RUXAILAB notices, by outcome: sent, failed (after the retries), dropped (queue full or shutting down).", "outcome")
}

func (n *webhookNotifier) count(outcome string) {
	if n.outcomes != nil {
		n.outcomes.inc(outcome)
	}
}
