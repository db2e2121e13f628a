package main

// Tests of the Redis client: URLs and their redaction, commands and
// replies against a real redis-server (password, database, TLS), the pool
// after a server restart, timeouts and the pool's bound against a server
// that never answers, and the reply reader under fuzzing.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRedisURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want redisOptions
	}{
		{"redis://localhost", redisOptions{addr: "localhost:6379"}},
		{"redis://:s3cret@10.0.0.5:6380/2", redisOptions{addr: "10.0.0.5:6380", password: "s3cret", db: 2}},
		{"redis://s3cret@host", redisOptions{addr: "host:6379", password: "s3cret"}},
		{"redis://app:pw@host/?db=5&dial_timeout=250ms&read_timeout=2s&write_timeout=3s&pool_size=7", redisOptions{addr: "host:6379", username: "app", password: "pw", db: 5, dialTimeout: 250 * time.Millisecond, readTimeout: 2 * time.Second, writeTimeout: 3 * time.Second, poolSize: 7}},
		{"redis://[::1]:7000", redisOptions{addr: "[::1]:7000"}},
	} {
		got, err := parseRedisURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		w := tc.want
		if w.dialTimeout == 0 {
			w.dialTimeout, w.readTimeout, w.writeTimeout, w.poolSize = defaultRedisDialTimeout, defaultRedisReadTimeout, defaultRedisWriteTimeout, got.poolSize
		}
		if got.tls != nil || got != w {
			t.Errorf("%s: %+v, want %+v", tc.url, got, w)
		}
	}
	if o, err := parseRedisURL("rediss://:pw@cache.example:6380"); err != nil || o.tls == nil || o.tls.ServerName != "cache.example" {
		t.Errorf("rediss: %+v %v", o, err)
	}
	for _, bad := range []string{"http://host", "redis://", "redis://host/x", "redis://host/-1", "redis://host?read_timeout=soon", "redis://host?pool_size=0", "redis://host?colour=red", "redis://host:port"} {
		if _, err := parseRedisURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := parseRedisURL("redis://:hunter2@host/x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:hunter2@host:6379/1": "redis://:xxxxx@host:6379/1",
		"redis://app:hunter2@host":     "redis://app:xxxxx@host",
		"redis://hunter2@host":         "redis://xxxxx@host",
		"redis://host:6379":            "redis://host:6379",
		"./data":                       "./data",
		"redis://:hun%zzter2@host":     "redis://xxxxx@host",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedisCommands: replies of every kind, server errors that leave the
// connection usable, binary values.
func TestRedisCommands(t *testing.T) {
	r := startRedis(t)
	c := r.client(t, r.url)
	ctx := context.Background()
	must := func(args ...any) redisReply {
		t.Helper()
		rep, err := c.do(ctx, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return rep
	}
	if rep := must("PING"); rep.kind != '+' || string(rep.str) != "PONG" {
		t.Fatalf("PING: %+v", rep)
	}
	value := []byte("a\r\nb\x00c")
	must("SET", "k", value)
	if rep := must("GET", "k"); rep.kind != '$' || !bytes.Equal(rep.str, value) {
		t.Fatalf("GET: %+v", rep)
	}
	if rep := must("GET", "missing"); !rep.null {
		t.Fatalf("GET of a missing key: %+v", rep)
	}
	if rep := must("INCR", "n"); rep.kind != ':' || rep.int != 1 {
		t.Fatalf("INCR: %+v", rep)
	}
	var rerr redisError
	if _, err := c.do(ctx, "INCR", "k"); !errors.As(err, &rerr) || !strings.HasPrefix(string(rerr), "ERR") {
		t.Fatalf("INCR of a string: %v", err)
	}
	rep := must("EVAL", "return {1, 'two', {3}, redis.error_reply('no')}", 0)
	if a := rep.array; rep.kind != '*' || len(a) != 4 || a[0].int != 1 || string(a[1].str) != "two" || a[2].array[0].int != 3 || a[3].kind != '-' {
		t.Fatalf("nested array: %+v", rep)
	}
	if rep := must("INCRBY", "n", int64(41)); rep.int != 42 {
		t.Fatalf("INCRBY: %+v", rep)
	}
}

// TestRedisPasswordAndDatabase: AUTH from the URL (password alone, or
// user and password), SELECT from its path.
func TestRedisPasswordAndDatabase(t *testing.T) {
	r := startRedis(t, "--requirepass", "s3cret")
	ctx := context.Background()
	if _, err := r.client(t, r.url).do(ctx, "PING"); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("without the password: %v", err)
	}
	if _, err := r.client(t, strings.Replace(r.url, "//", "//:wrong@", 1)).do(ctx, "PING"); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	db3 := r.client(t, strings.Replace(r.url, "//", "//:s3cret@", 1)+"/3")
	db0 := r.client(t, strings.Replace(r.url, "//", "//default:s3cret@", 1))
	if _, err := db3.do(ctx, "SET", "where", "three"); err != nil {
		t.Fatal(err)
	}
	if rep, err := db0.do(ctx, "GET", "where"); err != nil || !rep.null {
		t.Fatalf("database 0 sees database 3's key: %+v %v", rep, err)
	}
	if rep, err := db3.do(ctx, "GET", "where"); err != nil || string(rep.str) != "three" {
		t.Fatalf("database 3: %+v %v", rep, err)
	}
}

// TestRedisAfterRestart: after the server restarts, the pool's dead
// connections are replaced and the next command succeeds.
func TestRedisAfterRestart(t *testing.T) {
	r := startRedis(t)
	c := r.client(t, r.url)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // several pooled connections
		wg.Add(1)
		go func() { defer wg.Done(); c.do(ctx, "PING") }()
	}
	wg.Wait()
	r.restart()
	if _, err := c.do(ctx, "PING"); err != nil {
		t.Fatalf("the first command after the restart: %v", err)
	}
	r.stop()
	start := time.Now()
	if _, err := c.do(ctx, "PING"); err == nil {
		t.Fatal("a stopped server answered")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a stopped server took %v to fail", took)
	}
}

// silentServer accepts connections and never answers; it returns its
// address.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestRedisTimeouts: a server that never answers costs a command its read
// timeout, and the pool's bound makes further commands wait at most the
// dial timeout for a connection.
func TestRedisTimeouts(t *testing.T) {
	addr := silentServer(t)
	o, err := parseRedisURL("redis://" + addr + "?read_timeout=200ms&dial_timeout=100ms&pool_size=2")
	if err != nil {
		t.Fatal(err)
	}
	c := newRedisClient(o)
	defer c.Close()
	ctx := context.Background()
	start := time.Now()
	if _, err := c.do(ctx, "PING"); err == nil || time.Since(start) > time.Second {
		t.Fatalf("a silent server: %v after %v", err, time.Since(start))
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	took := make([]time.Duration, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, errs[i] = c.do(ctx, "PING")
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	busy := 0
	for i, err := range errs {
		if err == nil || took[i] > time.Second {
			t.Fatalf("command %d: %v after %v", i, err, took[i])
		}
		if strings.Contains(err.Error(), "connections busy") {
			busy++
		}
	}
	if busy == 0 {
		t.Errorf("no command waited for the pool's bound: %v", errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := c.do(ctx, "PING"); err == nil || time.Since(start) > 150*time.Millisecond {
		t.Fatalf("the context's deadline: %v after %v", err, time.Since(start))
	}
}

// TestRedisTLS: a rediss:// URL talks TLS to a server with a TLS port.
func TestRedisTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := startRedis(t, "--tls-port", strconv.Itoa(port), "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
	o, err := parseRedisURL("rediss://localhost:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	o.addr = "127.0.0.1:" + strconv.Itoa(port)
	o.tls.RootCAs = pool
	c := newRedisClient(o)
	defer c.Close()
	if rep, err := c.do(context.Background(), "PING"); err != nil || string(rep.str) != "PONG" {
		t.Fatalf("PING over TLS: %+v %v\n%s", rep, err, r.out)
	}
}

// writeTestCert writes a self-signed certificate for localhost and its key.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// FuzzRedisReply: the reply reader never panics on any input, and reads
// back what writeRedisCommand wrote.
func FuzzRedisReply(f *testing.F) {
	for _, seed := range []string{"+OK\r\n", "-ERR no\r\n", ":42\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*2\r\n:1\r\n$1\r\nx\r\n", "*-1\r\n", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "$5\r\nab\r\n", "*3\r\n:1\r\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 64)
		rep, err := readRedisReply(r, 0)
		if err == nil && rep.kind == 0 {
			t.Fatalf("%q: a reply without a kind", data)
		}
		var w bytes.Buffer
		bw := bufio.NewWriter(&w)
		if err := writeRedisCommand(bw, []any{data, "x", 7}); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		back, err := readRedisReply(bufio.NewReader(&w), 0)
		if err != nil || len(back.array) != 3 || !bytes.Equal(back.array[0].str, data) || string(back.array[2].str) != "7" {
			t.Fatalf("a written command did not read back: %+v %v", back, err)
		}
	})
}
