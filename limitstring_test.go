package main

// Tests and fuzzing of the limit-string parser.

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// fuzzRateUnits is the limits library's unit table, written out here.
var fuzzRateUnits = map[string]time.Duration{
	"second": time.Second, "minute": time.Minute, "hour": time.Hour,
	"day": 24 * time.Hour, "month": 30 * 24 * time.Hour, "year": 365 * 24 * time.Hour,
}

// fuzzUnitNames are the unit words of composed limit strings.
var fuzzUnitNames = [...]string{"second", "minute", "hour", "day", "month", "year"}

// FuzzLimitString parses s as it comes, and a limit string composed from
// count, multiple and unit, whose outcome is known in advance: accepted
// exactly when count is in [1, maxLimitCount], multiple in [1, 1000] and
// the window at most maxWindow (100 years).
func FuzzLimitString(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, count uint32, multiple uint16, unit byte) {
		checkRateLimits(t, s)
		name := fuzzUnitNames[int(unit)%len(fuzzUnitNames)]
		composed := strconv.FormatUint(uint64(count), 10) + " per " + strconv.Itoa(int(multiple)) + " " + name + "s"
		limits := checkRateLimits(t, composed)
		valid := count >= 1 && count <= maxLimitCount && multiple >= 1 && multiple <= 1000 &&
			float64(multiple)*float64(fuzzRateUnits[name]) <= float64(maxWindow)
		switch {
		case valid && len(limits) != 1:
			t.Fatalf("%q: refused or not one limit: %v", composed, limits)
		case valid && (limits[0].count != count || limits[0].multiple != int(multiple) || limits[0].unit != name):
			t.Fatalf("%q: parsed as %+v", composed, limits[0])
		case !valid && limits != nil:
			t.Fatalf("%q: accepted as %v", composed, limits)
		}
	})
}

// checkRateLimits parses s and checks every limit it yields: count in
// [1, maxLimitCount], window = multiple × unit > 0, and String() parsing
// back to the same limit. It returns the limits (nil on error).
func checkRateLimits(t *testing.T, s string) []rateLimit {
	t.Helper()
	limits, err := parseRateLimits(s)
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("%q: empty error message", s)
		}
		return nil
	}
	for _, l := range limits {
		if l.count < 1 || l.count > maxLimitCount {
			t.Fatalf("%q: count %d outside [1, %d]", s, l.count, maxLimitCount)
		}
		if l.window <= 0 {
			t.Fatalf("%q: limit %v has window %v", s, l, l.window)
		}
		unit, ok := fuzzRateUnits[l.unit]
		if !ok || l.multiple < 1 || l.window != time.Duration(l.multiple)*unit {
			t.Fatalf("%q: limit %+v: window is not multiple × unit", s, l)
		}
		again, err := parseRateLimits(l.String())
		if err != nil || len(again) != 1 || again[0] != l {
			t.Fatalf("%q: %+v prints as %q, which parses as %+v (%v)", s, l, l.String(), again, err)
		}
	}
	return limits
}

func TestParseRateLimits(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"10 per minute", []string{"10 per 1 minute"}},
		{"10/minute", []string{"10 per 1 minute"}},
		{"10 per 2 minutes", []string{"10 per 2 minute"}},
		{"200 per day;50 per hour", []string{"200 per 1 day", "50 per 1 hour"}},
		{"5/second, 100 PER HOUR", []string{"5 per 1 second", "100 per 1 hour"}},
		{"1 per year|3 per month", []string{"1 per 1 year", "3 per 1 month"}},
		{"", nil},
	}
	for _, tc := range tests {
		got, err := parseRateLimits(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var s []string
		for _, l := range got {
			s = append(s, l.String())
		}
		if fmt.Sprint(s) != fmt.Sprint(tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, s, tc.want)
		}
	}
	for _, bad := range []string{"ten per minute", "10 per fortnight", "0 per minute", "10 minute", "10 per -1 minute", "99999999999 per second"} {
		if _, err := parseRateLimits(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
