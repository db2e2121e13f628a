package main

// Decoders of the fields both routes share: ids, string lengths, screen
// sizes.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// parseScreenSize accepts a positive number, or a numeric string, up to limit px.
func parseScreenSize(field string, raw json.RawMessage, limit float64) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, badField(field, "is required: the screen size in CSS pixels")
	}
	v, ok := parseNumberOrNumericString(raw)
	if !ok {
		return 0, badField(field, "must be a number, got %s", truncate(string(raw), 40))
	}
	if v <= 0 || v > limit {
		return 0, badField(field, "must be a positive number of CSS pixels up to %g, got %g", limit, v)
	}
	return v, nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeID turns the id a client sent in field (file_name, calib_id) into
// the calibration id: at most maxIDLength characters as sent, reduced by
// sanitizeID, and short enough for the store's file names.
func decodeID(field, name string, lim inputLimits) (string, error) {
	if n := utf8.RuneCountInString(name); n > lim.maxIDLength {
		return "", badField(field, "is %d characters long; the limit is %d (MAX_STRING_LENGTH)", n, lim.maxIDLength)
	}
	id, err := sanitizeID(name)
	if err != nil {
		return "", badField(field, "%v", err)
	}
	if lim.storeIDLength > 0 && len(id) > lim.storeIDLength {
		return "", badField(field, "is %d characters long once reduced to an id; the limit is %d, the longest the calibration store's file system can name files with", len(id), lim.storeIDLength)
	}
	return id, nil
}

// checkStringLength refuses a string field longer than limit characters.
func checkStringLength(field, s string, limit int) error {
	if n := utf8.RuneCountInString(s); n > limit {
		return badField(field, "is %d characters long; the limit is %d (MAX_STRING_LENGTH)", n, limit)
	}
	return nil
}

// sanitizeID turns a file_name into a calibration id as the Python service
// did: the part after the last / or \, then only [A-Za-z0-9_.-] kept. An
// id that is then empty, "." or ".." is refused.
func sanitizeID(name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' {
			b = append(b, c)
		}
	}
	switch s := string(b); s {
	case "", ".", "..":
		return "", fmt.Errorf("%q leaves no usable id once reduced to letters, digits, '_', '.' and '-'", name)
	default:
		return s, nil
	}
}
