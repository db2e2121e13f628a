package main

// The decoder of iris sample arrays: a JSON scanner that checks every
// sample and names the first bad one, without reflection.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// sampleArray is a decoded JSON array of flat sample objects: for each
// element, the numbers of the wanted keys and, optionally, the raw JSON of
// one pass-through key (the timestamp).
type sampleArray struct {
	values [][6]float64
	raw    []json.RawMessage // per element, the pass-through key's JSON (nil when absent)
}

// sampleSpec says what decodeSampleArray reads: up to six numeric keys,
// all required, and an optional pass-through key.
type sampleSpec struct {
	field       string   // the request field, for error messages
	keys        []string // required finite numbers, in output order
	passThrough string   // kept as raw JSON; "" for none
	maxLen      int      // most elements accepted
	maxAbs      float64  // largest accepted |value|; 0 for no bound
}

// decodeSampleArray parses data, which must be a JSON array of objects,
// without reflection: the wanted keys must hold finite JSON numbers, other
// keys may hold any JSON value and are skipped. Keys match exactly, a
// repeated key's last value wins. Errors are *apiError values naming the
// field, and for a bad element its index and key.
func decodeSampleArray(data []byte, spec sampleSpec) (sampleArray, error) {
	p := jsonScanner{data: data}
	out, err := p.sampleArray(spec)
	if err != nil {
		return sampleArray{}, err
	}
	return out, p.end(spec.field)
}

// sampleArray is decodeSampleArray for the array starting at p.pos (after
// white space); it stops after the array's closing bracket.
func (p *jsonScanner) sampleArray(spec sampleSpec) (sampleArray, error) {
	data := p.data
	var out sampleArray
	fail := func(format string, args ...any) (sampleArray, error) {
		return sampleArray{}, badField(spec.field, format, args...)
	}
	p.skipSpace()
	if !p.consume('[') {
		return fail("must be a JSON array of objects")
	}
	p.skipSpace()
	if p.consume(']') {
		return out, nil
	}
	// Room for as many samples as the rest holds objects (counted at memory
	// speed, so that the slices are allocated once), up to the limit and to
	// one per 32 bytes (a sample with its required keys takes more), so
	// that the room never outgrows the body by much.
	size := min(bytes.Count(data[p.pos:], []byte{'{'}), spec.maxLen, (len(data)-p.pos)/32)
	out.values = make([][6]float64, 0, size)
	if spec.passThrough != "" {
		out.raw = make([]json.RawMessage, 0, size)
	}
	for i := 0; ; i++ {
		if i >= spec.maxLen {
			return fail("holds more than %d samples; the limit is %d", spec.maxLen, spec.maxLen)
		}
		vals, raw, err := p.sampleObject(spec, i)
		if err != nil {
			return sampleArray{}, err
		}
		out.values = append(out.values, vals)
		if spec.passThrough != "" {
			out.raw = append(out.raw, raw)
		}
		p.skipSpace()
		if p.consume(',') {
			continue
		}
		if p.consume(']') {
			return out, nil
		}
		return fail("is not valid JSON near byte %d", p.pos)
	}
}

// sampleObject reads element i of a sample array, an object, at p.pos (after
// white space): the wanted keys' numbers in spec.keys order and the
// pass-through key's raw JSON (nil when absent).
func (p *jsonScanner) sampleObject(spec sampleSpec, i int) (vals [6]float64, raw json.RawMessage, err error) {
	data := p.data
	fail := func(format string, args ...any) error {
		return badField(spec.field, format, args...)
	}
	p.skipSpace()
	if !p.consume('{') {
		return vals, nil, badField(fmt.Sprintf("%s[%d]", spec.field, i), "must be an object")
	}
	var seen [6]bool
	p.skipSpace()
	if !p.consume('}') {
		guess := 0 // the wanted key expected next: the one after the last found
		for {
			p.skipSpace()
			var key []byte
			idx := -1
			if guess < len(spec.keys) && quotedAt(data, p.pos, spec.keys[guess]) {
				key, idx = data[p.pos+1:p.pos+1+len(spec.keys[guess])], guess
				p.pos += len(spec.keys[guess]) + 2
			} else {
				var ok bool
				if key, ok = p.readKey(); !ok {
					return vals, nil, fail("is not valid JSON near byte %d", p.pos)
				}
				for j, k := range spec.keys {
					if k == string(key) {
						idx = j
						break
					}
				}
			}
			if idx >= 0 {
				guess = idx + 1
			}
			p.skipSpace()
			if !p.consume(':') {
				return vals, nil, fail("is not valid JSON near byte %d", p.pos)
			}
			p.skipSpace()
			start := p.pos
			if idx >= 0 && p.pos < len(data) && (data[p.pos] == '-' || data[p.pos] >= '0' && data[p.pos] <= '9') {
				// A wanted number: its grammar and value in one pass.
				v, end, ok := scanNumber(data, p.pos)
				p.pos = end
				switch {
				case !ok:
					return vals, nil, fail("is not valid JSON near byte %d", p.pos)
				case !isFinite(v):
					return vals, nil, badField(fmt.Sprintf("%s[%d].%s", spec.field, i, key), "must be a finite number, got %s", truncate(string(data[start:end]), 40))
				case spec.maxAbs > 0 && math.Abs(v) > spec.maxAbs:
					return vals, nil, badField(fmt.Sprintf("%s[%d].%s", spec.field, i, key), "%g is outside ±%g", v, spec.maxAbs)
				}
				vals[idx], seen[idx] = v, true
			} else {
				if !p.skipValue() {
					return vals, nil, fail("is not valid JSON near byte %d", p.pos)
				}
				token := data[start:p.pos]
				switch {
				case idx >= 0:
					return vals, nil, badField(fmt.Sprintf("%s[%d].%s", spec.field, i, key), "must be a finite number, got %s", truncate(string(token), 40))
				case spec.passThrough != "" && string(key) == spec.passThrough:
					raw = json.RawMessage(token)
				}
			}
			p.skipSpace()
			if p.consume(',') {
				continue
			}
			if p.consume('}') {
				break
			}
			return vals, nil, fail("is not valid JSON near byte %d", p.pos)
		}
	}
	for j, k := range spec.keys {
		if !seen[j] {
			return vals, nil, badField(fmt.Sprintf("%s[%d].%s", spec.field, i, k), "is missing")
		}
	}
	return vals, raw, nil
}

