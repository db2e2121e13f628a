//go:build loadtest

package main

// The compare subcommand: two server binaries side by side over loopback,
// each route's latency as a client sees it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// compareCalibID is the id both servers store the example calibration under.
const compareCalibID = "compare"

// compareCase is one request of the comparison: a model's calibration or
// the batch.
type compareCase struct {
	name, path, contentType string
	body                    []byte
}

// runCompare serves `eyetrack compare [-rounds N] [-batches N] OLD NEW`:
// it starts the two binaries on free loopback ports (a temporary store on
// disk each, rate limiting off, their logs in the temporary folder), sends
// them the front end's example calibration for every model and RUXAILAB's
// example batch, alternately, one request at a time on one keep-alive
// connection each (OLD first in even rounds, NEW first in odd ones, so that
// neither always follows the other's request), and prints the median
// latency of every case for both and NEW/OLD. Run it on a quiet machine:
// the two servers share its cores.
//
//	go build -o /tmp/eyetrack-new . && git stash && go build -o /tmp/eyetrack-old . && git stash pop
//	go run -tags loadtest . compare -rounds 40 /tmp/eyetrack-old /tmp/eyetrack-new
func runCompare(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rounds := fs.Int("rounds", 30, "rounds: each sends every calibration, then the batches, to both servers")
	batches := fs.Int("batches", 5, "batch_predict requests per round")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: eyetrack compare [-rounds 30] [-batches 5] OLD_BINARY NEW_BINARY")
			return nil
		}
		return fmt.Errorf("compare: %w", err)
	}
	if fs.NArg() != 2 || *rounds < 1 || *batches < 0 {
		return errors.New("compare: want -rounds ≥ 1, -batches ≥ 0 and two server binaries, OLD and NEW")
	}
	cases, batch, err := compareCases()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "eyetrack-compare-*")
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	defer os.RemoveAll(dir)
	var servers [2]*compareServer
	for i, name := range []string{"old", "new"} {
		if servers[i], err = startCompareServer(ctx, fs.Arg(i), dir, name); err != nil {
			return err
		}
		defer servers[i].stop()
	}
	latency := map[string][2][]time.Duration{}
	send := func(c compareCase, round int) error {
		times := latency[c.name]
		for k := range servers {
			i := (k + round) % len(servers)
			d, err := servers[i].do(ctx, c)
			if err != nil {
				return err
			}
			times[i] = append(times[i], d)
		}
		latency[c.name] = times
		return nil
	}
	for r := 0; r < *rounds; r++ {
		for _, c := range cases {
			if err := send(c, r); err != nil {
				return err
			}
		}
		for b := 0; b < *batches; b++ {
			if err := send(batch, r); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "medians of %d rounds (%d batches each), one request at a time, alternately to %s (old) and %s (new)\n", *rounds, *batches, fs.Arg(0), fs.Arg(1))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "case\told\tnew\tnew/old\n")
	for _, c := range append(cases, batch) {
		times, ok := latency[c.name]
		if !ok {
			continue
		}
		o, n := medianDuration(times[0]), medianDuration(times[1])
		fmt.Fprintf(tw, "%s\t%v\t%v\t%.2f\n", c.name, o.Round(10*time.Microsecond), n.Round(10*time.Microsecond), float64(n)/float64(o))
	}
	return tw.Flush()
}

// compareCases builds the calibration of every served model and the batch
// from the embedded examples, all under compareCalibID.
func compareCases() (calibs []compareCase, batch compareCase, err error) {
	read := func(name string) ([]byte, error) {
		b, err := readLoadTestData(name)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		return b, nil
	}
	fixed, err := read("fixed.json")
	if err != nil {
		return nil, batch, err
	}
	calib, err := read("calib.json")
	if err != nil {
		return nil, batch, err
	}
	raw, err := read("batch_request.json")
	if err != nil {
		return nil, batch, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, batch, fmt.Errorf("compare: embedded batch_request.json: %w", err)
	}
	fields["calib_id"] = json.RawMessage(strconv.Quote(compareCalibID))
	batchBody, _ := json.Marshal(fields) // raw messages that just parsed: cannot fail
	batch = compareCase{name: "batch_predict", path: "/api/session/batch_predict", contentType: "application/json", body: batchBody}
	for _, model := range servedModels(modelSpecs()) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for _, f := range [][2]string{
			{"file_name", strconv.Quote(compareCalibID)},
			{"fixed_circle_iris_points", string(fixed)}, {"calib_circle_iris_points", string(calib)},
			{"screen_width", "1495"}, {"screen_height", "746"}, {"k", "9"}, {"model", strconv.Quote(model)},
		} {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				return nil, batch, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, batch, err
		}
		calibs = append(calibs, compareCase{name: model, path: "/api/session/calib_validation", contentType: mw.FormDataContentType(), body: b.Bytes()})
	}
	return calibs, batch, nil
}

// compareServer is one binary under comparison.
type compareServer struct {
	base   string
	cmd    *exec.Cmd
	client *http.Client
}

// startCompareServer starts bin on a free loopback port with its own store
// under dir and waits until it answers its health route.
func startCompareServer(ctx context.Context, bin, dir, name string) (*compareServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	store := dir + "/" + name + "-store"
	logs, err := os.Create(dir + "/" + name + ".log")
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "ADDR="+addr, "CALIBRATION_STORE="+store, "RATELIMIT_ENABLED=false")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		logs.Close()
		return nil, fmt.Errorf("compare: starting %s: %w", bin, err)
	}
	s := &compareServer{base: "http://" + addr, cmd: cmd, client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
		Timeout:   time.Minute,
	}}
	for i := 0; i < 200; i++ {
		resp, err := s.client.Get(s.base + "/api/session/health")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("compare: %s did not answer on %s within 5 s (its log: %s)", bin, addr, logs.Name())
}

// do sends c and returns the time to the last byte of a 200 answer.
func (s *compareServer) do(ctx context.Context, c compareCase) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+c.path, bytes.NewReader(c.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", c.contentType)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("compare: %s %s: %w", s.base, c.name, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("compare: %s %s: %d %s %v", s.base, c.name, resp.StatusCode, strings.TrimSpace(string(body)), err)
	}
	return d, nil
}

// stop kills the server and waits for it.
func (s *compareServer) stop() {
	s.client.CloseIdleConnections()
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// medianDuration returns the median of ds (the upper one of an even count).
func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
