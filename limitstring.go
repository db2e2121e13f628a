package main

// Limit strings in Flask-Limiter's syntax ("10 per minute", "200 per day;50 per hour").

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// rateLimit is one limit in Flask-Limiter's sense: count requests per
// multiple × unit.
type rateLimit struct {
	count    uint32
	multiple int
	unit     string // second, minute, hour, day, month, year
	window   time.Duration
}

// String is the limit in Flask-Limiter's words: "10 per 1 minute".
func (l rateLimit) String() string {
	return fmt.Sprintf("%d per %d %s", l.count, l.multiple, l.unit)
}

// rateUnits are the granularities of the limits library (a month is 30
// days, a year 365).
var rateUnits = map[string]time.Duration{
	"second": time.Second, "minute": time.Minute, "hour": time.Hour,
	"day": 24 * time.Hour, "month": 30 * 24 * time.Hour, "year": 365 * 24 * time.Hour,
}

// rateLimitItem matches one limit: "10 per minute", "10/minute", "10 per 2 hours".
// It is matched against the ASCII-lowercased text (so "PER" works and no
// Unicode case folding turns "ſ" into "s").
var rateLimitItem = regexp.MustCompile(`^\s*([0-9]+)\s*(?:/|\s+per\s+)\s*([0-9]+)?\s*(second|minute|hour|day|month|year)s?\s*$`)

// maxWindow is the longest window a limit may have (time.Duration reaches
// about 292 years).
const maxWindow = 100 * 365 * 24 * time.Hour

// maxLimitCount is the largest count a limit may allow in one window (the
// packed window state keeps 22 bits of count).
const maxLimitCount = 1 << 20

// parseRateLimits parses Flask-Limiter's limit strings; several limits are
// separated by ";", "," or "|". An empty string means no limit.
func parseRateLimits(s string) ([]rateLimit, error) {
	var out []rateLimit
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == '|' }) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		m := rateLimitItem.FindStringSubmatch(asciiLower(part))
		if m == nil {
			return nil, fmt.Errorf("rate limit %q: want a form such as \"10 per minute\", \"10/minute\" or \"200 per day;50 per hour\"", strings.TrimSpace(part))
		}
		count, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil || count == 0 || count > maxLimitCount {
			return nil, fmt.Errorf("rate limit %q: the count must be from 1 to %d", strings.TrimSpace(part), maxLimitCount)
		}
		multiple := 1
		if m[2] != "" {
			if multiple, err = strconv.Atoi(m[2]); err != nil || multiple < 1 || multiple > 1000 {
				return nil, fmt.Errorf("rate limit %q: the window multiple must be from 1 to 1000", strings.TrimSpace(part))
			}
		}
		unit := m[3]
		if time.Duration(multiple) > maxWindow/rateUnits[unit] {
			return nil, fmt.Errorf("rate limit %q: the window is longer than 100 years", strings.TrimSpace(part))
		}
		out = append(out, rateLimit{count: uint32(count), multiple: multiple, unit: unit, window: time.Duration(multiple) * rateUnits[unit]})
	}
	return out, nil
}

// asciiLower lowercases A–Z only.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