// quotedAt reports whether data holds the JSON string "key" at i, written
// without escapes (key holds no quote, backslash or control character).
func quotedAt(data []byte, i int, key string) bool {
	return len(data)-i >= len(key)+2 && data[i] == '"' && data[i+1+len(key)] == '"' && string(data[i+1:i+1+len(key)]) == key
}

// jsonScanner walks JSON text.
type jsonScanner struct {
	data []byte
	pos  int
}

func (p *jsonScanner) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonScanner) consume(c byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// end checks that only white space follows the value.
func (p *jsonScanner) end(field string) error {
	p.skipSpace()
	if p.pos != len(p.data) {
		return badField(field, "has unexpected text after the value near byte %d", p.pos)
	}
	return nil
}

// readKey reads a JSON string and returns its value. Without escapes the
// value is the input's own bytes (no copy); compare it as string(key).
func (p *jsonScanner) readKey() ([]byte, bool) {
	start := p.pos
	escaped, ok := p.scanString()
	if !ok {
		return nil, false
	}
	tok := p.data[start:p.pos]
	if escaped {
		var s string
		if json.Unmarshal(tok, &s) != nil {
			return nil, false
		}
		return []byte(s), true
	}
	return tok[1 : len(tok)-1], true
}

// skipString moves past a JSON string starting at pos.
func (p *jsonScanner) skipString() bool {
	_, ok := p.scanString()
	return ok
}

// scanString moves past a JSON string starting at pos, checking its
// escapes and that it holds no control character; escaped reports whether
// it has a backslash escape.
func (p *jsonScanner) scanString() (escaped, ok bool) {
	if !p.consume('"') {
		return false, false
	}
	data := p.data
	for {
		i := p.pos
		for i < len(data) && data[i] != '"' && data[i] != '\\' && data[i] >= 0x20 {
			i++
		}
		if i >= len(data) {
			p.pos = i
			return escaped, false
		}
		c := data[i]
		p.pos = i + 1
		switch {
		case c == '"':
			return escaped, true
		case c < 0x20:
			return escaped, false
		}
		// A backslash escape.
		escaped = true
		if p.pos >= len(data) {
			return escaped, false
		}
		switch data[p.pos] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			p.pos++
		case 'u':
			if len(data)-p.pos < 5 {
				return escaped, false
			}
			for _, h := range data[p.pos+1 : p.pos+5] {
				if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
					return escaped, false
				}
			}
			p.pos += 5
		default:
			return escaped, false
		}
	}
}

// skipValue moves past one JSON value of any kind. Open containers are kept
// on a small explicit stack, so deep input cannot exhaust the goroutine's.
func (p *jsonScanner) skipValue() bool {
	var buf [32]byte
	stack := buf[:0] // the closing bracket of each open container
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			return false
		}
		switch c := p.data[p.pos]; {
		case c == '{' || c == '[':
			p.pos++
			p.skipSpace()
			closing := byte('}')
			if c == '[' {
				closing = ']'
			}
			if !p.consume(closing) {
				stack = append(stack, closing)
				if c == '{' && !p.objectKey() {
					return false
				}
				continue // the container's first value
			}
		case c == '"':
			if !p.skipString() {
				return false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if !p.skipNumber() {
				return false
			}
		case c == 't':
			if !p.literal("true") {
				return false
			}
		case c == 'f':
			if !p.literal("false") {
				return false
			}
		case c == 'n':
			if !p.literal("null") {
				return false
			}
		default:
			return false
		}
		// A value ended: close containers until one continues with a comma.
		for {
			if len(stack) == 0 {
				return true
			}
			p.skipSpace()
			top := stack[len(stack)-1]
			if p.consume(',') {
				if top == '}' && !p.objectKey() {
					return false
				}
				break
			}
			if !p.consume(top) {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// objectKey reads `"key":` inside an object.
func (p *jsonScanner) objectKey() bool {
	p.skipSpace()
	if !p.skipString() {
		return false
	}
	p.skipSpace()
	return p.consume(':')
}

// skipNumber moves past a JSON number, checking its grammar:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (p *jsonScanner) skipNumber() bool {
	end, ok := jsonNumberEnd(p.data, p.pos)
	p.pos = end
	return ok
}

// jsonNumberEnd returns where the JSON number starting at data[i] ends and
// whether it is well formed.
func jsonNumberEnd(data []byte, i int) (int, bool) {
	digits := func() bool {
		start := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		digits()
	default:
		return i, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}

func (p *jsonScanner) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}
