package main

// Shortest decimal formatting of the floats in a batch answer, without
// strconv's general machinery for the range gaze predictions fall in.

import (
	"math"
	"strconv"
)

// appendShortestFixed appends v the way strconv.AppendFloat(b, v, 'f', -1,
// 64) does — the shortest decimal that reads back as v, the nearest such
// one to v, in fixed notation — for 2^-6 ≤ |v| < 2^20, the range of screen
// coordinates in pixels. ok is false, and b is returned as it was, outside
// that range and in the cases left to strconv: v a whole number, v a power
// of two (whose lower neighbour is nearer than its upper one), and two
// shortest candidates equally near v.
//
// It is Steele and White's free-format digit generation (Dragon4) on v's
// exact binary fixed-point value. With v = m·2^e2 (m < 2^53), one unit is
// 2^(e2−1), so v is V = 2m units, half the gap to each neighbour of v is
// one unit, and S = 2^(1−e2) units make 1. After j fractional digits, R
// (< S) is what remains of v below them, in units of 10^−j/S, and M = 10^j
// is the half gap in the same units: the digits so far are a candidate
// when R < M, the digits with the last one raised when S − R < M, and the
// first position where either holds gives the shortest output, the nearer
// candidate (2R against S) taken. For e2 in [−58, −33], R·10 < 2^63 and M
// stays below 2^62: plain uint64s. Three cases cannot arise here: a
// candidate on a bound (R = M or S − R = M: the bounds are dyadic with
// 1−e2 ≥ 34 fractional decimal digits, and the loop ends by the 18th, once
// M ≥ S/2), so the even-mantissa rule for bounds never applies; and a
// raised 9 (the raised candidate equals the one an earlier position
// offered, at the same distance from v, which would have ended the loop).
func appendShortestFixed(b []byte, v float64) ([]byte, bool) {
	bits := math.Float64bits(v)
	e := int(bits>>52&0x7ff) - 1023
	frac := bits & (1<<52 - 1)
	if e < -6 || e >= 20 || frac == 0 {
		return b, false
	}
	m := frac | 1<<52
	s := uint(1 - (e - 52)) // 34 … 59
	V := m << 1
	S := uint64(1) << s
	whole, R := V>>s, V&(S-1)
	if R == 0 {
		return b, false
	}
	out := b
	if bits>>63 != 0 {
		out = append(out, '-')
	}
	out = strconv.AppendUint(out, whole, 10)
	out = append(out, '.')
	for M := uint64(1); ; {
		R *= 10
		M *= 10
		d := byte(R >> s)
		R &= S - 1
		low, high := R < M, R+M > S
		switch {
		case !low && !high:
			out = append(out, '0'+d)
			continue
		case low && high && 2*R == S:
			return b, false
		case high && (!low || 2*R > S):
			d++
		}
		return append(out, '0'+d), true
	}
}
