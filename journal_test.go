package main

// Tests of the journal: records, torn tails, replay, commit before files,
// the backlog, a second store on one folder, fuzzing.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestJournalRecords: records read back as written; reading stops at a
// torn or corrupted record and at anything after it.
func TestJournalRecords(t *testing.T) {
	now := time.Unix(1_790_000_000, 123)
	a := recordOf("a", testCalibration(1, 3), now)
	b := recordOf("b-long_id.x", testCalibration(2, 5), now.Add(time.Second))
	c := recordOf("a", testCalibration(3, 0), now.Add(2*time.Second))
	data := journalOf(a, b, c)
	got := parseJournal(data)
	if len(got) != 3 {
		t.Fatalf("%d records, want 3", len(got))
	}
	for i, want := range []journalRecord{a, b, c} {
		if got[i].id != want.id || !got[i].saved.Equal(want.saved) || !sameCalibration(got[i].cal, want.cal) {
			t.Errorf("record %d differs", i)
		}
	}
	ab := len(journalOf(a, b))
	for cut := ab; cut < len(data); cut += 7 {
		if n := len(parseJournal(data[:cut])); n != 2 {
			t.Fatalf("journal torn at byte %d of the third record: %d records, want 2", cut-ab, n)
		}
	}
	for _, at := range []int{0, 5, 9, 20, len(journalOf(a)) + 30} {
		bad := slices.Clone(data)
		bad[at] ^= 0x40
		want := 0
		if at >= len(journalOf(a)) {
			want = 1
		}
		if n := len(parseJournal(bad)); n != want {
			t.Errorf("byte %d flipped: %d records, want %d", at, n, want)
		}
	}
	if n := len(parseJournal(append(slices.Clone(data), make([]byte, 4096)...))); n != 3 {
		t.Errorf("zeros after the records: %d records, want 3", n)
	}
}

// TestJournalCommitsBeforeFiles: a save is acknowledged once its journal
// record is synced; until its files can be written it is served from
// memory; a crash in that state (here: the store closed while the fixed
// file cannot be renamed into place) keeps the record, and the next start
// writes it to the files and empties the journal.
func TestJournalCommitsBeforeFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := newFileStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.journal == nil {
		t.Fatal("the store runs without a journal")
	}
	old := testCalibration(1, 4)
	if err := st.Save("p1", old); err != nil {
		t.Fatal(err)
	}
	// A folder where the fixed file goes makes every rename onto it fail.
	blocker := st.fixedPath("p2")
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	want := testCalibration(2, 6)
	if err := st.Save("p2", want); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load("p2")
	if err != nil || !sameCalibration(got, want) {
		t.Fatalf("Load of a committed save: %v, same %v", err, sameCalibration(got, want))
	}
	v1, err := st.Version("p2")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save("p2", testCalibration(3, 2)); err != nil {
		t.Fatal(err)
	}
	if v2, _ := st.Version("p2"); v2 == v1 {
		t.Fatalf("version %q unchanged by a new save", v2)
	}
	want = testCalibration(3, 2)
	if err := st.Close(); err == nil {
		t.Fatal("Close reported nothing although a save is not in its files")
	}
	if journalSize(t, dir) == 0 {
		t.Fatal("the journal was emptied with a save not in its files")
	}
	if err := st.Save("p3", want); err != errStoreClosed {
		t.Fatalf("Save after Close: %v", err)
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	st2, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := journalSize(t, dir); n != 0 {
		t.Fatalf("journal holds %d bytes after the replay", n)
	}
	raw, err := os.ReadFile(st2.fixedPath("p2"))
	if err != nil {
		t.Fatalf("the replay wrote no fixed file: %v", err)
	}
	if !bytes.Equal(raw, encodeFixedCSV(want)) {
		t.Fatal("the replayed fixed file is not the last save's")
	}
	for id, c := range map[string]calibration{"p1": old, "p2": want} {
		if got, err := st2.Load(id); err != nil || !sameCalibration(got, c) {
			t.Errorf("%s after the restart: %v", id, err)
		}
	}
}

// TestJournalReplay: at start the last record of each id is written to its
// files, whatever the files hold (the writer may have written an older save
// after the last one was committed); a torn record at the end is dropped;
// the journal is then empty.
// TestFilesWaitForQuiet: while the server computes, committed saves stay
// in the journal (and load from it); the files are written once it stops
// computing, or after writeBehindMaxDefer however busy it stays.
func TestFilesWaitForQuiet(t *testing.T) {
	for _, stopsComputing := range []bool{true, false} {
		st, err := newFileStore(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var busy atomic.Bool
		busy.Store(true)
		st.deferWritesWhile(busy.Load)
		want := testCalibration(4, 5)
		start := time.Now()
		if err := st.Save("quiet", want); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10*writeBehindDelay + 10*writeBehindPoll)
		if _, err := os.Stat(st.fixedPath("quiet")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("files written while the server computes: %v", err)
		}
		if got, err := st.Load("quiet"); err != nil || !sameCalibration(got, want) {
			t.Fatalf("Load while the files wait: %v", err)
		}
		if stopsComputing {
			busy.Store(false)
		}
		st.waitWritten()
		waited := time.Since(start)
		if _, err := os.Stat(st.fixedPath("quiet")); err != nil {
			t.Fatalf("files not written: %v", err)
		}
		if stopsComputing && waited >= writeBehindMaxDefer {
			t.Errorf("files written %v after the save although the server stopped computing", waited)
		}
		if !stopsComputing && waited < writeBehindMaxDefer {
			t.Errorf("files written %v after the save, before the longest deferral", waited)
		}
		st.Close()
	}
}

