package main

// The healthcheck subcommand: asks a server on this machine whether it is
// ready, for container HEALTHCHECKs (the image has no curl or shell).

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck GETs the readiness route of the server on 127.0.0.1 at
// the port ADDR or PORT names (5000 by default) and fails unless it answers
// 200 within the timeout.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	port := "5000"
	if addr := getenv("ADDR"); addr != "" {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			port = p
		}
	} else if p := getenv("PORT"); p != "" {
		port = p
	}
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stdout)
	url := fs.String("url", "http://127.0.0.1:"+port+"/api/session/ready", "the readiness URL (loopback)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	target, err := loopbackURL(*url)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", target, resp.StatusCode, body)
	}
	fmt.Fprintf(stdout, "%s\n", body)
	return nil
}

// loopbackURL refuses URLs whose host is not a loopback address.
func loopbackURL(raw string) (string, error) {
	req, err := http.NewRequest("GET", raw, nil)
	if err != nil {
		return "", err
	}
	host := req.URL.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("%s is not a loopback address", host)
	}
	return req.URL.String(), nil
}
