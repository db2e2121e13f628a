package main

// JSON numbers: exact parsing, and the fields that take a number or a
// numeric string.

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// parseJSONNumber parses raw as a finite JSON number; ok is false for
// anything else (strings, null, NaN spelled out, missing).
func parseJSONNumber(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	if end, ok := jsonNumberEnd(raw, 0); !ok || end != len(raw) {
		return 0, false
	}
	if v, ok := parseDecimalExact(raw); ok {
		return v, true
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	return v, err == nil && isFinite(v)
}

// parseNumberToken parses a value the scanner has already read whole: a
// finite JSON number (its syntax checked by skipNumber), or ok false for
// any other value. It skips parseJSONNumber's second syntax check.
func parseNumberToken(token []byte) (float64, bool) {
	if len(token) == 0 || (token[0] != '-' && (token[0] < '0' || token[0] > '9')) {
		return 0, false
	}
	if v, ok := parseDecimalExact(token); ok {
		return v, true
	}
	v, err := strconv.ParseFloat(string(token), 64)
	return v, err == nil && isFinite(v)
}

// parseNumberOrNumericString parses a field that the clients send as a
// JSON number or as a string holding one ("1495", " 9"): ok is false for
// anything else and for values that are not finite.
func parseNumberOrNumericString(raw json.RawMessage) (float64, bool) {
	if v, ok := parseJSONNumber(raw); ok {
		return v, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return v, err == nil && isFinite(v)
}

// pow5 holds 5^k for k = 0 … 19.
var pow5 = func() (p [20]uint64) {
	p[0] = 1
	for k := 1; k < len(p); k++ {
		p[k] = p[k-1] * 5
	}
	return p
}()

// parseDecimalExact converts a well-formed JSON number without exponent
// whose value is a short binary fraction — I + G/2^k with I·2^k + G < 2^53,
// which covers float32 face-mesh coordinates printed in full and integer or
// quarter-pixel targets — exactly, with integer arithmetic. Such decimals
// are the slow case of strconv.ParseFloat (exactly representable values
// defeat its fast algorithm). ok is false for anything else, and the caller
// falls back to strconv.ParseFloat; where ok is true the result is the
// correctly rounded (here: exact) value, bit for bit what ParseFloat gives.
func parseDecimalExact(s []byte) (v float64, ok bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var ip uint64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if i >= 15 {
			return 0, false
		}
		ip = ip*10 + uint64(s[i]-'0')
	}
	var frac uint64
	k := 0
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if k >= 19 {
				return 0, false
			}
			frac = frac*10 + uint64(s[i]-'0')
			k++
		}
	}
	if i != len(s) || frac%pow5[k] != 0 { // an exponent, or not a binary fraction
		return 0, false
	}
	g := frac / pow5[k] // value = ip + g/2^k, g < 2^k
	if ip >= 1<<(53-k) {
		return 0, false
	}
	v = float64(ip<<k+g) / float64(uint64(1)<<k) // both exact, and so is the quotient
	if neg {
		v = -v
	}
	return v, true
}
