package main

// The rate-limit response headers: X-RateLimit-Limit/-Remaining/-Reset and
// the IETF RateLimit-Policy and RateLimit fields, made with one allocation.

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// smallIntValues returns header values of 0 to n−1.
func smallIntValues(n int) [][]string {
	v := make([][]string, n)
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}

// rateLimitText is a response's RateLimit field value, its text in buf.
type rateLimitText struct {
	vals [1]string
	buf  [80]byte
}

// textSlabSize is how many RateLimit texts one allocation holds.
const textSlabSize = 64

// textChunk is one allocation of RateLimit texts, handed out in turn.
type textChunk struct {
	next  atomic.Int32
	texts [textSlabSize]rateLimitText
}

// textSlab hands out the RateLimit texts of a route's responses from shared
// chunks, so that a response costs a share of an allocation. A text is
// written once, by the response that took it, and never again; a chunk
// lives while any of its texts is referenced.
type textSlab struct{ cur atomic.Pointer[textChunk] }

func (s *textSlab) take() *rateLimitText {
	if c := s.cur.Load(); c != nil {
		if i := c.next.Add(1) - 1; i < textSlabSize {
			return &c.texts[i]
		}
	}
	c := new(textChunk)
	c.next.Store(1)
	s.cur.Store(c)
	return &c.texts[0]
}

// rateHeaderNumbers is a response's RateLimit field value together with the
// X-RateLimit-Reset and -Remaining values that the route's number cache did
// not hold; once made it is immutable and the cache shares it.
type rateHeaderNumbers struct {
	vals [3]string // RateLimit, then the numbers in nums
	nums [2]int64  // the numbers of vals[1] and vals[2] (−1: none)
	buf  [112]byte
}

// numberCacheSize is how many recent numbers a route keeps as header values.
const numberCacheSize = 64

// numberCache holds recent X-RateLimit-Reset and -Remaining values of a
// route by number (direct-mapped), so that the responses of a busy route
// share them instead of each formatting its own.
type numberCache [numberCacheSize]atomic.Pointer[rateHeaderNumbers]

func (c *numberCache) get(n int64) []string {
	p := c[uint64(n)%numberCacheSize].Load()
	switch {
	case p == nil:
		return nil
	case p.nums[0] == n:
		return p.vals[1:2:2]
	case p.nums[1] == n:
		return p.vals[2:3:3]
	}
	return nil
}

func (c *numberCache) put(p *rateHeaderNumbers) {
	for _, n := range p.nums {
		if n >= 0 {
			c[uint64(n)%numberCacheSize].Store(p)
		}
	}
}

// headerChecks is what the headers say of each check: the requests left
// (−1: not counted at its level) and whether the RateLimit field shows it.
type headerChecks struct {
	left  [maxChecks]int64
	shown [maxChecks]bool
}

// headerView returns the check the X-RateLimit headers report (the
// refusing one, else the one with the fewest requests left) and, for the
// RateLimit field, the checks it shows: those counted whose other level's
// check of the same window (if any) does not have fewer requests left (on
// a tie, the client's).
func (rl *routeLimits) headerView(res *limitResult, hc *headerChecks) (current int) {
	n := len(rl.checks)
	for i := 0; i < n; i++ {
		hc.left[i] = -1
		if s := res.states[i]; s != 0 {
			hc.left[i] = remaining(rl.checks[i].limit, s)
		}
	}
	current = res.failed
	for i := 0; i < n; i++ {
		mine := hc.left[i]
		if mine < 0 {
			continue
		}
		if res.failed < 0 && (current < 0 || mine < hc.left[current]) {
			current = i
		}
		j := rl.partner[i]
		hc.shown[i] = j < 0 || hc.left[j] < 0 || mine < hc.left[j] || mine == hc.left[j] && rl.checks[i].level == levelClient
	}
	return max(current, 0)
}

func remaining(lim rateLimit, s windowState) int64 {
	return max(0, int64(lim.count)-int64(s.count()))
}

