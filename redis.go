package main

// A small Redis client on the standard library: RESP2 over TCP or TLS,
// redis:// and rediss:// URLs with password and database, a bounded
// connection pool, and dial, read and write timeouts. Only what the
// limiter's and the calibration store's Redis backends use.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// redisOptions are the connection settings of a Redis URL:
// redis[s]://[[user]:password@]host[:port][/db][?dial_timeout=1s&read_timeout=1s&write_timeout=1s&pool_size=16]
type redisOptions struct {
	addr               string
	username, password string
	db                 int
	tls                *tls.Config // nil: plain TCP
	dialTimeout        time.Duration
	readTimeout        time.Duration
	writeTimeout       time.Duration
	poolSize           int // connections open at most
}

// Default timeouts: a request waits for Redis at most about the sum of
// the three (dial, write, read), whatever happens to the server.
const (
	defaultRedisDialTimeout  = time.Second
	defaultRedisReadTimeout  = time.Second
	defaultRedisWriteTimeout = time.Second
)

// isRedisURL reports whether s names a Redis server.
func isRedisURL(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://")
}

// parseRedisURL parses a redis:// or rediss:// URL. Errors quote the URL
// without its password.
func parseRedisURL(raw string) (redisOptions, error) {
	o := redisOptions{
		dialTimeout: defaultRedisDialTimeout, readTimeout: defaultRedisReadTimeout, writeTimeout: defaultRedisWriteTimeout,
		poolSize: max(16, 4*runtime.GOMAXPROCS(0)),
	}
	bad := func(why string) (redisOptions, error) {
		return redisOptions{}, fmt.Errorf("redis URL %q: %s", redactURL(raw), why)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return bad("not a URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "redis":
	case "rediss":
		o.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	default:
		return bad("want redis:// or rediss://")
	}
	if u.Hostname() == "" {
		return bad("no host")
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	o.addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		o.username = u.User.Username()
		o.password, _ = u.User.Password()
		if _, set := u.User.Password(); !set { // redis://secret@host: the password alone
			o.username, o.password = "", u.User.Username()
		}
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if o.db, err = strconv.Atoi(db); err != nil || o.db < 0 {
			return bad("the database must be a number such as /0")
		}
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "dial_timeout", "read_timeout", "write_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return bad(k + " must be a duration such as 500ms")
			}
			*map[string]*time.Duration{"dial_timeout": &o.dialTimeout, "read_timeout": &o.readTimeout, "write_timeout": &o.writeTimeout}[k] = d
		case "pool_size":
			if o.poolSize, err = strconv.Atoi(v); err != nil || o.poolSize < 1 {
				return bad("pool_size must be a positive number")
			}
		case "db":
			if o.db, err = strconv.Atoi(v); err != nil || o.db < 0 {
				return bad("db must be a number")
			}
		default:
			return bad(fmt.Sprintf("unknown parameter %q (known: dial_timeout, read_timeout, write_timeout, pool_size, db)", k))
		}
	}
	return o, nil
}

