package main

// Tests of the shared field rules: ids that fit the file system, string
// lengths in characters.

import (
	"strconv"
	"strings"
	"testing"
)

// TestLongIDsFitTheFileSystem: with MAX_STRING_LENGTH raised, an id longer
// than the store's file names allow is 400 naming the limit and nothing is
// journaled; the longest allowed id is stored, served, and survives a
// restart.
func TestLongIDsFitTheFileSystem(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "MAX_STRING_LENGTH": "1000", "CALIBRATION_STORE": dir})
	limit := s.store.MaxIDLength()
	if limit < 100 || limit+storeNameOverhead > 255 {
		t.Fatalf("MaxIDLength %d", limit)
	}
	fields := exampleCalibFields(t)
	fields["file_name"] = strconv.Quote(strings.Repeat("x", 300))
	rec := s.do(calibRequestOf(t, fields), "")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != 400 || body.Field != "file_name" || !strings.Contains(body.Error, strconv.Itoa(limit)) {
		t.Fatalf("300-character id: %d %+v", rec.Code, body)
	}
	if n := journalSize(t, dir); n != 0 {
		t.Errorf("the refused save reached the journal (%d bytes)", n)
	}
	longest := strings.Repeat("y", limit)
	fields["file_name"] = strconv.Quote(longest)
	if rec := s.do(calibRequestOf(t, fields), ""); rec.Code != 200 {
		t.Fatalf("%d-character id: %d %s", limit, rec.Code, rec.Body)
	}
	batch := strings.Replace(readTestdata(t, "api/batch_request.json"), `"sample9full"`, strconv.Quote(longest), 1)
	if rec := s.do(batchRequestOf(batch), ""); rec.Code != 200 {
		t.Fatalf("batch on the longest id: %d %s", rec.Code, rec.Body)
	}
	s.store.Close()
	again := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "MAX_STRING_LENGTH": "1000", "CALIBRATION_STORE": dir})
	if rec := again.do(batchRequestOf(batch), ""); rec.Code != 200 {
		t.Fatalf("after a restart: %d %s", rec.Code, rec.Body)
	}
	if rec := again.do(batchRequestOf(strings.Replace(batch, strconv.Quote(longest), strconv.Quote(strings.Repeat("z", limit+1)), 1)), ""); rec.Code != 400 {
		t.Errorf("batch on an id over the limit: %d, want 400", rec.Code)
	}
}

// TestStringLimitsCountDecodedCharacters: every string limit counts the
// characters of the decoded value, whatever their bytes or JSON escapes.
func TestStringLimitsCountDecodedCharacters(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "MAX_STRING_LENGTH": "5"})
	for _, tc := range []struct {
		field, value string
		ok           bool
	}{
		{"user_id", `"ééééé"`, true},           // 5 characters, 10 bytes, 12 with quotes
		{"user_id", `"\u00e9\u00e9abc"`, true}, // escapes decode to 5 characters
		{"user_id", `"éééééé"`, false},
		{"study_id", `"abcde"`, true},
		{"study_id", `"abcdef"`, false},
		{"study_id", `12345`, true},
		{"file_name", `"ab_cd"`, true},
		{"file_name", `"ééééé"`, false}, // 5 characters: fine by length, but no usable id
		{"file_name", `"abcdef"`, false},
	} {
		fields := exampleCalibFields(t)
		fields["file_name"] = `"ok"`
		fields[tc.field] = tc.value
		rec := s.do(calibRequestOf(t, fields), "")
		var body errorBody
		decodeJSON(t, rec, &body)
		if tc.ok && rec.Code != 200 {
			t.Errorf("%s=%s: %d %+v", tc.field, tc.value, rec.Code, body)
		}
		if !tc.ok && (rec.Code != 400 || body.Field != tc.field) {
			t.Errorf("%s=%s: %d %+v, want 400 naming the field", tc.field, tc.value, rec.Code, body)
		}
	}
	batch := strings.Replace(readTestdata(t, "api/batch_request.json"), `"sample9full"`, `"abcdef"`, 1)
	rec := s.do(batchRequestOf(batch), "")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != 400 || body.Field != "calib_id" || !strings.Contains(body.Error, "characters") {
		t.Errorf("calib_id of 6 characters: %d %+v", rec.Code, body)
	}
}
