package main

// Tests of the store: folders, failures, concurrent saves, stale temporary
// files, Python service files, damaged files, records set aside.

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReadOnlyStore: a store folder that cannot be written gives a 5xx
// JSON error (run as root, permissions do not stop writes, so the folder
// is replaced by a file to make every write fail).
func TestReadOnlyStore(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, map[string]string{"CALIBRATION_STORE": dir})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a folder"), 0o444); err != nil {
		t.Fatal(err)
	}
	rec := s.do(calibRequestOf(t, exampleCalibFields(t)), "")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code < 500 || rec.Code == 500 || body.Error == "" {
		t.Fatalf("%d %+v, want 503 or 507", rec.Code, body)
	}
}

// TestStoreCreatesFolder: a missing data folder is created at start.
func TestStoreCreatesFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "data")
	if _, err := openTestStore(t, dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("folder not created: %v", err)
	}
}

// TestConcurrentSavesOfOneID: concurrent calibrations of one id end with
// one whole calibration, never a mix of two requests' rows.
func TestConcurrentSavesOfOneID(t *testing.T) {
	st, err := openTestStore(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := calibration{ScreenWidth: float64(1000 + w), ScreenHeight: 700}
			for i := 0; i < 50+w; i++ {
				c.Fixed = append(c.Fixed, labelledSample{irisSample{float64(w), 1, 2, 3}, float64(w), float64(i)})
				c.Calib = append(c.Calib, irisSample{float64(w), 0, 0, 0})
			}
			for i := 0; i < 10; i++ {
				if err := st.Save("same", c); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	c, err := st.Load("same")
	if err != nil {
		t.Fatal(err)
	}
	w := c.Fixed[0].LeftX
	if len(c.Fixed) != 50+int(w) || c.ScreenWidth != 1000+w {
		t.Fatalf("%d rows, screen %v for writer %v", len(c.Fixed), c.ScreenWidth, w)
	}
	for _, r := range c.Fixed {
		if r.LeftX != w {
			t.Fatalf("rows of writers %v and %v mixed", w, r.LeftX)
		}
	}
	for _, r := range c.Calib {
		if r.LeftX != w {
			t.Fatalf("predict file of writer %v beside fixed file of writer %v", r.LeftX, w)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(st.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{journalFileName, "same" + metaSuffix, "same_fixed_train_data.csv", "same_predict_train_data.csv"}; !slices.Equal(names, want) {
		t.Fatalf("the store holds %q, want %q (no temporary files left)", names, want)
	}
}

// TestStaleTempFilesAreRemoved: temporary files a crashed save left are
// removed at start once they are older than a live save could be.
func TestStaleTempFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".a_fixed_train_data.csv.tmp-123")
	fresh := filepath.Join(dir, ".b_fixed_train_data.csv.tmp-456")
	keep := filepath.Join(dir, "a_fixed_train_data.csv")
	for _, f := range []string{stale, fresh, keep} {
		os.WriteFile(f, []byte("x"), 0o644)
	}
	old := time.Now().Add(-2 * staleTempAge)
	os.Chtimes(stale, old, old)
	if _, err := openTestStore(t, dir); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{stale: false, fresh: true, keep: true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(f), err == nil, want)
		}
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

// TestStoreLoadsPythonServiceFiles: a data folder written by the Python
// service (\r\r\n line ends, blank lines, no screen columns) serves batches.
func TestStoreLoadsPythonServiceFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"9_full_fixed_train_data.csv", "mask2_fixed_train_data.csv", "a_fixed_train_data.csv", "45_fixed_train_data.csv"} {
		raw, err := os.ReadFile(filepath.Join("testdata/sessions", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), raw, 0o644)
	}
	s := newTestServer(t, map[string]string{"CALIBRATION_STORE": dir})
	for _, id := range []string{"9_full", "mask2", "a", "45"} {
		body := fmt.Sprintf(`{"calib_id": %q, "screen_width": 1495, "screen_height": 746, "iris_tracking_data": [{"left_iris_x": 600, "left_iris_y": 290, "right_iris_x": 510, "right_iris_y": 288}, {"left_iris_x": 601, "left_iris_y": 291, "right_iris_x": 511, "right_iris_y": 289}]}`, id)
		rec := s.do(batchRequestOf(body), "")
		var out []map[string]any
		decodeJSON(t, rec, &out)
		if rec.Code != 200 || len(out) != 2 {
			t.Errorf("%s: %d %s", id, rec.Code, rec.Body)
		}
	}
}
