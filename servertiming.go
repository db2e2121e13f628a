package main

// Server-Timing: where a request's time went (decode, waiting for a slot,
// fit, store), shown by the browser's developer tools.

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// timingPhase is one named part of a request's time.
type timingPhase struct {
	name string
	d    time.Duration
}

// setServerTiming sets the Server-Timing header, durations in milliseconds.
func setServerTiming(h http.Header, phases ...timingPhase) {
	var b strings.Builder
	for i, p := range phases {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.name)
		b.WriteString(";dur=")
		b.WriteString(strconv.FormatFloat(float64(p.d.Microseconds())/1000, 'f', 3, 64))
	}
	h.Set("Server-Timing", b.String())
}
