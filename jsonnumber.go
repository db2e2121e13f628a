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

// pow10 holds 10^k for k = 0 … 22, the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// scanNumber reads the JSON number starting at data[i] in one pass: its
// grammar checked as jsonNumberEnd checks it (end and ok are what
// jsonNumberEnd returns) and, when ok, its value, bit for bit what
// strconv.ParseFloat gives (±Inf beyond float64's range). Most numbers take
// Clinger's fast path: a decimal m·10^e with m < 2^53 and |e| ≤ 22 is one
// exact integer times or divided by one exact power of ten, so the single
// rounding of that operation is the correctly rounded value. Longer ones
// go to parseDecimalExact, then to strconv.ParseFloat.
func scanNumber(data []byte, i int) (v float64, end int, ok bool) {
	start := i
	neg := i < len(data) && data[i] == '-'
	if neg {
		i++
	}
	var mant uint64 // the significant digits read so far, at most 19
	digits, exp10 := 0, 0
	exact := true // mant holds every significant digit
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
			if digits == 19 {
				exact = false
				continue
			}
			mant = mant*10 + uint64(data[i]-'0')
			digits++
		}
	default:
		return 0, i, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		first := i
		for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
			switch d := data[i] - '0'; {
			case digits == 19:
				exact = false
			case mant == 0 && d == 0: // a leading zero
				exp10--
			default:
				mant = mant*10 + uint64(d)
				digits++
				exp10--
			}
		}
		if i == first {
			return 0, i, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		sign := 1
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			if data[i] == '-' {
				sign = -1
			}
			i++
		}
		first, e := i, 0
		for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
			if e < 100000 {
				e = e*10 + int(data[i]-'0')
			}
		}
		if i == first {
			return 0, i, false
		}
		exp10 += sign * e
	}
	if exact && mant < 1<<53 && exp10 >= -22 && exp10 <= 22 {
		v = float64(mant)
		if exp10 > 0 {
			v *= pow10[exp10]
		} else if exp10 < 0 {
			v /= pow10[-exp10]
		}
		if neg {
			v = -v
		}
		return v, i, true
	}
	if v, ok := parseDecimalExact(data[start:i]); ok {
		return v, i, true
	}
	v, _ = strconv.ParseFloat(string(data[start:i]), 64) // the grammar is checked: only a range error remains, with ±Inf or ±0
	return v, i, true
}
