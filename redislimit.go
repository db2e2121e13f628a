package main

// The limiter's counters in Redis, shared by every instance: all of a
// request's checks (every window, client and network) counted in one round
// trip by a Lua script, with keys that expire with their windows.

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// redisLimitScript counts one request: for each check in order it INCRs
// the check's key and, on the first hit of a window, sets the key to
// expire when the window ends; a count over the check's limit stops the
// counting, and the keys after it are read as they stand. It returns the
// index of the refusing check (−1: none), then a count and a time to live
// in milliseconds per check (−2: no such key).
//
// KEYS: one per check. ARGV: per check, its limit and its window in ms.
const redisLimitScript = `
local failed = -1
local out = {0}
for i = 1, #KEYS do
  local n, ttl
  if failed < 0 then
    n = redis.call('INCR', KEYS[i])
    if n == 1 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2*i])
      ttl = tonumber(ARGV[2*i])
    else
      ttl = redis.call('PTTL', KEYS[i])
      if ttl < 0 then
        redis.call('PEXPIRE', KEYS[i], ARGV[2*i])
        ttl = tonumber(ARGV[2*i])
      end
    end
    if n > tonumber(ARGV[2*i-1]) then
      failed = i - 1
    end
  else
    n = tonumber(redis.call('GET', KEYS[i]) or '0')
    ttl = redis.call('PTTL', KEYS[i])
  end
  out[#out+1] = n
  out[#out+1] = ttl
end
out[1] = failed
return out
`

// redisLimitStore keeps the limiter's counters in Redis. A key is
// prefix:route:level:limit:who, e.g.
// eyetrack:ratelimit:calib_validation:network:1000-per-60s:192.0.2.0/24;
// it expires when its window ends, so Redis holds only the windows in
// progress.
type redisLimitStore struct {
	client   *redisClient
	prefix   string
	identity clientIdentity
	sha      string // of redisLimitScript, for EVALSHA
}

func newRedisLimitStore(o redisOptions, prefix string, identity clientIdentity) *redisLimitStore {
	sum := sha1.Sum([]byte(redisLimitScript))
	return &redisLimitStore{client: newRedisClient(o), prefix: prefix, identity: identity, sha: hex.EncodeToString(sum[:])}
}

// redisCounter is one route's checks in Redis.
type redisCounter struct {
	s      *redisLimitStore
	checks []limitCheck
	keys   []string // per check, its key up to the client or network
	argv   []any    // per check, its limit and window
}

func (s *redisLimitStore) counter(route string, checks []limitCheck) limitCounter {
	c := &redisCounter{s: s, checks: checks}
	for _, ch := range checks {
		c.keys = append(c.keys, s.prefix+":"+route+":"+ch.level.String()+":"+strings.TrimPrefix(ch.name, "network-")+":")
		c.argv = append(c.argv, int64(ch.limit.count), ch.windowMs)
	}
	return c
}

// count runs the script (EVALSHA; EVAL when Redis does not have it cached,
// after a restart).
func (c *redisCounter) count(ctx context.Context, keys requestKeys, nowMs int64) (limitResult, error) {
	var who [levels]string
	for lv := range levels {
		who[lv] = c.s.keyText(keys[lv], limitLevel(lv))
	}
	args := make([]any, 0, 3+len(c.checks)*3)
	args = append(args, "EVALSHA", c.s.sha, len(c.checks))
	for i, ch := range c.checks {
		args = append(args, c.keys[i]+who[ch.level])
	}
	args = append(args, c.argv...)
	rep, err := c.s.client.do(ctx, args...)
	var rerr redisError
	if errors.As(err, &rerr) && strings.HasPrefix(string(rerr), "NOSCRIPT") {
		args[0], args[1] = "EVAL", redisLimitScript
		rep, err = c.s.client.do(ctx, args...)
	}
	if err != nil {
		return limitResult{}, fmt.Errorf("counting a request: %w", err)
	}
	return c.result(rep, nowMs)
}

// result turns the script's reply into the windows of the checks.
func (c *redisCounter) result(rep redisReply, nowMs int64) (limitResult, error) {
	a := rep.array
	if rep.kind != '*' || len(a) != 1+2*len(c.checks) {
		return limitResult{}, fmt.Errorf("%w: the limit script answered %d values for %d checks", errRedisProtocol, len(a), len(c.checks))
	}
	res := limitResult{failed: int(a[0].int)}
	if res.failed < -1 || res.failed >= len(c.checks) {
		return limitResult{}, fmt.Errorf("%w: the limit script named check %d", errRedisProtocol, res.failed)
	}
	for i, ch := range c.checks {
		n, ttl := a[1+2*i].int, a[2+2*i].int
		if ttl < 0 { // no window (a check after a refusal): a fresh one
			n, ttl = 0, ch.windowMs
		}
		res.states[i] = packWindow(nowMs+min(ttl, ch.windowMs), uint32(min(max(n, 0), 1<<countBits-1)))
	}
	return res, nil
}

// keyText is the text of a client or network key in Redis keys: the IPv4
// address or network, or the IPv6 prefix ("192.0.2.7", "192.0.2.0/24",
// "2001:db8:1:2::/64").
func (s *redisLimitStore) keyText(k clientKey, level limitLevel) string {
	if k.hi>>32 == 0xffffffff {
		a := netip.AddrFrom4([4]byte{byte(k.hi >> 24), byte(k.hi >> 16), byte(k.hi >> 8), byte(k.hi)})
		if level == levelClient {
			return a.String()
		}
		return a.String() + "/" + strconv.Itoa(s.identity.ipv4NetPrefix)
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(k.hi>>(56-8*i)), byte(k.lo>>(56-8*i))
	}
	bits := s.identity.ipv6Prefix
	if level == levelNetwork {
		bits = s.identity.ipv6NetPrefix
	}
	return netip.AddrFrom16(b).String() + "/" + strconv.Itoa(bits)
}

// reset deletes every key of the limiter (SCAN and UNLINK).
func (s *redisLimitStore) reset(ctx context.Context) error {
	cursor := "0"
	for {
		rep, err := s.client.do(ctx, "SCAN", cursor, "MATCH", s.prefix+":*", "COUNT", 1000)
		if err != nil {
			return fmt.Errorf("resetting the limiter's keys: %w", err)
		}
		if len(rep.array) != 2 {
			return fmt.Errorf("%w: SCAN answered %d values", errRedisProtocol, len(rep.array))
		}
		if keys := rep.array[1].array; len(keys) > 0 {
			args := []any{"UNLINK"}
			for _, k := range keys {
				args = append(args, k.str)
			}
			if _, err := s.client.do(ctx, args...); err != nil {
				return fmt.Errorf("resetting the limiter's keys: %w", err)
			}
		}
		if cursor = string(rep.array[0].str); cursor == "0" {
			return nil
		}
	}
}

// sweep does nothing: Redis expires the windows itself.
func (s *redisLimitStore) sweep(int64) {}

// tracked is not known for Redis (its keys are shared by every instance).
func (s *redisLimitStore) tracked() (clients, networks int64) { return 0, 0 }

func (s *redisLimitStore) Close() error { return s.client.Close() }
