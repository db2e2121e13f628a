package main

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestJournalRecordThatCannotBeWrittenIsSetAside: a journal record whose
// files cannot be written (an id too long for the file system, as an older
// build could journal) does not stop the store from opening: it is kept
// in the side file, logged at ERROR with how to retry, and the records
// around it are written.
func TestJournalRecordThatCannotBeWrittenIsSetAside(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_790_000_000, 0)
	bad := recordOf(strings.Repeat("n", 300), testCalibration(1, 3), now)
	good := recordOf("good", testCalibration(2, 3), now)
	journal := journalOf(good, bad)
	if err := os.WriteFile(filepath.Join(dir, journalFileName), journal, 0o644); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	st, err := newFileStore(dir, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatalf("the store did not open: %v", err)
	}
	defer st.Close()
	if c, err := st.Load("good"); err != nil || !sameCalibration(c, good.cal) {
		t.Errorf("the good record: %v", err)
	}
	kept, err := os.ReadFile(filepath.Join(dir, rejectedFileName))
	if err != nil {
		t.Fatal(err)
	}
	if recs := parseJournal(kept); len(recs) != 1 || recs[0].id != bad.id || !sameCalibration(recs[0].cal, bad.cal) {
		t.Errorf("side file holds %d records", len(recs))
	}
	if out := logged.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "to_retry") {
		t.Errorf("log: %s", out)
	}
	if n := journalSize(t, dir); n != 0 {
		t.Errorf("journal not emptied: %d bytes", n)
	}
	if err := st.Save("after", testCalibration(3, 3)); err != nil {
		t.Errorf("save after start: %v", err)
	}
}

// TestDamagedCalibrationsAre422: stored calibrations that cannot be used
// answer 422 JSON naming the id and what is wrong, never a server path.
func TestDamagedCalibrationsAre422(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false", "CALIBRATION_STORE": dir})
	write := func(id, text string) {
		if err := os.WriteFile(filepath.Join(dir, id+"_fixed_train_data.csv"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nocolumns", "left_iris_x,left_iris_y\n1,2\n3,4\n")
	write("onerow", "left_iris_x,left_iris_y,right_iris_x,right_iris_y,point_x,point_y\n1,2,3,4,5,6\n")
	write("empty", "")
	write("garbage", "\x00\x01\x02 not a csv \"\n")
	write("words", "left_iris_x,left_iris_y,right_iris_x,right_iris_y,point_x,point_y\n1,2,three,4,5,6\n")
	if err := os.Mkdir(filepath.Join(dir, "folder_fixed_train_data.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"nocolumns", "onerow", "empty", "garbage", "words", "folder"} {
		batch := strings.Replace(readTestdata(t, "api/batch_request.json"), `"sample9full"`, strconv.Quote(id), 1)
		rec := s.do(batchRequestOf(batch), "")
		var body errorBody
		decodeJSON(t, rec, &body)
		if rec.Code != 422 || body.Field != "calib_id" || !strings.Contains(body.Error, strconv.Quote(id)) {
			t.Errorf("%s: %d %+v", id, rec.Code, body)
		}
		if strings.Contains(rec.Body.String(), dir) || strings.Contains(rec.Body.String(), "/tmp") {
			t.Errorf("%s: the answer shows a server path: %s", id, rec.Body)
		}
	}
}

// TestServerErrorsAreFixedSentences: a store failure is a 5xx whose body
// names no path or inner error; the cause is logged.
func TestServerErrorsAreFixedSentences(t *testing.T) {
	secret := "/srv/private/data/x_fixed_train_data.csv"
	for _, err := range []error{
		&os.PathError{Op: "open", Path: secret, Err: os.ErrPermission},
		&os.PathError{Op: "write", Path: secret, Err: errNoSpace()},
	} {
		s := newTestServer(t, nil)
		var logged bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logged, nil))
		d := serverDeps{store: failingStore{s.store, err}, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
		rec := httptest.NewRecorder()
		newServer(s.cfg, d).ServeHTTP(rec, calibRequestOf(t, exampleCalibFields(t)))
		if rec.Code < 500 || strings.Contains(rec.Body.String(), "/srv") || strings.Contains(rec.Body.String(), "permission") {
			t.Errorf("%v: %d %s", err, rec.Code, rec.Body)
		}
		if !strings.Contains(logged.String(), secret) {
			t.Errorf("%v: the cause was not logged: %s", err, logged.String())
		}
	}
}

// TestVaryOrigin: with a list of origins, every answer (allowed origin,
// refused origin, no origin, preflight, error) carries Vary: Origin; with
// "*" none does.
func TestVaryOrigin(t *testing.T) {
	list := newTestServer(t, map[string]string{"CORS_ORIGINS": "https://eye-lab.example,https://ruxailab.example"})
	star := newTestServer(t, nil)
	for _, tc := range []struct{ method, path, origin string }{
		{"GET", "/api/session/health", "https://eye-lab.example"},
		{"GET", "/api/session/health", "https://evil.example"},
		{"GET", "/api/session/health", ""},
		{"OPTIONS", "/api/session/batch_predict", "https://evil.example"},
		{"OPTIONS", "/api/session/batch_predict", "https://ruxailab.example"},
		{"POST", "/api/session/batch_predict", "https://evil.example"},
		{"GET", "/no/such/route", "https://eye-lab.example"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if vary := list.do(req, "").Header().Values("Vary"); !containsToken(vary, "Origin") {
			t.Errorf("list, %s %s from %q: Vary %q", tc.method, tc.path, tc.origin, vary)
		}
		req = httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if vary := star.do(req, "").Header().Values("Vary"); containsToken(vary, "Origin") {
			t.Errorf("*, %s %s from %q: Vary %q", tc.method, tc.path, tc.origin, vary)
		}
	}
}

func containsToken(values []string, token string) bool {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
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

// TestWebhookOffIsWarnedOnce: calibrations asking for the RUXAILAB webhook
// without FUNCTIONS_ENDPOINT_URL log one warning, not one per request.
func TestWebhookOffIsWarnedOnce(t *testing.T) {
	s := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	d := serverDeps{store: s.store, hook: newWebhookNotifier("", log), limiter: s.limiter, work: s.work, log: log}
	h := newServer(s.cfg, d)
	for i := 0; i < 3; i++ {
		fields := exampleCalibFields(t)
		fields["from_ruxailab"] = "true"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, calibRequestOf(t, fields))
		if rec.Code != 200 {
			t.Fatal(rec.Body)
		}
	}
	if n := strings.Count(logged.String(), "FUNCTIONS_ENDPOINT_URL"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "level=WARN") {
		t.Errorf("not a warning: %s", logged.String())
	}
}