// setRateHeaders sets X-RateLimit-Limit/-Remaining/-Reset for the current
// check (Reset in Unix seconds, rounded up, as Flask-Limiter sends it), the
// IETF draft-10 RateLimit-Policy field with every check and the RateLimit
// field with, for each window, the level with fewer requests left. It
// allocates once: the RateLimit text, with the numbers no cache holds.
func setRateHeaders(h http.Header, rl *routeLimits, res *limitResult, nowMs int64) {
	var hc headerChecks
	current := rl.headerView(res, &hc)
	cur := res.states[current]
	if cur == 0 {
		cur = packWindow(nowMs+rl.checks[current].windowMs, 0)
	}
	reset, left := (cur.endMs()+999)/1000, remaining(rl.checks[current].limit, cur)
	resetV, leftV := rl.numbers.get(reset), []string(nil)
	if left < int64(len(rl.smallInts)) {
		leftV = rl.smallInts[left]
	} else {
		leftV = rl.numbers.get(left)
	}
	var rateV []string
	if resetV != nil && leftV != nil {
		t := rl.texts.take()
		t.vals[0] = textIn(t.buf[:], rl.appendRateLimit(t.buf[:0], res, &hc, nowMs))
		rateV = t.vals[0:1:1]
	} else {
		t := &rateHeaderNumbers{nums: [2]int64{-1, -1}}
		b := rl.appendRateLimit(t.buf[:0], res, &hc, nowMs)
		t.vals[0] = textIn(t.buf[:], b)
		if resetV == nil {
			t.nums[0] = reset
			t.vals[1], b = numberIn(t.buf[:], b, reset)
			resetV = t.vals[1:2:2]
		}
		if leftV == nil {
			t.nums[1] = left
			t.vals[2], _ = numberIn(t.buf[:], b, left)
			leftV = t.vals[2:3:3]
		}
		rl.numbers.put(t)
		rateV = t.vals[0:1:1]
	}
	h["X-Ratelimit-Limit"] = rl.limitHdr[current]
	h["X-Ratelimit-Remaining"] = leftV
	h["X-Ratelimit-Reset"] = resetV
	h["Ratelimit-Policy"] = rl.policy
	h["Ratelimit"] = rateV
}

// appendRateLimit appends the RateLimit field's items: "name";r=R;t=T.
func (rl *routeLimits) appendRateLimit(b []byte, res *limitResult, hc *headerChecks, nowMs int64) []byte {
	start := len(b)
	for i, s := range res.states[:len(rl.checks)] {
		if !hc.shown[i] {
			continue
		}
		if len(b) > start {
			b = append(b, ", "...)
		}
		b = append(b, rl.items[i]...)
		b = appendUint(b, uint64(hc.left[i]))
		b = append(b, ";t="...)
		b = appendUint(b, uint64(max(0, (s.endMs()-nowMs+999)/1000)))
	}
	return b
}

// textIn returns the text b as a string: one that points into buf when b
// was written there (buf is never written again), else a copy.
func textIn(buf, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(b) == len(buf) && len(b) <= len(buf) && &b[:1][0] == &buf[0] {
		return unsafe.String(&buf[0], len(b))
	}
	return string(b)
}

// numberIn appends n to b (which holds text of buf from its start) and
// returns n's text, pointing into buf when it fits, and b with it.
func numberIn(buf, b []byte, n int64) (string, []byte) {
	start := len(b)
	b = appendUint(b, uint64(n))
	if cap(b) == len(buf) && &b[:1][0] == &buf[0] {
		return unsafe.String(&buf[start], len(b)-start), b
	}
	return string(b[start:]), b
}

// appendUint appends v in decimal, two digits at a time, in place when b
// has room.
func appendUint(b []byte, v uint64) []byte {
	const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
	n := 1
	for p := uint64(10); v >= p && n < 19; p *= 10 { // 10^19 is the last power of ten below 2^64
		n++
	}
	if v >= 1e19 {
		n = 20
	}
	if cap(b)-len(b) < n {
		return strconv.AppendUint(b, v, 10)
	}
	b = b[:len(b)+n]
	d := b[len(b)-n:]
	i := n
	for v >= 100 {
		q := v / 100
		r := v - q*100
		d[i-1], d[i-2] = pairs[2*r+1], pairs[2*r]
		i -= 2
		v = q
	}
	if v >= 10 {
		d[1], d[0] = pairs[2*v+1], pairs[2*v]
	} else {
		d[0] = byte('0' + v)
	}
	return b
}
