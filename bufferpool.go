package main

// Byte buffers lent to a request for the time it is served.

import "sync"

// maxPooledBuffer is the largest buffer a bufferPool keeps: a rare large
// request does not hold its memory after it.
const maxPooledBuffer = 256 << 10

// bufferPool lends byte buffers (a batch's body, its answer) so that a
// steady stream of requests reuses warm memory instead of allocating and
// zeroing its own. A buffer must not be used after it is put back.
type bufferPool struct{ pool sync.Pool }

// get returns an empty buffer, with the capacity of one put back earlier
// when there is one (nil otherwise).
func (p *bufferPool) get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return nil
}

// put gives b's storage back for reuse; buffers beyond maxPooledBuffer are
// left to the garbage collector.
func (p *bufferPool) put(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuffer {
		return
	}
	p.pool.Put(&b)
}
