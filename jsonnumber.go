package main

// JSON numbers: exact parsing, and the fields that take a number or a
// numeric string.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
)

// parseJSONNumber parses raw as a finite JSON number; ok is false for
// anything else (strings, null, NaN spelled out, missing).
func parseJSONNumber(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	v, end, ok := scanNumber(raw, 0)
	return v, ok && end == len(raw) && isFinite(v)
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

// eightDigits reports whether the eight bytes of chunk (little-endian) are
// all ASCII digits.
func eightDigits(chunk uint64) bool {
	return (chunk&0xF0F0F0F0F0F0F0F0)|(((chunk+0x0606060606060606)&0xF0F0F0F0F0F0F0F0)>>4) == 0x3333333333333333
}

// parseEightDigits returns the value of eight ASCII digits read
// little-endian into chunk (the first digit in the low byte), combining
// pairs, then quads, then the two halves with one multiplication each.
func parseEightDigits(chunk uint64) uint64 {
	chunk = (chunk & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8
	chunk = (chunk & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (chunk & 0x0000FFFF0000FFFF) * 42949672960001 >> 32
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
// that are short binary fractions — I + G/2^k with I·2^k + G < 2^53, such
// as float32 face-mesh coordinates printed in full — are converted exactly
// with integer arithmetic (exactly representable values are the slow case
// of strconv.ParseFloat); the rest go to strconv.ParseFloat.
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
		// Eight digits at a time while they fit in mant's 19.
		for mant != 0 && digits <= 11 && len(data)-i >= 8 {
			chunk := binary.LittleEndian.Uint64(data[i:])
			if !eightDigits(chunk) {
				break
			}
			mant = mant*100000000 + parseEightDigits(chunk)
			digits += 8
			exp10 -= 8
			i += 8
		}
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
		e, end, ok := scanExponent(data, i+1)
		if !ok {
			return 0, end, false
		}
		i, exp10 = end, exp10+e
	}
	if v, ok := exactDecimal(mant, exp10, exact); ok {
		if neg {
			v = -v
		}
		return v, i, true
	}
	v, _ = strconv.ParseFloat(string(data[start:i]), 64) // the grammar is checked: only a range error remains, with ±Inf or ±0
	return v, i, true
}

// scanExponent reads the exponent digits of a JSON number, with their
// optional sign, from data[i] (just past the 'e'): its value (capped far
// beyond float64's range), where it ends, and false when no digit follows.
func scanExponent(data []byte, i int) (e, end int, ok bool) {
	sign := 1
	if i < len(data) && (data[i] == '+' || data[i] == '-') {
		if data[i] == '-' {
			sign = -1
		}
		i++
	}
	first := i
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		if e < 100000 {
			e = e*10 + int(data[i]-'0')
		}
	}
	return sign * e, i, i > first
}

// exactDecimal returns mant·10^exp10 (mant holding every significant
// digit when exact) when it can be computed exactly or with one correctly
// rounded operation: Clinger's fast path (mant < 2^53, |exp10| ≤ 22, one
// multiplication or division by an exact power of ten), or a short binary
// fraction (mant/10^k = (mant/5^k)/2^k, exact when 5^k divides mant and
// the quotient is below 2^53). ok is false otherwise.
func exactDecimal(mant uint64, exp10 int, exact bool) (v float64, ok bool) {
	if !exact {
		return 0, false
	}
	if mant < 1<<53 && exp10 >= -22 && exp10 <= 22 {
		v = float64(mant)
		if exp10 > 0 {
			v *= pow10[exp10]
		} else if exp10 < 0 {
			v /= pow10[-exp10]
		}
		return v, true
	}
	if exp10 < 0 && exp10 >= -19 {
		k := -exp10
		if g := mant / pow5[k]; g*pow5[k] == mant && g < 1<<53 {
			return float64(g) / float64(uint64(1)<<k), true
		}
	}
	return 0, false
}
