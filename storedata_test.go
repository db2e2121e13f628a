package main

// Tests of retention and of deletion inside the store: expired calibrations
// are never served and are swept; a deletion leaves no journal record and no
// record set aside.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, map[string]string{"CALIBRATION_STORE": dir, "CALIBRATION_RETENTION": "1h", "RATELIMIT_ENABLED": "false"})
	calibrateAs(t, s, "old", "", "")
	s.clock.Advance(30 * time.Minute)
	calibrateAs(t, s, "young", "", "")
	batchFor := func(id string) int {
		return s.do(batchRequestOf(strings.Replace(readTestdata(t, "api/batch_request.json"), `"sample9full"`, `"`+id+`"`, 1)), "").Code
	}
	if batchFor("old") != 200 || batchFor("young") != 200 {
		t.Fatal("not served before expiry")
	}
	s.clock.Advance(31 * time.Minute) // old is 61 minutes old, young 31
	if code := batchFor("old"); code != 404 {
		t.Errorf("expired calibration served before the sweep: %d", code)
	}
	if code := batchFor("young"); code != 200 {
		t.Errorf("young calibration: %d", code)
	}
	s.store.waitWritten()
	if _, err := os.Stat(filepath.Join(dir, "old_fixed_train_data.csv")); err != nil {
		t.Fatalf("the sweep ran early: %v", err)
	}
	n, err := s.store.sweepExpired()
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if left := folderMentions(t, dir, "old_"); len(left) > 0 {
		t.Errorf("files left after the sweep: %v", left)
	}
	if code := batchFor("young"); code != 200 {
		t.Errorf("young calibration after the sweep: %d", code)
	}
	// A calibration the Python service wrote (no metadata) ages from its
	// file's modification time.
	fixed := readTestdata(t, "sessions/45_fixed_train_data.csv")
	path := filepath.Join(dir, "legacy_fixed_train_data.csv")
	os.WriteFile(path, []byte(fixed), 0o644)
	stamp := s.clock.Now().Add(-2 * time.Hour)
	os.Chtimes(path, stamp, stamp)
	if _, err := s.store.Load("legacy"); err == nil {
		t.Error("an old Python service file is served past the retention")
	}
}

func TestDeletionRemovesRecordsSetAside(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_790_000_000, 0)
	kept := journalOf(recordOf(strings.Repeat("n", 300), testCalibration(1, 3), now), recordOf("other", testCalibration(2, 3), now))
	if err := os.WriteFile(filepath.Join(dir, rejectedFileName), kept, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save("other", testCalibration(3, 4)); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete("other"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, rejectedFileName))
	recs := parseJournal(data)
	if len(recs) != 1 || recs[0].id == "other" {
		t.Errorf("records set aside after the deletion: %d", len(recs))
	}
	if n := journalSize(t, dir); n != 0 {
		t.Errorf("journal holds %d bytes after the deletion", n)
	}
}