// redactURL returns s with any password in it replaced, for messages and logs.
func redactURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.User == nil {
		if i, j := strings.Index(s, "://"), strings.LastIndex(s, "@"); i >= 0 && j > i { // unparsable: cut the user part
			return s[:i+3] + "xxxxx@" + s[j+1:]
		}
		return s
	}
	if _, set := u.User.Password(); set {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	} else {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

// redisError is an error reply from the server ("ERR ...", "NOSCRIPT ...").
type redisError string

func (e redisError) Error() string { return "redis: " + string(e) }

// errRedisClosed is returned by a client after Close.
var errRedisClosed = errors.New("redis: client closed")

// redisReply is one RESP2 reply. kind is '+' (str), ':' (int), '$' (str;
// null for a nil bulk string) or '*' (array; null for a nil array); error
// replies are returned as redisError instead.
type redisReply struct {
	kind  byte
	str   []byte
	int   int64
	array []redisReply
	null  bool
}

// Bounds on replies, against a broken or hostile server.
const (
	maxRedisBulk  = 512 << 20 // Redis's own proto-max-bulk-len
	maxRedisArray = 1 << 20
	maxRedisDepth = 4
)

// redisClient is a pool of connections to one server, safe for concurrent use.
type redisClient struct {
	opts  redisOptions
	slots chan struct{} // one token per connection open or being dialed

	mu          sync.Mutex
	idle        []*redisConn
	closed      bool
	dialErr     error     // the last dial failure
	dialRetryAt time.Time // no new dial before this (a failed dial is not repeated at once)
}

// redialDelay is how long a failed dial is answered from memory: a server
// that is down costs one connection attempt per redialDelay, not one per
// request.
const redialDelay = 100 * time.Millisecond

type redisConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func newRedisClient(o redisOptions) *redisClient {
	return &redisClient{opts: o, slots: make(chan struct{}, o.poolSize)}
}

// do sends one command and returns its reply. Arguments are strings,
// []byte or integers. A redisError is the server's answer; any other error
// means the connection failed (it is dropped, with the idle ones, which
// usually failed with it). A command that fails on a reused connection
// before any byte of its reply arrived is sent once more on a new one
// (after a server restart the pool's connections are all dead).
func (c *redisClient) do(ctx context.Context, args ...any) (redisReply, error) {
	for attempt := 0; ; attempt++ {
		conn, reused, err := c.get(ctx)
		if err != nil {
			return redisReply{}, err
		}
		rep, err := conn.roundTrip(ctx, c.opts, args)
		var rerr redisError
		if err == nil || errors.As(err, &rerr) {
			c.put(conn)
			return rep, err
		}
		conn.conn.Close()
		c.dropIdle()
		<-c.slots
		if !reused || attempt > 0 || !peerClosed(err) {
			return redisReply{}, fmt.Errorf("redis %s: %w", c.opts.addr, err)
		}
	}
}

// peerClosed reports whether err says the server had closed the connection.
func peerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// get returns an idle connection or dials a new one, waiting for a free
// slot at most the dial timeout.
func (c *redisClient) get(ctx context.Context) (conn *redisConn, reused bool, err error) {
	wait := time.NewTimer(c.opts.dialTimeout)
	defer wait.Stop()
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	case <-wait.C:
		return nil, false, fmt.Errorf("redis %s: all %d connections busy for %v", c.opts.addr, c.opts.poolSize, c.opts.dialTimeout)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.slots
		return nil, false, errRedisClosed
	}
	if n := len(c.idle); n > 0 {
		conn = c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return conn, true, nil
	}
	if time.Now().Before(c.dialRetryAt) {
		err = c.dialErr
		c.mu.Unlock()
		<-c.slots
		return nil, false, err
	}
	c.mu.Unlock()
	conn, err = c.dial(ctx)
	if err != nil {
		c.mu.Lock()
		c.dialErr, c.dialRetryAt = err, time.Now().Add(redialDelay)
		c.mu.Unlock()
		<-c.slots
		return nil, false, err
	}
	return conn, false, nil
}

// put returns a healthy connection to the pool.
func (c *redisClient) put(conn *redisConn) {
	c.mu.Lock()
	if c.closed {
		conn.conn.Close()
	} else {
		c.idle = append(c.idle, conn)
	}
	c.mu.Unlock()
	<-c.slots
}

// dropIdle closes the idle connections.
func (c *redisClient) dropIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, conn := range idle {
		conn.conn.Close()
	}
}

// dial connects, authenticates and selects the database.
func (c *redisClient) dial(ctx context.Context) (*redisConn, error) {
	d := net.Dialer{Timeout: c.opts.dialTimeout, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	if c.opts.tls != nil {
		td := tls.Dialer{NetDialer: &d, Config: c.opts.tls}
		nc, err = td.DialContext(ctx, "tcp", c.opts.addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", c.opts.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", c.opts.addr, err)
	}
	conn := &redisConn{conn: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 16<<10)}
	var setup [][]any
	switch {
	case c.opts.username != "":
		setup = append(setup, []any{"AUTH", c.opts.username, c.opts.password})
	case c.opts.password != "":
		setup = append(setup, []any{"AUTH", c.opts.password})
	}
	if c.opts.db != 0 {
		setup = append(setup, []any{"SELECT", c.opts.db})
	}
	for _, cmd := range setup {
		if _, err := conn.roundTrip(ctx, c.opts, cmd); err != nil {
			nc.Close()
			return nil, fmt.Errorf("redis %s: %s: %w", c.opts.addr, cmd[0], err)
		}
	}
	return conn, nil
}

// Close closes the idle connections; connections in use are closed when
// they are returned. Commands after Close fail.
func (c *redisClient) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.dropIdle()
	return nil
}