func TestJournalReplay(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	// An older save of "kept", written after its last save was committed.
	if err := os.WriteFile(filepath.Join(dir, "kept_fixed_train_data.csv"), encodeFixedCSV(testCalibration(1, 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := journalOf(
		recordOf("a", testCalibration(1, 3), base),
		recordOf("kept", testCalibration(2, 3), base.Add(time.Second)),
		recordOf("a", testCalibration(3, 4), base.Add(2*time.Second)),
		recordOf("b", testCalibration(4, 5), base.Add(3*time.Second)),
	)
	torn := journalOf(recordOf("c", testCalibration(5, 5), base.Add(4*time.Second)))
	journal = append(journal, torn[:len(torn)/2]...)
	if err := os.WriteFile(filepath.Join(dir, journalFileName), journal, 0o644); err != nil {
		t.Fatal(err)
	}
	// A torn fixed file of a, as a crash before its sync could leave it.
	if err := os.WriteFile(filepath.Join(dir, "a_fixed_train_data.csv"), []byte("left_iris_x,left_iris_y\n0.5,"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := base.Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "a_fixed_train_data.csv"), old, old)

	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := journalSize(t, dir); n != 0 {
		t.Fatalf("journal holds %d bytes after the replay", n)
	}
	for id, want := range map[string]calibration{"a": testCalibration(3, 4), "b": testCalibration(4, 5), "kept": testCalibration(2, 3)} {
		got, err := st.Load(id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !slices.Equal(got.Fixed, want.Fixed) || got.ScreenWidth != want.ScreenWidth {
			t.Errorf("%s holds screen width %v, want %v", id, got.ScreenWidth, want.ScreenWidth)
		}
	}
	if _, err := st.Load("c"); err == nil {
		t.Error("the torn record was replayed")
	}
}

// TestJournalEmptiedAndClosed: after saves are written the journal is
// emptied; Close leaves it empty and the folder holds only the two files
// per id and the journal.
func TestJournalEmptiedAndClosed(t *testing.T) {
	dir := t.TempDir()
	st, err := newFileStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := st.Save("e"+string(rune('a'+i%4)), testCalibration(float64(i), 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if n := journalSize(t, dir); n != 0 {
		t.Fatalf("journal holds %d bytes after Close", n)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 13 {
		t.Fatalf("%d entries, want 4 ids × 3 files (fixed, predict, metadata) + the journal", len(entries))
	}
	st2, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 16; i < 20; i++ {
		id := "e" + string(rune('a'+i%4))
		if got, err := st2.Load(id); err != nil || !sameCalibration(got, testCalibration(float64(i), 10)) {
			t.Errorf("%s is not its last save: %v", id, err)
		}
	}
}

// TestSecondStoreOnOneFolder: a second store on a folder whose journal is
// held runs without one; its saves are in their files when Save returns.
func TestSecondStoreOnOneFolder(t *testing.T) {
	dir := t.TempDir()
	if _, err := openTestStore(t, dir); err != nil {
		t.Fatal(err)
	}
	st2, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st2.journal != nil {
		t.Fatal("two stores hold the journal of one folder")
	}
	c := testCalibration(7, 3)
	if err := st2.Save("second", c); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(st2.fixedPath("second"))
	if err != nil || !bytes.Equal(raw, encodeFixedCSV(c)) {
		t.Fatalf("the direct save's file: %v", err)
	}
}

// TestJournalRunway: an opened or emptied journal is a runway of zeros that
// the next records overwrite in place (the file does not grow, so a save's
// sync commits no new size); once the saves are in their files the records
// are gone, zeros again, and a restart replays nothing.
func TestJournalRunway(t *testing.T) {
	dir := t.TempDir()
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, journalFileName)
	runway := func(when string) {
		t.Helper()
		st.appendMu.Lock() // the runway is laid under it
		data, err := os.ReadFile(path)
		st.appendMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != journalRunway || len(bytes.TrimRight(data, "\x00")) != 0 {
			t.Fatalf("%s: the journal is %d bytes, %d of them before its trailing zeros; want %d zeros", when, len(data), len(bytes.TrimRight(data, "\x00")), journalRunway)
		}
	}
	runway("opened")
	for i := 0; i < 3; i++ {
		if err := st.Save("r"+strconv.Itoa(i), testCalibration(float64(i), 50)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != journalRunway {
			t.Fatalf("save %d: the journal grew to %d bytes", i, fi.Size())
		}
		data, _ := os.ReadFile(path)
		if recs := parseJournal(data); len(recs) != i+1 && journalSize(t, dir) != 0 { // or already written and emptied
			t.Fatalf("save %d: %d records in the journal", i, len(recs))
		}
	}
	st.waitWritten()
	runway("emptied")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if c, err := st2.Load("r" + strconv.Itoa(i)); err != nil || !sameCalibration(c, testCalibration(float64(i), 50)) {
			t.Errorf("r%d after the restart: %v", i, err)
		}
	}
}

// TestJournalRecordsAfterTheRunwayAreReplayed: records appended after a
// runway's zeros (an operator retrying records set aside, to a journal a
// crash left as it was) are replayed after the journal's own records.
func TestJournalRecordsAfterTheRunwayAreReplayed(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Unix(1_790_000_000, 0)
	own := journalOf(recordOf("own", testCalibration(1, 3), t0), recordOf("both", testCalibration(2, 3), t0))
	data := append(own, make([]byte, journalRunway-len(own))...)
	data = append(data, journalOf(recordOf("retried", testCalibration(3, 3), t0), recordOf("both", testCalibration(4, 3), t0))...)
	if err := os.WriteFile(filepath.Join(dir, journalFileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]calibration{"own": testCalibration(1, 3), "retried": testCalibration(3, 3), "both": testCalibration(4, 3)} {
		if c, err := st.Load(id); err != nil || !sameCalibration(c, want) {
			t.Errorf("%s: %v, same %v", id, err, sameCalibration(c, want))
		}
	}
	if n := journalSize(t, dir); n != 0 {
		t.Errorf("journal holds %d bytes after the replay", n)
	}
}

// waitWritten waits until every committed save is in its files and the
// journal is empty.
func (s *fileStore) waitWritten() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.journal != nil && !s.closed && (len(s.queue) > 0 || s.journalSize > 0) {
		s.cond.Wait()
	}
}

// FuzzJournal: reading any bytes as a journal never panics, and the records
// it returns are exactly a prefix of the input, record by record (what a
// replay applies is what was written, nothing invented from damage).
func FuzzJournal(f *testing.F) {
	t0 := time.Unix(1_790_000_000, 0)
	two := journalOf(recordOf("a", testCalibration(1, 2), t0), recordOf("b", testCalibration(2, 1), t0.Add(time.Second)))
	f.Add(two)
	f.Add(two[:len(two)-9])
	f.Add([]byte(journalMagic + "\xff\xff\xff\x7f"))
	f.Add([]byte{})
	f.Add(append(append(slices.Clone(two[:len(two)/2]), make([]byte, 40)...), two...))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := parseJournal(data)
		rest := data
		for i, r := range recs {
			enc := journalOf(r)
			if !bytes.HasPrefix(rest, enc) {
				t.Fatalf("record %d does not re-encode to the bytes it was read from", i)
			}
			rest = rest[len(enc):]
		}
		// At start the records after a run of zeros are read too, and
		// only from what follows the zeros.
		all := parseJournalFile(data)
		if len(all) < len(recs) {
			t.Fatalf("the file's records (%d) drop some of its journal's (%d)", len(all), len(recs))
		}
		tail := bytes.TrimLeft(rest, "\x00")
		for i, r := range all[len(recs):] {
			enc := journalOf(r)
			if len(tail) == len(rest) || !bytes.HasPrefix(tail, enc) {
				t.Fatalf("record %d after the zeros does not re-encode to the bytes after them", i)
			}
			tail = tail[len(enc):]
		}
	})
}

// TestStoreBacklog: while the saves not yet in their files exceed the cap,
// a save waits for the writer, and fails with a clear error (503) when the
// writer stays behind; once the writer catches up saves go through again.
func TestStoreBacklog(t *testing.T) {
	dir := t.TempDir()
	st, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	st.maxQueuedBytes, st.backlogWait = 1, 30*time.Millisecond
	blocker := st.fixedPath("stuck")
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := st.Save("stuck", testCalibration(1, 3)); err != nil {
		t.Fatal(err)
	}
	err = st.Save("next", testCalibration(2, 3))
	if err != errStoreBehind {
		t.Fatalf("save behind a stuck writer: %v, want errStoreBehind", err)
	}
	if got := storeError("", err).(*apiError); got.Status != 503 {
		t.Fatalf("status %d, want 503", got.Status)
	}
	if _, err := st.Load("next"); err == nil {
		t.Fatal("a refused save is served")
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	st.backlogWait = time.Minute // the writer's retry pause is far shorter
	if err := st.Save("next", testCalibration(2, 3)); err != nil {
		t.Fatalf("save after the writer caught up: %v", err)
	}
	st.waitWritten()
	for id, c := range map[string]calibration{"stuck": testCalibration(1, 3), "next": testCalibration(2, 3)} {
		raw, err := os.ReadFile(st.fixedPath(id))
		if err != nil || !bytes.Equal(raw, encodeFixedCSV(c)) {
			t.Errorf("%s not in its file: %v", id, err)
		}
	}
}