// deadline is now + d, or ctx's deadline if sooner.
func deadline(ctx context.Context, d time.Duration) time.Time {
	t := time.Now().Add(d)
	if cd, ok := ctx.Deadline(); ok && cd.Before(t) {
		return cd
	}
	return t
}

// roundTrip writes one command and reads its reply.
func (rc *redisConn) roundTrip(ctx context.Context, o redisOptions, args []any) (redisReply, error) {
	if err := rc.conn.SetWriteDeadline(deadline(ctx, o.writeTimeout)); err != nil {
		return redisReply{}, err
	}
	if err := writeRedisCommand(rc.w, args); err != nil {
		return redisReply{}, err
	}
	if err := rc.w.Flush(); err != nil {
		return redisReply{}, err
	}
	if err := rc.conn.SetReadDeadline(deadline(ctx, o.readTimeout)); err != nil {
		return redisReply{}, err
	}
	return readRedisReply(rc.r, 0)
}

// writeRedisCommand writes args as a RESP array of bulk strings.
func writeRedisCommand(w *bufio.Writer, args []any) error {
	var num [24]byte
	w.WriteByte('*')
	w.Write(strconv.AppendInt(num[:0], int64(len(args)), 10))
	w.WriteString("\r\n")
	for _, a := range args {
		var b []byte
		switch v := a.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		case int:
			b = strconv.AppendInt(num[:0], int64(v), 10)
		case int64:
			b = strconv.AppendInt(num[:0], v, 10)
		default:
			return fmt.Errorf("redis: argument of type %T", a)
		}
		var head [24]byte
		w.WriteByte('$')
		w.Write(strconv.AppendInt(head[:0], int64(len(b)), 10))
		w.WriteString("\r\n")
		w.Write(b)
		if _, err := w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	return nil
}

// noEOF turns an end of input inside a reply into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// errRedisProtocol is a reply that is not RESP2 as this client reads it.
var errRedisProtocol = errors.New("redis: malformed reply")

// readRedisReply reads one reply; depth is its nesting in arrays.
func readRedisReply(r *bufio.Reader, depth int) (redisReply, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return redisReply{}, fmt.Errorf("%w: a line longer than %d bytes", errRedisProtocol, r.Size())
	case err != nil && (len(line) > 0 || depth > 0): // the reply had begun
		return redisReply{}, noEOF(err)
	case err != nil:
		return redisReply{}, err // io.EOF: nothing of the reply arrived
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return redisReply{}, fmt.Errorf("%w: %q", errRedisProtocol, line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return redisReply{kind: kind, str: append([]byte(nil), body...)}, nil
	case '-':
		return redisReply{}, redisError(body)
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return redisReply{}, fmt.Errorf("%w: integer %q", errRedisProtocol, body)
		}
		return redisReply{kind: kind, int: n}, nil
	case '$', '*':
		n, err := strconv.ParseInt(string(body), 10, 64)
		switch {
		case err != nil || n < -1 || kind == '$' && n > maxRedisBulk || kind == '*' && n > maxRedisArray:
			return redisReply{}, fmt.Errorf("%w: length %q", errRedisProtocol, body)
		case n == -1:
			return redisReply{kind: kind, null: true}, nil
		case kind == '$': // read as it arrives: a length alone allocates at most 64 KiB
			var buf bytes.Buffer
			buf.Grow(int(min(n+2, 64<<10)))
			if _, err := io.CopyN(&buf, r, n+2); err != nil {
				return redisReply{}, noEOF(err)
			}
			b := buf.Bytes()
			if b[n] != '\r' || b[n+1] != '\n' {
				return redisReply{}, fmt.Errorf("%w: bulk string without CRLF", errRedisProtocol)
			}
			return redisReply{kind: kind, str: b[:n:n]}, nil
		case depth >= maxRedisDepth:
			return redisReply{}, fmt.Errorf("%w: arrays nested deeper than %d", errRedisProtocol, maxRedisDepth)
		}
		rep := redisReply{kind: kind, array: make([]redisReply, 0, min(n, 1024))}
		for i := int64(0); i < n; i++ {
			el, err := readRedisReply(r, depth+1)
			var rerr redisError
			if errors.As(err, &rerr) { // an error inside an array (EXEC, scripts): kept as its text
				el, err = redisReply{kind: '-', str: []byte(rerr)}, nil
			}
			if err != nil {
				return redisReply{}, err
			}
			rep.array = append(rep.array, el)
		}
		return rep, nil
	}
	return redisReply{}, fmt.Errorf("%w: type %q", errRedisProtocol, kind)
}
